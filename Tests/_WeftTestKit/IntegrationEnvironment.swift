import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the ring-3 integration tests find their real servers (STYLE.md §6), and helpers to keep
/// parallel tests apart.
///
/// Policy: with `WEFT_POSTGRES_URL` / `WEFT_REDIS_URL` set, the tests run against those servers.
/// Unset locally, they are skipped (`.enabled(if: IntegrationEnvironment.postgresConfigured)`).
/// Unset with `CI=true`, the trait still enables them and ``postgresURL()`` / ``redisURL()``
/// throw, so CI fails loudly instead of reporting "ran no test".
///
/// ```
/// @Suite(.enabled(if: IntegrationEnvironment.postgresConfigured))
/// struct PostgresConnectionTests {
///     @Test func ...() async throws {
///         let url = try #require(try IntegrationEnvironment.postgresURL())
///     }
/// }
/// ```
public enum IntegrationEnvironment {
    /// The error thrown in CI when a server URL is missing.
    public struct MissingVariable: Error, CustomStringConvertible {
        public var name: String
        public var description: String {
            "\(name) is not set but CI=true: integration tests must not skip in CI"
        }
    }

    public static let postgresVariable = "WEFT_POSTGRES_URL"
    public static let redisVariable = "WEFT_REDIS_URL"

    /// `WEFT_POSTGRES_URL`; `nil` when unset locally; throws when unset with `CI=true`.
    public static func postgresURL() throws -> String? { try url(postgresVariable) }

    /// `WEFT_REDIS_URL`; `nil` when unset locally; throws when unset with `CI=true`.
    public static func redisURL() throws -> String? { try url(redisVariable) }

    /// For `.enabled(if:)`: the URL is set, or this is CI (where a missing URL must fail).
    public static var postgresConfigured: Bool { variable(postgresVariable) != nil || isCI }

    /// For `.enabled(if:)`: the URL is set, or this is CI (where a missing URL must fail).
    public static var redisConfigured: Bool { variable(redisVariable) != nil || isCI }

    /// `CI=true` (as GitHub Actions and most CI systems set it).
    public static var isCI: Bool { variable("CI")?.lowercased() == "true" }

    /// `prefix_` followed by 16 random lowercase hex digits: a Postgres schema name (a valid
    /// unquoted identifier when `prefix` is one) or a Redis key prefix that no parallel test shares.
    public static func uniqueName(prefix: String) -> String {
        let suffix = String(UInt64.random(in: .min ... .max), radix: 16)
        return "\(prefix)_\(String(repeating: "0", count: 16 - suffix.count))\(suffix)"
    }

    /// A logger for the code under test: standard error at the level in `WEFT_TEST_LOG_LEVEL`
    /// (`trace` ... `critical`, default `critical`, so libraries' debug logs stay quiet). Never
    /// bootstraps the logging system.
    public static func logger(label: String) -> Logger {
        var logger = Logger(label: label, factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = variable("WEFT_TEST_LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return logger
    }

    private static func url(_ name: String) throws -> String? {
        if let value = variable(name) { return value }
        if isCI { throw MissingVariable(name: name) }
        return nil
    }

    /// The variable's value; `nil` when unset or empty.
    private static func variable(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}
