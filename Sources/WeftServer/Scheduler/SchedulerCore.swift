import Logging
import Metrics
import WeftCore
import WeftEngine
import WeftRedis
import WeftTransport
import WeftWire

/// The scheduler's engine shell (ARCHITECTURE.md §4–§5): one engine per owned partition — its open
/// runs, each a `RunStateMachine` — plus what the engines share: the `Dispatcher` that pushes ready
/// tasks to connected workers within their credits, the timers, and the group-commit writer every
/// change goes through.
///
/// Isolation: an actor whose executor is the event loop, so RPC handlers (which run on the loop)
/// call it without a thread hop, and loop timers enter it directly. It carries out decisions made
/// elsewhere: the run state machines (what happens to a run), `RunRecorder` (which rows an event
/// writes), `RunRecovery` (a run from its rows), `PartitionEngine` (a partition's lifecycle),
/// `Dispatcher` (which worker gets a task), `BatchCommitter` (what a failed write means). Time and
/// randomness are injected (`SchedulerConfiguration.clock`, `.randomSeed`).
///
/// **Durability.** An event's `record` actions are written (one batch, fenced) before any of its
/// effects happen — no client is acknowledged and no successor is dispatched before the commit.
/// Everything the state machines decided is in Postgres before anyone can observe it, which is
/// what makes a `kill -9` at any moment safe: recovery rebuilds the frontier from the rows.
///
/// **Failures stay small** (ARCHITECTURE.md §6):
/// - a partition whose fence moved on stops alone (`stopEngine`): its runs leave memory, their
///   waiters hear `NOT_OWNER`, the other partitions carry on;
/// - a record Postgres cannot take fails its own run only: a start is refused, a running run is
///   cancelled with the reason (`poisoned`);
/// - while Postgres is unreachable the writer retries, memory is kept, new runs get `UNAVAILABLE`.
actor SchedulerCore {
    nonisolated let loop: EventLoop
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }

    struct AttemptKey: Hashable {
        var node: NodeKey
        var attempt: Int
    }

    enum AttemptPlace {
        case queued(Dispatcher<QueuedTask>.Ticket)
        case running(worker: Dispatcher<QueuedTask>.WorkerID, start: RunRecorder.AttemptStart)
        /// A child-workflow attempt: its run once started (nil while the start is in flight).
        case child(RunID?, start: RunRecorder.AttemptStart?)
        /// Its output is being looked up in the result cache.
        case cacheLookup
        /// Completed from the result cache.
        case fromCache(RunRecorder.AttemptStart)
        /// Waiting at its task type's circuit breaker (then `concurrencyLimited`, `rateLimited` or `queued`).
        case breakerHeld(BreakerGate.Ticket)
        /// Waiting for a slot of its concurrency limit (then `rateLimited` or `queued`).
        case concurrencyLimited(ConcurrencyGate.Ticket)
        /// Waiting for its rate limit's grant (then `queued`).
        case rateLimited(RateGate.Ticket)
    }

    /// An open run in memory. A class, used only on the actor's executor: one dictionary lookup
    /// gives the run, and its fields change in place (as a struct, every `runs[id]!.x = …` was a
    /// hash and a lookup, and any copy of it copied its dictionaries on the next change).
    final class ActiveRun {
        var machine: RunStateMachine
        let partition: PartitionID
        let priorityLevel: Int?
        var timers: [TimerID: UInt64] = [:]
        var attempts: [AttemptKey: AttemptPlace] = [:]
        /// Every row written for the run, for answering `WaitRun` from memory; `nil` for a run
        /// recovered after a restart (see `RunLedger`).
        var ledger: RunLedger?
        var waiters: [UInt64: CheckedContinuation<RunInfo?, any Error>] = [:]
        /// While the run's start is being committed: the repeats of that start, waiting for its
        /// outcome (answering them before the commit could acknowledge a run a crash then loses).
        /// nil once the start committed, and for recovered runs.
        var pendingStart: [CheckedContinuation<StartRunResponse, any Error>]?
        /// A write of this run was rejected once; a second rejection drops it from memory.
        var poisoned = false
        /// The run is being terminated: its attempts are killed without a grace period.
        var terminating = false
        /// A child workflow's parent node, told when this run closes.
        var parent: ChildLink?

        init(
            machine: RunStateMachine, partition: PartitionID, priorityLevel: Int?, ledger: RunLedger? = nil,
            pendingStart: [CheckedContinuation<StartRunResponse, any Error>]? = nil
        ) {
            self.machine = machine
            self.partition = partition
            self.priorityLevel = priorityLevel
            self.ledger = ledger
            self.pendingStart = pendingStart
        }
    }

    struct QueuedTask: Sendable {
        var runID: RunID
        var assignment: TaskAssignment
    }

    /// A connected worker (a class for the same reason as `ActiveRun`).
    final class WorkerSession {
        let name: String
        let writer: RPCStreamWriter
        let queues: Set<String>
        let taskTypes: Set<String>
        /// When the stream opened (Unix milliseconds).
        let connectedAt: Int64
        var attempts: Set<AttemptRef> = []

        init(name: String, writer: RPCStreamWriter, queues: Set<String>, taskTypes: Set<String>, connectedAt: Int64) {
            self.name = name
            self.writer = writer
            self.queues = queues
            self.taskTypes = taskTypes
            self.connectedAt = connectedAt
        }
    }

    struct AttemptRef: Hashable {
        var runID: RunID
        var key: AttemptKey
    }

    let writer: GroupCommitWriter<RunWriteBatch, RunWriteOutcome>
    let store: any RunReading
    let catalog: WorkflowCatalog
    let fences: FenceTable
    let storage: StorageHealth
    let partitionCount: Int
    let logger: Logger
    let configuration: SchedulerConfiguration
    let clock: any WallClock
    var engines: [PartitionID: PartitionEngine] = [:]
    var runs: [RunID: ActiveRun] = [:]
    var dispatcher = Dispatcher<QueuedTask>()
    var sessions: [Dispatcher<QueuedTask>.WorkerID: WorkerSession] = [:]
    var nextWorkerID: UInt64 = 1
    /// The alive schedulers gossip knows (cluster mode), told to every worker when it changes.
    var knownSchedulers: [SchedulerEndpoint] = []
    var nextWaiterID: UInt64 = 1
    /// `WaitRun` calls waiting for a run to close.
    private(set) var waiting = 0
    var recorder: RunRecorder
    var pumpScheduled = false
    var random: SplitMix64
    let metrics = SchedulerMetrics()
    var recentlyClosed = RecentlyClosedRuns()
    /// How child runs are started, cancelled and reported (`SchedulerService` sets it).
    var childLinks: ChildLinks?
    /// Tasks waiting for their flow limits, and the Redis that grants them (nil: no `--redis`).
    var rateGate = RateGate()
    var rateLimiter: RateLimiter?
    var concurrencyGate = ConcurrencyGate()
    var concurrencyLimiter: ConcurrencyLimiter?
    /// The result cache's entries (nil: no Redis), and where the outputs of attempts that missed it go.
    var resultCache: ResultCacheStore?
    /// Attempts waiting at circuit breakers, the breakers' Redis, and the attempts whose being held
    /// is already in their run's history.
    var breakerGate = BreakerGate()
    var circuitBreakers: CircuitBreakers?
    var breakerNoted: Set<String> = []
    var cacheEntries: [AttemptRef: CacheEntryRef] = [:]
    /// Concurrency slots held by attempts of this scheduler, renewed every second.
    var heldSlots: [AttemptRef: HeldSlot] = [:]
    /// How long a full concurrency key waits before asking again (doubling while it stays full).
    var slotRetryDelay: [String: Duration] = [:]
    /// Keys a slot came back to while a question about them was out (asked again on its answer).
    var slotsFreedWhileAsking: Set<String> = []
    var lastFlowLimitWarning: ContinuousClock.Instant?
    private var allLostWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]

    init(
        loop: EventLoop, writer: GroupCommitWriter<RunWriteBatch, RunWriteOutcome>, store: any RunReading, catalog: WorkflowCatalog,
        fences: FenceTable, storage: StorageHealth, partitionCount: Int, configuration: SchedulerConfiguration, logger: Logger
    ) {
        self.loop = loop
        self.writer = writer
        self.store = store
        self.catalog = catalog
        self.fences = fences
        self.storage = storage
        self.partitionCount = partitionCount
        self.configuration = configuration
        self.clock = configuration.clock
        self.logger = logger
        self.recorder = RunRecorder(nowMilliseconds: configuration.clock.nowMilliseconds())
        var seeder = SystemRandomNumberGenerator()
        self.random = SplitMix64(seed: configuration.randomSeed ?? seeder.next())
    }

    var openRuns: Int { runs.count }
    var connectedWorkers: Int { sessions.count }
    var queueDepths: [String: Int] { dispatcher.queueDepths }
    /// Task slots of the connected workers, by queue: each worker's credits plus the attempts it
    /// runs for this scheduler (a worker that takes several queues counts in each).
    var workerSlotsByQueue: [String: Int] {
        var slots: [String: Int] = [:]
        for (id, session) in sessions {
            let mine = dispatcher.credits(of: id) + session.attempts.count
            for queue in session.queues { slots[queue, default: 0] += mine }
        }
        return slots
    }
    var unservedTasks: Int { dispatcher.unservedDepth }
    var rateLimitedTasks: Int { rateGate.count }
    var concurrencyLimitedTasks: Int { concurrencyGate.count }
    var concurrencySlotsHeld: Int { heldSlots.count }
    var breakerHeldTasks: Int { breakerGate.count }

    func setFlowLimiters(rate: RateLimiter?, concurrency: ConcurrencyLimiter?, cache: ResultCacheStore?, breakers: CircuitBreakers?) {
        rateLimiter = rate
        concurrencyLimiter = concurrency
        resultCache = cache
        circuitBreakers = breakers
        if let concurrency {
            Task { [logger] in
                do { try await concurrency.prime() } catch { logger.warning("Redis for flow limits is unreachable", metadata: ["error": "\(error)"]) }
            }
        }
    }
    var servingPartitions: Int { engines.values.count { $0.state == .serving } }
    var servingPartitionSet: Set<PartitionID> { Set(engines.filter { $0.value.state == .serving }.keys) }
    /// Whether `partition`'s engine serves here.
    func serves(_ partition: PartitionID) -> Bool { engines[partition]?.state == .serving }
    /// The fence of every partition served here.
    var servingFences: [PartitionID: Fence] { engines.filter { $0.value.state == .serving }.mapValues(\.fence) }

    /// Which of `ids` are open runs here (a schedule's previous run, for its overlap policy).
    func openRuns(among ids: [RunID]) -> Set<RunID> { Set(ids.filter { runs[$0] != nil }) }

    func now() -> EngineInstant { EngineInstant(unixMilliseconds: clock.nowMilliseconds()) }

    // MARK: Ownership and recovery

    /// Takes ownership of `claimed` (fences from the claim): their engines exist, recovering, so
    /// callers hear "still recovering" (`UNAVAILABLE`) rather than `NOT_OWNER` until `recover`.
    func claimed(_ claimed: [PartitionID: Fence]) {
        for (partition, fence) in claimed {
            engines[partition] = PartitionEngine(fence: fence)
            fences.set(partition, fence)
        }
    }

    /// Takes ownership of `claimed` (if `claimed(_:)` did not already) and rebuilds the open runs of
    /// those partitions; their engines serve once done. Reads that fail for want of Postgres are
    /// retried until it answers; any other failure to read the open runs is thrown (never serve
    /// without the runs we own).
    func recover(fences claimed: [PartitionID: Fence]) async throws {
        let started = ContinuousClock.now
        for (partition, fence) in claimed where engines[partition]?.fence != fence {
            engines[partition] = PartitionEngine(fence: fence)
            fences.set(partition, fence)
        }
        let open = try await retryingStorage("read the open runs") { [store] in
            try await store.openRuns(partitions: Array(claimed.keys))
        }
        var recovered = 0
        // Re-recording the frontier goes through the writer like any event; many runs in flight
        // at once let the writer batch them (one commit per run would take minutes for 100k runs).
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for run in open where engines[run.partition]?.state == .recovering {
                let workflow: ValidatedWorkflow
                do {
                    workflow = try await retryingStorage("load a workflow") { [catalog] in
                        try await catalog.workflow(name: run.workflow, version: run.version)
                    }
                } catch {
                    logger.error("cannot recover a run; it stays open in Postgres", metadata: ["run.id": "\(run.runID)", "error": "\(error)"])
                    continue
                }
                let snapshot = RunRecovery.snapshot(of: run, workflow: workflow)
                let machine: RunStateMachine
                let actions: [RunStateMachine.Action]
                do {
                    (machine, actions) = try RunStateMachine.recover(
                        runID: run.runID, workflow: workflow, snapshot: snapshot, seed: random.next(), now: now())
                } catch {
                    logger.error("cannot recover a run; it stays open in Postgres", metadata: ["run.id": "\(run.runID)", "error": "\(error)"])
                    continue
                }
                runs[run.runID] = ActiveRun(
                    machine: machine, partition: run.partition, priorityLevel: RunRecovery.level(storedPriority: run.priority))
                runs[run.runID]!.parent = run.parent
                engines[run.partition]?.runs.insert(run.runID)
                let id = run.runID
                group.addTask(executorPreference: loop) { _ = await self.process(id, actions) }
                inFlight += 1
                recovered += 1
                if inFlight >= 4096 {
                    await group.next()
                    inFlight -= 1
                }
            }
        }
        for partition in claimed.keys where engines[partition]?.state == .recovering { engines[partition]!.serve() }
        await sweepStaleSlots(partitions: Set(claimed.keys))
        logger.notice("recovered open runs", metadata: [
            "runs": "\(recovered)", "partitions": "\(claimed.count)", "duration": "\(ContinuousClock.now - started)",
        ])
        schedulePump()
    }

    /// `body`, again and again while it fails because Postgres is out of reach (other errors are
    /// thrown).
    private func retryingStorage<T: Sendable>(_ what: String, _ body: @Sendable () async throws -> T) async rethrows -> T {
        var delay: Duration = .milliseconds(100)
        while true {
            do {
                let value = try await body()
                storage.succeeded()
                return value
            } catch where BatchCommitter.classify(error) == .transient {
                storage.failed(error)
                logger.warning("Postgres unavailable; retrying", metadata: ["operation": "\(what)", "error": "\(error)"])
                try? await Task.sleep(for: delay)  // not cancelled: recovery has no caller to give up
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// A partition's fence moved on (another node claimed it): its engine stops at once and for
    /// good — runs leave memory unwritten changes and all, waiters hear `NOT_OWNER` — and the other
    /// partitions are untouched. Idempotent. With `fenceLost` (the default) it counts as a fence
    /// loss and the ownership manager hears of it; without, it is a stop the manager asked for.
    func stopEngine(_ partition: PartitionID, reason: String, fenceLost: Bool = true) {
        guard var engine = engines[partition], engine.state != .stopped else { return }
        fences.remove(partition)
        let ids = engine.runs
        engine.stop()
        engines[partition] = engine
        if fenceLost {
            metrics.fenceLosses.increment()
            logger.error("partition engine stopped", metadata: ["partition": "\(partition)", "reason": "\(reason)", "runs.dropped": "\(ids.count)"])
            fenceLossHandler?(partition)
        } else {
            logger.info("partition engine stopped", metadata: ["partition": "\(partition)", "reason": "\(reason)", "runs.released": "\(ids.count)"])
        }
        let notOwner = RPCError.notOwner(partition, owner: ownerHint(partition), reason)
        for id in ids { dropRun(id, failing: notOwner) }
        if allLost {
            let waiters = allLostWaiters
            allLostWaiters = [:]
            for waiter in waiters.values { waiter.resume() }
        }
    }

    /// Called (on the loop) when a partition's engine stopped because its fence moved on.
    private var fenceLossHandler: (@Sendable (PartitionID) -> Void)?
    /// In cluster mode: the RPC address of the scheduler the ring names for a partition (sent as
    /// `weft-owner` with `NOT_OWNER`, so callers go straight there); nil when unknown or this node.
    private var ownerHint: @Sendable (PartitionID) -> String? = { _ in nil }

    func setOwnerHint(_ hint: @escaping @Sendable (PartitionID) -> String?) {
        ownerHint = hint
    }

    func onFenceLoss(_ handler: @escaping @Sendable (PartitionID) -> Void) {
        fenceLossHandler = handler
    }

    /// Hands `partitions` off (the ring moved them away): new calls for them hear `NOT_OWNER` at
    /// once, then everything their engines queued for the writer is committed (a barrier: an empty
    /// fenced batch per partition, written after all earlier records), then their runs leave
    /// memory. Returns the partitions whose fence still held at the barrier; for the others the
    /// fence had moved on already. The lease may be released after this returns.
    func handOff(_ partitions: [PartitionID]) async -> [PartitionID] {
        var draining: [PartitionID] = []
        for partition in partitions where engines[partition].map({ $0.state != .stopped }) ?? false {
            engines[partition]!.drain()
            draining.append(partition)
        }
        let outcomes = await withTaskGroup(of: (PartitionID, Bool).self) { group in
            for partition in draining {
                group.addTask { [writer] in
                    let outcome = try? await writer.submit(RunWriteBatch(partition: partition), mayRefuse: false)
                    return (partition, outcome == .committed)
                }
            }
            var all: [(PartitionID, Bool)] = []
            while let outcome = await group.next() { all.append(outcome) }
            return all
        }
        for (partition, _) in outcomes {
            stopEngine(partition, reason: "handed off: the ring moved it to another scheduler", fenceLost: false)
        }
        return outcomes.filter(\.1).map(\.0)
    }

    /// Returns once every partition this scheduler claimed has stopped (its fences all lost), or
    /// when the calling task is cancelled; says which.
    @discardableResult
    func waitUntilAllPartitionsLost() async -> Bool {
        if allLost { return true }
        let token = nextWaiterID
        nextWaiterID += 1
        await withTaskCancellationHandler {
            await withCheckedContinuation { allLostWaiters[token] = $0 }
        } onCancel: {
            Task(executorPreference: loop) { await self.stopWaitingForLoss(token) }
        }
        return allLost
    }

    private var allLost: Bool { !engines.isEmpty && engines.values.allSatisfy { $0.state == .stopped } }

    private func stopWaitingForLoss(_ token: UInt64) {
        allLostWaiters.removeValue(forKey: token)?.resume()
    }

    /// Throws unless `partition`'s engine serves here: `NOT_OWNER` (with the owner's address when
    /// known) for a partition another node owns, `UNAVAILABLE` while it recovers.
    func requireServing(_ partition: PartitionID) throws {
        switch engines[partition]?.state {
        case .serving?:
            return
        case .recovering?:
            throw RPCError(.unavailable, "the scheduler is still recovering partition \(partition); retry shortly")
        case .draining?:
            throw RPCError(.unavailable, "the scheduler is handing partition \(partition) off to another scheduler; retry shortly")
        case .stopped?, nil:
            throw RPCError.notOwner(partition, owner: ownerHint(partition))
        }
    }

    // MARK: Client calls

    func startRun(_ request: StartRunRequest) async throws -> StartRunResponse {
        let nowMilliseconds = clock.nowMilliseconds()
        let runID: RunID
        if let chosen = request.runID {
            try configuration.runIDPolicy.check(chosen, nowMilliseconds: nowMilliseconds)
            runID = chosen
        } else {
            runID = RunID(unixMilliseconds: UInt64(nowMilliseconds), using: &random)
        }
        try RequestChecks.check(request, maxInputBytes: configuration.maxInputBytes)
        let partition = runID.partition(count: partitionCount)
        try requireServing(partition)
        var workflow: ValidatedWorkflow?
        var reused: (from: RunID, outputs: [String: [UInt8]])?
        var checkedKey = request.idempotencyKey.isEmpty
        // The awaits below let other calls in: whatever they started for this id is looked at again.
        while true {
            if let answer = try await existingStart(runID, request) { return answer }
            guard storage.isAvailable else {
                throw RPCError(.unavailable, "the database is unavailable (\(storage.unavailableReason)); retry shortly")
            }
            if !checkedKey {
                checkedKey = true
                if let existing = try await store.idempotencyKey(request.idempotencyKey) {
                    return StartRunResponse(runID: existing, created: false)
                }
                continue
            }
            if workflow == nil {
                workflow = try await catalog.workflow(name: request.workflow, version: request.version.isEmpty ? nil : request.version)
                continue
            }
            if reused == nil, !request.resumeOf.isEmpty {
                reused = try await reusableOutputs(of: request.resumeOf, for: workflow!, input: request.input)
                continue
            }
            break
        }
        try requireServing(partition)
        // A new run costs memory until it closes; repeats of known starts (above) are still answered.
        try configuration.memoryGuard?.admit()
        let pinned = workflow!
        try checkTaskTypes(of: pinned)
        let level: Int? = switch request.priority {
        case .unspecified: nil
        case .low: 0
        case .normal: 1
        case .high: 2
        case .critical: 3
        }
        let parent = try Self.childLink(of: request)
        var machine = RunStateMachine(runID: runID, workflow: pinned, seed: random.next())
        let actions = machine.started(input: request.input, now: now(), reusing: reused?.outputs ?? [:], reusedFrom: reused?.from)
        let newRun = NewRunRow(
            runID: runID, workflow: pinned.name, version: pinned.version.description,
            priority: level.map { 3 - $0 } ?? 2, input: request.input,
            idempotencyKey: request.idempotencyKey.isEmpty ? nil : request.idempotencyKey, parent: parent)
        runs[runID] = ActiveRun(machine: machine, partition: partition, priorityLevel: level, ledger: RunLedger(newRun), pendingStart: [])
        runs[runID]!.parent = parent
        engines[partition]?.runs.insert(runID)
        let outcome = await process(runID, actions, newRun: newRun)
        let answer: Result<StartRunResponse, RPCError>
        switch outcome {
        case .committed:
            metrics.runsStarted.increment()
            settleStart(runID, .success(StartRunResponse(runID: runID, created: false)))
            return StartRunResponse(runID: runID, created: true)
        case .duplicateRun(let existing):
            answer = .success(StartRunResponse(runID: existing, created: false))
        case .existingRun(let existingWorkflow, _):
            answer = existingWorkflow == request.workflow
                ? .success(StartRunResponse(runID: runID, created: false))
                : .failure(Self.otherWorkflow(runID, existingWorkflow))
        case .notOwner(let lost):
            answer = .failure(RPCError.notOwner(lost, owner: nil, "its fence moved on"))
        case .rejected(let reason):
            answer = .failure(RPCError(.invalidArgument, "run \(runID) cannot be stored: \(MessageText.escaped(reason, limit: 500))"))
        case .abandoned:
            answer = .failure(RPCError(.unavailable, "the scheduler shut down before the run was stored; retry"))
        }
        settleStart(runID, answer.map { StartRunResponse(runID: $0.runID, created: false) })
        dropRun(runID, failing: RPCError(.unavailable, "the run was not started"))
        return try answer.get()
    }

    /// What a start for `runID` is answered when the run is already known here: open (after its
    /// start committed — or once it does), or closed recently. nil when it is not.
    private func existingStart(_ runID: RunID, _ request: StartRunRequest) async throws -> StartRunResponse? {
        if let run = runs[runID] {
            guard run.machine.workflow.name == request.workflow else { throw Self.otherWorkflow(runID, run.machine.workflow.name) }
            guard run.pendingStart != nil else { return StartRunResponse(runID: runID, created: false) }
            return try await waitForStart(runID)
        }
        if let ledger = recentlyClosed.ledger(of: runID) {
            guard ledger.workflow == request.workflow else { throw Self.otherWorkflow(runID, ledger.workflow) }
            return StartRunResponse(runID: runID, created: false)
        }
        return nil
    }

    private static func otherWorkflow(_ runID: RunID, _ workflow: String) -> RPCError {
        RPCError(.alreadyExists, "run \(runID) exists and belongs to workflow \(MessageText.quoted(workflow)); a start may only repeat the same workflow")
    }

    /// Answers the repeats that waited for the start of `runID`.
    func settleStart(_ runID: RunID, _ result: Result<StartRunResponse, RPCError>) {
        guard let waiting = runs[runID]?.pendingStart else { return }
        runs[runID]!.pendingStart = nil
        for waiter in waiting { waiter.resume(with: result) }
    }

    /// The outputs a retry from the failed nodes reuses: every plain node of closed run `source`
    /// (failed or cancelled, the same workflow version) that succeeded, read from the store — never
    /// from the request.
    private func reusableOutputs(of source: [UInt8], for workflow: ValidatedWorkflow, input: [UInt8]) async throws -> (from: RunID, outputs: [String: [UInt8]]) {
        guard let sourceID = try? RunID(bytes: source) else {
            throw RPCError(.invalidArgument, "resume_of is not a run id (16 bytes)")
        }
        guard let previous = try await store.run(sourceID, includeTasks: true) else {
            throw RPCError(.notFound, "no run \(sourceID) to retry from")
        }
        guard previous.status == .failed || previous.status == .cancelled else {
            throw RPCError(.failedPrecondition, "run \(sourceID) is \(previous.status): only a failed or cancelled run is retried from its failed nodes")
        }
        guard previous.workflow == workflow.name, previous.version == workflow.version.description else {
            throw RPCError(.invalidArgument, "run \(sourceID) ran \(previous.workflow) version \(previous.version), not \(workflow.name) version \(workflow.version)")
        }
        // Outputs computed from one input are no answer for another (a StartRun naming resume_of
        // with an input of its own).
        guard previous.input == input else {
            throw RPCError(.invalidArgument, "run \(sourceID) had another input: a retry from its failed nodes takes its input as it was")
        }
        var outputs: [String: [UInt8]] = [:]
        for task in previous.tasks where task.status == .succeeded && !task.node.contains("[") && workflow.task(named: task.node) != nil {
            outputs[task.node] = task.output
        }
        return (sourceID, outputs)
    }

    /// Refuses a run whose tasks could never run: a queue that has workers, none of which registered
    /// the task's type. (A queue with no worker connected yet is not judged: workers may come.)
    private func checkTaskTypes(of workflow: ValidatedWorkflow) throws {
        if rateLimiter == nil || concurrencyLimiter == nil,
            let limited = workflow.tasks.first(where: { $0.rateLimit != nil || $0.concurrency != nil })
        {
            throw RPCError(
                .failedPrecondition,
                "task '\(limited.name)' has a \(limited.rateLimit != nil ? "rate_limit" : "concurrency limit"), which needs Redis: start the scheduler with --redis URL (or WEFT_REDIS_URL)")
        }
        for task in workflow.tasks where task.runsTask {  // sleep and signal nodes run no task
            let serving = sessions.values.filter { $0.queues.contains(task.queue) }
            guard !serving.isEmpty, !serving.contains(where: { $0.taskTypes.isEmpty || $0.taskTypes.contains(task.type) }) else { continue }
            let offered = Set(serving.flatMap(\.taskTypes)).sorted().joined(separator: ", ")
            throw RPCError(
                .failedPrecondition,
                "task '\(task.name)' has type '\(task.type)', which no worker of queue '\(task.queue)' runs (they run: \(offered))")
        }
    }

    /// Delivers a signal to an open run of this scheduler (`SignalRun`). Returns whether a
    /// waiting node took it now (false: kept until a node waits for it). Acknowledged only after
    /// the signal is committed.
    func signalRun(_ request: SignalRunRequest) async throws -> Bool {
        try RequestChecks.check(request, maxInputBytes: configuration.maxInputBytes)
        let id = request.runID
        try requireServing(id.partition(count: partitionCount))
        try await waitForPendingStart(id)
        guard let run = runs[id] else {
            guard let info = try await store.run(id, includeTasks: false) else {
                throw RPCError(.notFound, "no run \(id)")
            }
            throw RPCError(.failedPrecondition, "run \(id) is closed (\(info.status)): it takes no more signals")
        }
        let waiting = run.machine.workflow.tasks.compactMap(\.waitSignal)
        guard waiting.contains(request.name) else {
            let names = waiting.isEmpty ? "no signal" : Set(waiting).sorted().map { MessageText.quoted($0) }.joined(separator: ", ")
            throw RPCError(
                .invalidArgument,
                "workflow \(MessageText.quoted(run.machine.workflow.name)) has no node waiting for signal \(MessageText.quoted(request.name)) (it waits for \(names))")
        }
        // A signal is not idempotent (a repeat is a second signal): during an outage it is refused
        // before it touches the run, rather than held in memory for a commit a caller may give up
        // on and send again.
        guard storage.isAvailable else {
            throw RPCError(.unavailable, "the database is unavailable (\(storage.unavailableReason)); the signal was not recorded: retry shortly")
        }
        // A run keeps signals for nodes not reached yet, in memory and in Postgres: bounded, so
        // that a sender in a loop cannot grow the scheduler.
        guard run.machine.pendingSignalCount < Self.maxPendingSignals else {
            throw RPCError(
                .resourceExhausted,
                "run \(id) already holds \(Self.maxPendingSignals) signals no node has taken; send more once its signal nodes take them")
        }
        let payload = request.payload.isEmpty ? Array("null".utf8) : request.payload
        let actions = run.machine.signalReceived(name: Self.storable(request.name), payload: payload, now: now())
        if case .ignored? = actions.first {
            throw RPCError(.failedPrecondition, "run \(id) is not running (\(run.machine.status)): it takes no signals")
        }
        let delivered = actions.contains { if case .record(.signalConsumed) = $0 { true } else { false } }
        switch await process(id, actions) {
        case .committed: return delivered
        case .notOwner(let partition): throw RPCError.notOwner(partition, owner: nil, "its fence moved on")
        default: throw RPCError(.unavailable, "the signal could not be stored; retry")
        }
    }

    /// Waits for the outcome of a start of `id` whose commit is in flight, so that a call about
    /// the run acts on it only once it exists for sure.
    private func waitForPendingStart(_ id: RunID) async throws {
        guard runs[id]?.pendingStart != nil else { return }
        _ = try await waitForStart(id)
    }

    /// Joins the callers waiting for the commit of run `id`'s start. The state is looked at again
    /// inside the continuation's body: a full test run once found the start settled between a
    /// caller's check and its wait, and a force-unwrap there stopped the process.
    private func waitForStart(_ id: RunID) async throws -> StartRunResponse {
        try await withCheckedThrowingContinuation { continuation in
            if runs[id]?.pendingStart != nil {
                runs[id]!.pendingStart!.append(continuation)
            } else if runs[id] != nil || recentlyClosed.ledger(of: id) != nil {
                continuation.resume(returning: StartRunResponse(runID: id, created: false))  // committed meanwhile
            } else {
                continuation.resume(throwing: RPCError(.unavailable, "the run was not started; retry"))
            }
        }
    }

    /// Signals run `id` holds that no node has taken (tests, admin).
    func pendingSignals(of id: RunID) -> Int? { runs[id]?.machine.pendingSignalCount }

    /// The most signals a run may hold that no node has taken.
    static let maxPendingSignals = 1_000

    /// `CancelRun`: the run (cooperatively, or `terminate`d), or one node of it with or without
    /// its subtree. Returns the run's status afterwards (a closed run stays as it was).
    func cancelRun(_ request: CancelRunRequest) async throws -> WeftWire.RunStatus {
        try RequestChecks.check(request)
        let id = request.runID
        try requireServing(id.partition(count: partitionCount))
        try await waitForPendingStart(id)
        guard let run = runs[id] else {
            // Not open here: report what Postgres says (closed runs stay as they were).
            guard let info = try await store.run(id, includeTasks: false) else {
                throw RPCError(.notFound, "no run \(id)")
            }
            guard request.node.isEmpty else {
                throw RPCError(.failedPrecondition, "run \(id) is closed (\(info.status)): its nodes cannot be cancelled")
            }
            return info.status
        }
        let actions: [RunStateMachine.Action]
        if request.node.isEmpty {
            let reason = request.reason.isEmpty ? (request.terminate ? "terminated by request" : "cancelled by request") : request.reason
            run.terminating = request.terminate
            actions = run.machine.cancelRequested(reason: reason, terminate: request.terminate, now: now())
        } else {
            let reason = request.reason.isEmpty ? "cancelled by request" : request.reason
            actions = run.machine.nodeCancelRequested(node: request.node, subtree: request.subtree, reason: reason, now: now())
            if case .ignored(let ignored)? = actions.first {
                switch ignored.reason {
                case .unknownNode:
                    throw RPCError(
                        .invalidArgument,
                        "workflow \(MessageText.quoted(run.machine.workflow.name)) has no node \(MessageText.quoted(request.node)) (map elements are cancelled with their map node)")
                case .nodeFinished:
                    throw RPCError(.failedPrecondition, "node \(MessageText.quoted(request.node)) of run \(id) has already finished")
                default:
                    throw RPCError(.failedPrecondition, "run \(id) is not running (\(run.machine.status)): \(ignored.reason)")
                }
            }
        }
        switch await process(id, actions) {
        case .committed:
            switch run.machine.status {  // the run object outlives its entry when it closed
            case .pending, .running: return .running
            case .succeeded: return .succeeded
            case .failed: return .failed
            case .cancelled: return .cancelled
            }
        case .notOwner(let partition): throw RPCError.notOwner(partition, owner: nil, "its fence moved on")
        default: throw RPCError(.unavailable, "the cancel could not be stored; retry")
        }
    }

    /// Returns once the run is closed (at once if it is not open here): the closed run with its
    /// tasks when this scheduler saw all of it (open now, or among the `recentlyClosed`), `nil`
    /// when the caller must read Postgres (closed long ago, or recovered after a restart).
    ///
    /// Cancellable: a caller that gives up (its deadline passed, it went away) is forgotten at
    /// once and gets `CancellationError`, so waits on a long run do not pile up. Throws
    /// `NOT_OWNER` for a run of a partition this scheduler does not own (or stops owning).
    func waitUntilClosed(_ id: RunID) async throws -> RunInfo? {
        try requireServing(id.partition(count: partitionCount))
        guard runs[id] != nil else { return recentlyClosed.info(of: id, now: .now) }
        let token = nextWaiterID
        nextWaiterID += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                runs[id]!.waiters[token] = continuation
                waiting += 1
            }
        } onCancel: {
            // Runs after the registration above: this task is enqueued behind the current job.
            Task(executorPreference: loop) { await self.stopWaiting(id, token) }
        }
    }

    private func stopWaiting(_ id: RunID, _ token: UInt64) {
        guard let continuation = runs[id]?.waiters.removeValue(forKey: token) else { return }
        waiting -= 1
        continuation.resume(throwing: CancellationError())
    }

    // MARK: Leaving memory

    /// The run is closed and committed: forget it and wake whoever waits for it.
    func closeRun(_ runID: RunID) {
        guard let run = forget(runID, givingSlotsBack: true) else { return }
        if let parent = run.parent { childClosed(runID, parent: parent, status: run.machine.status) }
        let info = run.waiters.isEmpty ? nil : run.ledger?.info()
        waiting -= run.waiters.count
        for waiter in run.waiters.values { waiter.resume(returning: info) }
        for waiter in run.pendingStart ?? [] { waiter.resume(returning: StartRunResponse(runID: runID, created: false)) }
        if let ledger = run.ledger { recentlyClosed.insert(ledger, now: .now) }
    }

    /// The run leaves memory without closing here (not started, or its engine stopped): waiters
    /// and repeated starts get `error`.
    func dropRun(_ runID: RunID, failing error: RPCError) {
        guard let run = forget(runID, givingSlotsBack: false) else { return }
        waiting -= run.waiters.count
        for waiter in run.waiters.values { waiter.resume(throwing: error) }
        for waiter in run.pendingStart ?? [] { waiter.resume(throwing: error) }
    }

    /// Removes the run and everything that refers to it: timers, queued tasks, worker bookkeeping,
    /// concurrency slots (given back only when the run closed here: see `forgetSlots`).
    private func forget(_ runID: RunID, givingSlotsBack: Bool) -> ActiveRun? {
        guard let run = runs.removeValue(forKey: runID) else { return nil }
        if !heldSlots.isEmpty { forgetSlots(of: runID, attempts: run.attempts.keys, giveBack: givingSlotsBack) }
        if !cacheEntries.isEmpty { for key in run.attempts.keys { cacheEntries.removeValue(forKey: AttemptRef(runID: runID, key: key)) } }
        engines[run.partition]?.runs.remove(runID)
        for handle in run.timers.values { loop.cancelTimer(handle) }
        for (key, place) in run.attempts {
            switch place {
            case .queued(let ticket): dispatcher.remove(ticket)
            case .rateLimited(let ticket): rateGate.remove(ticket)
            case .concurrencyLimited(let ticket): concurrencyGate.remove(ticket)
            case .cacheLookup, .fromCache: break
            case .breakerHeld(let ticket):
                breakerGate.remove(ticket)
                breakerNoted.remove(Self.member(runID, key))
            case .running(let worker, _): sessions[worker]?.attempts.remove(AttemptRef(runID: runID, key: key))
            case .child: break  // the child run goes on; whoever owns the parent next reconciles
            }
        }
        return run
    }
}

