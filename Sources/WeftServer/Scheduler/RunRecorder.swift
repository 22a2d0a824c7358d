import WeftCore
import WeftEngine

/// The one mapping from the engine's records (`HistoryEvent`) to row changes in `runs`,
/// `task_attempts` and `history_events` (ARCHITECTURE.md §5). Pure: time and the facts the
/// engine does not record (who runs an attempt, since when) come in as arguments.
///
/// - An attempt row is written when the attempt is scheduled (or a retry is scheduled: the row of
///   the next attempt, `retry_wait`, becomes `scheduled` in place).
/// - The worker and start time are written with the attempt's end, not when it starts: one row
///   write per attempt instead of two. After a crash an attempt that had started is dispatched
///   again (at-least-once) and a late result of it is ignored as stale.
/// - A map node has a row of its own (`mapping`, output = its width) that ends with the node.
/// - `history_events` keeps what the run and attempt rows cannot show, numbered by `historySeq`
///   (which starts from the wall clock, milliseconds << 20, so numbers keep growing across
///   restarts): failures (`attempt_failed`, `attempt_timed_out`, `node_failed`, `run_failed`),
///   retries (`retry_scheduled`), durable timers (`timer_started`: a start_after or sleep),
///   cancellations (`run_cancelled`, `run_terminated`, `node_cancelled`) and map expansion. The routine
///   events of a run that goes well — started, each attempt scheduled and completed, completed —
///   are exactly the rows' own timestamps (`runs.created_at`/`closed_at`, `task_attempts.
///   scheduled_at`/`started_at`/`finished_at`, `worker`), so they get no history row of their
///   own: those four rows per single-task run were a third of Postgres's statement time under
///   load (pg_stat_statements, 30,000 runs: 7.9 µs a row, 32 µs a run).
struct RunRecorder: Sendable {
    /// Who runs an attempt and since when (Unix microseconds), kept in memory until it ends.
    struct AttemptStart: Sendable, Hashable {
        var worker: String
        var startedAt: Int64
    }

    private(set) var historySeq: Int64

    init(nowMilliseconds: Int64) {
        historySeq = nowMilliseconds << 20
    }

    /// Appends the rows `event` of run `runID` implies to `batch`, stamped `at` (Unix
    /// microseconds: step latencies are far below a millisecond).
    /// - Parameters:
    ///   - isMapNode: whether a workflow node (by name) is a map node.
    ///   - started: the start of an attempt that a worker took, if one did.
    mutating func append(
        _ event: HistoryEvent, of runID: RunID, at: Int64, to batch: inout RunWriteBatch,
        isMapNode: (String) -> Bool, started: (NodeKey, Int) -> AttemptStart?
    ) {
        func history(_ kind: String, _ detail: String = "") {
            historySeq += 1
            batch.history.append(HistoryRow(runID: runID, seq: historySeq, at: at, kind: kind, body: Array(detail.utf8)))
        }
        func finish(_ node: NodeKey, _ attempt: Int, _ status: AttemptStatus, output: [UInt8]? = nil, failure: TaskFailure? = nil) {
            let start = started(node, attempt)
            batch.finishes.append(AttemptFinish(
                runID: runID, node: node.description, attempt: attempt, status: status, output: output, errorKind: failure?.kind,
                error: failure?.message, worker: start?.worker, startedAt: start?.startedAt, finishedAt: at))
        }
        switch event {
        case .runStarted:
            break  // runs.created_at
        case .attemptScheduled(let node, let attempt):
            batch.attempts.append(AttemptRow(runID: runID, node: node.description, attempt: attempt, status: .scheduled, scheduledAt: at))
        case .attemptStarted:
            break  // kept in memory; written with the attempt's end
        case .attemptCompleted(let node, let attempt, let output):
            finish(node, attempt, .succeeded, output: output)
        case .attemptFailed(let node, let attempt, let failure):
            finish(node, attempt, .failed, failure: failure)
            history("attempt_failed", "\(node)#\(attempt) \(failure)")
        case .attemptTimedOut(let node, let attempt, let timeout):
            finish(node, attempt, .timedOut, failure: .timeout(timeout))
            history("attempt_timed_out", "\(node)#\(attempt) \(timeout)")
        case .retryScheduled(let node, let attempt, let due):
            batch.attempts.append(AttemptRow(
                runID: runID, node: node.description, attempt: attempt, status: .retryWait, scheduledAt: due.unixMilliseconds * 1000))
            // Attempt 1 "due later" is a durable timer (start_after, sleep), not a retry.
            history(attempt == 1 ? "timer_started" : "retry_scheduled", "\(node)#\(attempt) at \(due.unixMilliseconds)")
        case .nodeFailed(let node, let failure):
            if node.index == nil, isMapNode(node.name) {
                batch.finishes.append(AttemptFinish(
                    runID: runID, node: node.description, attempt: 1, status: .failed, errorKind: failure.kind,
                    error: failure.message, finishedAt: at))
            }
            history("node_failed", "\(node) \(failure)")
        case .mapExpanded(let node, let width):
            batch.attempts.append(AttemptRow(
                runID: runID, node: node.description, attempt: 1, status: .mapping, scheduledAt: at, output: Array(String(width).utf8)))
            history("map_expanded", "\(node) width \(width)")
        case .mapCompleted(let node, let output):
            batch.finishes.append(AttemptFinish(runID: runID, node: node.description, attempt: 1, status: .succeeded, output: output, finishedAt: at))
            history("map_completed", "\(node)")
        case .outputReused(let node, let output, let from):
            batch.attempts.append(AttemptRow(runID: runID, node: node.description, attempt: 1, status: .succeeded, scheduledAt: at, output: output))
            history("output_reused", "\(node)#1 from run \(from)")
        case .signalAwaited(let node, let name, let deadline):
            batch.attempts.append(AttemptRow(
                runID: runID, node: node.description, attempt: 1, status: .awaitingSignal, scheduledAt: at,
                output: deadline.map { Array(String($0.unixMilliseconds).utf8) }))
            history("signal_awaited", "\(node)#1 \(name)")
        case .signalReceived(let seq, let name, let payload):
            batch.signals.append(SignalRow(runID: runID, seq: seq, name: name, payload: payload, receivedAt: at))
            history("signal_received", "\(name) #\(seq)")
        case .signalConsumed(let seq, let node):
            batch.signalConsumptions.append(SignalConsumption(runID: runID, seq: seq, node: node.description))
        case .circuitBreaker(let node, let attempt, let taskType, let change):
            history("breaker_\(change)", "\(node)#\(attempt) task type \(taskType)")
        case .cacheHit(let node, let attempt, let key):
            history("cache_hit", "\(node)#\(attempt) key \(MessageText.escaped(key, limit: 200))")
        case .runCompleted(let output):
            batch.closes.append(RunClose(runID: runID, status: .succeeded, output: output, closedAt: at))
        case .runFailed(let failure):
            batch.closes.append(RunClose(runID: runID, status: .failed, error: failure.description, closedAt: at))
            history("run_failed", failure.description)
        case .runCancelled(let reason):
            batch.closes.append(RunClose(runID: runID, status: .cancelled, error: reason, closedAt: at))
            history("run_cancelled", reason)
        case .runTerminated(let reason):
            batch.closes.append(RunClose(runID: runID, status: .cancelled, error: reason, closedAt: at))
            history("run_terminated", reason)
        case .nodeCancelled(let node, let attempt, let reason):
            if let attempt {
                finish(node, attempt, .cancelled, failure: TaskFailure(kind: TaskFailure.cancelledKind, message: reason, retryable: false))
            } else {
                // Never started: a row says so, for recovery and for readers.
                batch.attempts.append(AttemptRow(runID: runID, node: node.description, attempt: 1, status: .cancelled, scheduledAt: at))
            }
            history("node_cancelled", "\(node) \(reason)")
        }
    }
}

