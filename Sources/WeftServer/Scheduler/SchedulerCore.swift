import Glibc
import Logging
import Metrics
import WeftCore
import WeftEngine
import WeftPostgres
import WeftTransport
import WeftWire

/// The scheduler's engine shell (ARCHITECTURE.md §4–§5): the open runs of the partitions this node
/// owns, each a `RunStateMachine`; the `Dispatcher` that pushes ready tasks to connected workers
/// within their credits; the timers; and the group-commit writer every change goes through.
///
/// Isolation: an actor whose executor is the event loop, so RPC handlers (which run on the loop)
/// call it without a thread hop, and loop timers enter it directly.
///
/// The durability rule: an event's `record` actions are written (one batch, fenced) before any of
/// its effects happen — no client is acknowledged and no successor is dispatched before the commit.
/// Everything the state machine decided is therefore in Postgres before anyone can observe it,
/// which is what makes a `kill -9` at any moment safe: recovery rebuilds the frontier from the
/// rows. A failed commit (ownership lost, Postgres gone past the writer's retries) leaves memory
/// ahead of the database, so the core stops the process (`fatal`): crash-only, a restart
/// recovers from the durable truth.
actor SchedulerCore {
    nonisolated let loop: EventLoop
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }

    struct AttemptKey: Hashable {
        var node: NodeKey
        var attempt: Int
    }

    enum AttemptPlace {
        case queued(queue: String, ticket: UInt64)
        case running(worker: Dispatcher<QueuedTask>.WorkerID, name: String, startedAt: Int64)
    }

    struct ActiveRun {
        var machine: RunStateMachine
        var partition: PartitionID
        var priorityLevel: Int?
        var timers: [TimerID: UInt64] = [:]
        var attempts: [AttemptKey: AttemptPlace] = [:]
        /// Every row written for the run, for answering `WaitRun` from memory; `nil` for a run
        /// recovered after a restart (see `RunLedger`).
        var ledger: RunLedger?
        var waiters: [UInt64: CheckedContinuation<RunInfo?, any Error>] = [:]
    }

    struct QueuedTask: Sendable {
        var runID: RunID
        var assignment: TaskAssignment
    }

    struct WorkerSession {
        var name: String
        var writer: RPCStreamWriter
        var queues: Set<String>
        var taskTypes: Set<String>
        var attempts: Set<AttemptRef> = []
    }

    struct AttemptRef: Hashable {
        var runID: RunID
        var key: AttemptKey
    }

    let writer: GroupCommitWriter<RunWriteBatch, RunWriteOutcome>
    let store: RunStore
    let catalog: WorkflowCatalog
    let partitionCount: Int
    let logger: Logger
    let configuration: SchedulerConfiguration
    private let fatal: @Sendable (String) -> Void
    private(set) var fences: [PartitionID: Fence] = [:]
    private(set) var ready = false
    private var runs: [RunID: ActiveRun] = [:]
    private var dispatcher = Dispatcher<QueuedTask>()
    private var sessions: [Dispatcher<QueuedTask>.WorkerID: WorkerSession] = [:]
    private var nextWorkerID: UInt64 = 1
    private var nextWaiterID: UInt64 = 1
    /// `WaitRun` calls waiting for a run to close.
    private(set) var waiting = 0
    private var historySeq: Int64
    private var pumpScheduled = false
    private var random = SystemRandomNumberGenerator()
    private let metrics = SchedulerMetrics()
    private var recentlyClosed = RecentlyClosedRuns()

    init(
        loop: EventLoop, writer: GroupCommitWriter<RunWriteBatch, RunWriteOutcome>, store: RunStore, partitionCount: Int,
        configuration: SchedulerConfiguration, logger: Logger, fatal: @escaping @Sendable (String) -> Void
    ) {
        self.loop = loop
        self.writer = writer
        self.store = store
        self.catalog = WorkflowCatalog(store: store)
        self.partitionCount = partitionCount
        self.configuration = configuration
        self.logger = logger
        self.fatal = fatal
        // History sequence numbers: time-based so that they grow across restarts too.
        self.historySeq = Int64(Self.nowMilliseconds()) << 20
    }

    /// Wall-clock milliseconds: the engine's time base (durable deadlines survive restarts).
    static func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    var openRuns: Int { runs.count }
    var connectedWorkers: Int { sessions.count }
    var queueDepths: [String: Int] { dispatcher.queueDepths }

    // MARK: Ownership and recovery

    /// Takes ownership (fences from the claim) and rebuilds the open runs of those partitions.
    func recover(fences claimed: [PartitionID: Fence]) async throws {
        fences = claimed
        let started = ContinuousClock.now
        let open = try await store.openRuns(partitions: Array(claimed.keys))
        var recovered = 0
        // Re-recording the frontier goes through the writer like any event; many runs in flight
        // at once let the writer batch them (one commit per run would take minutes for 100k runs).
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for run in open {
                do {
                    let workflow = try await catalog.workflow(name: run.workflow, version: run.version)
                    let snapshot = Self.snapshot(of: run, workflow: workflow)
                    let (machine, actions) = try RunStateMachine.recover(
                        runID: run.runID, workflow: workflow, snapshot: snapshot, seed: random.next(), now: now())
                    runs[run.runID] = ActiveRun(machine: machine, partition: run.partition, priorityLevel: Self.level(storedPriority: run.priority))
                    let id = run.runID
                    group.addTask(executorPreference: loop) { _ = await self.process(id, actions) }
                    inFlight += 1
                    recovered += 1
                    if inFlight >= 4096 {
                        await group.next()
                        inFlight -= 1
                    }
                } catch {
                    logger.error("cannot recover a run; it stays open in Postgres", metadata: ["run.id": "\(run.runID)", "error": "\(error)"])
                }
            }
        }
        ready = true
        logger.notice("recovered open runs", metadata: [
            "runs": "\(recovered)", "partitions": "\(claimed.count)", "duration": "\(ContinuousClock.now - started)",
        ])
        schedulePump()
    }

    /// Rebuilds a run's snapshot from the latest attempt of each node.
    static func snapshot(of run: RunStore.OpenRun, workflow: ValidatedWorkflow) -> RunSnapshot {
        var nodes: [NodeKey: NodeSnapshot] = [:]
        var terminalMaps: Set<String> = []
        for attempt in run.latestAttempts {
            guard let key = NodeKey(parsing: attempt.node) else { continue }
            let isMap = key.index == nil && workflow.task(named: key.name)?.map == true
            let status: NodeSnapshot.Status
            switch attempt.status {
            case "scheduled": status = .scheduled
            case "retry_wait": status = .backingOff(until: EngineInstant(unixMilliseconds: attempt.scheduledAt))
            case "mapping": status = .mapping(width: Int(String(decoding: attempt.output ?? [], as: UTF8.self)) ?? 0)
            case "succeeded": status = .succeeded(output: attempt.output ?? [])
            case "failed", "timed_out":
                status = .failed(TaskFailure(kind: attempt.errorKind ?? "Failed", message: attempt.error ?? "", retryable: false))
            default: status = .cancelled
            }
            if isMap && status.isTerminal { terminalMaps.insert(key.name) }
            let attempts: Int
            switch status {
            case .backingOff: attempts = attempt.attempt - 1
            case .mapping: attempts = 0
            default: attempts = isMap ? 0 : attempt.attempt
            }
            nodes[key] = NodeSnapshot(status, attempts: attempts)
        }
        for key in nodes.keys where key.index != nil && terminalMaps.contains(key.name) { nodes[key] = nil }
        return RunSnapshot(status: .running, input: run.input, nodes: nodes)
    }

    // MARK: Client calls

    func startRun(_ request: StartRunRequest) async throws -> StartRunResponse {
        try requireReady()
        let runID = request.runID ?? RunID(unixMilliseconds: UInt64(Self.nowMilliseconds()), using: &random)
        let partition = runID.partition(count: partitionCount)
        guard fences[partition] != nil else {
            throw RPCError(.failedPrecondition, "this scheduler does not own partition \(partition)")
        }
        // A start retried after its answer was lost (the coordinator retries with the same id):
        // the run exists, and must not be started twice.
        if runs[runID] != nil || recentlyClosed.contains(runID) { return StartRunResponse(runID: runID, created: false) }
        guard request.input.count <= configuration.maxInputBytes else {
            throw RPCError(.invalidArgument, "the run input is \(request.input.count) bytes; the limit is \(configuration.maxInputBytes)")
        }
        if !request.idempotencyKey.isEmpty, let existing = try await store.idempotencyKey(request.idempotencyKey) {
            return StartRunResponse(runID: existing, created: false)
        }
        let workflow = try await catalog.workflow(name: request.workflow, version: request.version.isEmpty ? nil : request.version)
        try checkTaskTypes(of: workflow)
        let level: Int? = switch request.priority {
        case .unspecified: nil
        case .low: 0
        case .normal: 1
        case .high: 2
        case .critical: 3
        }
        var machine = RunStateMachine(runID: runID, workflow: workflow, seed: random.next())
        let actions = machine.started(input: request.input, now: now())
        let newRun = NewRunRow(
            runID: runID, workflow: workflow.name, version: workflow.version.description,
            priority: level.map { 3 - $0 } ?? 2, input: request.input,
            idempotencyKey: request.idempotencyKey.isEmpty ? nil : request.idempotencyKey)
        runs[runID] = ActiveRun(machine: machine, partition: partition, priorityLevel: level, ledger: RunLedger(newRun))
        switch await process(runID, actions, newRun: newRun) {
        case .committed:
            metrics.runsStarted.increment()
            return StartRunResponse(runID: runID, created: true)
        case .duplicateRun(let existing):
            dropRun(runID)
            return StartRunResponse(runID: existing, created: false)
        }
    }

    /// Refuses a run whose tasks could never run: a queue that has workers, none of which registered
    /// the task's type. (A queue with no worker connected yet is not judged: workers may come.)
    private func checkTaskTypes(of workflow: ValidatedWorkflow) throws {
        for task in workflow.tasks {
            let serving = sessions.values.filter { $0.queues.contains(task.queue) }
            guard !serving.isEmpty, !serving.contains(where: { $0.taskTypes.contains(task.type) }) else { continue }
            let offered = Set(serving.flatMap(\.taskTypes)).sorted().joined(separator: ", ")
            throw RPCError(
                .failedPrecondition,
                "task '\(task.name)' has type '\(task.type)', which no worker of queue '\(task.queue)' runs (they run: \(offered))")
        }
    }

    func cancelRun(_ id: RunID, reason: String) async throws -> WeftWire.RunStatus {
        try requireReady()
        guard runs[id] != nil else {
            // Not open here: report what Postgres says (closed runs stay as they were).
            guard let info = try await store.run(id, includeTasks: false) else {
                throw RPCError(.notFound, "no run \(id)")
            }
            return info.status
        }
        let actions = runs[id]!.machine.cancelRequested(reason: reason.isEmpty ? "cancelled by request" : reason, now: now())
        _ = await process(id, actions)
        return .cancelled
    }

    /// Returns once the run is closed (at once if it is not open here): the closed run with its
    /// tasks when this scheduler saw all of it (open now, or among the `recentlyClosed`), `nil`
    /// when the caller must read Postgres (closed long ago, elsewhere, or recovered after a restart).
    ///
    /// Cancellable: a caller that gives up (its deadline passed, it went away) is forgotten at
    /// once and gets `CancellationError`, so waits on a long run do not pile up.
    func waitUntilClosed(_ id: RunID) async throws -> RunInfo? {
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

    // MARK: Workers

    func workerConnected(hello: WorkerHelloMessage, writer: RPCStreamWriter) -> Dispatcher<QueuedTask>.WorkerID {
        let id = Dispatcher<QueuedTask>.WorkerID(nextWorkerID)
        nextWorkerID += 1
        let queues = hello.queues.isEmpty ? ["default"] : hello.queues
        sessions[id] = WorkerSession(name: Self.storable(hello.workerID), writer: writer, queues: Set(queues), taskTypes: Set(hello.taskTypes))
        dispatcher.workerConnected(id, queues: queues)
        logger.info("worker connected", metadata: [
            "worker.id": "\(hello.workerID)", "queues": "\(hello.queues.joined(separator: ","))",
            "task.types": "\(hello.taskTypes.joined(separator: ","))",
        ])
        return id
    }

    /// Applies one message of a worker's stream. The state machines change at once, in stream
    /// order; the resulting writes (and what follows them) proceed concurrently, so one worker's
    /// stream never waits for a commit and its results share batches with everyone else's.
    func workerMessage(_ id: Dispatcher<QueuedTask>.WorkerID, _ message: WorkerMessage) {
        switch message {
        case .hello:
            return  // only the first message is a hello; a repeat changes nothing
        case .credits(let grant):
            dispatcher.creditsGranted(id, Int(grant.credits))
            schedulePump()
        case .heartbeat(let heartbeat):
            for ref in heartbeat.attempts {
                guard let key = attemptKey(ref), runs[ref.runID] != nil else { continue }
                let actions = runs[ref.runID]!.machine.heartbeatReceived(node: key.node, attempt: key.attempt, now: now())
                processLater(ref.runID, actions)
            }
        case .completed(let done):
            guard let key = attemptKey(done.ref) else { return }
            forget(AttemptRef(runID: done.ref.runID, key: key), session: id)
            guard runs[done.ref.runID] != nil else { return }  // closed, or not ours: stale
            let actions = runs[done.ref.runID]!.machine.taskCompleted(node: key.node, attempt: key.attempt, output: done.output, now: now())
            processLater(done.ref.runID, actions)
        case .failed(let failed):
            guard let key = attemptKey(failed.ref) else { return }
            forget(AttemptRef(runID: failed.ref.runID, key: key), session: id)
            guard runs[failed.ref.runID] != nil else { return }
            let failure = TaskFailure(
                kind: failed.kind.isEmpty ? "Error" : Self.storable(failed.kind), message: Self.storable(failed.message),
                retryable: failed.retryable)
            let actions = runs[failed.ref.runID]!.machine.taskFailed(node: key.node, attempt: key.attempt, failure: failure, now: now())
            processLater(failed.ref.runID, actions)
        }
    }

    /// `process` in a task of its own on the loop. Tasks start in the order they are created, so
    /// the writes of one run still reach the writer in event order.
    private func processLater(_ runID: RunID, _ actions: [RunStateMachine.Action]) {
        guard !actions.isEmpty else { return }
        Task(executorPreference: loop) { _ = await self.process(runID, actions) }
    }

    /// The worker's stream ended: its attempts fail (as `WorkerLost`, retryable) after a grace
    /// period unless it reports them again from a new stream.
    func workerDisconnected(_ id: Dispatcher<QueuedTask>.WorkerID) {
        dispatcher.workerDisconnected(id)
        guard let session = sessions.removeValue(forKey: id) else { return }
        logger.info("worker disconnected", metadata: ["worker.id": "\(session.name)", "attempts.in_flight": "\(session.attempts.count)"])
        guard !session.attempts.isEmpty else { return }
        let attempts = session.attempts
        loop.scheduleTimer(after: configuration.workerLostGrace) { [self] in
            Task(executorPreference: loop) { await self.attemptsLost(attempts, from: id) }
        }
    }

    private func attemptsLost(_ attempts: Set<AttemptRef>, from id: Dispatcher<QueuedTask>.WorkerID) async {
        for ref in attempts {
            guard let run = runs[ref.runID], case .running(let worker, _, _) = run.attempts[ref.key], worker == id else { continue }
            runs[ref.runID]!.attempts[ref.key] = nil
            let actions = runs[ref.runID]!.machine.workerLost(node: ref.key.node, attempt: ref.key.attempt, now: now())
            _ = await process(ref.runID, actions)
        }
    }

    private func attemptKey(_ ref: AttemptReference) -> AttemptKey? {
        guard let node = NodeKey(parsing: ref.node) else { return nil }
        return AttemptKey(node: node, attempt: Int(ref.attempt))
    }

    private func forget(_ ref: AttemptRef, session id: Dispatcher<QueuedTask>.WorkerID) {
        sessions[id]?.attempts.remove(ref)
    }

    // MARK: Dispatch

    private func schedulePump() {
        guard !pumpScheduled else { return }
        pumpScheduled = true
        Task(executorPreference: loop) { await self.pump() }
    }

    /// Hands ready tasks to workers with credits.
    private func pump() async {
        pumpScheduled = false
        let assignments = dispatcher.nextAssignments(now: Self.nowMilliseconds())
        for (worker, task) in assignments {
            let key = AttemptKey(node: task.assignment.node, attempt: task.assignment.attempt)
            guard let session = sessions[worker], runs[task.runID] != nil,
                  case .queued = runs[task.runID]!.attempts[key]
            else { continue }  // the run closed or the attempt was cancelled meanwhile
            let started = Self.nowMilliseconds()
            runs[task.runID]!.attempts[key] = .running(worker: worker, name: session.name, startedAt: started)
            sessions[worker]!.attempts.insert(AttemptRef(runID: task.runID, key: key))
            let message = SchedulerMessage.assignment(TaskAssignmentMessage(
                ref: AttemptReference(
                    runID: task.runID, node: key.node.description, attempt: UInt32(key.attempt),
                    fence: fences[runs[task.runID]!.partition]?.rawValue ?? 0),
                taskType: task.assignment.type, input: task.assignment.input,
                startToCloseMilliseconds: task.assignment.timeouts.startToClose.map { UInt64($0 / .milliseconds(1)) } ?? 0,
                heartbeatMilliseconds: task.assignment.timeouts.heartbeat.map { UInt64($0 / .milliseconds(1)) } ?? 0,
                workflow: runs[task.runID]!.machine.workflow.name))
            do {
                try await session.writer.send(message)
            } catch {
                // The stream broke; the disconnect path fails the attempt after the grace period.
                continue
            }
            guard runs[task.runID] != nil else { continue }
            metrics.attemptsDispatched.increment()
            let actions = runs[task.runID]!.machine.taskDispatched(node: key.node, attempt: key.attempt, worker: session.name, now: now())
            _ = await process(task.runID, actions)
        }
    }

    // MARK: Timers

    private func timerFired(_ runID: RunID, _ timer: TimerID) async {
        guard runs[runID] != nil else { return }
        runs[runID]!.timers[timer] = nil
        let actions = runs[runID]!.machine.timerFired(timer, now: now())
        _ = await process(runID, actions)
    }

    // MARK: Actions

    /// Writes the records of `actions` (with `newRun`, for a run being started), then carries out
    /// the rest. See the type's documentation for the durability rule.
    private func process(_ runID: RunID, _ actions: [RunStateMachine.Action], newRun: NewRunRow? = nil) async -> RunWriteOutcome {
        guard let run = runs[runID] else { return .committed }
        let at = Self.nowMilliseconds()
        var batch = RunWriteBatch(partition: run.partition)
        batch.newRun = newRun
        var effects: [RunStateMachine.Action] = []
        for action in actions {
            switch action {
            case .record(let event):
                append(event, of: runID, run: run, at: at, to: &batch)
            case .cancelTimer(let timer):
                if let handle = runs[runID]?.timers.removeValue(forKey: timer) { loop.cancelTimer(handle) }
            case .ignored(let ignored):
                logger.debug("event ignored", metadata: ["run.id": "\(runID)", "reason": "\(ignored)"])
            default:
                effects.append(action)
            }
        }
        if !batch.isEmpty {
            // Applied in submission order, which is commit order (the writer is FIFO); it is read
            // only when the run's close has committed, so by then every row in it has too.
            runs[runID]?.ledger?.apply(batch)
            do {
                let outcome = try await writer.submit(batch)
                if outcome != .committed { return outcome }
            } catch {
                fatal("a write for run \(runID) failed after the state machine moved on: \(error)")
                return .committed
            }
        }
        var closed: String?
        for effect in effects {
            switch effect {
            case .dispatch(let assignment):
                guard runs[runID] != nil else { continue }
                let level = runs[runID]!.priorityLevel ?? assignment.priority.rank
                let ticket = dispatcher.enqueue(QueuedTask(runID: runID, assignment: assignment), queue: assignment.queue, level: level, now: at)
                runs[runID]!.attempts[AttemptKey(node: assignment.node, attempt: assignment.attempt)] = .queued(queue: assignment.queue, ticket: ticket)
                schedulePump()
            case .cancelAttempt(let node, let attempt):
                cancelAttempt(runID, AttemptKey(node: node, attempt: attempt))
            case .schedule(let timer, let deadline):
                guard runs[runID] != nil else { continue }
                if let old = runs[runID]!.timers[timer] { loop.cancelTimer(old) }
                let delay = Duration.milliseconds(max(0, deadline.unixMilliseconds - Self.nowMilliseconds()))
                runs[runID]!.timers[timer] = loop.scheduleTimer(after: delay) { [self] in
                    Task(executorPreference: loop) { await self.timerFired(runID, timer) }
                }
            case .completeRun:
                closed = "succeeded"
            case .failRun:
                closed = "failed"
            case .cancelRun:
                closed = "cancelled"
            case .record, .cancelTimer, .ignored:
                break
            }
        }
        if let closed {
            metrics.closed(closed)
            closeRun(runID)
        }
        return .committed
    }

    private func cancelAttempt(_ runID: RunID, _ key: AttemptKey) {
        guard let place = runs[runID]?.attempts.removeValue(forKey: key) else { return }
        switch place {
        case .queued(let queue, let ticket):
            dispatcher.remove(queue: queue, ticket: ticket)
        case .running(let worker, _, _):
            guard let session = sessions[worker] else { return }
            sessions[worker]?.attempts.remove(AttemptRef(runID: runID, key: key))
            let message = SchedulerMessage.cancel(CancelAttemptMessage(
                ref: AttemptReference(runID: runID, node: key.node.description, attempt: UInt32(key.attempt), fence: 0),
                reason: "cancelled by the scheduler"))
            Task(executorPreference: loop) {
                // A worker that is gone cannot be told; its attempt result will be ignored as stale.
                try? await session.writer.send(message)
            }
        }
    }

    /// The run is closed and committed: forget it and wake whoever waits for it.
    private func closeRun(_ runID: RunID) {
        guard let run = runs.removeValue(forKey: runID) else { return }
        for handle in run.timers.values { loop.cancelTimer(handle) }
        for (key, place) in run.attempts {
            if case .queued(let queue, let ticket) = place { dispatcher.remove(queue: queue, ticket: ticket) }
            if case .running(let worker, _, _) = place { sessions[worker]?.attempts.remove(AttemptRef(runID: runID, key: key)) }
        }
        let info = run.waiters.isEmpty ? nil : run.ledger?.info()
        waiting -= run.waiters.count
        for waiter in run.waiters.values { waiter.resume(returning: info) }
        if let ledger = run.ledger { recentlyClosed.insert(ledger, now: .now) }
    }

    private func dropRun(_ runID: RunID) {
        guard let run = runs.removeValue(forKey: runID) else { return }
        for handle in run.timers.values { loop.cancelTimer(handle) }
        for place in run.attempts.values {
            if case .queued(let queue, let ticket) = place { dispatcher.remove(queue: queue, ticket: ticket) }
        }
        waiting -= run.waiters.count
        for waiter in run.waiters.values { waiter.resume(returning: nil) }  // they read Postgres
    }

    /// Turns one history event into row changes (see `RunWrites.swift`).
    private func append(_ event: HistoryEvent, of runID: RunID, run: ActiveRun, at: Int64, to batch: inout RunWriteBatch) {
        func history(_ kind: String, _ detail: String = "") {
            historySeq += 1
            batch.history.append(HistoryRow(runID: runID, seq: historySeq, at: at, kind: kind, body: Array(detail.utf8)))
        }
        func started(_ key: AttemptKey) -> (worker: String?, startedAt: Int64?) {
            if case .running(_, let name, let startedAt) = run.attempts[key] { return (name, startedAt) }
            return (nil, nil)
        }
        switch event {
        case .runStarted:
            history("run_started")
        case .attemptScheduled(let node, let attempt):
            batch.attempts.append(AttemptRow(runID: runID, node: node.description, attempt: attempt, status: "scheduled", scheduledAt: at))
            history("attempt_scheduled", "\(node)#\(attempt)")
        case .attemptStarted:
            break  // kept in memory; worker and start time are written with the attempt's end
        case .attemptCompleted(let node, let attempt, let output):
            let (worker, startedAt) = started(AttemptKey(node: node, attempt: attempt))
            batch.finishes.append(AttemptFinish(
                runID: runID, node: node.description, attempt: attempt, status: "succeeded", output: output,
                worker: worker, startedAt: startedAt, finishedAt: at))
            history("attempt_completed", "\(node)#\(attempt)")
        case .attemptFailed(let node, let attempt, let failure):
            let (worker, startedAt) = started(AttemptKey(node: node, attempt: attempt))
            batch.finishes.append(AttemptFinish(
                runID: runID, node: node.description, attempt: attempt, status: "failed", errorKind: failure.kind,
                error: failure.message, worker: worker, startedAt: startedAt, finishedAt: at))
            history("attempt_failed", "\(node)#\(attempt) \(failure)")
        case .attemptTimedOut(let node, let attempt, let timeout):
            let (worker, startedAt) = started(AttemptKey(node: node, attempt: attempt))
            let failure = TaskFailure.timeout(timeout)
            batch.finishes.append(AttemptFinish(
                runID: runID, node: node.description, attempt: attempt, status: "timed_out", errorKind: failure.kind,
                error: failure.message, worker: worker, startedAt: startedAt, finishedAt: at))
            history("attempt_timed_out", "\(node)#\(attempt) \(timeout)")
        case .retryScheduled(let node, let attempt, let due):
            batch.attempts.append(AttemptRow(
                runID: runID, node: node.description, attempt: attempt, status: "retry_wait", scheduledAt: due.unixMilliseconds))
            history("retry_scheduled", "\(node)#\(attempt) at \(due.unixMilliseconds)")
        case .nodeFailed(let node, let failure):
            if node.index == nil, run.machine.workflow.task(named: node.name)?.map == true {
                batch.finishes.append(AttemptFinish(
                    runID: runID, node: node.description, attempt: 1, status: "failed", errorKind: failure.kind,
                    error: failure.message, finishedAt: at))
            }
            history("node_failed", "\(node) \(failure)")
        case .mapExpanded(let node, let width):
            batch.attempts.append(AttemptRow(
                runID: runID, node: node.description, attempt: 1, status: "mapping", scheduledAt: at, output: Array(String(width).utf8)))
            history("map_expanded", "\(node) width \(width)")
        case .mapCompleted(let node, let output):
            batch.finishes.append(AttemptFinish(runID: runID, node: node.description, attempt: 1, status: "succeeded", output: output, finishedAt: at))
            history("map_completed", "\(node)")
        case .runCompleted(let output):
            batch.closes.append(RunClose(runID: runID, status: "succeeded", output: output, closedAt: at))
            history("run_completed")
        case .runFailed(let failure):
            batch.closes.append(RunClose(runID: runID, status: "failed", error: failure.description, closedAt: at))
            history("run_failed", failure.description)
        case .runCancelled(let reason):
            batch.closes.append(RunClose(runID: runID, status: "cancelled", error: reason, closedAt: at))
            history("run_cancelled", reason)
        }
    }

    // MARK: Helpers

    /// A string a worker sent, made storable as Postgres text (which cannot hold NUL) here, at the
    /// boundary, so that memory (`RunLedger`, what `WaitRun` returns) and the rows agree.
    static func storable(_ text: String) -> String { PostgresBinaryArray.storableText(text) }

    private func now() -> EngineInstant { EngineInstant(unixMilliseconds: Self.nowMilliseconds()) }

    private func requireReady() throws {
        guard ready else { throw RPCError(.unavailable, "the scheduler is still recovering its partitions; retry shortly") }
    }

    /// `runs.priority` (0 critical … 3 low) → ready-queue level (3 critical … 0 low).
    static func level(storedPriority: Int) -> Int? {
        storedPriority == 2 ? nil : max(0, min(3, 3 - storedPriority))
    }
}

