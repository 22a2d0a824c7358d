import Logging
import Metrics
import WeftCore
import WeftEngine
import WeftTransport
import WeftWire

extension SchedulerCore {
    /// Writes the records of `actions` (with `newRun`, for a run being started), then carries out
    /// the rest. See the type's documentation for the durability rule. Returns what became of the
    /// write; effects happen only after `.committed`.
    @discardableResult
    func process(_ runID: RunID, _ actions: [RunStateMachine.Action], newRun: NewRunRow? = nil) async -> RunWriteOutcome {
        guard let run = runs[runID] else { return .committed }
        let at = clock.nowMicroseconds()  // rows are stamped in microseconds
        var batch = RunWriteBatch(partition: run.partition)
        batch.newRun = newRun
        var effects: [RunStateMachine.Action] = []
        for action in actions {
            switch action {
            case .record(let event):
                recorder.append(
                    event, of: runID, at: at, to: &batch, isMapNode: { run.machine.workflow.task(named: $0)?.map == true },
                    started: { node, attempt in
                        switch run.attempts[AttemptKey(node: node, attempt: attempt)] {
                        case .running(_, let start)?: return start
                        case .child(_, let start?)?: return start
                        case .fromCache(let start)?: return start
                        default: return nil
                        }
                    })
                // A run-time timeout is a failure of the downstream for its type's circuit breaker
                // (waiting for a worker is not).
                if circuitBreakers != nil, case .attemptTimedOut(let node, let attempt, let kind) = event, kind != .scheduleToStart {
                    recordBreakerOutcome(runID, AttemptKey(node: node, attempt: attempt), failed: true)
                }
            case .cancelTimer(let timer):
                if let handle = run.timers.removeValue(forKey: timer) { loop.cancelTimer(handle) }
            case .ignored(let ignored):
                logger.debug("event ignored", metadata: ["run.id": "\(runID)", "reason": "\(ignored)"])
            default:
                effects.append(action)
            }
        }
        if !batch.isEmpty {
            // Applied in submission order, which is commit order (the writer is FIFO); it is read
            // only when the run's close has committed, so by then every row in it has too.
            run.ledger?.apply(batch)
            let outcome: RunWriteOutcome
            do {
                // A new run may be refused when the writer's queue is full; the changes of runs
                // already acknowledged never are (they are bounded by the runs in memory).
                outcome = try await writer.submit(batch, mayRefuse: newRun != nil)
            } catch {
                if newRun != nil { return .rejected("\(error)") }
                outcome = .abandoned
            }
            switch outcome {
            case .committed:
                break
            case .notOwner(let partition):
                stopEngine(partition, reason: "its fence moved on: another scheduler claimed it")
                return outcome
            case .rejected(let reason):
                if newRun == nil { await poisoned(runID, reason: reason) }
                return outcome
            case .duplicateRun, .existingRun, .abandoned:
                return outcome
            }
        }
        // The run may have left memory while its write was committed (its partition stopped).
        guard runs[runID] === run else { return .committed }
        var closed: RunStatusText?
        for effect in effects {
            switch effect {
            case .dispatch(let assignment) where assignment.childWorkflow != nil:
                run.attempts[AttemptKey(node: assignment.node, attempt: assignment.attempt)] = .child(nil, start: nil)
                Task(executorPreference: loop) { await self.startChild(runID, assignment) }
            case .dispatch(let assignment):
                admit(GatedTask(task: QueuedTask(runID: runID, assignment: assignment), level: run.priorityLevel ?? assignment.priority.rank))
            case .cancelAttempt(let node, let attempt):
                cancelAttempt(runID, AttemptKey(node: node, attempt: attempt))
            case .schedule(let timer, let deadline):
                if let old = run.timers[timer] { loop.cancelTimer(old) }
                let delay = Duration.milliseconds(max(0, deadline.unixMilliseconds - clock.nowMilliseconds()))
                run.timers[timer] = loop.scheduleTimer(after: delay) { [self] in
                    Task(executorPreference: loop) { await self.timerFired(runID, timer) }
                }
            case .completeRun:
                closed = .succeeded
            case .failRun:
                closed = .failed
            case .cancelRun:
                closed = .cancelled
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

    /// A change of a running run could not be stored (its data, not the database, is at fault):
    /// the run is cancelled with the reason, so that it does not run on ahead of what Postgres
    /// knows. If even that cannot be stored, the run leaves memory (it stays open in Postgres, and
    /// a restart's recovery tries it again).
    func poisoned(_ runID: RunID, reason: String) async {
        guard let run = runs[runID] else { return }
        metrics.runsPoisoned.increment()
        guard !run.poisoned else {
            logger.critical("a run cannot be stored at all; it leaves memory", metadata: ["run.id": "\(runID)", "reason": "\(reason)"])
            dropRun(runID, failing: RPCError(.internal, "run \(runID) cannot be stored: \(MessageText.escaped(reason, limit: 500))"))
            return
        }
        runs[runID]!.poisoned = true
        logger.error("a change of a run cannot be stored; the run is cancelled", metadata: ["run.id": "\(runID)", "reason": "\(reason)"])
        let actions = runs[runID]!.machine.cancelRequested(
            reason: "internal error: a change of this run could not be stored (\(MessageText.escaped(reason, limit: 300))); the run was stopped",
            now: now())
        if actions.contains(where: { if case .record = $0 { true } else { false } }) {
            await process(runID, actions)
        } else {
            dropRun(runID, failing: RPCError(.internal, "run \(runID) cannot be stored: \(MessageText.escaped(reason, limit: 500))"))
        }
    }

    func cancelAttempt(_ runID: RunID, _ key: AttemptKey) {
        attemptEnded(runID, key)
        guard let place = runs[runID]?.attempts.removeValue(forKey: key) else { return }
        switch place {
        case .queued(let ticket):
            dispatcher.remove(ticket)
        case .rateLimited(let ticket):
            rateGate.remove(ticket)
        case .concurrencyLimited(let ticket):
            concurrencyGate.remove(ticket)
        case .cacheLookup, .fromCache:
            break  // the lookup's answer finds the attempt gone
        case .breakerHeld(let ticket):
            breakerGate.remove(ticket)
        case .child(let child, _):
            guard let child else { return }  // its start, in flight, sees the attempt gone and cancels it
            cancelChild(child, reason: "its parent node was cancelled")
        case .running(let worker, _):
            guard let session = sessions[worker] else { return }
            session.attempts.remove(AttemptRef(runID: runID, key: key))
            let writer = session.writer
            let message = SchedulerMessage.cancel(CancelAttemptMessage(
                ref: AttemptReference(
                    runID: runID, node: key.node.description, attempt: UInt32(key.attempt),
                    fence: fences.fence(of: runs[runID]!.partition)?.rawValue ?? 0),
                reason: runs[runID]!.terminating ? "the run was terminated" : "cancelled by the scheduler",
                terminate: runs[runID]!.terminating))
            Task(executorPreference: loop) {
                // A worker that is gone cannot be told; its attempt result will be ignored as stale.
                try? await writer.send(message)
            }
        }
    }

    // MARK: Timers

    func timerFired(_ runID: RunID, _ timer: TimerID) async {
        guard let run = runs[runID] else { return }
        run.timers[timer] = nil
        let actions = run.machine.timerFired(timer, now: now())
        await process(runID, actions)
    }
}
