import Logging

/// Cluster-wide rate limits (issue 12, ARCHITECTURE.md §4): one GCRA bucket per key, kept in Redis
/// and changed by one Lua script, so every scheduler takes from the same budget. GCRA stores a
/// single number per key — the "theoretical arrival time" (TAT) of the next attempt — and grants
/// an attempt when `now ≥ TAT − burst × emission`; each grant moves TAT on by one emission
/// interval (`per / limit`). The script grants up to `wanted` at once (one round trip for a queue
/// of waiting tasks) and otherwise says how long until the next one. Time is Redis's (`TIME`), so
/// schedulers' clocks do not matter.
///
/// **Never over-admit after Redis forgets.** A bucket Redis lost (a restart without persistence, a
/// flush, an eviction) would read as full and grant a whole burst on top of what was just granted.
/// A marker key records since when this Redis has known the limits; a bucket missing while the
/// marker is younger than the bucket's refill time starts empty at the marker's time rather than
/// full. So after a loss (and on the very first use) limits briefly under-admit, never over-admit.
/// A Redis that comes back from an old snapshot with the marker but stale buckets is not detected:
/// run the limits' Redis without persistence (as the chart does), or flush it on restore.
///
/// Connects lazily and reconnects after an error.
public actor RateLimiter {
    static let script = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local e = tonumber(ARGV[1])
        local tolerance = e * tonumber(ARGV[2])
        local wanted = tonumber(ARGV[3])
        local tat = tonumber(redis.call('GET', KEYS[1]))
        if not tat then
          local since = tonumber(redis.call('GET', KEYS[2]))
          if not since then
            since = now
            redis.call('SET', KEYS[2], now)
          end
          if now - since < tolerance then tat = since + tolerance else tat = now end
        end
        if tat < now then tat = now end
        local granted = math.floor((now + tolerance - tat) / e)
        if granted > wanted then granted = wanted end
        if granted < 1 then
          return {0, tat + e - tolerance - now}
        end
        tat = tat + granted * e
        redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1)
        return {granted, 0}
        """

    /// What one call got.
    public struct Grant: Sendable, Equatable {
        /// How many attempts may start now (0…wanted).
        public var granted: Int
        /// When nothing was granted: how long until one attempt may start.
        public var retryAfter: Duration

        public init(granted: Int, retryAfter: Duration) {
            self.granted = granted
            self.retryAfter = retryAfter
        }
    }

    private let prefix: String
    private let redis: LazyRedisConnection

    /// Keys are `weft:{cluster}:rate:` + the bucket's key.
    public init(url: String, cluster: String, logger: Logger) {
        self.redis = LazyRedisConnection(url: url, logger: logger)
        self.prefix = "weft:\(cluster):rate:"
    }

    /// Takes up to `wanted` attempts from bucket `key`, whose attempts each use
    /// `emissionMicroseconds` of budget and of which `burst` may start at once. Throws when Redis
    /// cannot be reached (the caller waits and asks again: a limit is never skipped).
    public func acquire(key: String, emissionMicroseconds: Int64, burst: Int, wanted: Int) async throws -> Grant {
        let reply = try await redis.evaluate(
            script: Self.script, keys: [prefix + "b:" + key, prefix + "since"],
            arguments: [String(max(1, emissionMicroseconds)), String(max(1, burst)), String(max(1, wanted))])
        guard case .array(let values) = reply, values.count == 2,
            case .integer(let granted) = values[0], case .integer(let wait) = values[1]
        else {
            throw RedisError(code: .unexpectedReply, message: "the rate limit script answered \(reply)", command: "EVALSHA")
        }
        return Grant(granted: Int(granted), retryAfter: .microseconds(max(0, wait)))
    }
}
