import WeftCore

/// How urgently a task (or every task of a run) is dispatched: a higher priority's ready tasks go
/// to workers first.
public enum Priority: String, Sendable, Hashable, Codable, CaseIterable {
    /// Before everything else.
    case critical
    /// Before `normal` and `low`.
    case high
    /// The default.
    case normal
    /// After everything else.
    case low
}

/// When a task with several parents becomes ready.
public enum Join: Sendable, Hashable {
    /// Once every parent succeeded (the default).
    case all
    /// Once one parent succeeded; the others may fail.
    case any
    /// Once `n` parents succeeded.
    case atLeast(Int)

    var text: String {
        switch self {
        case .all: "all"
        case .any: "any"
        case .atLeast(let n): "at_least(\(n))"
        }
    }
}

/// A task in a workflow: a name unique in the workflow, the ``TaskType`` that runs it, and its
/// options (retries, timeouts, priority, queue). `Input` is what the step receives — the run's input
/// for a first step, else its parent's output — and `Output` what it gives its children.
///
/// ```swift
/// let price = Step(TaskType<Order, Quote>("price"))                 // named after its type
///     .retry(maxAttempts: 5, initialBackoff: .milliseconds(200))
///     .timeouts(startToClose: .seconds(30))
/// let extract = Step("extract", type: "echo")                      // untyped: JSON in, JSON out
/// ```
///
/// A step is a value: modifiers return a changed copy. Using the same step (by name) in two places
/// of one workflow is the same task with the dependencies of both places.
public struct Step<Input: Codable & Sendable, Output: Codable & Sendable>: WorkflowGraph {
    /// The step's name, unique in its workflow.
    public let name: String
    /// The name of the task type that runs it.
    public let taskType: String
    var options: [String: JSONValue] = [:]

    /// A step named `name` that runs `task`.
    public init(_ name: String, _ task: TaskType<Input, Output>) {
        self.name = name
        self.taskType = task.name
    }

    /// A step named after the task type it runs.
    public init(_ task: TaskType<Input, Output>) {
        self.init(task.name, task)
    }

    /// The step as a graph of one node.
    public var graph: StepGraph { StepGraph(spec) }

    var spec: StepSpec {
        StepSpec(name: name, type: taskType, options: options, input: InputShape(Input.self))
    }

    /// Retries: up to `maxAttempts` attempts in all (1 = no retry), waiting `initialBackoff` after
    /// the first failure, doubling up to `maxBackoff`, with jitter. A failure whose kind is listed
    /// in `nonRetryable` (or a `TaskError` with `retryable: false`) is never retried.
    public func retry(maxAttempts: Int, initialBackoff: Duration? = nil, maxBackoff: Duration? = nil, nonRetryable: [String] = []) -> Self {
        var retry: [String: JSONValue] = ["max_attempts": .number(Double(maxAttempts))]
        if let initialBackoff { retry["initial_backoff"] = .string(DurationText.format(initialBackoff)) }
        if let maxBackoff { retry["max_backoff"] = .string(DurationText.format(maxBackoff)) }
        if !nonRetryable.isEmpty { retry["non_retryable"] = .array(nonRetryable.map(JSONValue.string)) }
        return with("retry", .object(retry))
    }

    /// Timeouts of each attempt: waiting for a worker (`scheduleToStart`), running
    /// (`startToClose`), and between heartbeats (`heartbeat`). A timed-out attempt is a retryable
    /// failure.
    public func timeouts(scheduleToStart: Duration? = nil, startToClose: Duration? = nil, heartbeat: Duration? = nil) -> Self {
        var timeouts: [String: JSONValue] = [:]
        if let scheduleToStart { timeouts["schedule_to_start"] = .string(DurationText.format(scheduleToStart)) }
        if let startToClose { timeouts["start_to_close"] = .string(DurationText.format(startToClose)) }
        if let heartbeat { timeouts["heartbeat"] = .string(DurationText.format(heartbeat)) }
        return with("timeouts", .object(timeouts))
    }

    /// The step's dispatch priority (default: the run's).
    public func priority(_ priority: Priority) -> Self { with("priority", .string(priority.rawValue)) }

    /// The queue whose workers run this step (default `default`).
    public func queue(_ queue: String) -> Self { with("queue", .string(queue)) }

    /// Delays the step's first attempt by `delay` after it becomes ready, without holding a
    /// worker slot: a durable timer of the scheduler, which survives restarts and failover.
    public func startAfter(_ delay: Duration) -> Self { with("start_after", .string(DurationText.format(delay))) }

    /// A cluster-wide rate limit: at most `limit` attempts of every step naming `key` start per
    /// `per`, and at most `burst` (default `limit`) at once after a quiet spell. Attempts over the
    /// limit wait — without failing and without holding a worker slot. `key` is a constant
    /// (`"payments"`) or a path into the step's input (`"$.customer"`: one limit per customer).
    /// Needs the scheduler to have Redis (`--redis`).
    ///
    /// ```swift
    /// Step("charge", charge).rateLimit(key: "$.merchant", limit: 10, per: .seconds(1))
    /// ```
    public func rateLimit(key: String, limit: Int, per: Duration = .seconds(1), burst: Int? = nil) -> Self {
        var rate: [String: JSONValue] = ["key": .string(key), "limit": .number(Double(limit))]
        if per != .seconds(1) { rate["per"] = .string(DurationText.format(per)) }
        if let burst { rate["burst"] = .number(Double(burst)) }
        return with("rate_limit", .object(rate))
    }

