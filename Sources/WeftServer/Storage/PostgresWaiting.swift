import Logging
import WeftPostgres

/// Start-up steps that wait for Postgres instead of failing (ARCHITECTURE.md §6): a server started
/// while its database is down (or restarting) waits for it, saying so now and then, and is not
/// ready meanwhile.
enum PostgresWaiting {
    /// Connects, waiting (with backoff) while Postgres refuses connections.
    static func connect(url: String, settings: KeyValuePairs<String, String> = [:], logger: Logger) async throws -> PostgresConnection {
        try await retrying("connect to Postgres", logger: logger) {
            try await PostgresConnection.connect(url: url, settings: settings, logger: logger)
        }
    }

    /// `body`, again while it fails because Postgres is out of reach; other errors are thrown, and
    /// cancellation (shutdown) ends the wait.
    static func retrying<T: Sendable>(_ what: String, logger: Logger, _ body: () async throws -> T) async throws -> T {
        var delay: Duration = .milliseconds(200)
        var lastLog: ContinuousClock.Instant?
        while true {
            do {
                return try await body()
            } catch let error as PostgresError where error.isTransient {
                if lastLog.map({ ContinuousClock.now - $0 > .seconds(10) }) ?? true {
                    logger.warning("waiting for Postgres", metadata: ["operation": "\(what)", "error": "\(error)"])
                    lastLog = .now
                }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }
}
