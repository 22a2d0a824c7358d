#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An instant with Postgres' `timestamptz` resolution: whole microseconds since
/// 1970-01-01 00:00:00 UTC.
///
/// It is what the schema's time columns hold (`runs.created_at`, `history_events.at`, table
/// partition bounds), with the calendar arithmetic table-partition maintenance needs (UTC months
/// and days) and no dependency on Foundation or on the session's `TimeZone` setting:
///
/// ```
/// let createdAt = runID.createdAt                        // from the UUIDv7's milliseconds
/// try conn.execute("INSERT INTO runs (run_id, created_at, ...) VALUES ($1, $2, ...)",
///                  [PostgresValue(text: "\(runID)"), .timestamp(createdAt), ...])
/// ```
///
/// Invariants: ``text`` always carries an explicit `+00` offset, so the server reads the same
/// instant whatever its `TimeZone`; parsing accepts the ISO output style (`DateStyle = ISO`,
/// Postgres' default) with any offset.
public struct PostgresTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Microseconds since 1970-01-01 00:00:00 UTC (negative before).
    public var unixMicroseconds: Int64

    public init(unixMicroseconds: Int64) { self.unixMicroseconds = unixMicroseconds }

    /// Exact: every millisecond is a whole number of microseconds. Saturates instead of trapping
    /// for values beyond ±292,000 years (which Postgres then refuses as out of range).
    public init(unixMilliseconds: Int64) {
        let (product, overflow) = unixMilliseconds.multipliedReportingOverflow(by: 1000)
        unixMicroseconds = overflow ? (unixMilliseconds < 0 ? .min : .max) : product
    }

    /// A UTC calendar time; `nil` when a field is out of range (month 13, February 30, hour 24, ...).
    public init?(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, microsecond: Int = 0) {
        guard let date = CivilDate(year: year, month: month, day: day),
              (0..<24).contains(hour), (0..<60).contains(minute), (0..<60).contains(second),
              (0..<1_000_000).contains(microsecond)
        else { return nil }
        let seconds = Int64(date.daysSinceEpoch) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        unixMicroseconds = seconds * 1_000_000 + Int64(microsecond)
    }

    /// The system's wall clock (`CLOCK_REALTIME`). Code that must be testable takes a timestamp
    /// as an argument instead of calling this.
    public static func now() -> PostgresTimestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return PostgresTimestamp(unixMicroseconds: Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000)
    }

    /// Milliseconds since 1970, rounded down.
    public var unixMilliseconds: Int64 { Self.floorDivide(unixMicroseconds, 1000) }

    /// The UTC calendar day this instant falls on.
    var civilDate: CivilDate { CivilDate(daysSinceEpoch: Int(Self.floorDivide(unixMicroseconds, Self.microsecondsPerDay))) }

    /// Midnight UTC of `date`.
    init(startOf date: CivilDate) {
        unixMicroseconds = Int64(date.daysSinceEpoch) * Self.microsecondsPerDay
    }

    /// Postgres' input and ISO output format in UTC: `2026-11-25 10:00:00.123456+00` (fraction
    /// only when non-zero; ` BC` for years before 1).
    public var text: String {
        let date = civilDate
        let ofDay = unixMicroseconds - Int64(date.daysSinceEpoch) * Self.microsecondsPerDay
        let seconds = Int(ofDay / 1_000_000)
        let micros = Int(ofDay % 1_000_000)
        var out = date.text
        out += " \(Self.pad(seconds / 3600, 2)):\(Self.pad(seconds / 60 % 60, 2)):\(Self.pad(seconds % 60, 2))"
        if micros != 0 {
            var fraction = Self.pad(micros, 6)
            while fraction.last == "0" { fraction.removeLast() }
            out += "." + fraction
        }
        out += "+00"
        if date.year <= 0 { out += " BC" }
        return out
    }

    public var description: String { text }

    public static func < (a: PostgresTimestamp, b: PostgresTimestamp) -> Bool { a.unixMicroseconds < b.unixMicroseconds }

    /// `timestamp + duration`, truncated to whole microseconds.
    public static func + (timestamp: PostgresTimestamp, duration: Duration) -> PostgresTimestamp {
        PostgresTimestamp(unixMicroseconds: timestamp.unixMicroseconds + microseconds(of: duration))
    }

    /// `timestamp - duration`, truncated to whole microseconds.
    public static func - (timestamp: PostgresTimestamp, duration: Duration) -> PostgresTimestamp {
        PostgresTimestamp(unixMicroseconds: timestamp.unixMicroseconds - microseconds(of: duration))
    }

    static let microsecondsPerDay: Int64 = 86_400_000_000

    static func microseconds(of duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

extension PostgresTimestamp: PostgresDecodable {
    /// Reads Postgres' ISO output: `2026-11-25 10:00:00[.ffffff]±HH[:MM[:SS]][ BC]` (also with a
    /// `T` separator). `infinity`, `-infinity` and the other `DateStyle`s are not accepted (`nil`).
    public init?(postgresText: String) {
        var text = Substring(postgresText)
        var bc = false
        if text.hasSuffix(" BC") {
            bc = true
            text = text.dropLast(3)
        }
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ minDigits: Int, _ maxDigits: Int) -> Int? {
            var value = 0
            var count = 0
            while index < bytes.count, count < maxDigits, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                index += 1
                count += 1
            }
            return count >= minDigits ? value : nil
        }
        func expect(_ characters: Character...) -> Bool {
            guard index < bytes.count, characters.contains(where: { $0.asciiValue == bytes[index] }) else { return false }
            index += 1
            return true
        }
        guard var year = number(4, 9), expect("-"), let month = number(2, 2), expect("-"), let day = number(2, 2),
              expect(" ", "T"), let hour = number(2, 2), expect(":"), let minute = number(2, 2), expect(":"),
              let second = number(2, 2)
        else { return nil }
        var micros = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            guard let fraction = number(1, 6) else { return nil }
            micros = fraction * [1, 100_000, 10_000, 1000, 100, 10, 1][index - start]
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") else { return nil }
        let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
        index += 1
        guard let offsetHours = number(2, 2) else { return nil }
        var offsetSeconds = offsetHours * 3600
        if expect(":") {
            guard let offsetMinutes = number(2, 2) else { return nil }
            offsetSeconds += offsetMinutes * 60
            if expect(":") {
                guard let extra = number(2, 2) else { return nil }
                offsetSeconds += extra
            }
        }
        guard index == bytes.count else { return nil }
        if bc { year = 1 - year }
        guard let local = PostgresTimestamp(year: year, month: month, day: day, hour: hour, minute: minute, second: second, microsecond: micros)
        else { return nil }
        self = local - .seconds(sign * offsetSeconds)
    }
}

