import WeftCore

/// The state of one workflow run and every decision about it (ARCHITECTURE.md §4): which tasks are
/// ready, attempts, retries with backoff, timeouts, failure propagation, map fan-out and joins,
/// cancellation, recovery. Pure (STYLE.md §2): no I/O, no clock (every event brings `now`), no
/// global randomness (backoff jitter comes from a ``SplitMix64`` seeded at creation). Events are
/// mutating functions named for what happened; each returns the ``Action``s the shell must carry
/// out, records first (see ``Action`` for the durability rule).
///
/// ## Run states
///
///     pending ──started──▶ running ──(every node finished)──────▶ succeeded
///        │                    ├──(a failure it cannot tolerate)──▶ failed
///        └─────cancelRequested┴──────────────────────────────────▶ cancelled
///
/// Closed states are terminal: every later event returns ``Action/ignored(_:)`` with
/// ``IgnoredEvent/Reason/runNotRunning`` — in particular results that arrive after cancellation.
///
/// ## Nodes and attempts
///
/// Roots are dispatched on ``started(input:now:)`` with the run's input. A node becomes ready when
/// its ``JoinPolicy`` over its parents is satisfied; its input is then fixed:
/// - no parents: the run's input;
/// - one parent: that parent's output, byte for byte;
/// - several parents: a JSON object keyed by parent name, in name order, holding the outputs of the
///   parents that had succeeded when the node became ready (all of them under `all`; under `any` /
///   `at_least(N)` possibly fewer). Retries reuse the same input.
///
/// Each ready node gets attempt 1: ``Action/dispatch(_:)``, plus a schedule-to-start timer.
/// ``taskDispatched(node:attempt:worker:now:)`` (a worker took it) starts its start-to-close and
/// heartbeat clocks; ``heartbeatReceived(node:attempt:now:)`` pushes the heartbeat deadline back.
/// A result — ``taskCompleted(node:attempt:output:now:)``, ``taskFailed(node:attempt:failure:now:)``,
/// ``workerLost(node:attempt:now:)``, or a timeout through ``timerFired(_:now:)`` — is applied
/// only if it concerns the node's *open* attempt; anything else is ignored as stale, which makes
/// recording exactly-once although execution is at-least-once. A failed attempt is retried after
/// ``RetryPolicy/backoff(afterAttempt:randomUnit:)`` when the policy allows; otherwise the node
/// fails.
///
/// ## Map nodes
///
/// A `map` node's input (its single parent's output) must be a JSON array. The node fans out into
/// one unit per element, `name[0]`, `name[1]`, …, each a task of the node's type and options with
/// that element as input and its own attempts. When all succeed, the node's output is the JSON
/// array of their outputs, in order, and its children proceed (the join). An empty array succeeds
/// at once with `[]`. Input that is not an array, or has more than
/// ``Configuration/maxMapWidth`` elements, fails the node without retry. If an element fails for
/// good, the node fails and its other elements are cancelled.
///
/// ## Failure propagation (fail-fast, unless a join tolerates it)
///
/// When a node fails for good, the run fails — cancelling every open attempt and pending retry and
/// dispatching nothing more — if the node is a leaf, or if one of its children still waiting can no
/// longer satisfy its join. Otherwise (every waiting child still has enough parents left under
/// `any` / `at_least(N)`), the run continues, and the failed node counts as finished. The run
/// succeeds when every node has finished; its output is the single leaf's output, or a JSON object
/// of the leaves' outputs keyed by name when there are several.
///
/// ## Recovery
///
/// ``snapshot()`` is the durable state (also obtainable by folding the records with
/// ``RunSnapshot/apply(_:)``). ``recover(runID:workflow:snapshot:configuration:seed:now:)``
/// rebuilds a machine from it and returns the actions that resume the run: every open attempt is
/// queued again under the same attempt number (the scheduler that had handed it to a worker is gone;
/// if that worker still reports a result, it is the open attempt and is accepted, and the queued
/// copy is cancelled), and retry timers are re-armed at their recorded deadlines.
///
/// ## Invariants
///
/// - At most one open attempt per unit; attempt numbers only grow, by one, up to `max_attempts`.
/// - A node's state never changes once succeeded, failed or cancelled.
/// - The timers armed in the shell are exactly those implied by the units' phases.
/// - Nothing is dispatched unless the run is running.
///
/// Internal impossibilities trap with `preconditionFailure` naming the state; anything a peer can
/// send (unknown nodes, stale or duplicate results, late timers) is reported with
/// ``Action/ignored(_:)`` instead.
public struct RunStateMachine: Sendable {
    /// The run's lifecycle, with what each closed state carries.
    public enum State: Hashable, Sendable {
        case pending
        case running
        case succeeded(output: [UInt8])
        case failed(RunFailure)
        case cancelled(reason: String)
    }

