/// A point in time as the engine sees it: wall-clock milliseconds since the Unix epoch.
///
/// The engine never reads a clock: every event brings `now`, and timer deadlines are instants. Wall
/// time rather than a monotonic clock because deadlines are made durable (retry timers in history
/// records, so a recovered run keeps its schedule) and must mean the same after a restart on another
/// machine. Milliseconds match Postgres `timestamptz` precision closely enough and keep instants a
/// plain `Int64`. A shell that fires timers by a monotonic clock converts at the boundary.
public struct EngineInstant: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var unixMilliseconds: Int64

    public init(unixMilliseconds: Int64) { self.unixMilliseconds = unixMilliseconds }

    /// This instant plus `duration`, rounded up to the next whole millisecond (a deadline never
    /// comes early), saturating instead of overflowing. A negative duration counts as zero.
    public func advanced(by duration: Duration) -> EngineInstant {
        guard duration > .zero else { return self }
        let (seconds, attoseconds) = duration.components
        let (wholeMilliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return EngineInstant(unixMilliseconds: .max) }
        let perMillisecond: Int64 = 1_000_000_000_000_000
        let fraction = (attoseconds + perMillisecond - 1) / perMillisecond
        let (delta, overflow2) = wholeMilliseconds.addingReportingOverflow(fraction)
        guard !overflow2 else { return EngineInstant(unixMilliseconds: .max) }
        let (sum, overflow3) = unixMilliseconds.addingReportingOverflow(delta)
        return EngineInstant(unixMilliseconds: overflow3 ? .max : sum)
    }

    /// The time from this instant to `other` (negative when `other` is earlier).
    public func duration(to other: EngineInstant) -> Duration {
        .milliseconds(other.unixMilliseconds &- unixMilliseconds)
    }

    public static func < (a: EngineInstant, b: EngineInstant) -> Bool { a.unixMilliseconds < b.unixMilliseconds }

    /// `@1700000000123` (milliseconds since the epoch).
    public var description: String { "@\(unixMilliseconds)" }
}
