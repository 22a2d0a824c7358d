/// Leases in Redis: fast mutual exclusion for partition ownership, the lease of
/// ARCHITECTURE.md §2 (key `weft:{cluster}:lease:{p}`, value = node id + incarnation).
///
/// - ``acquire(key:value:ttl:)``: `SET key value NX PX ttl`, true when this call created the lease.
/// - ``renew(key:value:ttl:)``: a Lua compare-and-`PEXPIRE`, true only while `value` still holds it.
/// - ``release(key:value:)``: a Lua compare-and-`DEL`, true only when `value` held it.
///
/// Invariant: only the holder (the caller that knows `value`) extends or deletes a lease. The
/// lease is an optimisation, not the correctness guarantee: a holder that paused past its TTL
/// may believe it still holds it, which is why every history write also checks the Postgres
/// fence (`range_id`). Renew well before expiry (for example at a third of the TTL).
///
/// Scripts run with `EVALSHA`, falling back to `EVAL` on `NOSCRIPT`
/// (``RedisConnection/evaluate(script:keys:arguments:)``).
public struct LeaseService: Sendable {
    /// `if GET(key) == value then PEXPIRE(key, ttl_ms) else 0`.
    static let renewScript = """
        if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end
        """
    /// `if GET(key) == value then DEL(key) else 0`.
    static let releaseScript = """
        if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
        """

    /// `if the lease is free or its value starts with ARGV[2] then SET(key, ARGV[1], PX ARGV[3])`.
    static let takeOverScript = """
        local held = redis.call('get', KEYS[1])
        if (not held) or string.sub(held, 1, string.len(ARGV[2])) == ARGV[2] then
          redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[3]) return 1
        end
        return 0
        """

    public let connection: RedisConnection

    public init(connection: RedisConnection) {
        self.connection = connection
    }

    /// `weft:{cluster}:lease:{partition}`.
    public static func key(cluster: String, partition: Int) -> String {
        "weft:\(cluster):lease:\(partition)"
    }

    /// Creates the lease if nobody holds it. Returns `false` when it is held (by anyone,
    /// including `value` itself: use ``renew(key:value:ttl:)`` to extend a lease you hold).
    public func acquire(key: String, value: String, ttl: Duration) async throws -> Bool {
        let milliseconds = try Self.milliseconds(ttl)
        let reply = try await connection.command(["SET", key, value, "NX", "PX", milliseconds])
        switch reply {
        case .status("OK"): return true
        case .null: return false
        default: throw RedisError(code: .unexpectedReply, message: "SET NX PX answered \(Self.shape(reply))", command: "SET")
        }
    }

    /// Takes the lease over from a holder known to be dead: sets it to `value` if it is free or
    /// its value starts with `holderPrefix` (a lease value is `node-id#nonce`, so the prefix
    /// `dead-node#` matches whatever process of that node held it). Returns `false` when someone
    /// else holds it.
    public func takeOver(key: String, value: String, ttl: Duration, holderPrefix: String) async throws -> Bool {
        let milliseconds = try Self.milliseconds(ttl)
        let reply = try await connection.evaluate(script: Self.takeOverScript, keys: [key], arguments: [value, holderPrefix, milliseconds])
        return try Self.flag(reply)
    }

    /// Resets the lease's TTL to `ttl` if `value` holds it. Returns `false` when the lease
    /// expired or another value holds it: ownership is lost.
    public func renew(key: String, value: String, ttl: Duration) async throws -> Bool {
        let milliseconds = try Self.milliseconds(ttl)
        let reply = try await connection.evaluate(script: Self.renewScript, keys: [key], arguments: [value, milliseconds])
        return try Self.flag(reply)
    }

    /// Deletes the lease if `value` holds it. Returns `false` (and leaves the key alone) when
    /// another value holds it or it already expired.
    public func release(key: String, value: String) async throws -> Bool {
        let reply = try await connection.evaluate(script: Self.releaseScript, keys: [key], arguments: [value])
        return try Self.flag(reply)
    }

    /// The TTL in whole milliseconds, rounded up; throws for a TTL under a millisecond.
    static func milliseconds(_ ttl: Duration) throws -> String {
        let (seconds, attoseconds) = ttl.components
        let perMillisecond: Int64 = 1_000_000_000_000_000
        let (rounded, remainder) = attoseconds.quotientAndRemainder(dividingBy: perMillisecond)
        let milliseconds = seconds * 1000 + rounded + (remainder > 0 ? 1 : 0)
        guard milliseconds > 0 else {
            throw RedisError(code: .invalidArgument, message: "a lease TTL must be positive")
        }
        return String(milliseconds)
    }

    /// A script's 0/1 answer as a Bool.
    private static func flag(_ reply: RedisValue) throws -> Bool {
        switch reply {
        case .integer(1): return true
        case .integer(0): return false
        default: throw RedisError(code: .unexpectedReply, message: "lease script answered \(shape(reply))", command: "EVALSHA")
        }
    }

    /// The kind of a reply, without its content (which may be a lease value).
    private static func shape(_ reply: RedisValue) -> String {
        switch reply {
        case .null: "null"
        case .status: "a status"
        case .integer: "an integer"
        case .bulk: "a bulk string"
        case .array: "an array"
        }
    }
}
