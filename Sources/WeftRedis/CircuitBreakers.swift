import Logging

/// Cluster-wide circuit breakers, one per task type (issue 12), kept in Redis and changed by Lua
/// scripts so that every scheduler sees one state:
///
/// - **closed**: attempts pass; their outcomes are counted in a sliding window of 10 buckets
///   (`window / 10` each). Once the window holds at least `minRequests` outcomes and the share of
///   failures reaches `failureRate`, the breaker **opens** for `openFor`.
/// - **open**: attempts do not pass (the scheduler holds them, or fails them fast).
/// - **half-open**: once `openFor` has passed, one attempt passes as a probe (others wait); its
///   success closes the breaker (the window starts empty), its failure opens it again. A probe
///   that reports nothing within `openFor` (its scheduler died) lets another probe through.
///
/// Keys: `weft:{cluster}:cb:{type}:state` (`closed`, `open:<until ms>`, `half:<probe start ms>`),
/// `…:ok` and `…:fail` (hashes of bucket → count, expiring with the window). A breaker Redis
/// forgot is closed with an empty window: it reopens after `minRequests` more failures.
public actor CircuitBreakers {
    public struct Settings: Sendable, Equatable {
        public var failureRate: Double
        public var minRequests: Int
        public var window: Duration
        public var openFor: Duration

        public init(failureRate: Double, minRequests: Int, window: Duration, openFor: Duration) {
            self.failureRate = failureRate
            self.minRequests = minRequests
            self.window = window
            self.openFor = openFor
        }

        var arguments: [String] {
            [String(failureRate), String(minRequests), String(milliseconds(window)), String(milliseconds(openFor))]
        }
    }

    /// What `admit` answered.
    public enum Admission: Sendable, Equatable {
        /// Closed: pass.
        case pass
        /// Half-open: pass as the probe.
        case probe
        /// Open (or half-open with a probe out): do not pass; ask again after the duration.
        case wait(Duration)
    }

    /// A change of state an outcome caused.
    public enum Transition: String, Sendable, Equatable {
        case opened, closed
    }

    /// One breaker as `weftctl breakers` shows it.
    public struct Status: Sendable, Equatable {
        public var taskType: String
        /// `closed`, `open`, `half_open`.
        public var state: String
        public var failures: Int
        public var requests: Int
        /// While open: when it half-opens (Unix ms); else 0.
        public var openUntilMilliseconds: Int64
    }

    static let admitScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local openFor = tonumber(ARGV[4])
        local state = redis.call('GET', KEYS[1]) or 'closed'
        if state == 'closed' then return {'pass', 0} end
        local kind, at = string.match(state, '^(%a+):(%d+)$')
        at = tonumber(at)
        if kind == 'open' then
          if now < at then return {'wait', at - now} end
          redis.call('SET', KEYS[1], 'half:' .. now)
          return {'probe', 0}
        end
        if now - at >= openFor then
          redis.call('SET', KEYS[1], 'half:' .. now)
          return {'probe', 0}
        end
        return {'wait', math.max(1, math.floor(openFor / 10))}
        """

    static let recordScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local rate = tonumber(ARGV[1])
        local minRequests = tonumber(ARGV[2])
        local window = tonumber(ARGV[3])
        local openFor = tonumber(ARGV[4])
        local failed = ARGV[5] == 'fail'
        local state = redis.call('GET', KEYS[1])
        if not state then
          state = 'closed'
          redis.call('SET', KEYS[1], 'closed')
        end
        if string.sub(state, 1, 5) == 'half:' then
          redis.call('DEL', KEYS[2], KEYS[3])
          if failed then
            redis.call('SET', KEYS[1], 'open:' .. (now + openFor))
            return 'opened'
          end
          redis.call('SET', KEYS[1], 'closed')
          return 'closed'
        end
        if state ~= 'closed' then return 'none' end
        local width = math.max(1, math.floor(window / 10))
        local bucket = math.floor(now / width)
        local key = failed and KEYS[3] or KEYS[2]
        redis.call('HINCRBY', key, bucket, 1)
        redis.call('PEXPIRE', key, window + width)
        local ok, fail = 0, 0
        for _, pair in ipairs({{KEYS[2], 'ok'}, {KEYS[3], 'fail'}}) do
          local all = redis.call('HGETALL', pair[1])
          for i = 1, #all, 2 do
            if tonumber(all[i]) > bucket - 10 then
              if pair[2] == 'ok' then ok = ok + tonumber(all[i + 1]) else fail = fail + tonumber(all[i + 1]) end
            else
              redis.call('HDEL', pair[1], all[i])
            end
          end
        end
        local total = ok + fail
        if total >= minRequests and fail >= rate * total then
          redis.call('SET', KEYS[1], 'open:' .. (now + openFor))
          redis.call('DEL', KEYS[2], KEYS[3])
          return 'opened'
        end
        return 'none'
        """

    private let prefix: String
    private let redis: LazyRedisConnection

    public init(url: String, cluster: String, logger: Logger) {
        self.redis = LazyRedisConnection(url: url, logger: logger)
        self.prefix = "weft:\(cluster):cb:"
    }

    private func keys(_ taskType: String) -> [String] {
        [prefix + taskType + ":state", prefix + taskType + ":ok", prefix + taskType + ":fail"]
    }

    /// Whether an attempt of `taskType` may start now.
    public func admit(taskType: String, settings: Settings) async throws -> Admission {
        let reply = try await redis.evaluate(script: Self.admitScript, keys: keys(taskType), arguments: settings.arguments)
        guard case .array(let parts) = reply, parts.count == 2, let verdict = parts[0].string, let wait = parts[1].int else {
            throw RedisError(code: .unexpectedReply, message: "the breaker script answered \(reply)", command: "EVALSHA")
        }
        switch verdict {
        case "pass": return .pass
        case "probe": return .probe
        default: return .wait(.milliseconds(max(1, wait)))
        }
    }

    /// Counts an attempt's outcome; returns the change of state it caused, if any.
    public func record(taskType: String, failed: Bool, settings: Settings) async throws -> Transition? {
        let reply = try await redis.evaluate(script: Self.recordScript, keys: keys(taskType), arguments: settings.arguments + [failed ? "fail" : "ok"])
        return reply.string.flatMap(Transition.init(rawValue:))
    }

    /// Every breaker Redis holds a state for.
    public func statuses() async throws -> [Status] {
        var cursor = "0"
        var out: [Status] = []
        repeat {
            let reply = try await redis.command(["SCAN", cursor, "MATCH", prefix + "*:state", "COUNT", "1000"])
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].string, case .array(let names) = parts[1] else {
                throw RedisError(code: .unexpectedReply, message: "SCAN answered \(reply)", command: "SCAN")
            }
            cursor = next
            for case let name? in names.map(\.string) {
                let taskType = String(name.dropFirst(prefix.count).dropLast(":state".count))
                let state = try await redis.command(["GET", name]).string ?? "closed"
                var counts = [0, 0]
                for (index, suffix) in [":ok", ":fail"].enumerated() {
                    let values = try await redis.command(["HVALS", prefix + taskType + suffix])
                    if case .array(let items) = values { counts[index] = items.compactMap(\.int).reduce(0) { $0 + Int($1) } }
                }
                let (kind, at) = state.split(separator: ":").count == 2
                    ? (String(state.split(separator: ":")[0]), Int64(state.split(separator: ":")[1]) ?? 0) : (state, 0)
                out.append(Status(
                    taskType: taskType, state: kind == "half" ? "half_open" : kind, failures: counts[1], requests: counts[0] + counts[1],
                    openUntilMilliseconds: kind == "open" ? at : 0))
            }
        } while cursor != "0"
        return out.sorted { $0.taskType < $1.taskType }
    }

}
