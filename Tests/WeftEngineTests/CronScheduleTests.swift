import Testing
@testable import WeftEngine

/// Unix milliseconds of a UTC time written `YYYY-MM-DDTHH:MM[:SS]`.
private func utc(_ text: String) -> Int64 {
    let parts = text.split(whereSeparator: { "-T:".contains($0) }).map { Int($0)! }
    let days = CivilTime.days(year: parts[0], month: parts[1], day: parts[2])
    return (days * 86_400 + Int64(parts[3]) * 3600 + Int64(parts[4]) * 60 + Int64(parts.count > 5 ? parts[5] : 0)) * 1000
}

private func ticks(_ cron: String, _ zone: String = "UTC", after: String, count: Int) throws -> [Int64] {
    try CronSchedule(cron: cron, timeZone: zone).upcoming(after: utc(after), count: count)
}

@Suite("Cron expressions and schedules")
struct CronScheduleTests {
    @Test("bad expressions are refused with a message naming the field", arguments: [
        ("", "empty"),
        ("* * *", "5 fields"),
        ("61 * * * *", "minute field"),
        ("* 24 * * *", "hour field"),
        ("5-2 * * * *", "runs backwards"),
        ("*/0 * * * *", "step"),
        ("0 0 L * *", "L, W and # are not supported"),
        ("0 0 * * MON#2", "day-of-week field"),
        ("@fortnightly", "unknown cron macro"),
        ("0 0 1,,2 * *", "empty list item"),
        ("0 0 * 13 *", "month field"),
    ])
    func refused(_ text: String, _ expected: String) {
        #expect(throws: CronExpression.Failure.self) { try CronExpression(parsing: text) }
        do {
            _ = try CronExpression(parsing: text)
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test("an expression that matches no date, and an unknown zone, are refused")
    func neverAndUnknownZone() {
        #expect(throws: CronExpression.Failure.self) { try CronSchedule(cron: "0 0 30 2 *", timeZone: "") }
        do {
            _ = try CronSchedule(cron: "0 0 * * *", timeZone: "Mars/Olympus_Mons")
            Issue.record("an unknown zone was accepted")
        } catch {
            #expect(error.message.contains("unknown time zone 'Mars/Olympus_Mons'"))
        }
    }

    @Test("steps, lists, ranges, names, macros and a seconds field")
    func fields() throws {
        #expect(try ticks("*/15 * * * *", after: "2026-01-01T00:07", count: 3) == [utc("2026-01-01T00:15"), utc("2026-01-01T00:30"), utc("2026-01-01T00:45")])
        #expect(try ticks("*/20 * * * * *", after: "2026-01-01T00:00:00", count: 3) == [utc("2026-01-01T00:00:20"), utc("2026-01-01T00:00:40"), utc("2026-01-01T00:01:00")])
        // Weekdays at 09:00 in January–March: 2026-01-02 is a Friday, then Monday the 5th.
        #expect(try ticks("0 9 * JAN-MAR mon-FRI", after: "2026-01-01T12:00", count: 2) == [utc("2026-01-02T09:00"), utc("2026-01-05T09:00")])
        #expect(try ticks("@monthly", after: "2026-01-15T00:00", count: 2) == [utc("2026-02-01T00:00"), utc("2026-03-01T00:00")])
        #expect(try ticks("@hourly", after: "2026-01-01T23:30", count: 1) == [utc("2026-01-02T00:00")])
        // 7 is Sunday like 0: 2026-01-04 is a Sunday.
        #expect(try ticks("0 0 * * 7", after: "2026-01-01T00:00", count: 1) == [utc("2026-01-04T00:00")])
        #expect(try ticks("10/20 0 1 1 *", after: "2025-12-31T00:00", count: 3) == [utc("2026-01-01T00:10"), utc("2026-01-01T00:30"), utc("2026-01-01T00:50")])
        // Feb 29 comes in leap years only.
        #expect(try ticks("0 0 29 2 *", after: "2026-01-01T00:00", count: 1) == [utc("2028-02-29T00:00")])
        // The tick itself is not "after" it.
        #expect(try ticks("0 * * * *", after: "2026-01-01T05:00", count: 1) == [utc("2026-01-01T06:00")])
    }

    @Test("day of month and day of week restricted together match either (Vixie cron)")
    func dayOrWeekday() throws {
        // 2026-06-01 is a Monday; the 1st of July a Wednesday.
        let fires = try ticks("0 0 1 * MON", after: "2026-05-31T12:00", count: 6)
        #expect(fires == ["2026-06-01", "2026-06-08", "2026-06-15", "2026-06-22", "2026-06-29", "2026-07-01"].map { utc($0 + "T00:00") })
    }

    @Test("wall-clock fields are read in the schedule's zone")
    func timeZones() throws {
        // 09:00 in Berlin: 08:00 UTC in winter (CET), 07:00 UTC in summer (CEST).
        #expect(try ticks("0 9 * * *", "Europe/Berlin", after: "2026-01-10T00:00", count: 1) == [utc("2026-01-10T08:00")])
        #expect(try ticks("0 9 * * *", "Europe/Berlin", after: "2026-07-10T00:00", count: 1) == [utc("2026-07-10T07:00")])
    }

    @Test("spring forward: a tick in the missing hour fires once, when the clocks jump")
    func springForward() throws {
        // Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
        #expect(try ticks("30 2 * * *", "Europe/Berlin", after: "2026-03-28T12:00", count: 2) == [utc("2026-03-29T01:00"), utc("2026-03-30T00:30")])
        // Several ticks in the gap fire once together; the next is 03:00 CEST... which is the jump
        // itself, so the next distinct one is 03:15 CEST.
        #expect(try ticks("*/15 2-3 * * *", "Europe/Berlin", after: "2026-03-29T00:50", count: 3) == [utc("2026-03-29T01:00"), utc("2026-03-29T01:15"), utc("2026-03-29T01:30")])
        // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00 UTC.
        #expect(try ticks("0 2 * * *", "America/New_York", after: "2026-03-07T12:00", count: 2) == [utc("2026-03-08T07:00"), utc("2026-03-09T06:00")])
    }

    @Test("fall back: a fixed-hour tick fires in the first pass only; an every-hour schedule in both")
    func fallBack() throws {
        // Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:xx happens twice.
        #expect(try ticks("30 2 * * *", "Europe/Berlin", after: "2026-10-24T12:00", count: 2) == [utc("2026-10-25T00:30"), utc("2026-10-26T01:30")])
        #expect(try ticks("*/30 * * * *", "Europe/Berlin", after: "2026-10-24T23:50", count: 5) == [
            utc("2026-10-25T00:00"), utc("2026-10-25T00:30"), utc("2026-10-25T01:00"), utc("2026-10-25T01:30"), utc("2026-10-25T02:00"),
        ])
    }
}

