import Glibc
import Logging
import ServiceLifecycle
import WeftCore
import WeftPostgres
import WeftTransport
import WeftWire

/// A scheduler (`weft scheduler`, ARCHITECTURE.md §1–§5). Without clustering (this version) it
/// claims every partition with the Postgres fence alone; a restarted scheduler claims again at once,
/// which fences out anything a dead predecessor might still have in flight.
///
/// Start-up: listen (to learn the bound port), claim every partition writing the advertised
/// address with the fence, recover the open runs, then serve. Shutdown (SIGTERM): health turns
/// NOT_SERVING, the RPC server drains, the writer commits what is queued.
public final class SchedulerService: Service, Sendable {
    public struct Configuration: Sendable {
        public var listen: Endpoint
        /// The address written to `partition_owners`; default: the bound listen address.
        public var advertise: String?
        public var nodeID: String
        public var cluster: String
        public var authToken: [UInt8]?
        public var postgresURL: String
        public var version: String
        public var shutdownGracePeriod: Duration = .seconds(10)
        public var writer = GroupCommitWriter<RunWriteBatch, RunWriteOutcome>.Configuration()
        public var workerLostGrace: Duration = .seconds(3)
        /// History day-partitions and idempotency keys older than this are dropped. Default 30 days.
        public var historyRetention: Duration = .seconds(30 * 86_400)

        public init(listen: Endpoint, nodeID: String, cluster: String, authToken: [UInt8]?, postgresURL: String, version: String) {
            self.listen = listen
            self.nodeID = nodeID
            self.cluster = cluster
            self.authToken = authToken
            self.postgresURL = postgresURL
            self.version = version
        }
    }

    public let configuration: Configuration
    private let logger: Logger
    private let onListening: @Sendable (SocketAddress) -> Void
    private let loop: EventLoop

    public init(
        configuration: Configuration, logger: Logger, loop: EventLoop = .shared,
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.loop = loop
        self.onListening = onListening
    }

    public func run() async throws {
        let logger = self.logger
        let writeConnection = try await PostgresConnection.connect(
            url: configuration.postgresURL, settings: RunStore.writerSessionSettings, logger: logger)
        let readConnection = try await PostgresConnection.connect(url: configuration.postgresURL, logger: logger)
        let owners = PartitionOwnerStore(connection: readConnection, logger: logger)
        let cluster = try await owners.clusterMetadata()
        guard cluster.clusterName == configuration.cluster else {
            throw RPCError(.failedPrecondition, "this database belongs to cluster '\(cluster.clusterName)', not '\(configuration.cluster)' (--cluster)")
        }
        let writeStore = RunStore(connection: writeConnection, logger: logger)
        let readStore = RunStore(connection: readConnection, logger: logger)
        let fences = Locked<[PartitionID: Fence]>([:])
        let writer = GroupCommitWriter<RunWriteBatch, RunWriteOutcome>(configuration: configuration.writer) { batches in
            try await Self.commit(batches, store: writeStore, fences: fences.withLock { $0 }, logger: logger)
        }
        var schedulerConfiguration = SchedulerConfiguration(nodeID: configuration.nodeID, advertise: "")
        schedulerConfiguration.workerLostGrace = configuration.workerLostGrace
        let core = SchedulerCore(
            loop: loop, writer: writer, store: readStore, partitionCount: cluster.partitionCount,
            configuration: schedulerConfiguration, logger: logger,
            fatal: { message in
                logger.critical("stopping: \(message)")
                exit(70)  // crash-only: a restart recovers from Postgres
            })
        let health = HealthService(role: .scheduler, nodeID: configuration.nodeID, version: configuration.version)
        var router = RPCRouter()
        health.register(into: &router)
        SchedulerHandlers.register(core: core, store: readStore, into: &router)
        let server = RPCServer(
            router: router,
            configuration: RPCServerConfiguration(
                cluster: configuration.cluster, role: .scheduler, nodeID: configuration.nodeID, authToken: configuration.authToken),
            loop: loop, logger: logger)
        let bound = try await server.start(listen: configuration.listen)
        let advertise = configuration.advertise ?? Self.advertised(bound, logger: logger)
        let claimed = try await owners.claimAll(node: configuration.nodeID, address: advertise)
        fences.withLock { $0 = claimed }
        logger.notice("claimed partitions", metadata: ["partitions": "\(claimed.count)", "advertise": "\(advertise)", "node.id": "\(configuration.nodeID)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await writer.run() }
            do {
                try await core.recover(fences: claimed)
            } catch {
                logger.critical("cannot recover the open runs", metadata: ["error": "\(error)"])
                exit(70)  // never serve without the runs we own
            }
            logger.notice("scheduler listening", metadata: ["listen.address": "\(bound)", "node.id": "\(configuration.nodeID)"])
            onListening(bound)
            let retention = configuration.historyRetention
            group.addTask { await Self.maintain(connection: readConnection, retention: retention, logger: logger) }
            await withGracefulShutdownHandler {
                await waitUntilShutdown()
            } onGracefulShutdown: {
                health.setNotServing("shutting down")
            }
            logger.notice("scheduler shutting down")
            await server.shutdown(gracePeriod: configuration.shutdownGracePeriod)
            group.cancelAll()
        }
    }

    /// One batch write, retrying transient Postgres failures (every write is idempotent, so a
    /// batch whose acknowledgement was lost may be written again). Lost ownership is never retried.
    static func commit(
        _ batches: [RunWriteBatch], store: RunStore, fences: [PartitionID: Fence], logger: Logger
    ) async throws -> [RunWriteOutcome] {
        var delay: Duration = .milliseconds(50)
        for attempt in 1...8 {
            do {
                return try await store.commit(batches, fences: fences)
            } catch let error as StoreError {
                throw error
            } catch {
                guard attempt < 8 else { throw error }
                logger.warning("batch write failed; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
        preconditionFailure("unreachable: the loop returns or throws")
    }

    /// Keeps table partitions ahead of time and drops history past its retention (hourly).
    static func maintain(connection: PostgresConnection, retention: Duration, logger: Logger) async {
        let maintenance = PartitionMaintenance(connection: connection, logger: logger)
        while !Task.isCancelled {
            do {
                let created = try await maintenance.ensurePartitions(now: .now())
                if !created.isEmpty { logger.info("created table partitions", metadata: ["count": "\(created.count)"]) }
                let cleanup = try await maintenance.dropExpiredHistory(now: .now(), retention: retention)
                logger.debug("history retention applied", metadata: ["result": "\(cleanup)"])
            } catch {
                logger.warning("table partition maintenance failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(3600))  // cancellation ends the loop
        }
    }

    static func advertised(_ bound: SocketAddress, logger: Logger) -> String {
        let host = bound.host
        guard host == "0.0.0.0" || host == "::" else { return bound.description }
        logger.warning("listening on all interfaces without --advertise: advertising 127.0.0.1 (set --advertise HOST:PORT)")
        return "127.0.0.1:\(bound.port)"
    }
}
