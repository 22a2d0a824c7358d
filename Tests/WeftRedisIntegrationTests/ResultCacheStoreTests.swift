import Testing
import WeftRedis
import _WeftTestKit

@Suite("ResultCacheStore", .enabled(if: IntegrationEnvironment.redisConfigured))
struct ResultCacheStoreTests {
    @Test("entries are binary-safe, per task type, expire with their TTL, and purge by type, key or all (glob characters literal)")
    func entries() async throws {
        let url = try #require(try IntegrationEnvironment.redisURL())
        let store = ResultCacheStore(url: url, cluster: IntegrationEnvironment.uniqueName(prefix: "rc"), logger: IntegrationEnvironment.logger(label: "weft.test.cache"))
        let bytes: [UInt8] = [0, 1, 2, 255, 0]
        try await store.set(taskType: "fetch", key: "https://a/*", value: bytes, ttl: .seconds(60))
        try await store.set(taskType: "fetch", key: "https://b", value: [9], ttl: .seconds(60))
        try await store.set(taskType: "parse", key: "https://a/*", value: [8], ttl: .seconds(60))
        #expect(try await store.get(taskType: "fetch", key: "https://a/*") == bytes)
        #expect(try await store.get(taskType: "parse", key: "https://a/*") == [8])
        #expect(try await store.get(taskType: "fetch", key: "https://c") == nil)
        try await store.set(taskType: "short", key: "k", value: [1], ttl: .milliseconds(50))
        try await Task.sleep(for: .milliseconds(120))
        #expect(try await store.get(taskType: "short", key: "k") == nil)
        #expect(try await store.purge(taskType: "fetch", key: "https://*") == 0, "a * in the key is literal")
        #expect(try await store.purge(taskType: "fetch", key: "https://a/*") == 1)
        #expect(try await store.get(taskType: "fetch", key: "https://b") == [9])
        #expect(try await store.purge(taskType: "fetch", key: nil) == 1)
        #expect(try await store.purge(taskType: nil, key: nil) == 1)
        #expect(try await store.get(taskType: "parse", key: "https://a/*") == nil)
    }
}
