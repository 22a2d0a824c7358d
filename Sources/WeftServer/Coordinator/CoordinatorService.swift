import Logging
import ServiceLifecycle
import WeftCore
import WeftMembership
import WeftPostgres
import WeftRedis
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
        /// With Postgres the coordinator serves the client and worker-discovery services; without,
        /// health only.
        public var postgresURL: String?
        /// Redis of the result cache, for `weftctl cache purge`; nil: purging is refused.
        public var redisURL: String?
        public var maxInputBytes = 1 << 20
        /// Postgres sessions for client reads, shared fairly between callers (`ReadPool`); the
        /// owner map has a session of its own besides.
        public var readConnections = 4
        /// Which client-chosen run ids are accepted (ARCHITECTURE.md §3).
        public var runIDPolicy = RunIDPolicy()
        /// How long in-flight calls may take to finish after SIGTERM.
        public var shutdownGracePeriod: Duration = .seconds(10)
        /// Cluster mode: the coordinator is a gossip member (it owns nothing), so it knows the
        /// members and the ring (`weftctl members`, `ring`). nil: no gossip.
        public var gossip: Gossip?
        /// What others use to reach this coordinator (default: the listen address).
        public var advertise: String?

        public struct Gossip: Sendable {
            public var bind: Endpoint
            public var seeds: [String]
            public var settings: MembershipSettings = .lan
            public init(bind: Endpoint, seeds: [String]) {
                self.bind = bind
                self.seeds = seeds
            }
        }

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
    /// `/readyz`: ready while it serves (a coordinator keeps no state to recover).
    public let readiness: Readiness
    private let logger: Logger
    /// Called with the bound address once listening (port 0 resolves to a real port).
    private let onListening: @Sendable (SocketAddress) -> Void

    public init(
        configuration: Configuration, logger: Logger, readiness: Readiness = Readiness(),
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.readiness = readiness
        self.onListening = onListening
        health = HealthService(role: .coordinator, nodeID: configuration.nodeID, version: configuration.version)
    }

    public func run() async throws {
        let membership = Locked<MembershipShell?>(nil)
        var router = RPCRouter()
        health.register(into: &router)
        if let url = configuration.postgresURL {
            readiness.set(.notReady("connecting to Postgres"))
            // The owner map's session: its small reads (every 2 s, and after a failed forward) never
            // wait behind client reads.
            let connection = try await PostgresWaiting.connect(url: url, logger: logger)
            var stores: [RunStore] = []
            for _ in 0..<max(1, configuration.readConnections) {
                stores.append(RunStore(connection: try await PostgresWaiting.connect(url: url, logger: logger), logger: logger))
            }
            let reads = ReadPool(stores: stores)
            var clientConfiguration = RPCClientConfiguration(
                cluster: configuration.cluster, role: .coordinator, nodeID: configuration.nodeID,
                authToken: configuration.authToken ?? [])
            clientConfiguration.connectTimeout = .seconds(5)
            let directory = OwnerDirectory(
                owners: PartitionOwnerStore(connection: connection, logger: logger), clientConfiguration: clientConfiguration,
                logger: logger,
                ringOwner: { [membership] partition in membership.withLock { $0 }?.current.ownerAddress(of: partition) },
                ringMembers: { [membership] in membership.withLock { $0 }?.members.activeSchedulers.map(\.rpcAddress) ?? [] })
            CoordinatorHandlers.register(
                reads: reads, directory: directory, maxInputBytes: configuration.maxInputBytes, runIDPolicy: configuration.runIDPolicy,
                clock: SystemWallClock(), into: &router)
            ScheduleHandlers.register(
                reads: reads, directory: directory, maxInputBytes: configuration.maxInputBytes, clock: SystemWallClock(), into: &router)
            AdminHandlers.register(
                membership: { [membership] in membership.withLock { $0 } }, owners: PartitionOwnerStore(connection: connection, logger: logger),
                directory: directory, into: &router)
            AdminHandlers.registerCachePurge(
                store: configuration.redisURL.map { ResultCacheStore(url: $0, cluster: configuration.cluster, logger: logger) }, into: &router)
            AdminHandlers.registerBreakers(
                configuration.redisURL.map { CircuitBreakers(url: $0, cluster: configuration.cluster, logger: logger) }, into: &router)
        }
        var serverConfiguration = RPCServerConfiguration(
            cluster: configuration.cluster, role: .coordinator, nodeID: configuration.nodeID, authToken: configuration.authToken)
        serverConfiguration.observer = RPCMetrics.ifEnabled
        let server = RPCServer(router: router, configuration: serverConfiguration, logger: logger)
        let bound = try await server.start(listen: configuration.listen)
        logger.notice("coordinator listening", metadata: [
            "listen.address": "\(bound)", "node.id": "\(configuration.nodeID)", "cluster": "\(configuration.cluster)",
        ])
        var shell: MembershipShell?
        if let gossip = configuration.gossip {
            let advertise = configuration.advertise ?? SchedulerService.advertised(bound, logger: logger)
            let joined = MembershipShell(
                configuration: .init(
                    cluster: configuration.cluster, authToken: configuration.authToken ?? [], nodeID: configuration.nodeID,
                    role: .coordinator, bind: gossip.bind, advertiseHost: try Endpoint(parsing: advertise).host, rpcAddress: advertise,
                    seeds: gossip.seeds, settings: gossip.settings),
                logger: logger)
            try await joined.start()
            membership.withLock { $0 = joined }
            shell = joined
            logger.notice("coordinator joined the cluster", metadata: ["gossip": "\(joined.gossipAddress ?? "?")", "seeds": "\(gossip.seeds)"])
        }
        readiness.set(.ready)
        onListening(bound)
        // Serve until a graceful shutdown (SIGTERM) or cancellation.
        await withGracefulShutdownHandler {
            await waitUntilShutdown()
        } onGracefulShutdown: { [health, readiness] in
            health.setNotServing("shutting down")
            readiness.set(.notReady("shutting down"))
        }
        logger.notice("coordinator shutting down", metadata: ["grace": "\(configuration.shutdownGracePeriod)"])
        await shell?.leave()
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
