import Glibc
import Logging
import Metrics
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
        /// A pause between claiming the partitions and recovering their runs, serving meanwhile
        /// (every call gets "still recovering"): for tests of what clients see during recovery.
        public var recoveryPause: Duration = .zero

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
    /// `/readyz`: ready once the open runs are recovered and served, not ready again at shutdown.
    public let readiness: Readiness
    private let logger: Logger
    private let onListening: @Sendable (SocketAddress) -> Void
    private let loop: EventLoop

    public init(
        configuration: Configuration, logger: Logger, loop: EventLoop = .shared, readiness: Readiness = Readiness(),
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.loop = loop
        self.readiness = readiness
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
        let writerMetrics = (
            batches: Counter(label: "weft_writer_batches_total"), records: Counter(label: "weft_writer_records_total"),
            commit: Metrics.Timer(label: "weft_writer_commit_seconds"))
        let writer = GroupCommitWriter<RunWriteBatch, RunWriteOutcome>(configuration: configuration.writer) { batches in
            let started = ContinuousClock.now
            let outcomes = try await Self.commit(batches, store: writeStore, fences: fences.withLock { $0 }, logger: logger)
            let took = ContinuousClock.now - started
            writerMetrics.commit.record(duration: took)
            if took > .seconds(1) {  // every acknowledgement and dispatch waited this long
                logger.warning("slow batch commit", metadata: ["duration": "\(DurationText.format(took))", "events": "\(batches.count)"])
            }
            writerMetrics.batches.increment()
            writerMetrics.records.increment(by: batches.count)
            return outcomes
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
        var serverConfiguration = RPCServerConfiguration(
            cluster: configuration.cluster, role: .scheduler, nodeID: configuration.nodeID, authToken: configuration.authToken)
        serverConfiguration.observer = RPCMetrics.ifEnabled
        let server = RPCServer(router: router, configuration: serverConfiguration, loop: loop, logger: logger)
        let bound = try await server.start(listen: configuration.listen)
        let advertise = configuration.advertise ?? Self.advertised(bound, logger: logger)
        let claimed = try await owners.claimAll(node: configuration.nodeID, address: advertise)
        fences.withLock { $0 = claimed }
        logger.notice("claimed partitions", metadata: ["partitions": "\(claimed.count)", "advertise": "\(advertise)", "node.id": "\(configuration.nodeID)"])
        readiness.set(.notReady("recovering the open runs of \(claimed.count) partitions"))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await writer.run() }
            do {
                if configuration.recoveryPause > .zero { try? await Task.sleep(for: configuration.recoveryPause) }
                try await core.recover(fences: claimed)
            } catch {
                logger.critical("cannot recover the open runs", metadata: ["error": "\(error)"])
                exit(70)  // never serve without the runs we own
            }
            logger.notice("scheduler listening", metadata: ["listen.address": "\(bound)", "node.id": "\(configuration.nodeID)"])
            readiness.set(.ready)
            onListening(bound)
            group.addTask { await Self.sampleGauges(core: core, writer: writer) }
            let retention = configuration.historyRetention
            group.addTask { await Self.maintain(connection: readConnection, retention: retention, logger: logger) }
            await withGracefulShutdownHandler {
                await waitUntilShutdown()
            } onGracefulShutdown: { [readiness] in
                health.setNotServing("shutting down")
                readiness.set(.notReady("shutting down"))
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

    /// Records the scheduler's state as gauges once a second until cancelled.
    static func sampleGauges(core: SchedulerCore, writer: GroupCommitWriter<RunWriteBatch, RunWriteOutcome>) async {
        let openRuns = Gauge(label: "weft_runs_open")
        let waiters = Gauge(label: "weft_run_waiters")
        let workers = Gauge(label: "weft_workers_connected")
        let ready = Gauge(label: "weft_ready_tasks")
        let queued = Gauge(label: "weft_writer_queued_records")
        while !Task.isCancelled {
            openRuns.record(await core.openRuns)
            waiters.record(await core.waiting)
            workers.record(await core.connectedWorkers)
            ready.record(await core.queueDepths.values.reduce(0, +))
            queued.record(await writer.queuedRecords)
            try? await Task.sleep(for: .seconds(1))  // cancellation ends the loop
        }
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
