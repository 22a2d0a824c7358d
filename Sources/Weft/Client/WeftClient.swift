import Logging
import WeftCore
import WeftTransport
import WeftWire

/// The client of a Weft cluster: registers workflows, starts runs and waits for their results,
/// through a coordinator (ARCHITECTURE.md §1). One client holds one multiplexed connection; share
/// it between tasks. Every call throws ``WeftError``.
///
/// Prefer ``withWeftClient(_:logger:_:)``, which closes the client when the body returns:
///
/// ```swift
/// try await withWeftClient(.init(address: try Endpoint(parsing: "127.0.0.1:7400"))) { client in
///     let run = try await client.start(ingest, input: batch)
///     print(try await client.result(of: run))
/// }
/// ```
///
/// While the coordinator cannot be reached (a restart, a rolling update), calls wait up to
/// ``Configuration/connectionWait`` for it, then fail with `UNAVAILABLE`; ``wait(for:timeout:)``
/// and ``result(of:timeout:)`` ask again after a connection is cut, until their timeout.
public final class WeftClient: Sendable {
    /// Where the cluster is and how to talk to it.
    public struct Configuration: Sendable {
        /// The coordinator's address (`--address`, `WEFT_ADDRESS`).
        public var address: Endpoint
        /// The cluster name (`--cluster`, `WEFT_CLUSTER`); the server refuses another.
        public var cluster: String = "weft"
        /// The shared auth token (`--token-file` / `WEFT_TOKEN_FILE` / `WEFT_AUTH_TOKEN`).
        public var authToken: [UInt8] = []
        /// Used for calls that do not pass their own timeout.
        public var defaultTimeout: Duration = .seconds(30)
        /// The name this client gives itself in the handshake (shown in server logs).
        public var nodeID: String = "weft-sdk"
        /// How long a call waits for a coordinator that cannot be reached before it fails with
        /// `UNAVAILABLE` (never longer than the call's own timeout). Waiting is safe for every call:
        /// nothing was sent yet. Zero fails at once. `health()` always fails at once.
        public var connectionWait: Duration = .seconds(10)

        /// The configuration for the coordinator at `address`, other settings at their defaults.
        public init(address: Endpoint) {
            self.address = address
        }
    }

    /// The client's configuration.
    public let configuration: Configuration
    let rpc: RPCClient

    /// A client of the coordinator `configuration.address`. Connects on the first call. `logger`
    /// receives connection events (default: none).
    public init(configuration: Configuration, logger: Logger = Logger(label: "weft.client") { _ in SwiftLogNoOpLogHandler() }) {
        self.configuration = configuration
        var rpcConfiguration = RPCClientConfiguration(
            cluster: configuration.cluster, role: .client, nodeID: configuration.nodeID, authToken: configuration.authToken)
        rpcConfiguration.connectTimeout = min(configuration.defaultTimeout, .seconds(5))
        rpc = RPCClient(target: configuration.address, configuration: rpcConfiguration, logger: logger)
    }

    /// Asks the server whether it serves. Fails at once with `UNAVAILABLE` when it cannot be
    /// reached, `UNAUTHENTICATED` when it refuses this client's cluster or token.
    public func health(service: String = "", timeout: Duration? = nil) async throws -> HealthReport {
        do {
            let response = try await rpc.unary(
                "weft.api.v1.Health/Check", request: HealthCheckRequest(service: service), response: HealthCheckResponse.self,
                options: CallOptions(timeout: timeout ?? configuration.defaultTimeout))
            return HealthReport(response)
        } catch {
            throw WeftError.from(error)
        }
    }

    /// Closes the connection after the calls in flight finished. Calls made afterwards fail with
    /// `UNAVAILABLE`.
    public func close() async {
        await rpc.close()
    }

    var callWait: (waitForReady: Bool, limit: Duration?) {
        configuration.connectionWait > .zero ? (true, configuration.connectionWait) : (false, nil)
    }
}

/// Runs `body` with a client of the coordinator `configuration.address`, and closes the client
/// when `body` returns or throws.
public func withWeftClient<Result>(
    _ configuration: WeftClient.Configuration,
    logger: Logger = Logger(label: "weft.client") { _ in SwiftLogNoOpLogHandler() },
    _ body: (WeftClient) async throws -> Result
) async throws -> Result {
    let client = WeftClient(configuration: configuration, logger: logger)
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

/// What `WeftClient.health()` learned about a server.
public struct HealthReport: Sendable, Hashable, Codable {
    /// Whether the server serves (gRPC health checking's statuses).
    public enum Status: String, Sendable, Hashable, Codable {
        /// It serves.
        case serving = "SERVING"
        /// It runs but does not serve (starting, draining, storage down).
        case notServing = "NOT_SERVING"
        /// It does not know the service asked about.
        case serviceUnknown = "SERVICE_UNKNOWN"
        /// It did not say.
        case unknown = "UNKNOWN"
    }

    /// Whether it serves.
    public var status: Status
    /// `coordinator`, `scheduler` or `worker`.
    public var role: String
    /// The server's node id.
    public var nodeID: String
    /// The server's version.
    public var version: String
    /// How long the server has been up.
    public var uptimeMilliseconds: UInt64
    /// Why it does not serve, when it does not.
    public var message: String

    /// `status == .serving`.
    public var isServing: Bool { status == .serving }

    init(_ response: HealthCheckResponse) {
        switch response.status {
        case .serving: status = .serving
        case .notServing: status = .notServing
        case .serviceUnknown: status = .serviceUnknown
        case .unknown: status = .unknown
        }
        role = response.role?.rawValue ?? "unknown"
        nodeID = response.nodeID
        version = response.version
        uptimeMilliseconds = response.uptimeMilliseconds
        message = response.message
    }
}
