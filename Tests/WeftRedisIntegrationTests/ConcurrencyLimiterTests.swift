import Testing
import WeftRedis
import _WeftTestKit

@Suite("ConcurrencyLimiter (slots in Redis)", .enabled(if: IntegrationEnvironment.redisConfigured))
struct ConcurrencyLimiterTests {
    /// A limiter on a cluster name of its own, and a raw connection to its keys.
    static func with(
        holdTTL: Duration = .seconds(30), warmUp: Duration = .zero,
        _ body: (ConcurrencyLimiter, RedisConnection, _ prefix: String) async throws -> Void
    ) async throws {
        let url = try #require(try IntegrationEnvironment.redisURL())
        let cluster = IntegrationEnvironment.uniqueName(prefix: "cl")
        let limiter = ConcurrencyLimiter(
            url: url, cluster: cluster, holdTTL: holdTTL, warmUp: warmUp, logger: IntegrationEnvironment.logger(label: "weft.test.conc"))
        let connection = try await TestKeys.connect()
        let prefix = "weft:\(cluster):conc:"
        defer { Task { _ = try? await connection.command(["DEL", prefix + "since", prefix + "h:k"]); await connection.close() } }
        try await body(limiter, connection, prefix)
    }

    @Test("at most limit members hold a slot; a repeat is a refresh, not a second slot; a release frees one")
    func limitRepeatRelease() async throws {
        try await Self.with { limiter, _, _ in
            #expect(try await limiter.acquire(key: "k", limit: 2, members: ["a", "b", "c"]) == ["a", "b"])
            #expect(try await limiter.acquire(key: "k", limit: 2, members: ["c"]) == [])
            #expect(try await limiter.acquire(key: "k", limit: 2, members: ["a", "c"]) == ["a"], "a holds already")
            try await limiter.release(key: "k", members: ["a"])
            #expect(try await limiter.acquire(key: "k", limit: 2, members: ["c", "d"]) == ["c"])
            #expect(Set(try await limiter.holders(key: "k")) == ["b", "c"])
            // A lower limit than the holders: nobody new until enough leave.
            #expect(try await limiter.acquire(key: "k", limit: 1, members: ["d"]) == [])
        }
    }

    @Test("a renewal that crosses a release of the same member does not bring the slot back (outside the warm-up)")
    func renewAfterRelease_doesNotResurrect() async throws {
        try await Self.with { limiter, _, _ in
            #expect(try await limiter.acquire(key: "k", limit: 1, members: ["a"]) == ["a"])
            try await limiter.release(key: "k", members: ["a"])
            try await limiter.renew(key: "k", members: ["a"])  // sent before the release was known
            #expect(try await limiter.holders(key: "k") == [])
            #expect(try await limiter.acquire(key: "k", limit: 1, members: ["b"]) == ["b"])
        }
    }

    @Test("a hold that is not renewed expires (a dead scheduler's); renewed ones stay")
    func holdsExpire() async throws {
        // Margins of seconds: a loaded machine stretches sleeps (a 100 ms renewal period once came
        // too late for a 300 ms hold).
        try await Self.with(holdTTL: .seconds(3)) { limiter, _, _ in
            #expect(try await limiter.acquire(key: "k", limit: 2, members: ["a", "b"]) == ["a", "b"])
            try await Task.sleep(for: .seconds(1))
            try await limiter.renew(key: "k", members: ["a"])
            try await Task.sleep(for: .milliseconds(2_500))
            #expect(try await limiter.acquire(key: "k", limit: 2, members: ["c"]) == ["c"], "b expired, a renewed")
            #expect(Set(try await limiter.holders(key: "k")) == ["a", "c"])
        }
    }

    @Test("after Redis forgot the holds no slot is granted during the warm-up, while renewals bring the holders back")
    func forgottenHolds_warmUp() async throws {
        try await Self.with(warmUp: .milliseconds(600)) { limiter, connection, prefix in
            // First use: the warm-up applies too.
            #expect(try await limiter.acquire(key: "k", limit: 2, members: ["a"]) == [])
            try await Task.sleep(for: .milliseconds(700))
            #expect(try await limiter.acquire(key: "k", limit: 2, members: ["a", "b"]) == ["a", "b"])
            try await connection.command(["DEL", prefix + "h:k", prefix + "since"])  // what FLUSHALL does to us
            #expect(try await limiter.acquire(key: "k", limit: 2, members: ["c"]) == [], "the forgotten holds are not free slots")
            try await limiter.renew(key: "k", members: ["a", "b"])  // the holders' scheduler renews
            try await Task.sleep(for: .milliseconds(700))
            #expect(try await limiter.acquire(key: "k", limit: 2, members: ["c"]) == [], "a and b are back: still full")
            try await limiter.release(key: "k", members: ["b"])
            #expect(try await limiter.acquire(key: "k", limit: 2, members: ["c"]) == ["c"])
        }
    }
}
