import Logging
import Metrics
import ServiceLifecycle
import WeftCore
import WeftMembership
import WeftPostgres
import WeftRedis
import WeftTransport
import WeftWire

/// A scheduler (`weft scheduler`, ARCHITECTURE.md §1–§5). Without clustering (this version) it
/// claims every partition with the Postgres fence alone; a restarted scheduler claims again at once,
/// which fences out anything a dead predecessor might still have in flight.
///
/// Start-up: connect to Postgres (waiting for it if it is down), listen (to learn the bound port),
/// claim every partition writing the advertised address with the fence, recover the open runs,
/// then serve. Shutdown (SIGTERM): health turns NOT_SERVING, the RPC server drains, the writer
/// commits what is queued (giving up after the grace period if Postgres is down).
///
/// It rides out Postgres outages (ARCHITECTURE.md §6): `/readyz` turns false and new runs are
/// refused with `UNAVAILABLE` while the writer cannot commit; memory is kept and work resumes when
/// Postgres is back. It ends (`run()` throws, and `weft` exits 1) only when every partition it
/// claimed was claimed by another scheduler: it then has nothing left to do.
public final class SchedulerService: Service, @unchecked Sendable {
    // @unchecked Sendable: `onGossip` is set once, before `run`.
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
        /// `runs` and `task_attempts` month partitions wholly older than this are dropped (never one
        /// with an open run). Default 30 days; nil: runs are kept forever.
        public var runRetention: Duration? = .seconds(30 * 86_400)
        /// A pause between claiming the partitions and recovering their runs, serving meanwhile
        /// (every call gets "still recovering"): for tests of what clients see during recovery.
        public var recoveryPause: Duration = .zero
        /// Which client-chosen run ids are accepted.
        public var runIDPolicy = RunIDPolicy()
        /// Past this resident memory new runs are refused with `RESOURCE_EXHAUSTED` (`MemoryGuard`).
        /// Default: 80% of the cgroup's memory limit (or of the machine's memory); nil: no limit.
        public var memoryLimitBytes: Int? = MemoryGuard.defaultLimitBytes
        /// How soon a change to a schedule (create, pause, resume, delete) is seen by its owner.
        public var schedulePollInterval: Duration = .seconds(1)
        /// How often runs waiting for child workflows read which of them closed, from Postgres (the
        /// safety net under the barrier's messages).
        public var childSweepInterval: Duration = .seconds(5)
        /// Cluster mode (ARCHITECTURE §2): gossip, the ring and Redis leases. nil: this scheduler
        /// claims every partition with the fence alone.
        public var clusterMode: ClusterMode?
        /// Redis for flow limits (rate and concurrency limits) when not in cluster mode (which has
        /// its own URL). nil: workflows with a `rate_limit` or `concurrency` are refused.
        public var redisURL: String?
        /// After Redis forgot the concurrency slots (or on first use), how long no new slot is
        /// granted while every scheduler's renewal rebuilds them (`ConcurrencyLimiter`).
        public var concurrencyWarmUp: Duration = .seconds(5)

        /// The Redis flow limits use: cluster mode's, else ``redisURL``.
        var flowLimitRedisURL: String? { clusterMode?.redisURL ?? redisURL }

        /// What cluster mode needs besides the single-scheduler configuration.
        public struct ClusterMode: Sendable {
            /// Where gossip (UDP) binds.
            public var gossip: Endpoint
            /// Gossip addresses to join through (names allowed).
            public var seeds: [String]
            public var redisURL: String
            public var membership: MembershipSettings = .lan
            public var ownership: PartitionOwnershipStateMachine.Settings = .lan
            /// Tests: gossip with the addresses listed in this file is dropped (`MembershipShell`).
            public var cutFile: String?

            public init(gossip: Endpoint, seeds: [String], redisURL: String) {
                self.gossip = gossip
                self.seeds = seeds
                self.redisURL = redisURL
            }
        }

