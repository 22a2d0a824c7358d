import Logging

/// Cluster-wide concurrency limits (issue 12, ARCHITECTURE.md §4): per key, a sorted set in Redis
/// of the attempts holding a slot, each scored with the time its hold expires. A scheduler takes
/// slots for the attempts it admits (`acquire`, one Lua script: drop expired holds, then add
/// members while fewer than `limit` hold), renews the holds of its attempts every second
/// (`renew`), and gives them back when they end (`release`). A scheduler that dies stops renewing:
/// its holds expire after `holdTTL` (by then its partitions' new owner has re-taken the holds of
/// the attempts it recovered — a member is the attempt's identity, so re-taking one is a refresh,
/// not a second slot).
///
/// **Never over-admit after Redis forgets.** Holds Redis lost (a restart without persistence, a
/// flush) would read as free slots. A marker records since when this Redis has known the holds;
/// for `warmUp` after the marker is (re)made no new slot is granted, while every live scheduler's
/// renewal rebuilds the sets: during the warm-up a renewal adds its members back; after it, a
/// renewal refreshes only members still present (`ZADD XX`), so a renewal that crosses a release of
/// the same member on the wire never brings back a slot that was given back. So after a loss limits
/// briefly under-admit, never over-admit; `warmUp` must exceed the renewal interval with margin.
///
/// Connects lazily and reconnects after an error.
public actor ConcurrencyLimiter {
    static let acquireScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local limit = tonumber(ARGV[1])
        local ttl = tonumber(ARGV[2])
        local warmup = tonumber(ARGV[3])
        local since = tonumber(redis.call('GET', KEYS[2]))
        if not since then
          since = now
          redis.call('SET', KEYS[2], now)
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        local held = redis.call('ZCARD', KEYS[1])
        local granted = {}
        for i = 4, #ARGV do
          local m = ARGV[i]
          if redis.call('ZSCORE', KEYS[1], m) then
            redis.call('ZADD', KEYS[1], now + ttl, m)
            granted[#granted + 1] = m
          elseif now - since >= warmup and held < limit then
            redis.call('ZADD', KEYS[1], now + ttl, m)
            held = held + 1
            granted[#granted + 1] = m
          end
        end
        if held > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
        return granted
        """

    static let renewScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[1])
        local warmup = tonumber(ARGV[2])
        local since = tonumber(redis.call('GET', KEYS[2]))
        if not since then
          since = now
          redis.call('SET', KEYS[2], now)
        end
        local mode = 'XX'
        if now - since < warmup then mode = 'CH' end
        for i = 3, #ARGV do redis.call('ZADD', KEYS[1], mode, now + ttl, ARGV[i]) end
        redis.call('PEXPIRE', KEYS[1], ttl)
        return #ARGV - 2
        """

    private let prefix: String
    private let redis: LazyRedisConnection
    /// How long a hold lasts without renewal.
    public let holdTTL: Duration
    /// How long after Redis forgot the holds no new slot is granted.
    public let warmUp: Duration

    /// Keys are `weft:{cluster}:conc:` + the limit's key.
    public init(url: String, cluster: String, holdTTL: Duration = .seconds(30), warmUp: Duration = .seconds(5), logger: Logger) {
        self.redis = LazyRedisConnection(url: url, logger: logger)
        self.prefix = "weft:\(cluster):conc:"
        self.holdTTL = holdTTL
        self.warmUp = warmUp
    }

    private var sinceKey: String { prefix + "since" }
    private func setKey(_ key: String) -> String { prefix + "h:" + key }

    /// Takes slots of `key` (at most `limit` held) for `members`, in order; returns those that
    /// hold one now (members that held one already are renewed and returned).
    public func acquire(key: String, limit: Int, members: [String]) async throws -> [String] {
        let reply = try await redis.evaluate(script: Self.acquireScript, keys: [setKey(key), sinceKey], arguments: [
            String(limit), String(milliseconds(holdTTL)), String(milliseconds(warmUp)),
        ] + members)
        guard case .array(let values) = reply else {
            throw RedisError(code: .unexpectedReply, message: "the concurrency script answered \(reply)", command: "EVALSHA")
        }
        return values.compactMap(\.string)
    }

    /// Extends the holds of `members` on `key` that are still there — or, during the warm-up after
    /// Redis forgot the holds, restores them all.
    public func renew(key: String, members: [String]) async throws {
        guard !members.isEmpty else { return }
        try await redis.evaluate(script: Self.renewScript, keys: [setKey(key), sinceKey], arguments: [String(milliseconds(holdTTL)), String(milliseconds(warmUp))] + members)
    }

    /// Gives the slots of `members` on `key` back.
    public func release(key: String, members: [String]) async throws {
        guard !members.isEmpty else { return }
        try await redis.command(["ZREM", setKey(key)] + members)
    }

    /// Makes the marker if Redis has none, so that the warm-up of a fresh Redis passes while the
    /// scheduler starts rather than at the first limited task (`SET NX`; the script's time).
    public func prime() async throws {
        try await redis.evaluate(script: """
            if redis.call('GET', KEYS[1]) then return 0 end
            local t = redis.call('TIME')
            redis.call('SET', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
            return 1
            """, keys: [sinceKey], arguments: [])
    }

    /// Every key with holders and its holders (a `SCAN` of the limits' sets): for a new owner of
    /// partitions to give back the holds of attempts that ended while nobody could (a crash
    /// between an attempt's end and its release).
    public func allHolders() async throws -> [(key: String, members: [String])] {
        var cursor = "0"
        var out: [(key: String, members: [String])] = []
        let setPrefix = setKey("")
        repeat {
            let reply = try await redis.command(["SCAN", cursor, "MATCH", setPrefix + "*", "COUNT", "1000"])
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].string, case .array(let keys) = parts[1] else {
                throw RedisError(code: .unexpectedReply, message: "SCAN answered \(reply)", command: "SCAN")
            }
            cursor = next
            for case let name? in keys.map(\.string) {
                let members = try await redis.command(["ZRANGE", name, "0", "-1"])
                guard case .array(let values) = members else { continue }
                out.append((String(name.dropFirst(setPrefix.count)), values.compactMap(\.string)))
            }
        } while cursor != "0"
        return out
    }

    /// Holders of `key` right now (tests, admin).
    public func holders(key: String) async throws -> [String] {
        let reply = try await redis.command(["ZRANGE", setKey(key), "0", "-1"])
        guard case .array(let values) = reply else { return [] }
        return values.compactMap(\.string)
    }

}
