import Logging
import WeftCore
import WeftTransport
import WeftWire

/// One worker's `Connect` stream to one scheduler, reopened with backoff until cancelled.
///
/// Attempts run as tasks tracked in `WorkerState.running` (cancelled on a `CancelAttempt`, on
/// shutdown, and awaited before the worker returns), not as children of this link: an attempt
/// keeps running while its link reconnects, and only its result is dropped if the link is gone.
final class SchedulerLink: Sendable {
    let worker: WeftWorker
    let endpoint: Endpoint
    private let logger: Logger
    /// The sender of the current stream, if connected.
    private let sender = Locked<RPCClientStreamSender?>(nil)

    init(worker: WeftWorker, endpoint: Endpoint) {
        self.worker = worker
        self.endpoint = endpoint
        var logger = worker.logger
        logger[metadataKey: "scheduler.address"] = "\(endpoint)"
        self.logger = logger
    }

    func run() async {
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            let client = RPCClient(target: endpoint, configuration: worker.rpcConfiguration, logger: logger)
            let started = ContinuousClock.now
            await session(client)
            await client.close()
            if ContinuousClock.now - started > .seconds(10) { backoff = .milliseconds(100) }
            // Cancellation ends the wait early: the link is being shut down.
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    /// One stream: hello, credits, then assignments until the stream ends.
    private func session(_ client: RPCClient) async {
        let call = client.bidirectionalStreaming(WorkerMethods.connect)
        let configuration = worker.configuration
        do {
            try await call.sender.send(WorkerMessage.hello(WorkerHelloMessage(
                workerID: configuration.workerID, queues: configuration.queues, taskTypes: worker.registry.taskTypes)))
            let free = max(0, worker.slotsPerLink - runningHere())
            if free > 0 { try await call.sender.send(WorkerMessage.credits(CreditGrant(credits: UInt32(free)))) }
            sender.withLock { $0 = call.sender }
            logger.debug("scheduler stream open")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.heartbeatLoop(call.sender) }
                for try await bytes in call.responses {
                    switch try SchedulerMessage(serializedBytes: bytes) {
                    case .assignment(let assignment): start(assignment)
                    case .cancel(let cancel): self.cancel(cancel.ref, reason: cancel.reason, terminate: cancel.terminate)
                    case .schedulers(let schedulers): worker.schedulersChanged(schedulers)
                    }
                }
                group.cancelAll()
            }
        } catch is CancellationError {
            call.sender.cancel()
        } catch {
            if !Task.isCancelled { logger.warning("scheduler stream broke", metadata: ["error": "\(error)"]) }
            call.sender.cancel()
        }
        sender.withLock { $0 = nil }
    }

    private func runningHere() -> Int {
        let id = ObjectIdentifier(self)
        return worker.state.withLock { state in state.running.values.filter { $0.linkID == id }.count }
    }

    private func heartbeatLoop(_ sender: RPCClientStreamSender) async throws {
        let id = ObjectIdentifier(self)
        while !Task.isCancelled {
            let (refs, fastest) = worker.state.withLock { state -> ([AttemptReference], UInt64) in
                let mine = state.running.filter { $0.value.linkID == id }
                let fastest = mine.values.map(\.heartbeatMilliseconds).filter { $0 > 0 }.min() ?? 0
                return (Array(mine.keys), fastest)
            }
            if !refs.isEmpty { try await sender.send(WorkerMessage.heartbeat(HeartbeatMessage(attempts: refs))) }
            var interval = worker.configuration.heartbeatInterval
            if fastest > 0 { interval = min(interval, .milliseconds(max(100, fastest / 3))) }
            try await Task.sleep(for: interval)
        }
    }

    private func start(_ assignment: TaskAssignmentMessage) {
        let ref = assignment.ref
        let id = ObjectIdentifier(self)
        let refused = worker.state.withLock { state -> Bool in
            if state.running[ref] != nil { return true }  // a duplicate push: already running
            // The same attempt under an older fence: its scheduler restarted (or handed the
            // partition over) and recovery pushed it again. One copy runs — the one already
            // running, adopted: its heartbeats and result go out under the newest reference, on
            // this link. (Two copies would run the task twice at once, and a concurrency limit
            // would count the attempt once.)
            if let older = state.running.keys.first(where: { $0.runID == ref.runID && $0.node == ref.node && $0.attempt == ref.attempt }) {
                var entry = state.running.removeValue(forKey: older)!
                entry.linkID = id
                state.running[ref] = entry
                state.adopted[older] = WorkerState.Adoption(ref: ref, link: self)
                return true
            }
            return false
        }
        if refused { return }
        let context = TaskContext(
            runID: ref.runID, node: ref.node, attempt: Int(ref.attempt), workflow: assignment.workflow,
            taskType: assignment.taskType,
            heartbeat: { [weak self] details in
                guard let sender = self?.sender.withLock({ $0 }) else { return }
                // A failed heartbeat is not the handler's problem: the link logs and reconnects.
                try? await sender.send(WorkerMessage.heartbeat(HeartbeatMessage(attempts: [ref], details: details)))
            })
        let handler = worker.registry.handler(for: assignment.taskType)
        let logger = self.logger
        let task = Task { [self] in
            let started = ContinuousClock.now
            let outcome: Result<[UInt8], TaskError>
            if let handler {
                do {
                    outcome = .success(try await handler(assignment.input, context))
                } catch {
                    outcome = .failure(TaskError.from(error))
                }
            } else {
                outcome = .failure(TaskError(
                    kind: "UnknownTaskType", message: "this worker has no task type '\(assignment.taskType)'", retryable: true))
            }
            worker.metrics.finished(succeeded: (try? outcome.get()) != nil, after: ContinuousClock.now - started)
            await finish(ref, outcome, logger: logger)
        }
        worker.state.withLock { state in
            if state.finishedEarly.remove(ref) != nil { return }
            state.running[ref] = WorkerState.Running(
                task: task, termination: context.termination, linkID: id, heartbeatMilliseconds: assignment.heartbeatMilliseconds)
        }
    }

    private func finish(_ started: AttemptReference, _ outcome: Result<[UInt8], TaskError>, logger: Logger) async {
        let (ref, link, shuttingDown) = worker.state.withLock { state -> (AttemptReference, SchedulerLink, Bool) in
            // Reported under the newest reference it was adopted as (see `start`).
            var ref = started
            var link = self
            while let adoption = state.adopted.removeValue(forKey: ref) {
                ref = adoption.ref
                link = adoption.link
            }
            if state.running.removeValue(forKey: ref) == nil { state.finishedEarly.insert(ref) }
            return (ref, link, state.shuttingDown)
        }
        guard let sender = link.sender.withLock({ $0 }) else {
            logger.debug("result dropped: the scheduler link is down", metadata: ["run.id": "\(ref.runID)", "task.node": "\(ref.node)"])
            return
        }
        let message: WorkerMessage
        switch outcome {
        case .success(let output):
            message = .completed(TaskCompletedMessage(ref: ref, output: output))
        case .failure(var error):
            if shuttingDown && error.kind == "Cancelled" {
                error = TaskError(kind: "WorkerShutdown", message: "the worker shut down during the attempt", retryable: true)
            }
            message = .failed(TaskFailedMessage(ref: ref, kind: error.kind, message: error.message, retryable: error.retryable))
        }
        do {
            try await sender.send(message)
            if !shuttingDown { try await sender.send(WorkerMessage.credits(CreditGrant(credits: 1))) }
        } catch {
            logger.debug("result dropped: the scheduler stream broke", metadata: ["error": "\(error)"])
        }
    }

    private func cancel(_ ref: AttemptReference, reason: String, terminate: Bool) {
        let running = worker.state.withLock { $0.running[ref] }
        logger.debug("attempt cancelled by the scheduler", metadata: [
            "run.id": "\(ref.runID)", "task.node": "\(ref.node)", "reason": "\(reason)", "terminate": "\(terminate)",
        ])
        if terminate { running?.termination.withLock { $0 = true } }  // before the cancel, so the handler sees it
        running?.task.cancel()
    }
}