/// Settings of a scheduler's engine.
public struct SchedulerConfiguration: Sendable {
    public var nodeID: String
    /// How long a disconnected worker's attempts wait for it to come back before they fail.
    public var workerLostGrace: Duration = .seconds(3)
    /// The largest run input accepted. Default 1 MiB.
    public var maxInputBytes = 1 << 20
    /// Which client-chosen run ids are accepted (ARCHITECTURE.md §3).
    public var runIDPolicy = RunIDPolicy()
    /// The engine's time base.
    public var clock: any WallClock = SystemWallClock()
    /// Seeds run ids and backoff jitter; nil: from the system generator.
    public var randomSeed: UInt64?
    /// Refuses new runs past a resident-memory limit; nil: none.
    public var memoryGuard: MemoryGuard?
    /// The largest result-cache entry (compressed); larger outputs are not cached.
    public var cacheMaxEntryBytes = 512 << 10

    public init(nodeID: String) {
        self.nodeID = nodeID
    }
}

/// The scheduler's counters (swift-metrics; Prometheus with `--metrics`). Gauges of its state are
/// sampled by `SchedulerService`.
struct SchedulerMetrics {
    let runsStarted = Counter(label: "weft_runs_started_total")
    let attemptsDispatched = Counter(label: "weft_task_attempts_dispatched_total")
    let fenceLosses = Counter(label: "weft_partition_fence_losses_total")
    let runsPoisoned = Counter(label: "weft_runs_poisoned_total")
    let rateLimitWaits = Counter(label: "weft_rate_limit_waits_total")
    let concurrencyLimitWaits = Counter(label: "weft_concurrency_limit_waits_total")

