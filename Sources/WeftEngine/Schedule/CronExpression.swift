import WeftCore

/// A cron expression: which wall-clock times a schedule fires at (`weftctl schedule create --cron`).
///
/// Five fields — `minute hour day-of-month month day-of-week` — as in Vixie cron and Kubernetes
/// CronJobs, or six with a leading `second` field (as in Quartz and Temporal's calendar specs) for
/// schedules finer than a minute. Each field is `*`, a value, a range `a-b`, a step `*/n`, `a-b/n`
/// or `a/n`, or a comma-separated list of those. Months and weekdays may be named (`JAN`–`DEC`,
/// `SUN`–`SAT`, any case); weekday 7 is Sunday like 0; `?` is `*`. Macros: `@yearly` (`@annually`),
/// `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`.
///
/// Day of month and day of week combine as in Vixie cron: when both are restricted (neither is
/// `*`), a day matches if **either** does (`0 9 1 * MON` fires on the 1st and on every Monday).
///
/// Refused with a message naming the field: unknown syntax (`L`, `W`, `#` are not supported), a
/// value out of its field's range, a reversed range, a step of 0, more than 256 bytes. An
/// expression that matches no date at all (`0 0 30 2 *`) is refused by `CronSchedule`.
public struct CronExpression: Hashable, Sendable, CustomStringConvertible {
    /// The expression as written (trimmed).
    public let text: String
    let seconds: UInt64
    let minutes: UInt64
    let hours: UInt64
    let daysOfMonth: UInt64
    let months: UInt64
    let daysOfWeek: UInt64
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool
    /// The hour field is `*`: the schedule runs every hour, so in the hour a fall-back repeats it
    /// fires in both passes (see `CronSchedule`).
    let everyHour: Bool

    /// Why an expression was refused.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The longest expression accepted, in bytes.
    public static let maxLength = 256

    private struct Field {
        var name: String
        var range: ClosedRange<Int>
        var names: [String: Int] = [:]
    }

    private static let monthNames = ["JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12]
    private static let dayNames = ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]
    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    public init(parsing raw: String) throws(Failure) {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        let trimmed = String(String(raw.drop(while: blank).reversed()).drop(while: blank).reversed())
        guard !trimmed.isEmpty else { throw Failure(message: "the cron expression is empty") }
        guard trimmed.utf8.count <= Self.maxLength else {
            throw Failure(message: "the cron expression has \(trimmed.utf8.count) bytes; at most \(Self.maxLength) are accepted")
        }
        text = trimmed
        var expanded = trimmed
        if trimmed.hasPrefix("@") {
            guard let macro = Self.macros[trimmed.lowercased()] else {
                throw Failure(message: "unknown cron macro \(MessageText.quoted(trimmed)) (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)")
            }
            expanded = macro
        }
        var fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        switch fields.count {
        case 5: fields.insert("0", at: 0)
        case 6: break
        default:
            throw Failure(message: "a cron expression has 5 fields (minute hour day-of-month month day-of-week) or 6 (with a leading second); \(MessageText.quoted(trimmed)) has \(fields.count)")
        }
        seconds = try Self.parse(fields[0], Field(name: "second", range: 0...59))
        minutes = try Self.parse(fields[1], Field(name: "minute", range: 0...59))
        hours = try Self.parse(fields[2], Field(name: "hour", range: 0...23))
        daysOfMonth = try Self.parse(fields[3], Field(name: "day-of-month", range: 1...31))
        months = try Self.parse(fields[4], Field(name: "month", range: 1...12, names: Self.monthNames))
        var weekdays = try Self.parse(fields[5], Field(name: "day-of-week", range: 0...7, names: Self.dayNames))
        if weekdays & (1 << 7) != 0 { weekdays = (weekdays | 1) & ~(1 << 7) }  // 7 is Sunday
        daysOfWeek = weekdays
        dayOfMonthRestricted = !Self.isWildcard(fields[3])
        dayOfWeekRestricted = !Self.isWildcard(fields[5])
        everyHour = Self.isWildcard(fields[2])
    }

    public var description: String { text }

    private static func isWildcard(_ field: String) -> Bool { field == "*" || field == "?" || field == "*/1" }

