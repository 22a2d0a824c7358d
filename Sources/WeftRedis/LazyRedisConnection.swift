import Logging

/// One Redis connection, opened on first use and again after any error (the connection is dropped
/// on a failed call, so the next call reconnects): the plumbing the barrier, the flow limits, the
/// result cache and the circuit breakers share. Calls are serialized on the connection.
public actor LazyRedisConnection {
    private let url: String
    private let logger: Logger
    private let connectTimeout: Duration
    private let commandTimeout: Duration
    private var connection: RedisConnection?

    public init(url: String, logger: Logger, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5)) {
        self.url = url
        self.logger = logger
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    /// Runs a Lua script (`EVALSHA`, loaded on first use).
    @discardableResult
    public func evaluate(script: String, keys: [String], arguments: [String]) async throws -> RedisValue {
        try await using { try await $0.evaluate(script: script, keys: keys, arguments: arguments) }
    }

    /// Sends one command.
    @discardableResult
    public func command(_ arguments: [String]) async throws -> RedisValue {
        try await using { try await $0.command(arguments) }
    }

    /// Sends one command with binary-safe arguments.
    @discardableResult
    public func command(_ arguments: [[UInt8]]) async throws -> RedisValue {
        try await using { try await $0.command(arguments) }
    }

    private func using(_ body: (RedisConnection) async throws -> RedisValue) async throws -> RedisValue {
        let redis: RedisConnection
        if let connection, await connection.isConnected {
            redis = connection
        } else {
            redis = try await RedisConnection.connect(url: url, connectTimeout: connectTimeout, commandTimeout: commandTimeout, logger: logger)
            connection = redis
        }
        do {
            return try await body(redis)
        } catch {
            connection = nil
            await redis.close()
            throw error
        }
    }
}

/// `duration` in whole milliseconds, as Redis's `PX` and the scripts' arguments take it.
func milliseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
}
