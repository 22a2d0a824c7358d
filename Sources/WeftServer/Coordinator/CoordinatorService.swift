import Logging
import ServiceLifecycle
import WeftCore
import WeftTransport
import WeftWire

/// The coordinator: the stateless front door for clients, `weftctl` and workers
/// (ARCHITECTURE.md §1). For now it serves health; the client, worker and admin services join it
/// as they are built.
public final class CoordinatorService: Service, Sendable {
    public struct Configuration: Sendable {
        public var listen: Endpoint
        public var cluster: String
        public var nodeID: String
        public var authToken: [UInt8]?
        public var version: String
        /// How long in-flight calls may take to finish after SIGTERM.
        public var shutdownGracePeriod: Duration = .seconds(10)

        public init(listen: Endpoint, cluster: String, nodeID: String, authToken: [UInt8]?, version: String) {
            self.listen = listen
            self.cluster = cluster
            self.nodeID = nodeID
            self.authToken = authToken
            self.version = version
        }
    }

    public let configuration: Configuration
    public let health: HealthService
    private let server: RPCServer
    private let logger: Logger
    /// Called with the bound address once listening (port 0 resolves to a real port).
    private let onListening: @Sendable (SocketAddress) -> Void

    public init(configuration: Configuration, logger: Logger, onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) {
        self.configuration = configuration
        self.logger = logger
        self.onListening = onListening
        health = HealthService(role: .coordinator, nodeID: configuration.nodeID, version: configuration.version)
        var router = RPCRouter()
        health.register(into: &router)
        var serverConfiguration = RPCServerConfiguration(
            cluster: configuration.cluster, role: .coordinator, nodeID: configuration.nodeID,
            authToken: configuration.authToken)
        serverConfiguration.handshakeTimeout = .seconds(10)
        server = RPCServer(router: router, configuration: serverConfiguration, logger: logger)
    }

    public func run() async throws {
        let bound = try await server.start(listen: configuration.listen)
        logger.notice("coordinator listening", metadata: [
            "listen.address": "\(bound)", "node.id": "\(configuration.nodeID)", "cluster": "\(configuration.cluster)",
        ])
        onListening(bound)
        // Serve until a graceful shutdown (SIGTERM) or cancellation.
        await withGracefulShutdownHandler {
            await waitUntilShutdown()
        } onGracefulShutdown: { [health] in
            health.setNotServing("shutting down")
        }
        logger.notice("coordinator shutting down", metadata: ["grace": "\(configuration.shutdownGracePeriod)"])
        await server.shutdown(gracePeriod: configuration.shutdownGracePeriod)
    }
}

/// Suspends until graceful shutdown is triggered or the task is cancelled.
func waitUntilShutdown() async {
    // gracefulShutdown() throws once shutdown begins (or on cancellation): either way we stop waiting.
    do {
        try await gracefulShutdown()
    } catch {
        return
    }
}
