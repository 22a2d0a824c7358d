import Testing
import WeftRedis
import _WeftTestKit

@Suite("LeaseService", .enabled(if: IntegrationEnvironment.redisConfigured))
struct LeaseServiceTests {
    @Test("SET NX PX: the first acquire wins, the second loses")
    func acquire_heldLease_secondCallerLoses() async throws {
        try await TestKeys.with { (connection, prefix) async throws in
            let leases = LeaseService(connection: connection)
            let key = prefix + LeaseService.key(cluster: "c1", partition: 7)
            #expect(key.hasSuffix("weft:c1:lease:7"))
            #expect(try await leases.acquire(key: key, value: "node-a/1", ttl: .seconds(30)))
            #expect(try await leases.acquire(key: key, value: "node-b/1", ttl: .seconds(30)) == false)
            #expect(try await leases.acquire(key: key, value: "node-a/1", ttl: .seconds(30)) == false)
            #expect(try await connection.command(["GET", key]).string == "node-a/1")
            // The raw command the service sends, for the record.
            #expect(try await connection.command(["SET", prefix + "raw", "v", "NX", "PX", "30000"]) == .status("OK"))
            #expect(try await connection.command(["SET", prefix + "raw", "v", "NX", "PX", "30000"]) == .null)
        }
    }

    @Test("renew by the holder extends the TTL; by anyone else it returns false")
    func renew_holderAndStranger_onlyHolderExtends() async throws {
        try await TestKeys.with { (connection, prefix) async throws in
            let leases = LeaseService(connection: connection)
            let key = prefix + "lease:1"
            #expect(try await leases.acquire(key: key, value: "node-a/1", ttl: .seconds(2)))
            let before = try #require(try await connection.command(["PTTL", key]).int)
            #expect(before > 0 && before <= 2000)

            #expect(try await leases.renew(key: key, value: "node-a/1", ttl: .seconds(60)))
            let renewed = try #require(try await connection.command(["PTTL", key]).int)
            #expect(renewed > 50_000 && renewed <= 60_000)

            #expect(try await leases.renew(key: key, value: "node-b/1", ttl: .seconds(600)) == false)
            let after = try #require(try await connection.command(["PTTL", key]).int)
            #expect(after <= 60_000)
            #expect(try await connection.command(["GET", key]).string == "node-a/1")

            #expect(try await leases.renew(key: prefix + "lease:absent", value: "node-a/1", ttl: .seconds(60)) == false)
        }
    }

    @Test("release by the wrong value keeps the lease; by the holder deletes it")
    func release_wrongThenRightValue_deletesOnlyForHolder() async throws {
        try await TestKeys.with { (connection, prefix) async throws in
            let leases = LeaseService(connection: connection)
            let key = prefix + "lease:2"
            #expect(try await leases.acquire(key: key, value: "node-a/1", ttl: .seconds(30)))
            #expect(try await leases.release(key: key, value: "node-b/1") == false)
            #expect(try await connection.command(["EXISTS", key]) == .integer(1))
            #expect(try await leases.release(key: key, value: "node-a/1"))
            #expect(try await connection.command(["EXISTS", key]) == .integer(0))
            #expect(try await leases.release(key: key, value: "node-a/1") == false)
            // Released: someone else may take it now.
            #expect(try await leases.acquire(key: key, value: "node-b/1", ttl: .seconds(30)))
        }
    }

    @Test("a dead holder's lease is taken over at once; a live holder's is not")
    func takeOver_onlyFromTheNamedHolder() async throws {
        try await TestKeys.with { (connection, prefix) async throws in
            let leases = LeaseService(connection: connection)
            let key = prefix + "lease:3"
            #expect(try await leases.acquire(key: key, value: "s2#41", ttl: .seconds(30)))
            #expect(try await leases.takeOver(key: key, value: "s1#7", ttl: .seconds(5), holderPrefix: "s3#") == false)
            #expect(try await connection.command(["GET", key]).string == "s2#41")
            #expect(try await leases.takeOver(key: key, value: "s1#7", ttl: .seconds(5), holderPrefix: "s2#"))
            #expect(try await connection.command(["GET", key]).string == "s1#7")
            let ttl = try #require(try await connection.command(["PTTL", key]).int)
            #expect(ttl > 0 && ttl <= 5000)
            // A free lease is simply taken.
            #expect(try await leases.takeOver(key: prefix + "lease:free", value: "s1#7", ttl: .seconds(5), holderPrefix: "s2#"))
        }
    }

    @Test("scripts still run after the server's script cache is flushed")
    func renew_afterScriptFlush_fallsBackToEval() async throws {
        try await TestKeys.with { (connection, prefix) async throws in
            let leases = LeaseService(connection: connection)
            let key = prefix + "lease:3"
            #expect(try await leases.acquire(key: key, value: "node-a/1", ttl: .seconds(30)))
            #expect(try await leases.renew(key: key, value: "node-a/1", ttl: .seconds(30)))
            try await connection.command(["SCRIPT", "FLUSH"])
            #expect(try await leases.renew(key: key, value: "node-a/1", ttl: .seconds(30)))
            #expect(try await leases.release(key: key, value: "node-a/1"))
        }
    }

    @Test("a TTL under a millisecond is rejected")
    func acquire_zeroTTL_throwsInvalidArgument() async throws {
        try await TestKeys.with { (connection, prefix) async throws in
            let leases = LeaseService(connection: connection)
            let error = try await #require(throws: RedisError.self) {
                try await leases.acquire(key: prefix + "lease:4", value: "v", ttl: .zero)
            }
            #expect(error.code == .invalidArgument)
        }
    }
}