@Suite("Schedule policy: overlap, buffering and catch-up")
struct SchedulePolicyTests {
    static func policy(_ overlap: ScheduleOverlap, window: Int64 = 600_000) throws -> SchedulePolicy {
        SchedulePolicy(schedule: try CronSchedule(cron: "* * * * *", timeZone: ""), overlap: overlap, catchupWindowMilliseconds: window)
    }

    @Test("a due tick fires and the cursor moves to the next; a future one is waited for")
    func firesInOrder() throws {
        let p = try Self.policy(.skip)
        let t = utc("2026-01-01T00:01")
        #expect(p.step(ScheduleCursor(next: t), now: t - 1, previousOpen: false) == .wait(until: t))
        #expect(p.step(ScheduleCursor(next: t), now: t + 5, previousOpen: false) == .fire(tick: t, then: ScheduleCursor(next: t + 60_000)))
        #expect(p.step(ScheduleCursor(next: nil), now: t, previousOpen: false) == .wait(until: nil))
    }

    @Test("skip, allow and buffer_one while the previous run is open")
    func overlap() throws {
        let t = utc("2026-01-01T00:01")
        #expect(try Self.policy(.skip).step(ScheduleCursor(next: t), now: t, previousOpen: true)
            == .skip(tick: t, count: 1, reason: .overlap, then: ScheduleCursor(next: t + 60_000)))
        #expect(try Self.policy(.allow).step(ScheduleCursor(next: t), now: t, previousOpen: true) == .fire(tick: t, then: ScheduleCursor(next: t + 60_000)))
        let buffer = try Self.policy(.bufferOne)
        let held = ScheduleCursor(next: t + 60_000, buffered: t)
        #expect(buffer.step(ScheduleCursor(next: t), now: t, previousOpen: true) == .buffer(tick: t, then: held))
        // A second tick while one is held is skipped; the held one fires once the previous closes.
        #expect(buffer.step(held, now: t + 60_000, previousOpen: true)
            == .skip(tick: t + 60_000, count: 1, reason: .overlap, then: ScheduleCursor(next: t + 120_000, buffered: t)))
        #expect(buffer.step(held, now: t + 30_000, previousOpen: true) == .wait(until: t + 60_000))
        #expect(buffer.step(held, now: t + 30_000, previousOpen: false) == .fire(tick: t, then: ScheduleCursor(next: t + 60_000)))
    }

    @Test("ticks older than the catch-up window are skipped as missed, counted, in one step")
    func catchUp() throws {
        let p = try Self.policy(.allow, window: 120_000)
        let t = utc("2026-01-01T00:00")
        let now = t + 3_600_000 + 30_000  // an hour and a half minute later
        // 00:00 … 00:58 are older than 2 minutes before 01:00:30; 00:59 is inside the window.
        #expect(p.step(ScheduleCursor(next: t), now: now, previousOpen: false)
            == .skip(tick: t, count: 59, reason: .missed, then: ScheduleCursor(next: t + 59 * 60_000)))
        #expect(p.step(ScheduleCursor(next: t + 59 * 60_000), now: now, previousOpen: false)
            == .fire(tick: t + 59 * 60_000, then: ScheduleCursor(next: t + 60 * 60_000)))
    }
}