/// Rebuilds a run's durable state from its stored rows (ARCHITECTURE.md §2 "Handoff": the
/// frontier, not the history): the run's input and the latest attempt row of each node. Pure.
enum RunRecovery {
    /// The snapshot `RunStateMachine.recover` resumes from. Rows of unknown status end their node
    /// as cancelled (a newer binary's status: the run continues without it).
    static func snapshot(of run: StoredOpenRun, workflow: ValidatedWorkflow) -> RunSnapshot {
        var nodes: [NodeKey: NodeSnapshot] = [:]
        var terminalMaps: Set<String> = []
        for attempt in run.latestAttempts {
            guard let key = NodeKey(parsing: attempt.node) else { continue }
            let isMap = key.index == nil && workflow.task(named: key.name)?.map == true
            let status: NodeSnapshot.Status
            switch AttemptStatus(rawValue: attempt.status) {
            case .scheduled: status = .scheduled
            case .retryWait: status = .backingOff(until: EngineInstant(unixMilliseconds: attempt.scheduledAt))
            case .awaitingSignal:
                status = .awaitingSignal(deadline: attempt.output.flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
                    .map { EngineInstant(unixMilliseconds: $0) })
            case .mapping: status = .mapping(width: Int(String(decoding: attempt.output ?? [], as: UTF8.self)) ?? 0)
            case .succeeded: status = .succeeded(output: attempt.output ?? [])
            case .failed, .timedOut:
                status = .failed(TaskFailure(kind: attempt.errorKind ?? "Failed", message: attempt.error ?? "", retryable: false))
            case .cancelled, nil: status = .cancelled
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
        var snapshot = RunSnapshot(status: .running, input: run.input, nodes: nodes)
        snapshot.signals = run.pendingSignals
        snapshot.nextSignalSeq = run.nextSignalSeq
        return snapshot
    }

    /// `runs.priority` (0 critical … 3 low) → ready-queue level (3 critical … 0 low); nil for the
    /// default (normal: each node's own priority applies).
    static func level(storedPriority: Int) -> Int? {
        storedPriority == 2 ? nil : max(0, min(3, 3 - storedPriority))
    }
}