/// Settings of a scheduler.
public struct SchedulerConfiguration: Sendable {
    public var nodeID: String
    /// The address workers and coordinators reach this scheduler at (written with the fence).
    public var advertise: String
    /// How long a disconnected worker's attempts wait for it to come back before they fail.
    public var workerLostGrace: Duration = .seconds(3)
    /// The largest run input accepted. Default 1 MiB.
    public var maxInputBytes = 1 << 20

    public init(nodeID: String, advertise: String) {
        self.nodeID = nodeID
        self.advertise = advertise
    }
}


/// The scheduler's counters (swift-metrics; Prometheus with `--metrics`). Gauges of its state are
/// sampled by `SchedulerService`.
struct SchedulerMetrics {
    let runsStarted = Counter(label: "weft_runs_started_total")
    let attemptsDispatched = Counter(label: "weft_task_attempts_dispatched_total")
    private let runsClosed = [
        "succeeded": Counter(label: "weft_runs_closed_total", dimensions: [("status", "succeeded")]),
        "failed": Counter(label: "weft_runs_closed_total", dimensions: [("status", "failed")]),
        "cancelled": Counter(label: "weft_runs_closed_total", dimensions: [("status", "cancelled")]),
    ]

    func closed(_ status: String) { runsClosed[status]?.increment() }
}