    enum CacheOutcome: String, CaseIterable {
        case hit, miss, error, stored, skipped
        case tooLarge = "too_large"
    }

    private let lookups = Dictionary(uniqueKeysWithValues: [CacheOutcome.hit, .miss, .error, .skipped].map {
        ($0, Counter(label: "weft_cache_lookups_total", dimensions: [("outcome", $0.rawValue)]))
    })
    private let stores = Dictionary(uniqueKeysWithValues: [CacheOutcome.stored, .tooLarge, .error].map {
        ($0, Counter(label: "weft_cache_stores_total", dimensions: [("outcome", $0.rawValue)]))
    })

    func cacheLookups(_ outcome: CacheOutcome) { lookups[outcome]?.increment() }

    let breakerFastFailures = Counter(label: "weft_breaker_fast_failures_total")
    private let breakerTransitions = [
        CircuitBreakers.Transition.opened: Counter(label: "weft_breaker_transitions_total", dimensions: [("to", "open")]),
        .closed: Counter(label: "weft_breaker_transitions_total", dimensions: [("to", "closed")]),
    ]

    func breakerTransition(_ transition: CircuitBreakers.Transition) { breakerTransitions[transition]?.increment() }
    func cacheStores(_ outcome: CacheOutcome) { stores[outcome]?.increment() }
    private let runsClosed: [RunStatusText: Counter] = [
        .succeeded: Counter(label: "weft_runs_closed_total", dimensions: [("status", "succeeded")]),
        .failed: Counter(label: "weft_runs_closed_total", dimensions: [("status", "failed")]),
        .cancelled: Counter(label: "weft_runs_closed_total", dimensions: [("status", "cancelled")]),
    ]

    func closed(_ status: RunStatusText) { runsClosed[status]?.increment() }
}
