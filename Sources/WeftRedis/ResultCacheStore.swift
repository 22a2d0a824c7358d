import Logging

/// The result cache's entries in Redis (issue 12): one string per (task type, key), written with
/// its TTL (`SET … PX`), read with `GET`, purged by pattern (`SCAN` + `UNLINK`). The bytes are
/// whatever the caller stores (the scheduler stores them compressed). Redis is a cache here: an
/// entry it evicts or forgets is a miss, never an error.
///
/// Connects lazily and reconnects after an error.
public actor ResultCacheStore {
    private let prefix: String
    private let redis: LazyRedisConnection

    /// Keys are `weft:{cluster}:cache:` + task type + `:` + key.
    public init(url: String, cluster: String, logger: Logger) {
        self.redis = LazyRedisConnection(url: url, logger: logger)
        self.prefix = "weft:\(cluster):cache:"
    }

    private func entryKey(taskType: String, key: String) -> [UInt8] { Array((prefix + taskType + ":" + key).utf8) }

    /// The entry of (`taskType`, `key`), nil when there is none.
    public func get(taskType: String, key: String) async throws -> [UInt8]? {
        let reply = try await run([Array("GET".utf8), entryKey(taskType: taskType, key: key)])
        if case .null = reply { return nil }
        return reply.bytes
    }

    /// Stores `value` for `ttl` (at least 1 ms).
    public func set(taskType: String, key: String, value: [UInt8], ttl: Duration) async throws {
        try await run([Array("SET".utf8), entryKey(taskType: taskType, key: key), value, Array("PX".utf8), Array(String(max(1, milliseconds(ttl))).utf8)])
    }

    /// Deletes the entries of `taskType` (nil: of every type) whose key is `key` (nil: every key).
    /// `*`, `?`, `[` and `\` in the names are matched literally. Returns how many were deleted.
    public func purge(taskType: String?, key: String?) async throws -> Int {
        let pattern = prefix + (taskType.map(Self.escaped) ?? "*") + ":" + (key.map(Self.escaped) ?? "*")
        var cursor = "0"
        var deleted = 0
        repeat {
            let reply = try await run(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"].map { Array($0.utf8) })
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].string, case .array(let keys) = parts[1] else {
                throw RedisError(code: .unexpectedReply, message: "SCAN answered \(reply)", command: "SCAN")
            }
            cursor = next
            let names = keys.compactMap(\.bytes)
            if !names.isEmpty {
                let removed = try await run([Array("UNLINK".utf8)] + names)
                deleted += Int(removed.int ?? 0)
            }
        } while cursor != "0"
        return deleted
    }

    /// `text` with the glob characters of `SCAN MATCH` escaped.
    static func escaped(_ text: String) -> String {
        var out = ""
        for character in text {
            if "*?[]\\".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    @discardableResult
    private func run(_ command: [[UInt8]]) async throws -> RedisValue {
        try await redis.command(command)
    }
}