    /// The run this machine decides for.
    public let runID: RunID
    /// The workflow version the run pinned.
    public let workflow: ValidatedWorkflow
    /// The machine's knobs.
    public let configuration: Configuration
    /// Where the run stands; changes only through events.
    public internal(set) var state: State

    /// The run's input; `nil` until started.
    var input: [UInt8]?
    /// Per workflow node, indexed like ``ValidatedWorkflow/tasks``.
    var nodes: [NodeState]
    /// Nodes not yet succeeded, failed or cancelled; the run succeeds when it reaches 0.
    var unfinished: Int
    var random: SplitMix64
    /// Signals received and not consumed yet, in arrival order.
    var pendingSignals: [PendingSignal] = []
    /// The number of the next signal received.
    var nextSignalSeq = 0

    /// A pending run of `workflow`. `seed` seeds the backoff jitter (any value; the shell may take it
    /// from the system generator or derive it from the run id).
    public init(runID: RunID, workflow: ValidatedWorkflow, configuration: Configuration = Configuration(), seed: UInt64) {
        self.runID = runID
        self.workflow = workflow
        self.configuration = configuration
        self.state = .pending
        self.input = nil
        self.nodes = [NodeState](repeating: .waiting, count: workflow.graph.tasks.count)
        self.unfinished = workflow.graph.tasks.count
        self.random = SplitMix64(seed: seed)
    }

    /// The run's status, as stored in `runs.status`.
    public var status: RunStatus {
        switch state {
        case .pending: .pending
        case .running: .running
        case .succeeded: .succeeded
        case .failed: .failed
        case .cancelled: .cancelled
        }
    }

    // MARK: - Events

    /// The run was created and committed: dispatch the roots with `input`.
    /// Legal once, from `pending`.
    ///
    /// `reusing` (a retry from the failed nodes of run `reusedFrom`): nodes, by name, that succeed
    /// at once with the given outputs instead of running; the others run as their parents finish.
    /// Names the workflow lacks, and map elements, are left out.
    public mutating func started(
        input: [UInt8], now: EngineInstant, reusing: [String: [UInt8]] = [:], reusedFrom: RunID? = nil
    ) -> [Action] {
        switch state {
        case .pending: break
        case .running: return [.ignored(IgnoredEvent(.runAlreadyStarted))]
        case .succeeded, .failed, .cancelled: return [.ignored(IgnoredEvent(.runNotRunning))]
        }
        state = .running
        self.input = input
        var actions: [Action] = [.record(.runStarted(input: input))]
        if let deadline = runDeadline { actions.append(.schedule(.run, at: deadline)) }
        var finished: [Int] = []
        if let reusedFrom {
            for (index, task) in workflow.graph.tasks.enumerated() {
                guard let output = reusing[task.name] else { continue }
                actions.append(.record(.outputReused(node: NodeKey(task.name), output: output, from: reusedFrom)))
                finish(index, as: .succeeded(output: output, attempts: 1))
                finished.append(index)
            }
        }
        for root in workflow.graph.roots where nodes[root] == .waiting && activate(root, now: now, into: &actions) {
            finished.append(root)
        }
        settle(finished, now: now, into: &actions)
        if case .running = state, unfinished == 0 { completeRun(into: &actions) }  // everything reused
        return actions
    }

    /// The scheduler handed the queued attempt to `worker`: its start-to-close and heartbeat
    /// clocks start now, and its schedule-to-start timer is disarmed.
    public mutating func taskDispatched(node: NodeKey, attempt: Int, worker: String, now: EngineInstant) -> [Action] {
        let (slot, execution): (Slot, Execution)
        switch lookUpOpenAttempt(node, attempt) {
        case .ignored(let ignored): return [.ignored(ignored)]
        case .open(let s, let x): (slot, execution) = (s, x)
        }
        guard case .queued(let scheduleToStart) = execution.phase else {
            return [.ignored(IgnoredEvent(.attemptAlreadyStarted, node: node, attempt: attempt))]
        }
        var actions: [Action] = []
        if scheduleToStart != nil {
            actions.append(.cancelTimer(TimerID(.timeout(.scheduleToStart), node: node, attempt: attempt)))
        }
        actions.append(.record(.attemptStarted(node: node, attempt: attempt, worker: worker)))
        let timeouts = task(at: slot).timeouts
        let startToClose = timeouts.startToClose.map { now.advanced(by: $0) }
        let heartbeat = timeouts.heartbeat.map { now.advanced(by: $0) }
        if let startToClose {
            actions.append(.schedule(TimerID(.timeout(.startToClose), node: node, attempt: attempt), at: startToClose))
        }
        if let heartbeat {
            actions.append(.schedule(TimerID(.timeout(.heartbeat), node: node, attempt: attempt), at: heartbeat))
        }
        var running = execution
        running.phase = .running(worker: worker, startToClose: startToClose, heartbeat: heartbeat)
        store(running, at: slot)
        return actions
    }

