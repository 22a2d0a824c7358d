import Testing
import WeftCore
@testable import WeftEngine

/// A simulated shell around one ``RunStateMachine``: it applies every action to a small model of
/// the world (ready queue, workers, timers, history) and, after every event, checks the machine's
/// invariants against that model:
///
/// - folding the records emitted so far gives exactly `machine.snapshot()` (records suffice for
///   recovery);
/// - the timers armed in the model are exactly those the machine's state implies, and the machine
///   never cancels a timer that is not armed;
/// - every open attempt is queued or running in the model, under its number.
struct RunDriver {
    /// What a scripted worker does with an assignment.
    enum Behaviour {
        case complete([UInt8])
        case fail(TaskFailure)
        /// Never answers (timeouts decide).
        case hang
    }

    /// How the run ended.
    enum Outcome: Equatable {
        case completed([UInt8])
        case failed(RunFailure)
        case cancelled(String)
    }

    private(set) var machine: RunStateMachine
    private(set) var now: EngineInstant
    /// Every record emitted, in order (the durable history).
    private(set) var records: [HistoryEvent] = []
    private(set) var timers: [TimerID: EngineInstant] = [:]
    /// Dispatched, not yet taken by a worker.
    private(set) var queued: [NodeKey: TaskAssignment] = [:]
    /// Taken by a worker.
    private(set) var running: [NodeKey: TaskAssignment] = [:]
    private(set) var cancelledAttempts: [(node: NodeKey, attempt: Int)] = []
    private(set) var outcome: Outcome?
    private(set) var ignored: [IgnoredEvent] = []
    /// Every assignment ever dispatched, in order.
    private(set) var dispatchLog: [TaskAssignment] = []

    init(workflow: ValidatedWorkflow, seed: UInt64 = 1, now: EngineInstant = Fixtures.t0, configuration: RunStateMachine.Configuration = .init()) {
        self.machine = RunStateMachine(runID: Fixtures.runID, workflow: workflow, configuration: configuration, seed: seed)
        self.now = now
    }

    // MARK: Events

    @discardableResult
    mutating func start(_ input: String) -> [RunStateMachine.Action] {
        apply(machine.started(input: Fixtures.b(input), now: now))
    }

    /// A worker takes the queued attempt of `node`.
    @discardableResult
    mutating func take(_ node: NodeKey, worker: String = "w1") -> [RunStateMachine.Action] {
        guard let assignment = queued[node] else {
            Issue.record("\(node) is not queued")
            return []
        }
        return apply(machine.taskDispatched(node: node, attempt: assignment.attempt, worker: worker, now: now))
    }

    /// The worker running `node` (or, if none, whoever holds the queued copy) completes it.
    @discardableResult
    mutating func complete(_ node: NodeKey, _ output: String) -> [RunStateMachine.Action] {
        complete(node, bytes: Fixtures.b(output))
    }

    @discardableResult
    mutating func complete(_ node: NodeKey, bytes output: [UInt8]) -> [RunStateMachine.Action] {
        guard let attempt = (running[node] ?? queued[node])?.attempt else {
            Issue.record("\(node) has no attempt in flight")
            return []
        }
        return apply(machine.taskCompleted(node: node, attempt: attempt, output: output, now: now))
    }

    @discardableResult
    mutating func fail(_ node: NodeKey, _ failure: TaskFailure) -> [RunStateMachine.Action] {
        guard let attempt = (running[node] ?? queued[node])?.attempt else {
            Issue.record("\(node) has no attempt in flight")
            return []
        }
        return apply(machine.taskFailed(node: node, attempt: attempt, failure: failure, now: now))
    }

    @discardableResult
    mutating func heartbeat(_ node: NodeKey) -> [RunStateMachine.Action] {
        guard let attempt = running[node]?.attempt else {
            Issue.record("\(node) is not running")
            return []
        }
        return apply(machine.heartbeatReceived(node: node, attempt: attempt, now: now))
    }

    @discardableResult
    mutating func cancel(_ reason: String) -> [RunStateMachine.Action] {
        apply(machine.cancelRequested(reason: reason, now: now))
    }

    /// Sends an arbitrary event through the checks.
    @discardableResult
    mutating func send(_ event: (inout RunStateMachine, EngineInstant) -> [RunStateMachine.Action]) -> [RunStateMachine.Action] {
        let actions = event(&machine, now)
        return apply(actions)
    }

    /// Moves the clock to `instant` without firing anything.
    mutating func setClock(_ instant: EngineInstant) { now = instant }

    /// Advances the clock by `milliseconds`, firing every timer that falls due, earliest first.
    /// Returns the actions of all firings.
    @discardableResult
    mutating func advance(by milliseconds: Int64) -> [RunStateMachine.Action] {
        let target = EngineInstant(unixMilliseconds: now.unixMilliseconds + milliseconds)
        var actions: [RunStateMachine.Action] = []
        while let (id, deadline) = nextTimer(), deadline <= target {
            now = max(now, deadline)
            timers[id] = nil
            actions += apply(machine.timerFired(id, now: now))
        }
        now = target
        return actions
    }

    /// Fires the earliest timer (moving the clock to it); `nil` when none is armed.
    mutating func fireNextTimer() -> [RunStateMachine.Action]? {
        guard let (id, deadline) = nextTimer() else { return nil }
        now = max(now, deadline)
        timers[id] = nil
        return apply(machine.timerFired(id, now: now))
    }

    /// The earliest armed timer, ties broken by name.
    func nextTimer() -> (TimerID, EngineInstant)? {
        timers.min { a, b in
            a.value != b.value ? a.value < b.value : a.key.description < b.key.description
        }.map { ($0.key, $0.value) }
    }

    // MARK: Automatic running

