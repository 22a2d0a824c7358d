import Logging
import WeftCore
import WeftTransport
import WeftWire

/// The typed client of a Weft cluster: talks to a coordinator (ARCHITECTURE.md §1). One client holds
/// one multiplexed connection; share it between tasks.
public final class WeftClient: Sendable {
    public struct Configuration: Sendable {
        /// The coordinator's address (`--address`, `WEFT_ADDRESS`).
        public var address: Endpoint
        /// The cluster name (`--cluster`, `WEFT_CLUSTER`); the server refuses another.
        public var cluster: String = "weft"
        /// The shared auth token (`--token-file` / `WEFT_TOKEN_FILE` / `WEFT_AUTH_TOKEN`).
        public var authToken: [UInt8] = []
        /// Used for calls that do not pass their own timeout.
        public var defaultTimeout: Duration = .seconds(30)
        public var nodeID: String = "weft-sdk"
        /// While the connection to the coordinator is down (a coordinator restarting, a rolling
        /// update), calls wait for it to come back — until their timeout — instead of failing at
        /// once with `UNAVAILABLE`. Safe for every call: nothing was sent yet. `health()` always
        /// fails fast. Default true.
        public var waitForReady = true

        public init(address: Endpoint) {
            self.address = address
        }
    }

    public let configuration: Configuration
    let rpc: RPCClient

    public init(configuration: Configuration, logger: Logger = Logger(label: "weft.client") { _ in SwiftLogNoOpLogHandler() }) {
        self.configuration = configuration
        var rpcConfiguration = RPCClientConfiguration(
            cluster: configuration.cluster, role: .client, nodeID: configuration.nodeID, authToken: configuration.authToken)
        rpcConfiguration.connectTimeout = min(configuration.defaultTimeout, .seconds(5))
        rpc = RPCClient(target: configuration.address, configuration: rpcConfiguration, logger: logger)
    }

    /// Asks the server whether it serves. Throws `RPCError` when it cannot be reached or refuses us.
    public func health(service: String = "", timeout: Duration? = nil) async throws -> HealthReport {
        let response = try await rpc.unary(
            "weft.api.v1.Health/Check", request: HealthCheckRequest(service: service), response: HealthCheckResponse.self,
            options: CallOptions(timeout: timeout ?? configuration.defaultTimeout))
        return HealthReport(response)
    }

    /// Closes the connection after calls in flight finished.
    public func close() async {
        await rpc.close()
    }
}

/// What `WeftClient.health()` learned about a server.
public struct HealthReport: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case serving = "SERVING"
        case notServing = "NOT_SERVING"
        case serviceUnknown = "SERVICE_UNKNOWN"
        case unknown = "UNKNOWN"
    }

    public var status: Status
    public var role: String
    public var nodeID: String
    public var version: String
    public var uptimeMilliseconds: UInt64
    public var message: String

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
