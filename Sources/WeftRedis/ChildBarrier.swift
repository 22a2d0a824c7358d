import Logging

/// The fan-in barrier of child workflows (ARCHITECTURE.md §4 "Fan-out / fan-in"): each child that
/// succeeds adds its element to a set keyed by its parent run and node, and learns how many have —
/// `SADD` and `SCARD` in one Lua script, so the count a caller sees includes its own add and a
/// repeat (a retried notification) adds nothing. Only the caller that completes the set tells the
/// parent. The set expires after `ttl` (a parent that never finishes leaves nothing behind).
///
/// Redis is the fast path only: the parent reads the outcomes from Postgres, and sweeps for them,
/// so a barrier Redis forgot (a restart, a flush) costs latency, never a child.
/// Connects lazily and reconnects after an error.
public actor ChildBarrier {
    static let arriveScript = """
        redis.call('sadd', KEYS[1], ARGV[1])
        redis.call('pexpire', KEYS[1], ARGV[2])
        return redis.call('scard', KEYS[1])
        """

    private let prefix: String
    private let ttl: Duration
    private let redis: LazyRedisConnection

    /// Keys are `weft:{cluster}:` + the caller's key.
    public init(url: String, cluster: String, ttl: Duration = .seconds(7 * 86_400), logger: Logger) {
        self.redis = LazyRedisConnection(url: url, logger: logger)
        self.prefix = "weft:\(cluster):"
        self.ttl = ttl
    }

    /// Adds `member` to the set `key` and returns the set's size. Throws when Redis cannot be
    /// reached (the caller then tells the parent directly).
    public func arrive(key: String, member: String) async throws -> Int {
        let milliseconds = String(ttl.components.seconds * 1000)
        let reply = try await redis.evaluate(script: Self.arriveScript, keys: [prefix + key], arguments: [member, milliseconds])
        guard case .integer(let count) = reply else {
            throw RedisError(code: .unexpectedReply, message: "the barrier script answered \(reply)", command: "EVALSHA")
        }
        return Int(count)
    }
}