    /// The worker running the attempt is alive: the heartbeat deadline moves to `now` plus the
    /// heartbeat timeout (nothing to do when the node has none).
    public mutating func heartbeatReceived(node: NodeKey, attempt: Int, now: EngineInstant) -> [Action] {
        let (slot, execution): (Slot, Execution)
        switch lookUpOpenAttempt(node, attempt) {
        case .ignored(let ignored): return [.ignored(ignored)]
        case .open(let s, let x): (slot, execution) = (s, x)
        }
        guard case .running(let worker, let startToClose, _) = execution.phase else {
            return [.ignored(IgnoredEvent(.attemptNotStarted, node: node, attempt: attempt))]
        }
        guard let limit = task(at: slot).timeouts.heartbeat else { return [] }
        let deadline = now.advanced(by: limit)
        var running = execution
        running.phase = .running(worker: worker, startToClose: startToClose, heartbeat: deadline)
        store(running, at: slot)
        return [.schedule(TimerID(.timeout(.heartbeat), node: node, attempt: attempt), at: deadline)]
    }

    /// The open attempt succeeded with `output`: the unit succeeds, and its children may become
    /// ready (or the run may complete).
    public mutating func taskCompleted(node: NodeKey, attempt: Int, output: [UInt8], now: EngineInstant) -> [Action] {
        let (slot, execution): (Slot, Execution)
        switch lookUpOpenAttempt(node, attempt) {
        case .ignored(let ignored): return [.ignored(ignored)]
        case .open(let s, let x): (slot, execution) = (s, x)
        }
        var actions = closingActions(for: execution, node: node)
        actions.append(.record(.attemptCompleted(node: node, attempt: attempt, output: output)))
        unitSucceeded(slot, output: output, attempts: attempt, now: now, into: &actions)
        return actions
    }

    /// The worker reported that the open attempt failed: retry per policy, or fail the unit.
    public mutating func taskFailed(node: NodeKey, attempt: Int, failure: TaskFailure, now: EngineInstant) -> [Action] {
        let (slot, execution): (Slot, Execution)
        switch lookUpOpenAttempt(node, attempt) {
        case .ignored(let ignored): return [.ignored(ignored)]
        case .open(let s, let x): (slot, execution) = (s, x)
        }
        var actions = closingActions(for: execution, node: node)
        actions.append(.record(.attemptFailed(node: node, attempt: attempt, failure: failure)))
        attemptEnded(slot, execution, failure: failure, now: now, into: &actions)
        return actions
    }

    /// The worker that took the attempt is gone (disconnected past its grace period): the attempt
    /// fails with kind ``TaskFailure/workerLostKind`` (retryable) and is cancelled in case the
    /// worker comes back.
    public mutating func workerLost(node: NodeKey, attempt: Int, now: EngineInstant) -> [Action] {
        let (slot, execution): (Slot, Execution)
        switch lookUpOpenAttempt(node, attempt) {
        case .ignored(let ignored): return [.ignored(ignored)]
        case .open(let s, let x): (slot, execution) = (s, x)
        }
        guard case .running(let worker, _, _) = execution.phase else {
            return [.ignored(IgnoredEvent(.attemptNotStarted, node: node, attempt: attempt))]
        }
        let failure = TaskFailure(
            kind: TaskFailure.workerLostKind,
            message: "worker '\(worker)' was lost while running the attempt",
            retryable: true
        )
        var actions = execution.armedTimers(node: node).map(Action.cancelTimer)
        actions.append(.cancelAttempt(node: node, attempt: attempt))
        actions.append(.record(.attemptFailed(node: node, attempt: attempt, failure: failure)))
        attemptEnded(slot, execution, failure: failure, now: now, into: &actions)
        return actions
    }

