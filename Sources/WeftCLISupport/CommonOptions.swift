import ArgumentParser
import Logging
import Weft
import WeftCore

/// Flags every `weft` and `weftctl` command takes (ARCHITECTURE.md §10). Each falls back to its
/// environment variable (`--cluster` ↔ `WEFT_CLUSTER`, …); flags win.
public struct CommonOptions: ParsableArguments, Sendable {
    @Option(help: "Cluster name; peers of another cluster are refused. [env: WEFT_CLUSTER] (default: weft)")
    public var cluster: String?

    @Option(name: .customLong("token-file"), help: "File holding the shared auth token. [env: WEFT_TOKEN_FILE, or the token itself in WEFT_AUTH_TOKEN]")
    public var tokenFile: String?

    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical. [env: WEFT_LOG_LEVEL] (default: info)")
    public var logLevel: String?

    @Option(name: .customLong("log-format"), help: "text|json. [env: WEFT_LOG_FORMAT] (default: text)")
    public var logFormat: String?

    public init() {}

    public var resolvedCluster: String { WeftEnvironment.resolve(cluster, flag: "cluster") ?? "weft" }

    public func resolvedToken() throws -> [UInt8]? {
        do {
            return try WeftEnvironment.authToken(tokenFile: tokenFile)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    public func resolvedLogLevel() throws -> Logger.Level {
        let text = WeftEnvironment.resolve(logLevel, flag: "log-level") ?? "info"
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ValidationError("invalid --log-level '\(text)': use trace, debug, info, notice, warning, error or critical")
        }
        return level
    }

    public func resolvedLogFormat() throws -> LogFormat {
        let text = WeftEnvironment.resolve(logFormat, flag: "log-format") ?? "text"
        guard let format = LogFormat(rawValue: text.lowercased()) else {
            throw ValidationError("invalid --log-format '\(text)': use text or json")
        }
        return format
    }

    public func validate() throws {
        _ = try resolvedLogLevel()
        _ = try resolvedLogFormat()
        if resolvedCluster.isEmpty { throw ValidationError("--cluster must not be empty") }
    }

    /// Bootstraps swift-log once per process with the chosen level and format (stderr).
    public func bootstrapLogging() throws {
        let level = try resolvedLogLevel()
        let format = try resolvedLogFormat()
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler
            switch format {
            case .text: handler = StreamLogHandler.standardError(label: label)
            case .json: handler = JSONLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
    }
}

public enum LogFormat: String, Sendable {
    case text
    case json
}

/// Parses `HOST:PORT` flag values with a usage error on nonsense.
public func parseEndpoint(_ text: String, flag: String) throws -> Endpoint {
    do {
        return try Endpoint(parsing: text)
    } catch {
        throw ValidationError("--\(flag): \(error)")
    }
}

/// Parses a duration flag (`500ms`, `5s`) with a usage error on nonsense.
public func parseDuration(_ text: String, flag: String) throws -> Duration {
    do {
        return try DurationText.parse(text)
    } catch {
        throw ValidationError("--\(flag): \(error)")
    }
}

/// Parses a size flag (`512MiB`, `2GiB`, bytes) with a usage error on nonsense.
public func parseBytes(_ text: String, flag: String) throws -> Int {
    do {
        return try ByteSize.parse(text)
    } catch {
        throw ValidationError("--\(flag): \(error)")
    }
}