    /// A cluster-wide concurrency limit: at most `limit` attempts of every step naming `key` hold a
    /// slot at once — from when the scheduler admits them until they end. Attempts over the limit
    /// wait in order, without holding a worker slot; each key waits in a queue of its own, so one
    /// busy key cannot hold up the others. `key` is a constant or a path into the step's input
    /// (`"$.customer"`: `limit` per customer). Needs the scheduler to have Redis (`--redis`).
    ///
    /// ```swift
    /// Step("export", export).concurrency(key: "$.tenant", limit: 4)
    /// ```
    public func concurrency(key: String, limit: Int) -> Self {
        with("concurrency", .object(["key": .string(key), "limit": .number(Double(limit))]))
    }

    /// Keeps the step's successful outputs in the result cache under `key` for `ttl`: a later
    /// attempt (of any run) whose key matches completes at once with the cached output, without a
    /// worker. `key` is a constant or a path into the step's input (`"$.url"`). Needs the
    /// scheduler to have Redis (`--redis`); without it every lookup misses.
    ///
    /// ```swift
    /// Step("fetch", fetch).cache(key: "$.url", ttl: .seconds(3600))
    /// ```
    public func cache(key: String, ttl: Duration) -> Self {
        with("cache", .object(["key": .string(key), "ttl": .string(DurationText.format(ttl))]))
    }

    /// A circuit breaker on the step's task type, shared cluster-wide by every step of that type:
    /// once `minRequests` attempts ended within `window` and `failureRate` of them failed, attempts
    /// of the type are held (or, with `failFast`, fail at once as `CircuitOpen`) for `openFor`, then
    /// one probe goes; its success closes the breaker. Needs the scheduler to have Redis.
    ///
    /// ```swift
    /// Step("charge", charge).circuitBreaker(failureRate: 0.5, minRequests: 20, window: .seconds(60), openFor: .seconds(30))
    /// ```
    public func circuitBreaker(
        failureRate: Double = 0.5, minRequests: Int = 20, window: Duration = .seconds(60), openFor: Duration = .seconds(30),
        failFast: Bool = false
    ) -> Self {
        with("circuit_breaker", .object([
            "failure_rate": .number(failureRate), "min_requests": .number(Double(minRequests)),
            "window": .string(DurationText.format(window)), "open_for": .string(DurationText.format(openFor)),
            "when_open": .string(failFast ? "fail" : "hold"),
        ]))
    }

    /// When the step starts if it has several parents (default ``Join/all``).
    public func join(_ join: Join) -> Self { with("join", .string(join.text)) }

    /// One task per element of the list the step's parent returns; the step's output is the list of
    /// their outputs, in order. The step must have exactly one parent.
    public func map() -> MapStep<Input, Output> {
        MapStep(step: with("map", .bool(true)))
    }

    /// A map (one task per element) with at most `maxConcurrency` of the step's tasks open at once (the next starts
    /// when one succeeds): `map: {max_concurrency: N}`.
    public func map(maxConcurrency: Int) -> MapStep<Input, Output> {
        MapStep(step: with("map", .object(["max_concurrency": .number(Double(maxConcurrency))])))
    }

    /// A map in batches (`map: {batch_size: N}`): the parent's list is cut into runs of up to
    /// `batchSize` consecutive elements, each one task of this step — which receives that array
    /// and returns one output per element — and the step's output is their outputs concatenated,
    /// in order. `maxConcurrency` caps the step's tasks open at once.
    ///
    /// ```swift
    /// let index = TaskType<[Document], [Summary]>("summarize-batch")
    /// Step(index).batchedMap(batchSize: 100, maxConcurrency: 8)   // [Document] in, [Summary] out
    /// ```
    public func batchedMap<Element, ElementOutput>(batchSize: Int, maxConcurrency: Int? = nil) -> BatchedMapStep<Element, ElementOutput>
    where Input == [Element], Output == [ElementOutput] {
        var options: [String: JSONValue] = ["batch_size": .number(Double(batchSize))]
        if let maxConcurrency { options["max_concurrency"] = .number(Double(maxConcurrency)) }
        return BatchedMapStep(spec: with("map", .object(options)).spec)
    }

    fileprivate func with(_ key: String, _ value: JSONValue) -> Self {
        var copy = self
        copy.options[key] = value
        return copy
    }
}

