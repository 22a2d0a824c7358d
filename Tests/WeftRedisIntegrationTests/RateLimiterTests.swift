import Testing
import WeftRedis
import _WeftTestKit

@Suite("RateLimiter (GCRA in Redis)", .enabled(if: IntegrationEnvironment.redisConfigured))
struct RateLimiterTests {
    /// A limiter on a cluster name of its own (its keys are `weft:<cluster>:rate:…`), and a raw
    /// connection to look at and change them.
    static func with(_ body: (RateLimiter, RedisConnection, _ prefix: String) async throws -> Void) async throws {
        let url = try #require(try IntegrationEnvironment.redisURL())
        let cluster = IntegrationEnvironment.uniqueName(prefix: "rl")
        let limiter = RateLimiter(url: url, cluster: cluster, logger: IntegrationEnvironment.logger(label: "weft.test.rate"))
        let connection = try await TestKeys.connect()
        let prefix = "weft:\(cluster):rate:"
        do {
            try await body(limiter, connection, prefix)
        } catch {
            _ = try? await connection.command(["DEL", prefix + "since", prefix + "b:api"])
            await connection.close()
            throw error
        }
        _ = try? await connection.command(["DEL", prefix + "since", prefix + "b:api"])
        await connection.close()
    }

    /// Marks the limits as known to this Redis for an hour, as after long use.
    static func age(_ connection: RedisConnection, _ prefix: String) async throws {
        let time = try await connection.command(["TIME"])
        guard case .array(let parts) = time, let seconds = parts.first?.string.flatMap(Int64.init) else {
            Issue.record("TIME answered \(time)")
            return
        }
        try await connection.command(["SET", prefix + "since", String((seconds - 3600) * 1_000_000)])
    }

    @Test("the very first use under-admits (the bucket starts empty), then a bucket grants its burst and then one per interval")
    func firstUse_thenBurst() async throws {
        try await Self.with { limiter, connection, prefix in
            let first = try await limiter.acquire(key: "api", emissionMicroseconds: 200_000, burst: 5, wanted: 10)
            #expect(first.granted == 0)
            #expect(first.retryAfter > .milliseconds(150) && first.retryAfter <= .milliseconds(200), "\(first)")
            try await connection.command(["DEL", prefix + "b:api"])
            try await Self.age(connection, prefix)
            let burst = try await limiter.acquire(key: "api", emissionMicroseconds: 200_000, burst: 5, wanted: 10)
            #expect(burst.granted == 5)
            let next = try await limiter.acquire(key: "api", emissionMicroseconds: 200_000, burst: 5, wanted: 10)
            #expect(next.granted == 0 && next.retryAfter > .zero && next.retryAfter <= .milliseconds(200), "\(next)")
            // Fewer wanted than available: only those are taken.
            try await connection.command(["DEL", prefix + "b:api"])
            #expect(try await limiter.acquire(key: "api", emissionMicroseconds: 200_000, burst: 5, wanted: 2).granted == 2)
            #expect(try await limiter.acquire(key: "api", emissionMicroseconds: 200_000, burst: 5, wanted: 9).granted == 3)
        }
    }

    @Test("over any stretch, grants never exceed burst + elapsed / interval")
    func neverOverAdmits() async throws {
        try await Self.with { limiter, connection, prefix in
            try await Self.age(connection, prefix)
            let start = ContinuousClock.now
            var total = 0
            while ContinuousClock.now - start < .milliseconds(400) {
                let grant = try await limiter.acquire(key: "api", emissionMicroseconds: 20_000, burst: 3, wanted: 50)
                total += grant.granted
                if grant.granted == 0 { try await Task.sleep(for: grant.retryAfter) }
            }
            let elapsed = ContinuousClock.now - start
            let bound = 3 + Int(elapsed / .milliseconds(20)) + 1
            #expect(total <= bound, "\(total) granted in \(elapsed), bound \(bound)")
            #expect(total > 3, "more than the burst over 400 ms at 50/s")
        }
    }

    @Test("a bucket Redis forgot (a flush, a restart) does not come back full: the limit under-admits, never over-admits")
    func forgottenBucket_startsEmpty() async throws {
        try await Self.with { limiter, connection, prefix in
            try await Self.age(connection, prefix)
            #expect(try await limiter.acquire(key: "api", emissionMicroseconds: 500_000, burst: 4, wanted: 10).granted == 4)
            try await connection.command(["DEL", prefix + "b:api", prefix + "since"])  // what FLUSHALL does to us
            let after = try await limiter.acquire(key: "api", emissionMicroseconds: 500_000, burst: 4, wanted: 10)
            #expect(after.granted == 0, "a forgotten bucket granted \(after.granted) more at once")
            #expect(after.retryAfter > .milliseconds(400))
        }
    }
}
