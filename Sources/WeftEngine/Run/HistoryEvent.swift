import WeftCore

/// A fact about a run that must be durable before anyone outside the scheduler acts on it
/// (ARCHITECTURE.md §5: `history_events`, `task_attempts`, `runs`). The engine emits each with
/// ``RunStateMachine/Action/record(_:)``; the shell's group-commit writer persists them in order.
///
/// The records of a run are sufficient to recover it: folding them in order with
/// ``RunSnapshot/apply(_:)`` gives exactly ``RunStateMachine/snapshot()`` — the test suite checks
/// this after every step of its scripts. Heartbeats are deliberately not recorded (too frequent,
/// and a recovered run re-queues its open attempts anyway).
///
/// Implied facts: ``runFailed(_:)`` and ``runCancelled(reason:)`` cancel every open attempt and
/// pending retry of the run; ``nodeFailed(node:failure:)`` of a map node, and
/// ``mapCompleted(node:output:)``, end all of its elements.
public enum HistoryEvent: Hashable, Sendable {
    /// The run started with `input`; its roots are about to be scheduled.
    case runStarted(input: [UInt8])
    /// Attempt `attempt` of `node` was queued for dispatch. After recovery the engine records it
    /// again for attempts it re-queues (same number), so a store should upsert.
    case attemptScheduled(node: NodeKey, attempt: Int)
    /// A worker took the attempt.
    case attemptStarted(node: NodeKey, attempt: Int, worker: String)
    /// The attempt succeeded with `output`; so did `node`.
    case attemptCompleted(node: NodeKey, attempt: Int, output: [UInt8])
    /// The attempt failed as the worker reported, or because its worker was lost.
    case attemptFailed(node: NodeKey, attempt: Int, failure: TaskFailure)
    /// The attempt exceeded a time limit; its failure is ``TaskFailure/timeout(_:)``.
    case attemptTimedOut(node: NodeKey, attempt: Int, timeout: TimeoutKind)
    /// Attempt `attempt` (the next one) will be dispatched at `at`.
    case retryScheduled(node: NodeKey, attempt: Int, at: EngineInstant)
    /// `node` (a workflow node or a map element) failed for good with `failure`.
    case nodeFailed(node: NodeKey, failure: TaskFailure)
    /// Map node `node` fanned out into `width` elements, `node[0]` … `node[width-1]`.
    case mapExpanded(node: NodeKey, width: Int)
    /// Every element of map node `node` succeeded; `output` is the array of their outputs.
    case mapCompleted(node: NodeKey, output: [UInt8])
    /// `node` succeeded with `output` taken from run `from` (a retry from the failed nodes): no
    /// attempt ran; it counts as attempt 1.
    case outputReused(node: NodeKey, output: [UInt8], from: RunID)
    /// Signal node `node` started waiting for signal `name` (attempt 1), until `deadline` if any.
    case signalAwaited(node: NodeKey, name: String, deadline: EngineInstant?)
    /// Attempt `attempt` of `node` took its output from the result cache under `key` (recorded by
    /// the scheduler, which then completes the attempt without a worker; no state of its own).
    case cacheHit(node: NodeKey, attempt: Int, key: String)
    /// The circuit breaker of `taskType` did something to attempt `attempt` of `node`: `held`
    /// (open: the attempt waits), `probe` (half-open: it goes as the probe), `failed_fast` (open,
    /// `when_open: fail`), or its outcome `opened` or `closed` the breaker. No state of its own.
    case circuitBreaker(node: NodeKey, attempt: Int, taskType: String, change: String)
    /// The run received signal `name` with `payload`; `seq` numbers the run's signals from 0.
    case signalReceived(seq: Int, name: String, payload: [UInt8])
    /// Signal `seq` was consumed by signal node `node` (which completes with its payload).
    case signalConsumed(seq: Int, node: NodeKey)
    /// The run succeeded with `output`.
    case runCompleted(output: [UInt8])
    /// The run failed.
    case runFailed(RunFailure)
    /// The run was cancelled on request.
    case runCancelled(reason: String)
    /// `node` (a workflow node, never an element) was cancelled on request, or because a parent
    /// that was cancelled leaves its join unsatisfiable; its open attempt (`attempt`, whose row
    /// ends as cancelled) is told to stop. `attempt` is nil for a node that had not started. A map
    /// node's elements end with it. The run goes on without the node (see
    /// ``RunStateMachine/nodeCancelRequested(node:subtree:reason:now:)``).
    case nodeCancelled(node: NodeKey, attempt: Int?, reason: String)
    /// The run was terminated on request: closed as cancelled at once, its attempts in flight
    /// killed without a grace period.
    case runTerminated(reason: String)
}