extension PostgresValue {
    /// A `timestamptz` parameter (``PostgresTimestamp/text``, always with an explicit UTC offset).
    public static func timestamp(_ value: PostgresTimestamp) -> PostgresValue { PostgresValue(text: value.text) }

    public init(_ value: PostgresTimestamp) { self.init(text: value.text) }
}

/// A proleptic Gregorian calendar day (UTC), for table-partition bounds. Conversions are Howard
/// Hinnant's `days_from_civil` / `civil_from_days`, exact for every representable day.
struct CivilDate: Hashable, Comparable, Sendable {
    let year: Int
    let month: Int
    let day: Int

    init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(year: year, month: month) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    init(daysSinceEpoch days: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The first day of this day's month.
    var firstOfMonth: CivilDate { CivilDate(uncheckedYear: year, month: month, day: 1) }

    /// The first day of the month `count` months after this day's month.
    func firstOfMonth(adding count: Int) -> CivilDate {
        let index = year * 12 + (month - 1) + count
        let newYear = index >= 0 ? index / 12 : (index - 11) / 12
        return CivilDate(uncheckedYear: newYear, month: index - newYear * 12 + 1, day: 1)
    }

    func adding(days: Int) -> CivilDate { CivilDate(daysSinceEpoch: daysSinceEpoch + days) }

    /// `2026-11-25` (astronomical years before 1 are written as the positive BC year).
    var text: String {
        let shownYear = year <= 0 ? 1 - year : year
        return "\(PostgresTimestamp.pad(shownYear, 4))-\(PostgresTimestamp.pad(month, 2))-\(PostgresTimestamp.pad(day, 2))"
    }

    static func < (a: CivilDate, b: CivilDate) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }

    private init(uncheckedYear year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    static func daysIn(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