        public init(listen: Endpoint, nodeID: String, cluster: String, authToken: [UInt8]?, postgresURL: String, version: String) {
            self.listen = listen
            self.nodeID = nodeID
            self.cluster = cluster
            self.authToken = authToken
            self.postgresURL = postgresURL
            self.version = version
        }
    }

    /// Why a scheduler stopped on its own.
    public struct Stopped: Error, CustomStringConvertible {
        public var description: String
    }

    public let configuration: Configuration
    /// `/readyz`: ready once the open runs are recovered and served, not ready while Postgres is
    /// unreachable or a shutdown is under way.
    public let readiness: Readiness
    private let logger: Logger
    private let onListening: @Sendable (SocketAddress) -> Void
    /// Called with the advertised gossip address once this scheduler joined (cluster mode).
    public var onGossip: @Sendable (String) -> Void = { _ in }
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
        readiness.set(.notReady("connecting to Postgres"))
        let writeConnection = try await PostgresWaiting.connect(url: configuration.postgresURL, settings: RunStore.writerSessionSettings, logger: logger)
        let readConnection = try await PostgresWaiting.connect(url: configuration.postgresURL, logger: logger)
        let owners = PartitionOwnerStore(connection: readConnection, logger: logger)
        let cluster = try await PostgresWaiting.retrying("read the cluster metadata", logger: logger) { try await owners.clusterMetadata() }
        guard cluster.clusterName == configuration.cluster else {
            throw RPCError(.failedPrecondition, "this database belongs to cluster '\(cluster.clusterName)', not '\(configuration.cluster)' (--cluster)")
        }
        let writeStore = RunStore(connection: writeConnection, logger: logger)
        let readStore = RunStore(connection: readConnection, logger: logger)
        let fences = FenceTable()
        let storage = StorageHealth(logger: logger)
        let recovered = Locked(false)
        storage.onChange { [readiness] available, reason in
            guard recovered.withLock({ $0 }) else { return }
            readiness.set(available ? .ready : .notReady("Postgres is unavailable: \(reason)"))
        }
        let writerMetrics = (
            batches: Counter(label: "weft_writer_batches_total"), records: Counter(label: "weft_writer_records_total"),
            rejected: Counter(label: "weft_writer_rejected_records_total"),
            commit: Metrics.Timer(label: "weft_writer_commit_seconds"))
        let committer = BatchCommitter(
            commit: { batches, fences in try await writeStore.commit(batches, fences: fences) }, fences: fences, health: storage,
            repairTablePartitions: {
                do {
                    _ = try await PartitionMaintenance(connection: readConnection, logger: logger).ensurePartitions(now: .now())
                } catch {
                    logger.warning("cannot create table partitions", metadata: ["error": "\(error)"])
                }
            }, logger: logger)
        let writer = GroupCommitWriter<RunWriteBatch, RunWriteOutcome>(configuration: configuration.writer) { batches in
            let started = ContinuousClock.now
            let outcomes = await committer.flush(batches)
            let took = ContinuousClock.now - started
            writerMetrics.commit.record(duration: took)
            if took > .seconds(1) && storage.isAvailable {  // every acknowledgement and dispatch waited this long
                logger.warning("slow batch commit", metadata: ["duration": "\(DurationText.format(took))", "events": "\(batches.count)"])
            }
            writerMetrics.batches.increment()
            writerMetrics.records.increment(by: batches.count)
            let rejected = outcomes.count { if case .rejected = $0 { true } else { false } }
            if rejected > 0 { writerMetrics.rejected.increment(by: rejected) }
            return outcomes
        }
        var schedulerConfiguration = SchedulerConfiguration(nodeID: configuration.nodeID)
        schedulerConfiguration.workerLostGrace = configuration.workerLostGrace
        schedulerConfiguration.runIDPolicy = configuration.runIDPolicy
        let memoryGuard = MemoryGuard(limitBytes: configuration.memoryLimitBytes)
        schedulerConfiguration.memoryGuard = memoryGuard
        logger.info("memory limit", metadata: [
            "limit": "\(configuration.memoryLimitBytes.map(ByteSize.format) ?? "off")",
            "resident": "\(memoryGuard.residentBytes().map(ByteSize.format) ?? "unknown")",
        ])
        let core = SchedulerCore(
            loop: loop, writer: writer, store: readStore, catalog: WorkflowCatalog(store: readStore), fences: fences, storage: storage,
            partitionCount: cluster.partitionCount, configuration: schedulerConfiguration, logger: logger)
        let health = HealthService(role: .scheduler, nodeID: configuration.nodeID, version: configuration.version)
        var router = RPCRouter()
        health.register(into: &router)
        SchedulerHandlers.register(core: core, store: readStore, into: &router)
        let drain = DrainSignal()
        router.unary(AdminMethods.drain, request: DrainRequest.self, response: DrainResponse.self) { [configuration] request, _ in
            guard request.nodeID == configuration.nodeID else {
                throw RPCError(.invalidArgument, "this is scheduler \(MessageText.quoted(configuration.nodeID)), not \(MessageText.quoted(request.nodeID))")
            }
            guard configuration.clusterMode != nil else {
                throw RPCError(.failedPrecondition, "drain needs cluster mode (--gossip): a scheduler alone has nobody to hand its partitions to")
            }
            drain.trigger()
            return DrainResponse(nodeID: configuration.nodeID, message: "handing every partition off, then leaving the cluster and exiting")
        }
        let advertised = Locked("")
        router.unary(AdminMethods.partitions, request: PartitionsRequest.self, response: PartitionsResponse.self) { [configuration] _, _ in
            PartitionsResponse(partitions: await core.partitionsServed(node: configuration.nodeID, address: advertised.withLock { $0 }))
        }
        router.unary(AdminMethods.workers, request: WorkersRequest.self, response: WorkersResponse.self) { [configuration] _, _ in
            WorkersResponse(workers: await core.workersServed(node: configuration.nodeID))
        }
        router.unary(AdminMethods.queues, request: QueuesRequest.self, response: QueuesResponse.self) { _, _ in
            QueuesResponse(queues: await core.queuesServed())
        }
        var serverConfiguration = RPCServerConfiguration(
            cluster: configuration.cluster, role: .scheduler, nodeID: configuration.nodeID, authToken: configuration.authToken)
        serverConfiguration.observer = RPCMetrics.ifEnabled
        let server = RPCServer(router: router, configuration: serverConfiguration, loop: loop, logger: logger)
        let bound = try await server.start(listen: configuration.listen)
        let advertise = configuration.advertise ?? Self.advertised(bound, logger: logger)
        advertised.withLock { $0 = advertise }
        var membership: MembershipShell?
        var ownership: ClusterOwnership?
        if let mode = configuration.clusterMode {
            let advertiseHost = try Endpoint(parsing: advertise).host
            membership = MembershipShell(
                configuration: .init(
                    cluster: configuration.cluster, authToken: configuration.authToken ?? [], nodeID: configuration.nodeID,
                    role: .scheduler, bind: mode.gossip, advertiseHost: advertiseHost, rpcAddress: advertise, seeds: mode.seeds,
                    settings: mode.membership, cutFile: mode.cutFile),
                loop: loop, logger: logger)
            ownership = ClusterOwnership(
                configuration: .init(
                    cluster: configuration.cluster, nodeID: configuration.nodeID, advertise: advertise,
                    partitionCount: cluster.partitionCount, redisURL: mode.redisURL, settings: mode.ownership),
                owners: owners, core: core, logger: logger)
        }
        await core.setChildLinks(Self.childLinks(
            core: core, configuration: configuration, owners: owners, membership: membership, logger: logger))
        await core.setFlowLimiters(
            rate: configuration.flowLimitRedisURL.map { RateLimiter(url: $0, cluster: configuration.cluster, logger: logger) },
            concurrency: configuration.flowLimitRedisURL.map {
                ConcurrencyLimiter(url: $0, cluster: configuration.cluster, warmUp: configuration.concurrencyWarmUp, logger: logger)
            },
            cache: configuration.flowLimitRedisURL.map { ResultCacheStore(url: $0, cluster: configuration.cluster, logger: logger) },
            breakers: configuration.flowLimitRedisURL.map { CircuitBreakers(url: $0, cluster: configuration.cluster, logger: logger) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await writer.run() }
            group.addTask { [sweep = configuration.childSweepInterval] in await core.sweepChildren(every: sweep) }
            group.addTask { await core.renewSlots() }
            if let membership, let ownership {
                // Cluster mode: the ring decides which partitions are ours; each is taken (lease,
                // fence, recovery) and given back as membership changes.
                group.addTask { await ownership.run() }
                await core.onFenceLoss { partition in Task { await ownership.fenceLost(partition) } }
                let nodeID = configuration.nodeID
                await core.setOwnerHint { partition in
                    let view = membership.current
                    return view.ring.owner(of: partition) == nodeID ? nil : view.ownerAddress(of: partition)
                }
                try await membership.start()
                membership.observe { _ in
                    Task {  // the latest view, not the one of this call: tasks may run out of order
                        let members = membership.members
                        await ownership.membershipChanged(members)
                        await core.schedulersChanged(members.activeSchedulers
                            .map { SchedulerEndpoint(nodeID: $0.id, address: $0.rpcAddress) }.sorted { $0.nodeID < $1.nodeID })
                    }
                }
                onGossip(membership.gossipAddress ?? "")
                logger.notice("scheduler joined the cluster", metadata: [
                    "gossip": "\(membership.gossipAddress ?? "?")", "seeds": "\(configuration.clusterMode?.seeds ?? [])",
                    "advertise": "\(advertise)", "node.id": "\(configuration.nodeID)",
                ])
            } else {
                let claimed = try await PostgresWaiting.retrying("claim the partitions", logger: logger) {
                    try await owners.claimAll(node: configuration.nodeID, address: advertise)
                }
                logger.notice("claimed partitions", metadata: ["partitions": "\(claimed.count)", "advertise": "\(advertise)", "node.id": "\(configuration.nodeID)"])
                readiness.set(.notReady("recovering the open runs of \(claimed.count) partitions"))
                await core.claimed(claimed)
                if configuration.recoveryPause > .zero { try? await Task.sleep(for: configuration.recoveryPause) }
                try await core.recover(fences: claimed)
            }
            logger.notice("scheduler listening", metadata: ["listen.address": "\(bound)", "node.id": "\(configuration.nodeID)"])
            if let membership {
                // Ready (for a rolling update: the next pod may go) once this scheduler serves every
                // partition the ring gives it — before, its share is still being handed over.
                readiness.set(.notReady("taking over the partitions the ring gives this scheduler"))
                group.addTask { [readiness, nodeID = configuration.nodeID, count = cluster.partitionCount] in
                    while !Task.isCancelled {
                        let ring = membership.ring
                        let mine = Set(ring.partitions(of: nodeID, partitionCount: count))
                        if !ring.isEmpty, mine.isSubset(of: await core.servingPartitionSet) {
                            recovered.withLock { $0 = true }
                            readiness.set(storage.isAvailable ? .ready : .notReady("Postgres is unavailable: \(storage.unavailableReason)"))
                            logger.notice("scheduler ready", metadata: ["partitions": "\(mine.count)"])
                            return
                        }
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                }
            } else {
                recovered.withLock { $0 = true }
                readiness.set(storage.isAvailable ? .ready : .notReady("Postgres is unavailable: \(storage.unavailableReason)"))
            }
            onListening(bound)
            group.addTask { await Self.sampleGauges(core: core, writer: writer, storage: storage, memory: memoryGuard) }
            let firer = ScheduleFirer(
                core: core, store: readStore, clock: schedulerConfiguration.clock, partitionCount: cluster.partitionCount,
                pollInterval: configuration.schedulePollInterval, logger: logger)
            group.addTask { await firer.run() }
            let retention = configuration.historyRetention
            let runRetention = configuration.runRetention
            group.addTask { await Self.maintain(connection: readConnection, retention: retention, runRetention: runRetention, logger: logger) }
            let lostAll = Locked(false)
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { waits in
                    waits.addTask { await waitUntilShutdown() }
                    waits.addTask { await drain.wait() }
                    if membership == nil {
                        waits.addTask {
                            if await core.waitUntilAllPartitionsLost() { lostAll.withLock { $0 = true } }
                        }
                    }
                    await waits.next()
                    waits.cancelAll()
                }
            } onGracefulShutdown: { [readiness] in
                health.setNotServing("shutting down")
                readiness.set(.notReady("shutting down"))
            }
            health.setNotServing("shutting down")
            readiness.set(.notReady("shutting down"))
            logger.notice("scheduler shutting down")
            if let ownership, let membership {
                // Hand every partition off (so the others take them at once rather than after a
                // lease expires), then say goodbye to the cluster.
                await ownership.leave(grace: configuration.shutdownGracePeriod)
                await membership.leave()
            }
            await server.shutdown(gracePeriod: configuration.shutdownGracePeriod)
            storage.shuttingDown(grace: configuration.shutdownGracePeriod)
            group.cancelAll()
            if lostAll.withLock({ $0 }) {
                throw Stopped(description: "every partition of this scheduler was claimed by another scheduler (their fences moved on); nothing is left to do here")
            }
        }
    }

    /// How this scheduler starts child runs, cancels them and tells parents (see `ChildLinks`):
    /// partitions it serves are called in-process; the others through their owner, as a
    /// coordinator forwards (the ring's owner, else `partition_owners`, followed on `NOT_OWNER`).
    /// The barrier is Redis's in cluster mode; alone, every close is told.
    static func childLinks(
        core: SchedulerCore, configuration: Configuration, owners: PartitionOwnerStore, membership: MembershipShell?, logger: Logger
    ) -> ChildLinks {
        var client = RPCClientConfiguration(
            cluster: configuration.cluster, role: .scheduler, nodeID: configuration.nodeID, authToken: configuration.authToken ?? [])
        client.connectTimeout = .seconds(5)
        let directory = OwnerDirectory(
            owners: owners, clientConfiguration: client, logger: logger,
            ringOwner: { partition in membership?.current.ownerAddress(of: partition) },
            ringMembers: { membership?.members.activeSchedulers.map(\.rpcAddress) ?? [] })
        let barrier = configuration.clusterMode.map { ChildBarrier(url: $0.redisURL, cluster: configuration.cluster, logger: logger) }
        @Sendable func remote<R: Sendable>(_ partition: PartitionID, _ call: @Sendable @escaping (RPCClient, CallOptions) async throws -> R) async throws -> R {
            try await CoordinatorHandlers.forward(partition, directory: directory, deadline: ContinuousClock.now + .seconds(30), call)
        }
        return ChildLinks(
            start: { request, partition in
                if await core.serves(partition) { return try await core.startRun(request) }
                return try await remote(partition) { client, options in
                    try await client.unary(ClientMethods.startRun, request: request, response: StartRunResponse.self, options: options)
                }
            },
            cancel: { request, partition in
                if await core.serves(partition) {
                    _ = try await core.cancelRun(request)
                    return
                }
                _ = try await remote(partition) { client, options in
                    try await client.unary(ClientMethods.cancelRun, request: request, response: CancelRunResponse.self, options: options)
                }
            },
            notify: { request, partition in
                if await core.serves(partition) {
                    try await core.childRunsClosed(request)
                    return
                }
                _ = try await remote(partition) { client, options in
                    try await client.unary(ClientMethods.childRunsClosed, request: request, response: ChildRunsClosedResponse.self, options: options)
                }
            },
            arrive: { key, member in
                guard let barrier else { return nil }
                return try await barrier.arrive(key: key, member: member)
            })
    }

    /// Records the scheduler's state as gauges once a second until cancelled.
    static func sampleGauges(
        core: SchedulerCore, writer: GroupCommitWriter<RunWriteBatch, RunWriteOutcome>, storage: StorageHealth, memory: MemoryGuard
    ) async {
        let openRuns = Gauge(label: "weft_runs_open")
        let waiters = Gauge(label: "weft_run_waiters")
        let workers = Gauge(label: "weft_workers_connected")
        var byQueue = QueueGauges()
        let unserved = Gauge(label: "weft_ready_tasks_unserved")
        let rateLimited = Gauge(label: "weft_rate_limited_tasks")
        let concurrencyLimited = Gauge(label: "weft_concurrency_limited_tasks")
        let slotsHeld = Gauge(label: "weft_concurrency_slots_held")
        let breakerHeld = Gauge(label: "weft_breaker_held_tasks")
        let queued = Gauge(label: "weft_writer_queued_records")
        let partitions = Gauge(label: "weft_partitions_owned")
        let available = Gauge(label: "weft_storage_available")
        let resident = Gauge(label: "weft_process_resident_bytes")
        let memoryLimit = Gauge(label: "weft_memory_limit_bytes")
        memoryLimit.record(memory.limitBytes ?? 0)
        while !Task.isCancelled {
            openRuns.record(await core.openRuns)
            waiters.record(await core.waiting)
            workers.record(await core.connectedWorkers)
            byQueue.record(ready: await core.queueDepths, slots: await core.workerSlotsByQueue)
            unserved.record(await core.unservedTasks)
            rateLimited.record(await core.rateLimitedTasks)
            concurrencyLimited.record(await core.concurrencyLimitedTasks)
            slotsHeld.record(await core.concurrencySlotsHeld)
            breakerHeld.record(await core.breakerHeldTasks)
            queued.record(await writer.queuedRecords)
            partitions.record(await core.servingPartitions)
            available.record(storage.isAvailable ? 1 : 0)
            if let bytes = memory.residentBytes() { resident.record(bytes) }
            try? await Task.sleep(for: .seconds(1))  // cancellation ends the loop
        }
    }

    /// `weft_ready_tasks{queue}` and `weft_worker_slots{queue}`, the autoscaling signal (ready tasks
    /// per worker slot, per queue). Queue names come from definitions and workers, so the label set
    /// is bounded: the first `maxQueues` queues seen get a label of their own, the rest are summed
    /// under `queue="_other"`. A queue that empties reads 0 (its series stays).
    struct QueueGauges {
        static let maxQueues = 64
        static let other = "_other"
        private var gauges: [String: (ready: Gauge, slots: Gauge)] = [:]

        /// The label `queue` is reported under; its gauges exist once it returns.
        mutating func label(_ queue: String) -> String {
            let label = gauges[queue] != nil || gauges.count < Self.maxQueues ? queue : Self.other
            if gauges[label] == nil {
                gauges[label] = (Gauge(label: "weft_ready_tasks", dimensions: [("queue", label)]),
                                 Gauge(label: "weft_worker_slots", dimensions: [("queue", label)]))
            }
            return label
        }

        mutating func record(ready: [String: Int], slots: [String: Int]) {
            var sums: [String: (ready: Int, slots: Int)] = [:]
            for (queue, count) in ready { sums[label(queue), default: (0, 0)].ready += count }
            for (queue, count) in slots { sums[label(queue), default: (0, 0)].slots += count }
            for (queue, pair) in gauges {
                pair.ready.record(sums[queue]?.ready ?? 0)
                pair.slots.record(sums[queue]?.slots ?? 0)
            }
        }
    }

    /// Keeps table partitions ahead of time and drops history past its retention: hourly, or a
    /// minute after a failure.
    static func maintain(connection: PostgresConnection, retention: Duration, runRetention: Duration?, logger: Logger) async {
        let maintenance = PartitionMaintenance(connection: connection, logger: logger)
        while !Task.isCancelled {
            var pause: Duration = .seconds(3600)
            do {
                let created = try await maintenance.ensurePartitions(now: .now())
                if !created.isEmpty { logger.info("created table partitions", metadata: ["count": "\(created.count)"]) }
                let cleanup = try await maintenance.dropExpiredHistory(now: .now(), retention: retention)
                logger.debug("history retention applied", metadata: ["result": "\(cleanup)"])
                if let runRetention {
                    let runs = try await maintenance.dropExpiredRuns(now: .now(), retention: runRetention)
                    if !runs.droppedTablePartitions.isEmpty {
                        logger.notice("run retention applied", metadata: [
                            "dropped": "\(runs.droppedTablePartitions.map(\.name).joined(separator: ","))",
                            "related.rows": "\(runs.deletedRelatedRows)",
                        ])
                    }
                }
            } catch {
                logger.warning("table partition maintenance failed; retrying in a minute", metadata: ["error": "\(error)"])
                pause = .seconds(60)
            }
            try? await Task.sleep(for: pause)  // cancellation ends the loop
        }
    }

    static func advertised(_ bound: SocketAddress, logger: Logger) -> String {
        let host = bound.host
        guard host == "0.0.0.0" || host == "::" else { return bound.description }
        logger.warning("listening on all interfaces without --advertise: advertising 127.0.0.1 (set --advertise HOST:PORT)")
        return "127.0.0.1:\(bound.port)"
    }
}

/// Set once by `weftctl drain NODE`: the scheduler hands its partitions off, leaves and ends.
final class DrainSignal: Sendable {
    private struct State {
        var triggered = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Locked(State())

    func trigger() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.triggered = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once triggered (at once if it was), or when the task is cancelled.
    func wait() async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.triggered || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
