import Foundation
import WeftCore

/// A cron expression read in a time zone: the instants a schedule fires at.
///
/// **Daylight-saving time.** Fields are wall-clock times of `timeZone` (an IANA name such as
/// `Europe/Berlin`; default UTC, which has none of this). Where the clocks change:
/// - *Spring forward* (a wall-clock hour does not exist, e.g. 02:00–03:00): a tick that falls in
///   the missing hour fires once, at the instant the clocks jump (03:00 new time). A daily job at
///   02:30 still runs that day; several ticks in the gap (`*/15 2 * * *`) fire once together.
/// - *Fall back* (a wall-clock hour happens twice): a tick at a fixed hour (`30 1 * * *`) fires
///   once, in the first pass. A schedule whose hour field is `*` runs every hour and fires in both
///   passes, so `*/15 * * * *` keeps firing every 15 minutes of real time.
///
/// Ticks are whole seconds; times are Unix milliseconds.
public struct CronSchedule: Sendable {
    public let expression: CronExpression
    /// The IANA name of the time zone, as given (`UTC` when none was).
    public let timeZoneID: String
    private let timeZone: TimeZone

    /// The last instant ticks are computed for: the end of year 9999.
    public static let latestMilliseconds: Int64 = 253_402_300_799_999

    /// How far ahead `next(after:)` looks before it concludes that nothing matches.
    public static let horizonSeconds: Int64 = 8 * 366 * 86_400

    /// Reads `cron` in `timeZone` (empty: UTC). Throws with a message for a bad expression, an
    /// unknown zone, or an expression that matches no date at all (`0 0 30 2 *`).
    public init(cron: String, timeZone id: String) throws(CronExpression.Failure) {
        expression = try CronExpression(parsing: cron)
        let name = id.isEmpty ? "UTC" : id
        guard name.utf8.count <= 64, let zone = TimeZone(identifier: name) else {
            throw CronExpression.Failure(message: "unknown time zone \(MessageText.quoted(name)): use an IANA name such as UTC, Europe/Berlin or America/New_York")
        }
        timeZoneID = name
        timeZone = zone
        guard expression.nextMatch(atOrAfter: 0, limit: Self.horizonSeconds) != nil else {
            throw CronExpression.Failure(message: "the cron expression \(MessageText.quoted(expression.text)) matches no date (check day-of-month against month)")
        }
    }

    /// The first tick strictly after `milliseconds` (Unix ms), or nil when none comes within
    /// `horizonSeconds`.
    public func next(after milliseconds: Int64) -> Int64? {
        guard (-1...Self.latestMilliseconds).contains(milliseconds) else { return nil }  // before 1970 or after 9999: no ticks
        let t = CivilTime.floorDivide(milliseconds, 1000)  // ticks are whole seconds: > t in seconds means > milliseconds
        let earliest = t + 1 + min(offset(t), offset(t + 86_400))
        var wall = earliest
        var best: Int64?
        while let match = expression.nextMatch(atOrAfter: wall, limit: earliest + Self.horizonSeconds) {
            let latest = max(offset(match - 86_400), offset(match + 86_400))
            if let found = best, match - latest >= found { break }  // no later wall time maps to an earlier instant
            for instant in instants(ofWall: match) where instant > t {
                best = min(best ?? instant, instant)
            }
            wall = match + 1
        }
        return best.map { $0 * 1000 }
    }

    /// The next `count` ticks after `milliseconds`.
    public func upcoming(after milliseconds: Int64, count: Int) -> [Int64] {
        var out: [Int64] = []
        var from = milliseconds
        while out.count < count, let tick = next(after: from) {
            out.append(tick)
            from = tick
        }
        return out
    }

    /// The instants (Unix seconds) at which the wall clock of the zone shows `wall`, under the
    /// rules above: one normally; the jump instant in a spring-forward gap; in a fall-back
    /// overlap both passes when the hour field is `*`, else the first.
    func instants(ofWall wall: Int64) -> [Int64] {
        let candidates = Set([offset(wall - 86_400), offset(wall), offset(wall + 86_400)])
        let valid = Set(candidates.map { wall - $0 }.filter { offset($0) == wall - $0 }).sorted()
        if valid.count > 1 { return expression.everyHour ? valid : [valid[0]] }
        if !valid.isEmpty { return valid }
        // A gap: the first instant whose wall clock reads `wall` or later is the jump itself.
        var low = wall - (candidates.max() ?? 0)
        var high = wall - (candidates.min() ?? 0)
        while low < high {
            let mid = low + (high - low) / 2
            if mid + offset(mid) >= wall { high = mid } else { low = mid + 1 }
        }
        return [low]
    }

    /// The zone's offset from UTC at Unix second `t`, in seconds.
    func offset(_ t: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t))))
    }
}
