import Logging
import Metrics
import WeftCore
import WeftEngine
import WeftPostgres
import WeftTransport
import WeftWire

extension SchedulerCore {
    // MARK: Workers

    func workerConnected(hello: WorkerHelloMessage, writer: RPCStreamWriter) -> Dispatcher<QueuedTask>.WorkerID {
        let id = Dispatcher<QueuedTask>.WorkerID(nextWorkerID)
        nextWorkerID += 1
        let queues = hello.queues.isEmpty ? ["default"] : hello.queues
        let taskTypes = hello.taskTypes.map(Self.storable)
        sessions[id] = WorkerSession(
            name: Self.storable(hello.workerID), writer: writer, queues: Set(queues), taskTypes: Set(taskTypes),
            connectedAt: clock.nowMilliseconds())
        dispatcher.workerConnected(id, queues: queues, taskTypes: taskTypes)
        logger.info("worker connected", metadata: [
            "worker.id": "\(MessageText.escaped(hello.workerID))", "queues": "\(MessageText.escaped(queues.joined(separator: ",")))",
            "task.types": "\(MessageText.escaped(taskTypes.joined(separator: ","), limit: 400))",
        ])
        schedulePump()  // tasks may have waited for a worker of their type
        if !knownSchedulers.isEmpty {
            let message = SchedulerMessage.schedulers(SchedulersChangedMessage(schedulers: knownSchedulers))
            Task { try? await writer.send(message) }  // a broken stream is handled by its reader
        }
        return id
    }