    /// One step of a deterministic simulation: take the first queued attempt; else let the first
    /// running attempt whose behaviour answers do so; else fire the earliest timer. `false` when
    /// nothing is left to do.
    mutating func step(_ behaviour: (TaskAssignment) -> Behaviour) -> Bool {
        if let node = queued.keys.min() {
            take(node)
            return true
        }
        for node in running.keys.sorted() {
            guard let assignment = running[node] else { continue }
            switch behaviour(assignment) {
            case .complete(let output):
                complete(node, bytes: output)
                return true
            case .fail(let failure):
                fail(node, failure)
                return true
            case .hang:
                continue
            }
        }
        return fireNextTimer() != nil
    }

    /// Steps until the run closes (or `limit` steps); returns the number of steps taken.
    @discardableResult
    mutating func runToEnd(limit: Int = 100_000, _ behaviour: (TaskAssignment) -> Behaviour) -> Int {
        var steps = 0
        while outcome == nil, steps < limit, step(behaviour) { steps += 1 }
        return steps
    }

    // MARK: Recovery

    /// Simulates a scheduler crash and recovery: the durable records survive; the ready queue,
    /// workers' streams and timers are lost; a new machine is recovered from the folded records at
    /// the current time.
    mutating func crashAndRecover(seed: UInt64 = 99, keepRunningWorkers: Bool = false) throws {
        var snapshot = RunSnapshot()
        snapshot.apply(records)
        let (recovered, actions) = try RunStateMachine.recover(
            runID: machine.runID, workflow: machine.workflow, snapshot: snapshot,
            configuration: machine.configuration, seed: seed, now: now
        )
        machine = recovered
        timers = [:]
        queued = [:]
        if !keepRunningWorkers { running = [:] }
        apply(actions)
    }

    // MARK: Applying actions

    @discardableResult
    mutating func apply(_ actions: [RunStateMachine.Action]) -> [RunStateMachine.Action] {
        for action in actions {
            switch action {
            case .record(let event):
                records.append(event)
            case .dispatch(let assignment):
                #expect(assignment.runID == machine.runID)
                queued[assignment.node] = assignment
                dispatchLog.append(assignment)
            case .cancelAttempt(let node, let attempt):
                if queued[node]?.attempt == attempt { queued[node] = nil }
                if running[node]?.attempt == attempt { running[node] = nil }
                cancelledAttempts.append((node, attempt))
            case .schedule(let id, let at):
                timers[id] = at
            case .cancelTimer(let id):
                #expect(timers[id] != nil, "cancelled timer \(id) was not armed")
                timers[id] = nil
            case .completeRun(let output):
                #expect(outcome == nil)
                outcome = .completed(output)
            case .failRun(let failure):
                #expect(outcome == nil)
                outcome = .failed(failure)
            case .cancelRun(let reason):
                #expect(outcome == nil)
                outcome = .cancelled(reason)
            case .ignored(let event):
                #expect(actions.count == 1, "an ignored event comes alone")
                ignored.append(event)
            }
            // A worker taking an attempt moves it from the queue to the worker.
            if case .record(.attemptStarted(let node, let attempt, _)) = action, let assignment = queued[node], assignment.attempt == attempt {
                queued[node] = nil
                running[node] = assignment
            }
            // A result closes the attempt wherever it was.
            switch action {
            case .record(.attemptCompleted(let node, let attempt, _)), .record(.attemptFailed(let node, let attempt, _)),
                 .record(.attemptTimedOut(let node, let attempt, _)):
                if queued[node]?.attempt == attempt { queued[node] = nil }
                if running[node]?.attempt == attempt { running[node] = nil }
            default:
                break
            }
        }
        checkInvariants()
        return actions
    }

    private func checkInvariants() {
        var folded = RunSnapshot()
        folded.apply(records)
        #expect(folded == machine.snapshot(), "folding the records must give the machine's snapshot")
        #expect(Set(timers.keys) == machine.armedTimers, "armed timers must match the machine's state")
        for (node, attempt) in machine.openAttempts {
            let inModel = queued[node]?.attempt == attempt || running[node]?.attempt == attempt
            #expect(inModel, "open attempt \(node)#\(attempt) is neither queued nor running")
        }
        if machine.status.isClosed {
            #expect(timers.isEmpty, "a closed run leaves no timer armed: \(timers)")
            #expect(machine.openAttempts.isEmpty)
        }
    }
}

extension RunStateMachine {
    /// Every timer the machine's state implies is armed (test-only view of internal state).
    var armedTimers: Set<TimerID> {
        var timers: Set<TimerID> = []
        if case .running = state, runDeadline != nil { timers.insert(.run) }  // the workflow's timeout
        for (index, node) in nodes.enumerated() {
            let name = workflow.tasks[index].name
            switch node {
            case .active(let execution):
                timers.formUnion(execution.armedTimers(node: NodeKey(name)))
            case .mapping(let progress):
                for (element, state) in progress.elements.enumerated() {
                    if case .active(let execution) = state { timers.formUnion(execution.armedTimers(node: NodeKey(name, index: element))) }
                }
            default:
                break
            }
        }
        return timers
    }

    /// Every open (queued or running) attempt.
    var openAttempts: [(NodeKey, Int)] {
        var open: [(NodeKey, Int)] = []
        for (index, node) in nodes.enumerated() {
            let name = workflow.tasks[index].name
            switch node {
            case .active(let execution) where execution.isOpen:
                open.append((NodeKey(name), execution.attempt))
            case .mapping(let progress):
                for (element, state) in progress.elements.enumerated() {
                    if case .active(let execution) = state, execution.isOpen { open.append((NodeKey(name, index: element), execution.attempt)) }
                }
            default:
                break
            }
        }
        return open
    }
}