    private static func parse(_ text: String, _ field: Field) throws(Failure) -> UInt64 {
        var mask: UInt64 = 0
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw Failure(message: "\(field.name) field \(MessageText.quoted(text)): an empty list item") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw Failure(message: "\(field.name) field \(MessageText.quoted(text)): more than one '/' in \(MessageText.quoted(String(part)))") }
            var step = 1
            if pieces.count == 2 {
                guard let value = Int(pieces[1]), value >= 1, value <= field.range.upperBound + 1 else {
                    throw Failure(message: "\(field.name) field \(MessageText.quoted(text)): the step must be a number from 1 to \(field.range.upperBound + 1)")
                }
                step = value
            }
            let base = pieces[0]
            var low: Int
            var high: Int
            if base == "*" || base == "?" {
                (low, high) = (field.range.lowerBound, field.range.upperBound)
                if field.name == "day-of-week" { high = 6 }
            } else if let dash = base.firstIndex(of: "-") {
                low = try value(String(base[..<dash]), field, text)
                high = try value(String(base[base.index(after: dash)...]), field, text)
                guard low <= high else {
                    throw Failure(message: "\(field.name) field \(MessageText.quoted(text)): the range \(base) runs backwards")
                }
            } else {
                low = try value(String(base), field, text)
                high = pieces.count == 2 ? (field.name == "day-of-week" ? 6 : field.range.upperBound) : low  // "a/n": from a to the end
            }
            var v = low
            while v <= high {
                mask |= 1 << UInt64(v)
                v += step
            }
        }
        return mask
    }

    private static func value(_ token: String, _ field: Field, _ text: String) throws(Failure) -> Int {
        if let number = Int(token), token.allSatisfy(\.isASCII) {
            guard field.range.contains(number) else {
                throw Failure(message: "\(field.name) field \(MessageText.quoted(text)): \(number) is outside \(field.range.lowerBound)-\(field.range.upperBound)")
            }
            return number
        }
        if let named = field.names[token.uppercased()] { return named }
        let hint = field.names.isEmpty ? "" : " or a name such as \(field.name == "month" ? "JAN" : "MON")"
        throw Failure(message: "\(field.name) field \(MessageText.quoted(text)): \(MessageText.quoted(token)) is not a number\(hint) (L, W and # are not supported)")
    }

    // MARK: Matching wall-clock times

    /// Whether the civil day `day` (days since 1970-01-01) matches the day fields.
    func matchesDay(_ day: Int64, dayOfMonth: Int, month: Int) -> Bool {
        guard months & (1 << UInt64(month)) != 0 else { return false }
        let byMonthDay = daysOfMonth & (1 << UInt64(dayOfMonth)) != 0
        let byWeekday = daysOfWeek & (1 << UInt64(CivilTime.weekday(day))) != 0
        switch (dayOfMonthRestricted, dayOfWeekRestricted) {
        case (true, true): return byMonthDay || byWeekday
        case (true, false): return byMonthDay
        case (false, true): return byWeekday
        case (false, false): return true
        }
    }

    /// The first wall-clock second at or after `wall` (seconds since 1970-01-01T00:00 on a clock
    /// with no time zone) that matches, or nil when none does up to `limit`.
    func nextMatch(atOrAfter start: Int64, limit: Int64) -> Int64? {
        var wall = start
        while wall <= limit {
            let day = CivilTime.floorDivide(wall, 86_400)
            let second = Int(wall - day * 86_400)
            let civil = CivilTime.civil(fromDays: day)
            if months & (1 << UInt64(civil.month)) == 0 {
                let next = civil.month == 12 ? (civil.year + 1, 1) : (civil.year, civil.month + 1)
                wall = CivilTime.days(year: next.0, month: next.1, day: 1) * 86_400
                continue
            }
            guard matchesDay(day, dayOfMonth: civil.day, month: civil.month) else {
                wall = (day + 1) * 86_400
                continue
            }
            let (hour, minute, sec) = (second / 3600, second % 3600 / 60, second % 60)
            let dayStart = day * 86_400
            guard let h = Self.next(hours, atOrAfter: hour) else {
                wall = dayStart + 86_400
                continue
            }
            if h != hour {
                wall = dayStart + Int64(h) * 3600
                continue
            }
            guard let m = Self.next(minutes, atOrAfter: minute) else {
                wall = dayStart + Int64(hour + 1) * 3600
                continue
            }
            if m != minute {
                wall = dayStart + Int64(hour) * 3600 + Int64(m) * 60
                continue
            }
            guard let s = Self.next(seconds, atOrAfter: sec) else {
                wall = dayStart + Int64(hour) * 3600 + Int64(minute + 1) * 60
                continue
            }
            return dayStart + Int64(hour) * 3600 + Int64(minute) * 60 + Int64(s)
        }
        return nil
    }

    private static func next(_ mask: UInt64, atOrAfter value: Int) -> Int? {
        let rest = mask >> UInt64(value)
        return rest == 0 ? nil : value + rest.trailingZeroBitCount
    }
}

/// Days and civil dates on the proleptic Gregorian calendar (Howard Hinnant's algorithms).
enum CivilTime {
    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = floorDivide(y, 400)
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = floorDivide(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    /// 0 = Sunday.
    static func weekday(_ days: Int64) -> Int {
        Int(((days % 7) + 11) % 7)
    }
}