    /// A timer armed with ``Action/schedule(_:at:)`` expired. A timeout fails its attempt with
    /// ``TaskFailure/timeout(_:)`` (and cancels it); a retry backoff dispatches the next attempt;
    /// the run's own deadline (``TimerID/run``) fails the run with ``TaskFailure/runTimeoutKind``.
    /// A timer reported before its deadline is re-armed; one that no longer applies is ignored.
    public mutating func timerFired(_ id: TimerID, now: EngineInstant) -> [Action] {
        guard case .running = state else {
            return [.ignored(IgnoredEvent(.runNotRunning, node: id.node, attempt: id.attempt))]
        }
        if id.kind == .runTimeout {
            guard let deadline = runDeadline, id == .run else { return [.ignored(IgnoredEvent(.staleTimer, node: id.node, attempt: id.attempt))] }
            guard now >= deadline else { return [.schedule(id, at: deadline)] }
            var actions: [Action] = []
            let limit = workflow.definition.timeout.map { DurationText.format($0) } ?? "?"
            failRun(
                RunFailure(
                    node: NodeKey(""),
                    failure: TaskFailure(kind: TaskFailure.runTimeoutKind, message: "the run did not finish within its timeout of \(limit)", retryable: false)),
                runTimerFired: true, into: &actions)
            return actions
        }
        guard let slot = resolve(id.node) else {
            return [.ignored(IgnoredEvent(.unknownNode, node: id.node, attempt: id.attempt))]
        }
        guard let execution = execution(at: slot) else {
            return [.ignored(IgnoredEvent(.staleTimer, node: id.node, attempt: id.attempt))]
        }
        var actions: [Action] = []
        switch id.kind {
        case .runTimeout:
            preconditionFailure("the run's deadline is handled above")
        case .retryBackoff:
            guard case .backingOff(let until) = execution.phase, id.attempt == execution.attempt + 1 else {
                return [.ignored(IgnoredEvent(.staleTimer, node: id.node, attempt: id.attempt))]
            }
            guard now >= until else { return [.schedule(id, at: until)] }
            if task(at: slot).sleep != nil {
                // A sleep node's timer: it succeeds with its input, no task run.
                actions.append(.record(.attemptCompleted(node: id.node, attempt: id.attempt, output: execution.input)))
                unitSucceeded(slot, output: execution.input, attempts: id.attempt, now: now, into: &actions)
                return actions
            }
            let next = beginAttempt(slot, attempt: id.attempt, input: execution.input, now: now, into: &actions)
            store(next, at: slot)
        case .timeout(let kind):
            guard id.attempt == execution.attempt, let deadline = execution.deadline(kind) else {
                return [.ignored(IgnoredEvent(.staleTimer, node: id.node, attempt: id.attempt))]
            }
            guard now >= deadline else { return [.schedule(id, at: deadline)] }
            actions += execution.armedTimers(node: id.node).filter { $0 != id }.map(Action.cancelTimer)
            actions.append(.cancelAttempt(node: id.node, attempt: id.attempt))
            actions.append(.record(.attemptTimedOut(node: id.node, attempt: id.attempt, timeout: kind)))
            attemptEnded(slot, execution, failure: .timeout(kind), now: now, into: &actions)
        }
        return actions
    }

    /// When the run fails for its workflow's `timeout`: the run's creation (the time in its id)
    /// plus the timeout, so that the deadline is the same after any recovery. nil: no timeout.
    var runDeadline: EngineInstant? {
        workflow.definition.timeout.map { EngineInstant(unixMilliseconds: Int64(clamping: runID.unixMilliseconds)).advanced(by: $0) }
    }

    /// Signals received that no signal node has taken yet.
    public var pendingSignalCount: Int { pendingSignals.count }

    /// The run received signal `name` with `payload` (JSON). The first signal node waiting for
    /// `name` (in topological order) succeeds with the payload; when none waits yet, the signal is
    /// kept and consumed by the first one that does. Either way it is recorded first
    /// (``HistoryEvent/signalReceived(seq:name:payload:)``), so a signal acknowledged to its sender
    /// is never lost. Only while the run is running.
    public mutating func signalReceived(name: String, payload: [UInt8], now: EngineInstant) -> [Action] {
        guard case .running = state else { return [.ignored(IgnoredEvent(.runNotRunning))] }
        let seq = nextSignalSeq
        nextSignalSeq += 1
        var actions: [Action] = [.record(.signalReceived(seq: seq, name: name, payload: payload))]
        let signal = PendingSignal(seq: seq, name: name, payload: payload)
        if !deliver(signal, now: now, into: &actions) { pendingSignals.append(signal) }
        return actions
    }

    /// Someone asked to cancel the run: open attempts are cancelled, timers disarmed, and the run
    /// closes as cancelled. Legal from `pending` and `running`. With `terminate`, the same, recorded
    /// as ``HistoryEvent/runTerminated(reason:)``: the shell kills the attempts in flight without
    /// the grace a cancel gives them.
    public mutating func cancelRequested(reason: String, terminate: Bool = false, now: EngineInstant) -> [Action] {
        switch state {
        case .pending, .running: break
        case .succeeded, .failed, .cancelled: return [.ignored(IgnoredEvent(.runNotRunning))]
        }
        var actions: [Action] = []
        if case .running = state, runDeadline != nil { actions.append(.cancelTimer(.run)) }
        stopEverything(into: &actions)
        actions.append(.record(terminate ? .runTerminated(reason: reason) : .runCancelled(reason: reason)))
        actions.append(.cancelRun(reason: reason))
        state = .cancelled(reason: reason)
        return actions
    }
}