extension Step {
    /// A step that runs workflow `workflow` as a **child workflow** (`workflow: NAME` in a
    /// definition): a run of it starts with this step's input — in whatever partition its id falls,
    /// on another shard in a cluster — and the step ends with that run's output, or fails with its
    /// failure (final: the child's tasks had their own retries; a child that exceeds
    /// `timeouts(startToClose:)` is cancelled and, if `retry` allows, started again). No worker
    /// runs the step itself.
    /// `.map()` starts one child per element of the parent's list.
    ///
    /// ```swift
    /// let batch = Workflow("ship-batch") {
    ///     Step("orders", TaskType<[Order], [Order]>("echo"))
    ///     Step("ship-each", child: shipping).map()    // one shipping run per order
    /// }
    /// ```
    public init(_ name: String, child workflow: Workflow<Input, Output>) {
        self.name = name
        self.taskType = ""
        self.options = ["workflow": .string(workflow.name)]
    }
}

extension Step where Input == JSONValue, Output == JSONValue {
    /// An untyped step: runs the task type named `type` with JSON in and out (built-in types such
    /// as `echo` and `noop`, or any type whose payloads you handle as ``JSONValue``).
    public init(_ name: String, type: String) {
        self.init(name, TaskType(type))
    }

    /// An untyped map step: its parent's output is the JSON list to map over, its output the list
    /// of its tasks' outputs.
    public func map() -> Flow<JSONValue, JSONValue> {
        Flow(graph: StepGraph(with("map", .bool(true)).spec))
    }
}

/// A step that runs once per element of the list its parent returns (`Step.map()`, `Step.map(maxConcurrency:)`): it takes
/// `[Input]` and gives `[Output]`, one output per element, in order.
public struct MapStep<Element: Codable & Sendable, ElementOutput: Codable & Sendable>: WorkflowGraph {
    /// What the map step takes: its parent's list.
    public typealias Input = [Element]
    /// What it gives: the list of its tasks' outputs.
    public typealias Output = [ElementOutput]

    let step: Step<Element, ElementOutput>

    init(step: Step<Element, ElementOutput>) {
        self.step = step
    }

    /// The step's name.
    public var name: String { step.name }

    /// The step as a graph of one node.
    public var graph: StepGraph { StepGraph(step.spec) }
}

/// A step mapped in batches (`Step.batchedMap(batchSize:maxConcurrency:)`): it takes its
/// parent's list and gives the list of per-element outputs; each of its tasks handles one batch.
public struct BatchedMapStep<Element: Codable & Sendable, ElementOutput: Codable & Sendable>: WorkflowGraph {
    /// What the step takes: its parent's list.
    public typealias Input = [Element]
    /// What it gives: one output per element, in order.
    public typealias Output = [ElementOutput]

    let spec: StepSpec

    /// The step as a graph of one node.
    public var graph: StepGraph { StepGraph(spec) }
}

/// A step that waits: it succeeds `duration` after it becomes ready, with its input as its output,
/// and runs no task (`sleep: D` in a definition). The wait is a durable timer of the scheduler — no
/// worker slot is held, and a restart or failover does not move or repeat it.
///
/// ```swift
/// let flow = Step(charge) >>> Sleep<Receipt>("cool-off", for: .seconds(600)) >>> Step(settle)
/// ```
public struct Sleep<Value: Codable & Sendable>: WorkflowGraph {
    /// What the sleep takes (its parent's output).
    public typealias Input = Value
    /// What it gives: the same value.
    public typealias Output = Value

    /// The step's name, unique in its workflow.
    public let name: String
    /// How long it waits.
    public let duration: Duration

    /// A sleep step named `name` that waits `duration`.
    public init(_ name: String, for duration: Duration) {
        self.name = name
        self.duration = duration
    }

    /// The step as a graph of one node.
    public var graph: StepGraph {
        StepGraph(StepSpec(name: name, type: "", options: ["sleep": .string(DurationText.format(duration))], input: InputShape(Value.self)))
    }
}

/// A step that waits for a signal (`wait_signal` in a definition): it succeeds when the run
/// receives signal `signal` (``WeftClient/signal(_:_:payload:)``, `weftctl run signal`), with the
/// signal's payload as its output, and runs no task. A signal sent before the step is reached is
/// kept until it is. With a `timeout`, the step fails if no signal comes in time.
///
/// ```swift
/// let flow = Step(draft) >>> WaitSignal<Approval>("approval", timeout: .seconds(86_400)) >>> Step(publish)
/// ```
public struct WaitSignal<Payload: Codable & Sendable>: WorkflowGraph {
    /// What the step takes: anything (its parent's output is not used).
    public typealias Input = JSONValue
    /// What it gives: the signal's payload.
    public typealias Output = Payload

    /// The step's name, unique in its workflow.
    public let name: String
    /// The signal it waits for.
    public let signal: String
    /// How long it waits before it fails; nil: forever.
    public let timeout: Duration?

    /// A step named `name` waiting for signal `signal` (default: the step's name).
    public init(_ name: String, signal: String? = nil, timeout: Duration? = nil) {
        self.name = name
        self.signal = signal ?? name
        self.timeout = timeout
    }

    /// The step as a graph of one node.
    public var graph: StepGraph {
        var options: [String: JSONValue] = ["wait_signal": .string(signal)]
        if let timeout { options["signal_timeout"] = .string(DurationText.format(timeout)) }
        return StepGraph(StepSpec(name: name, type: "", options: options, input: .any))
    }
}
