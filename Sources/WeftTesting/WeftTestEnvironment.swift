import Foundation
import Weft
import WeftCore
import WeftEngine
import WeftWire

/// Runs workflows and their task handlers inside a unit test: no Postgres, no Redis, no processes,
/// no sockets. The run is driven by the engine's own `RunStateMachine` — the code the schedulers
/// run — so retries, backoffs, timeouts, joins, maps and failure propagation behave as in a
/// cluster. Time is virtual: when nothing can run, the clock jumps to the next timer, so a retry
/// backoff of ten minutes or a one-hour timeout costs no real time.
///
/// ```swift
/// var env = WeftTestEnvironment()
/// env.register(price) { order, _ in Quote(total: order.items.count * 10) }
/// env.inject(.fail(TaskError(kind: "Flaky", message: "try again")), into: "price", attempts: [1])
/// let run = try await env.run(shipping, input: order)
/// #expect(try run.result().total == 30)
/// #expect(run.attempts(of: "price").count == 2)
/// ```
///
/// Handlers run one attempt at a time, in dispatch order, so a test is deterministic. A handler
/// runs at the virtual instant its attempt is dispatched, and its result arrives at once — or
/// after ``Fault/delay(_:)`` of virtual time. While an attempt is outstanding its worker is alive
/// and heartbeats, as a real worker process does; ``Fault/hang`` stands for a worker that is stuck
/// or gone, so the attempt's timeouts decide.
public struct WeftTestEnvironment: Sendable {
    /// What happens to an attempt instead of (or besides) running its handler.
    public enum Fault: Sendable, Hashable {
        /// The attempt fails with `error` (its handler is not called).
        case fail(TaskError)
        /// The attempt never answers and stops heartbeating: only its timeouts end it. A step with
        /// no `start_to_close` or `heartbeat` timeout then never finishes, and ``run(_:input:)``
        /// says so.
        case hang
        /// The handler runs, and its result arrives after `duration` of virtual time (timeouts
        /// shorter than that fire first; the late result is then ignored, as in a cluster).
        case delay(Duration)
        /// The worker running the attempt is lost (its connection dropped): a retryable failure of
        /// kind `WorkerLost`.
        case workerLost
    }

    /// The task handlers, by type name. The built-in types (`noop`, `echo`, `sleep`) are there
    /// from the start.
    public var registry: TaskRegistry
    /// The most events one run may process before ``run(_:input:)`` gives up (a workflow that
    /// retries forever).
    public var maxEvents = 1_000_000
    /// The run's start instant on the virtual clock (milliseconds since the Unix epoch).
    public var startTime = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
    private var signals: [(after: Duration, name: String, payload: [UInt8])] = []
    private var faults: [Key: Fault] = [:]
    private var allAttemptFaults: [String: Fault] = [:]

    private struct Key: Hashable, Sendable {
        var node: String
        var attempt: Int
    }

    /// An environment whose registry holds the built-in task types.
    public init() {
        var registry = TaskRegistry()
        BuiltinTasks.register(into: &registry, allowExec: false)
        self.registry = registry
    }

    /// Registers the handler of `task` (see ``TaskRegistry/register(_:_:)``).
    public mutating func register<Input, Output>(
        _ task: TaskType<Input, Output>, _ handler: @escaping @Sendable (Input, TaskContext) async throws -> Output
    ) {
        registry.register(task, handler)
    }

    /// Makes `attempts` of step `step` (every attempt when nil) meet `fault`. For a map step,
    /// `step` names the step (every element) or one element (`"shard[2]"`).
    public mutating func inject(_ fault: Fault, into step: String, attempts: Set<Int>? = nil) {
        guard let attempts else {
            allAttemptFaults[step] = fault
            return
        }
        for attempt in attempts { faults[Key(node: step, attempt: attempt)] = fault }
    }

    /// Sends signal `name` with `payload` to each run, `after` (virtual time) its start — before
    /// its signal step is reached, or while it waits, as the timing falls.
    public mutating func signal(_ name: String, payload: some Encodable, after: Duration = .zero) throws {
        signals.append((after, name, try JSONCoding.encode(payload)))
    }

