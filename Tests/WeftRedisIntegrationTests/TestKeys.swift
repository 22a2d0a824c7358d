import Testing
import WeftRedis
import _WeftTestKit

/// A connection plus a key prefix of its own, so tests run in parallel on one Redis database.
/// The prefix's keys are deleted afterwards, whether `body` succeeded or not.
enum TestKeys {
    static func connect() async throws -> RedisConnection {
        let url = try #require(try IntegrationEnvironment.redisURL())
        return try await RedisConnection.connect(url: url, logger: IntegrationEnvironment.logger(label: "weft.test.redis"))
    }

    /// Deletes every key matching `prefix*` (KEYS is fine on a test server).
    private static let deleteScript = """
        local keys = redis.call('keys', ARGV[1]) for _, k in ipairs(keys) do redis.call('del', k) end return #keys
        """

    static func with(_ body: (RedisConnection, _ prefix: String) async throws -> Void) async throws {
        let connection = try await connect()
        let prefix = IntegrationEnvironment.uniqueName(prefix: "weft:test") + ":"
        do {
            try await body(connection, prefix)
            try await connection.evaluate(script: deleteScript, keys: [], arguments: [prefix + "*"])
            await connection.close()
        } catch {
            // The test's own error is the one to report; leftover keys only cost memory.
            _ = try? await connection.evaluate(script: deleteScript, keys: [], arguments: [prefix + "*"])
            await connection.close()
            throw error
        }
    }
}
