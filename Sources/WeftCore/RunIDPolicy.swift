#if canImport(Glibc)
import Glibc
#endif

/// Which client-supplied run ids a cluster accepts (ARCHITECTURE.md §3 "Run ids from clients").
///
/// A run id fixes the run's partition and its table partition (`created_at` comes from the id's
/// timestamp). An id dated far from now would name a table partition that does not exist (or
/// will be dropped by retention), and an id from another UUID version would not sort by time. So a
/// client may choose its run's id — to make a start safe to repeat — only within a window around
/// the server's clock:
///
/// - a UUIDv7 with the RFC 9562 variant bits;
/// - dated at most ``maxAge`` in the past (a start repeated later than that is refused; the
///   client can still read the run with `GetRun`) and at most ``maxAhead`` in the future (clock
///   skew between client and server).
///
/// Both the coordinator and the scheduler check, so a client that talks to a scheduler directly is
/// held to the same rule.
public struct RunIDPolicy: Sendable, Hashable {
    /// How old a client-supplied run id may be. Default 1 hour.
    public var maxAge: Duration = .seconds(3600)
    /// How far in the future a client-supplied run id may be dated. Default 5 minutes.
    public var maxAhead: Duration = .seconds(300)

    public init() {}

    /// Throws `INVALID_ARGUMENT` naming what is wrong with `id`, judged at `nowMilliseconds`.
    public func check(_ id: RunID, nowMilliseconds: Int64) throws(RPCError) {
        guard id.version == 7 else {
            throw RPCError(.invalidArgument, "run id \(id) is not a UUIDv7 (version \(id.version))")
        }
        guard id.hasStandardVariant else {
            throw RPCError(.invalidArgument, "run id \(id) does not carry the RFC 9562 variant bits")
        }
        let at = Int64(clamping: id.unixMilliseconds)
        let age = nowMilliseconds - at
        if age > Self.milliseconds(maxAge) {
            throw RPCError(
                .invalidArgument,
                "run id \(id) is dated \(Self.describe(milliseconds: age)) ago; client-chosen run ids must be at most \(Self.describe(maxAge)) old (leave the id out and the server picks one)")
        }
        if -age > Self.milliseconds(maxAhead) {
            throw RPCError(
                .invalidArgument,
                "run id \(id) is dated \(Self.describe(milliseconds: -age)) in the future; the limit is \(Self.describe(maxAhead)) (is the client's clock right?)")
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    private static func describe(_ duration: Duration) -> String { DurationText.format(duration) }

    private static func describe(milliseconds: Int64) -> String {
        let days = milliseconds / 86_400_000
        return days >= 2 ? "\(days) days" : DurationText.format(.milliseconds(milliseconds))
    }
}

/// The scheduler's wall clock: the engine's time base (durable deadlines survive restarts) in Unix
/// milliseconds, and the time of recorded rows in microseconds. Injected, so that code deciding
/// with time is tested with a clock it controls.
public protocol WallClock: Sendable {
    func nowMicroseconds() -> Int64
}

extension WallClock {
    public func nowMilliseconds() -> Int64 { nowMicroseconds() / 1000 }
}

/// `CLOCK_REALTIME`.
public struct SystemWallClock: WallClock {
    public init() {}

    public func nowMicroseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