    /// Runs `workflow` with `input` until the run closes, and returns what happened.
    ///
    /// - Throws: ``WeftError`` `INVALID_ARGUMENT` when the definition is invalid (the same checks as
    ///   a server's `register`) or a step's task type has no handler; `FAILED_PRECONDITION` when the
    ///   run can make no progress (an attempt hangs with no timeout) or exceeds ``maxEvents``.
    ///   A run that fails is not an error here: look at ``TestRun/status`` or call
    ///   ``TestRun/result()``.
    public func run<Input, Output>(_ workflow: Workflow<Input, Output>, input: Input) async throws -> TestRun<Output> {
        let validated = try Self.validate(workflow.definitionJSON())
        let inputBytes: [UInt8]
        do {
            inputBytes = try JSONCoding.encode(input)
        } catch {
            throw WeftError(.invalidArgument, "the input does not encode as JSON: \(error)")
        }
        var random = SplitMix64(seed: 42)
        let start = EngineInstant(unixMilliseconds: Int64((startTime.timeIntervalSince1970 * 1000).rounded()))
        let runID = RunID(unixMilliseconds: UInt64(max(0, start.unixMilliseconds)), using: &random)
        var driver = Driver(
            machine: RunStateMachine(runID: runID, workflow: validated, seed: 42), now: start, start: start)
        driver.apply(driver.machine.started(input: inputBytes, now: start))
        for signal in signals { driver.post(.signal(signal.name, signal.payload), after: signal.after) }
        var events = 0
        while driver.outcome == nil {
            events += 1
            guard events <= maxEvents else {
                throw WeftError(.failedPrecondition, "run of '\(workflow.name)' still open after \(maxEvents) events (maxEvents)", runID: runID)
            }
            if !driver.ready.isEmpty {
                let assignment = driver.ready.removeFirst()
                try await execute(assignment, workflow: workflow.name, driver: &driver)
            } else if let next = driver.nextEvent() {
                driver.now = max(driver.now, next.at)
                driver.fire(next.event)
            } else {
                let hung = driver.hung.map { "\($0.node)#\($0.attempt)" }.sorted()
                let waiting = driver.machine.workflow.tasks.filter { task in
                    if case .awaitingSignal? = driver.machine.node(NodeKey(task.name))?.status { true } else { false }
                }.map { "'\($0.name)' (signal '\($0.waitSignal ?? "")')" }
                let why = hung.isEmpty
                    ? "step(s) \(waiting.joined(separator: ", ")) wait for a signal that never comes: send it with env.signal"
                    : "attempt(s) \(hung.joined(separator: ", ")) hang and have no timeout"
                throw WeftError(.failedPrecondition, "run of '\(workflow.name)' can make no progress: \(why)", runID: runID)
            }
        }
        return TestRun(runID: runID, driver: driver)
    }

    private func execute(_ assignment: TaskAssignment, workflow: String, driver: inout Driver) async throws {
        let ref = Driver.Ref(node: assignment.node, attempt: assignment.attempt)
        driver.apply(driver.machine.taskDispatched(node: assignment.node, attempt: assignment.attempt, worker: "test-worker", now: driver.now))
        let fault = faults[Key(node: assignment.node.description, attempt: assignment.attempt)]
            ?? faults[Key(node: assignment.node.name, attempt: assignment.attempt)]
            ?? allAttemptFaults[assignment.node.description] ?? allAttemptFaults[assignment.node.name]
        var delay: Duration = .zero
        switch fault {
        case .hang?:
            driver.hung.insert(ref)
            return
        case .fail(let error)?:
            driver.post(.result(ref, .failure(TaskFailure(kind: error.kind, message: error.message, retryable: error.retryable))), after: .zero)
            return
        case .workerLost?:
            driver.post(.lost(ref), after: .zero)
            return
        case .delay(let duration)?:
            delay = duration
        case nil:
            break
        }
        if let child = assignment.childWorkflow {
            throw WeftError(
                .unimplemented,
                "step '\(assignment.node.name)' starts child workflow '\(child)', which WeftTestEnvironment does not run: inject a fault for it (.fail, .hang), or test the child workflow on its own",
                runID: assignment.runID)
        }
        guard let handler = registry.handler(for: assignment.type) else {
            throw WeftError(
                .invalidArgument,
                "no handler for task type '\(assignment.type)' (step '\(assignment.node.name)'); register one on the environment (env.register) or inject a fault",
                runID: assignment.runID)
        }
        let context = TaskContext(
            runID: assignment.runID, node: assignment.node.description, attempt: assignment.attempt, workflow: workflow,
            taskType: assignment.type)
        let result: Driver.Outcome
        do {
            result = .success(try await handler(assignment.input, context))
        } catch {
            let failure = TaskError.from(error)
            result = .failure(TaskFailure(kind: failure.kind, message: failure.message, retryable: failure.retryable))
        }
        driver.post(.result(ref, result), after: delay)
    }