    /// Gossip's set of alive schedulers changed (cluster mode): every connected worker is told, so
    /// that it opens a stream to a scheduler that joined at once (ARCHITECTURE §2: workers keep a
    /// stream to every scheduler and follow membership changes).
    func schedulersChanged(_ schedulers: [SchedulerEndpoint]) {
        guard schedulers != knownSchedulers else { return }
        knownSchedulers = schedulers
        let message = SchedulerMessage.schedulers(SchedulersChangedMessage(schedulers: schedulers))
        for session in sessions.values {
            let writer = session.writer
            Task { try? await writer.send(message) }
        }
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
                guard let key = attemptKey(ref), let run = runs[ref.runID] else { continue }
                let actions = run.machine.heartbeatReceived(node: key.node, attempt: key.attempt, now: now())
                processLater(ref.runID, actions)
            }
        case .completed(let done):
            guard let key = attemptKey(done.ref) else { return }
            sessions[id]?.attempts.remove(AttemptRef(runID: done.ref.runID, key: key))
            releaseSlot(done.ref.runID, key)
            storeInCache(done.ref.runID, key, output: done.output)
            guard let run = runs[done.ref.runID] else { return }  // closed, or not ours: stale
            let actions = run.machine.taskCompleted(node: key.node, attempt: key.attempt, output: done.output, now: now())
            // Only outcomes the run took count for a breaker (not a cancelled attempt's late answer).
            if !Self.isIgnored(actions) { recordBreakerOutcome(done.ref.runID, key, failed: false) }
            processLater(done.ref.runID, actions)
        case .failed(let failed):
            guard let key = attemptKey(failed.ref) else { return }
            sessions[id]?.attempts.remove(AttemptRef(runID: failed.ref.runID, key: key))
            attemptEnded(failed.ref.runID, key)
            guard let run = runs[failed.ref.runID] else { return }
            let failure = TaskFailure(
                kind: failed.kind.isEmpty ? "Error" : Self.storable(failed.kind), message: Self.storable(failed.message),
                retryable: failed.retryable)
            let actions = run.machine.taskFailed(node: key.node, attempt: key.attempt, failure: failure, now: now())
            if !Self.isIgnored(actions) { recordBreakerOutcome(failed.ref.runID, key, failed: true) }
            processLater(failed.ref.runID, actions)
        }
    }

    /// Whether the state machine ignored an event (a stale or duplicate report).
    static func isIgnored(_ actions: [RunStateMachine.Action]) -> Bool {
        if case .ignored? = actions.first { true } else { false }
    }

    /// `process` in a task of its own on the loop. Tasks start in the order they are created, so
    /// the writes of one run still reach the writer in event order.
    private func processLater(_ runID: RunID, _ actions: [RunStateMachine.Action]) {
        guard !actions.isEmpty else { return }
        Task { await self.process(runID, actions) }  // isolated to this actor: see schedulePump
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
            guard let run = runs[ref.runID], case .running(let worker, _) = run.attempts[ref.key], worker == id else { continue }
            run.attempts[ref.key] = nil
            attemptEnded(ref.runID, ref.key)
            let actions = run.machine.workerLost(node: ref.key.node, attempt: ref.key.attempt, now: now())
            await process(ref.runID, actions)
        }
    }

    private func attemptKey(_ ref: AttemptReference) -> AttemptKey? {
        guard let node = NodeKey(parsing: ref.node) else { return nil }
        return AttemptKey(node: node, attempt: Int(ref.attempt))
    }

    // MARK: Dispatch

    func schedulePump() {
        guard !pumpScheduled else { return }
        pumpScheduled = true
        // The task inherits this actor's isolation (it starts on the loop, the actor's executor)
        // rather than carrying an executor preference, a status record consulted at every
        // suspension: a measurable share of the scheduler's CPU under load.
        Task { await self.pump() }
    }

    /// Hands ready tasks to workers with credits.
    private func pump() async {
        pumpScheduled = false
        let assignments = dispatcher.nextAssignments(now: clock.nowMilliseconds())
        for (worker, task) in assignments {
            let key = AttemptKey(node: task.assignment.node, attempt: task.assignment.attempt)
            guard let session = sessions[worker], let run = runs[task.runID], case .queued? = run.attempts[key] else {
                continue  // the run closed or the attempt was cancelled meanwhile
            }
            let partition = run.partition
            let workflowName = run.machine.workflow.name
            let start = RunRecorder.AttemptStart(worker: session.name, startedAt: clock.nowMicroseconds())
            run.attempts[key] = .running(worker: worker, start: start)
            session.attempts.insert(AttemptRef(runID: task.runID, key: key))
            let message = SchedulerMessage.assignment(TaskAssignmentMessage(
                ref: AttemptReference(
                    runID: task.runID, node: key.node.description, attempt: UInt32(key.attempt),
                    fence: fences.fence(of: partition)?.rawValue ?? 0),
                taskType: task.assignment.type, input: task.assignment.input,
                startToCloseMilliseconds: task.assignment.timeouts.startToClose.map { UInt64($0 / .milliseconds(1)) } ?? 0,
                heartbeatMilliseconds: task.assignment.timeouts.heartbeat.map { UInt64($0 / .milliseconds(1)) } ?? 0,
                workflow: workflowName))
            do {
                try await session.writer.send(message)
            } catch {
                // The stream broke; the disconnect path fails the attempt after the grace period.
                continue
            }
            guard runs[task.runID] === run else { continue }
            metrics.attemptsDispatched.increment()
            let actions = run.machine.taskDispatched(node: key.node, attempt: key.attempt, worker: session.name, now: now())
            await process(task.runID, actions)
        }
    }

    // MARK: Admin

    /// The partitions this scheduler has an engine for, from memory (`Admin/Partitions` on a
    /// scheduler): fence, state, open runs and the tasks ready and waiting for a worker. A scan of
    /// the open runs: an admin call, not a hot path.
    func partitionsServed(node: String, address: String) -> [PartitionInfo] {
        engines.filter { $0.value.state != .stopped }.sorted { $0.key.rawValue < $1.key.rawValue }.map { partition, engine in
            var ready: UInt64 = 0
            for id in engine.runs {
                guard let run = runs[id] else { continue }
                for case .queued in run.attempts.values { ready += 1 }
            }
            let state = switch engine.state {
            case .recovering: "recovering"
            case .serving: "serving"
            case .draining: "draining"
            case .stopped: "stopped"
            }
            return PartitionInfo(
                partition: UInt32(partition.rawValue), ownerNode: node, ownerAddress: address, fence: engine.fence.rawValue,
                openRuns: UInt64(engine.runs.count), ringOwner: "", readyTasks: ready, state: state)
        }
    }

    /// The workers connected to this scheduler (`Admin/Workers` on a scheduler), by id.
    func workersServed(node: String) -> [WorkerInfo] {
        sessions.map { id, session in
            WorkerInfo(
                workerID: session.name, queues: session.queues.sorted(), taskTypes: session.taskTypes.sorted(),
                freeSlots: UInt32(clamping: dispatcher.credits(of: id)), inFlight: UInt32(clamping: session.attempts.count),
                connectedAtMilliseconds: session.connectedAt, scheduler: node)
        }.sorted { ($0.workerID, $0.connectedAtMilliseconds) < ($1.workerID, $1.connectedAtMilliseconds) }
    }

    /// Every queue with ready or rate-limited tasks or connected workers (`Admin/Queues` on a
    /// scheduler), by name.
    func queuesServed() -> [QueueInfo] {
        let now = clock.nowMilliseconds()
        var out: [String: QueueInfo] = [:]
        for (queue, backlog) in dispatcher.backlogs {
            out[queue] = QueueInfo(
                queue: queue, readyCritical: UInt64(backlog.byLevel[3]), readyHigh: UInt64(backlog.byLevel[2]),
                readyNormal: UInt64(backlog.byLevel[1]), readyLow: UInt64(backlog.byLevel[0]),
                oldestReadyMilliseconds: backlog.oldestEnqueuedAt.map { max(0, now - $0) } ?? 0, unserved: UInt64(backlog.unserved))
        }
        for (queue, count) in rateGate.countsByQueue {
            var info = out[queue] ?? QueueInfo(queue: queue)
            info.rateLimited = UInt64(count)
            out[queue] = info
        }
        for (queue, count) in concurrencyGate.countsByQueue {
            var info = out[queue] ?? QueueInfo(queue: queue)
            info.concurrencyLimited = UInt64(count)
            out[queue] = info
        }
        for (id, session) in sessions {
            for queue in session.queues {
                var info = out[queue] ?? QueueInfo(queue: queue)
                info.workers += 1
                info.freeSlots += UInt32(clamping: dispatcher.credits(of: id))
                out[queue] = info
            }
        }
        return out.values.sorted { $0.queue < $1.queue }
    }

    // MARK: Helpers

    /// A string a worker sent, made storable as Postgres text (which cannot hold NUL) here, at the
    /// boundary, so that memory (`RunLedger`, what `WaitRun` returns) and the rows agree.
    static func storable(_ text: String) -> String { PostgresBinaryArray.storableText(text) }
}