    /// The server's checks of a definition (`RegisterWorkflow`).
    static func validate(_ json: [UInt8]) throws -> ValidatedWorkflow {
        do {
            try JSONPayload.checkUniqueMemberNames(json)
            let definition = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(json))
            var limits = WorkflowDefinition.Limits()
            limits.refuseReservedFields = true
            return try definition.validated(limits: limits)
        } catch {
            throw WeftError(.invalidArgument, "invalid workflow definition: \(error)")
        }
    }
}

/// The state of one test run between events: the machine, the virtual clock, the ready attempts,
/// and the timers and results waiting for their instant.
struct Driver: Sendable {
    struct Ref: Hashable, Sendable {
        var node: NodeKey
        var attempt: Int
    }

    enum Outcome: Sendable {
        case success([UInt8])
        case failure(TaskFailure)
    }

    enum Event: Sendable {
        case timer(TimerID)
        case result(Ref, Outcome)
        case lost(Ref)
        case signal(String, [UInt8])

        var ref: Ref? {
            switch self {
            case .timer, .signal: nil
            case .result(let ref, _), .lost(let ref): ref
            }
        }
    }

    enum Closed: Sendable {
        case succeeded([UInt8])
        case failed(RunFailure)
        case cancelled(String)
    }

    var machine: RunStateMachine
    var now: EngineInstant
    let start: EngineInstant
    var ready: [TaskAssignment] = []
    var hung: Set<Ref> = []
    var outcome: Closed?
    var history: [(at: EngineInstant, event: HistoryEvent)] = []
    private var pending: [(at: EngineInstant, sequence: Int, event: Event)] = []
    private var sequence = 0

    init(machine: RunStateMachine, now: EngineInstant, start: EngineInstant) {
        self.machine = machine
        self.now = now
        self.start = start
    }

    mutating func post(_ event: Event, after delay: Duration) {
        sequence += 1
        pending.append((now.advanced(by: delay), sequence, event))
    }

    /// Removes and returns the earliest waiting event.
    mutating func nextEvent() -> (at: EngineInstant, event: Event)? {
        guard let index = pending.indices.min(by: { (pending[$0].at, pending[$0].sequence) < (pending[$1].at, pending[$1].sequence) }) else {
            return nil
        }
        let next = pending.remove(at: index)
        return (next.at, next.event)
    }

    mutating func fire(_ event: Event) {
        switch event {
        case .timer(let id):
            let ref = Ref(node: id.node, attempt: id.attempt)
            if case .timeout(.heartbeat) = id.kind, !hung.contains(ref), pending.contains(where: { $0.event.ref == ref }) {
                // The attempt's worker is alive (its result is on the way): it heartbeats.
                apply(machine.heartbeatReceived(node: id.node, attempt: id.attempt, now: now))
            } else {
                apply(machine.timerFired(id, now: now))
            }
        case .result(let ref, .success(let output)):
            apply(machine.taskCompleted(node: ref.node, attempt: ref.attempt, output: output, now: now))
        case .result(let ref, .failure(let failure)):
            apply(machine.taskFailed(node: ref.node, attempt: ref.attempt, failure: failure, now: now))
        case .lost(let ref):
            apply(machine.workerLost(node: ref.node, attempt: ref.attempt, now: now))
        case .signal(let name, let payload):
            apply(machine.signalReceived(name: name, payload: payload, now: now))
        }
    }

    /// Carries out the machine's actions, as a scheduler's shell would (without the storage).
    mutating func apply(_ actions: [RunStateMachine.Action]) {
        for action in actions {
            switch action {
            case .record(let event):
                history.append((now, event))
            case .dispatch(let assignment):
                ready.append(assignment)
            case .cancelAttempt(let node, let attempt):
                let ref = Ref(node: node, attempt: attempt)
                ready.removeAll { $0.node == node && $0.attempt == attempt }
                pending.removeAll { $0.event.ref == ref }
                hung.remove(ref)
            case .schedule(let id, let at):
                pending.removeAll { if case .timer(id) = $0.event { true } else { false } }
                sequence += 1
                pending.append((at, sequence, .timer(id)))
            case .cancelTimer(let id):
                pending.removeAll { if case .timer(id) = $0.event { true } else { false } }
            case .completeRun(let output):
                outcome = .succeeded(output)
            case .failRun(let failure):
                outcome = .failed(failure)
            case .cancelRun(let reason):
                outcome = .cancelled(reason)
            case .ignored:
                break
            }
        }
    }
}
