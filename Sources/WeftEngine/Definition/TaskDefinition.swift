/// One node of a workflow's DAG: which task type runs, after which nodes, and with which options
/// (ARCHITECTURE.md §4). File fields: `name`, `type`, `depends_on`, `retry`, `timeouts`, `priority`,
/// `queue`, `concurrency_key`, `cache_key`, `map`, `join`, `start_after`, `sleep`, `wait_signal`,
/// `signal_timeout`, `workflow`, `rate_limit`.
///
/// Rate limits: `rate_limit: {key: payments, limit: 10, per: 1s, burst: 10}` lets at most `limit`
/// attempts of all tasks naming the key start per `per`, cluster-wide (``RateLimit``); the key may
/// be a path into the input (`$.customer`: one limit per customer). Concurrency limits:
/// `concurrency: {key: $.customer, limit: 4}` lets at most `limit` attempts per key hold a slot at
/// once, cluster-wide (``ConcurrencyLimit``). The result cache: `cache: {key: $.url, ttl: 1h}`
/// completes an attempt whose key was computed within the TTL with that output, without a worker
/// (``ResultCache``). Circuit breakers: `circuit_breaker: {failure_rate: 0.5, min_requests: 20,
/// window: 1m, open_for: 30s, when_open: hold}` stops sending attempts of the node's task type
/// while too many fail (``CircuitBreakerPolicy``).
///
/// Durable timers: `start_after: D` delays the node's first attempt by D after it becomes ready;
/// a node with `sleep: D` (and no `type`) runs nothing — it succeeds D after it becomes ready, its
/// output its input. Neither holds a worker slot while it waits: the wait is a timer of the
/// scheduler, recorded with its deadline (an attempt row in `retry_wait`), re-armed on recovery
/// and fired once.
///
/// Signals: a node with `wait_signal: NAME` (and no `type`) runs nothing — it succeeds when the
/// run receives the signal NAME (`SignalRun`), its output the signal's payload. A signal that
/// arrives before its node is reached is kept (durably) and consumed when it is; `signal_timeout`
/// fails the node if none comes in time.
///
/// Input: a node without parents receives the run's input; a node with one parent receives that
/// parent's output; a node with several parents receives a JSON object keyed by parent name (see
/// ``RunStateMachine``). A `map` node receives its single parent's output, which must be a JSON
/// array, and runs one task per element (`shard[0]`, `shard[1]`, …); its own output is the array of
/// their outputs.
public struct TaskDefinition: Hashable, Sendable {
    /// The node's name, unique in its workflow: 1–128 characters from `A–Z a–z 0–9 _ . -`.
    public var name: String
    /// The task type: the name under which some worker registered a handler (`echo`, `noop`).
    public var type: String
    /// Names of the nodes that must finish first (the parents). Order carries no meaning.
    public var dependsOn: [String]
    /// What happens when an attempt fails. Default: ``RetryPolicy/init()``.
    public var retry: RetryPolicy
    /// Per-attempt time limits. Default: none.
    public var timeouts: TaskTimeouts
    /// The ready-queue priority of the node's attempts. Default `.normal`.
    public var priority: TaskPriority
    /// The ready queue (and so the pool of workers) the node's attempts go to. Default `"default"`.
    public var queue: String
    /// Attempts sharing a concurrency key are limited together by the scheduler (ARCHITECTURE.md §4).
    public var concurrencyKey: String?
    /// A key under which the scheduler may cache the node's result (ARCHITECTURE.md §4).
    public var cacheKey: String?
    /// `true`: fan out over the list the single parent returned, one task per element (or per batch:
    /// ``mapOptions``).
    public var map: Bool
    /// With `map`: batching and a cap on the node's tasks open at once (`map: {batch_size: …,
    /// max_concurrency: …}`); nil: `map: true`.
    public var mapOptions: MapOptions?
    /// How many parents must succeed before this node runs. `nil` means ``JoinPolicy/all`` for a
    /// node with parents; a root must leave it `nil`.
    public var join: JoinPolicy?
    /// How long after the node becomes ready its first attempt is dispatched. `nil`: at once.
    public var startAfter: Duration?
    /// Makes this a sleep node: it succeeds this long after it becomes ready, with its input as
    /// its output, without a task (``type`` is empty).
    public var sleep: Duration?
    /// Makes this a signal node: it succeeds with the payload of the first signal of this name the
    /// run receives, without a task (``type`` is empty).
    public var waitSignal: String?
    /// How long a signal node waits before it fails (`Timeout`, not retried); nil: forever.
    public var signalTimeout: Duration?
    /// A child-workflow node: the workflow whose run this node starts (with the node's input) and
    /// whose outcome is the node's (its output, or its failure). No worker runs the node itself.
    public var workflow: String?
    /// A cluster-wide limit on how often the node's attempts start; over it they wait.
    public var rateLimit: RateLimit?
    /// A cluster-wide limit on how many of the node's attempts (with others naming the key) run
    /// at once; over it they wait.
    public var concurrency: ConcurrencyLimit?
    /// Where the node's successful outputs are kept for reuse, and for how long.
    public var cache: ResultCache?
    /// A circuit breaker on the node's task type, shared cluster-wide by every task of the type.
    public var circuitBreaker: CircuitBreakerPolicy?

    /// The queue a node uses when its definition names none.
    public static let defaultQueue = "default"

    public init(
        name: String,
        type: String,
        dependsOn: [String] = [],
        retry: RetryPolicy = RetryPolicy(),
        timeouts: TaskTimeouts = TaskTimeouts(),
        priority: TaskPriority = .normal,
        queue: String = TaskDefinition.defaultQueue,
        concurrencyKey: String? = nil,
        cacheKey: String? = nil,
        map: Bool = false,
        join: JoinPolicy? = nil,
        startAfter: Duration? = nil,
        sleep: Duration? = nil,
        waitSignal: String? = nil,
        signalTimeout: Duration? = nil,
        workflow: String? = nil,
        rateLimit: RateLimit? = nil,
        concurrency: ConcurrencyLimit? = nil,
        cache: ResultCache? = nil,
        circuitBreaker: CircuitBreakerPolicy? = nil,
        mapOptions: MapOptions? = nil
    ) {
        self.name = name
        self.type = type
        self.dependsOn = dependsOn
        self.retry = retry
        self.timeouts = timeouts
        self.priority = priority
        self.queue = queue
        self.concurrencyKey = concurrencyKey
        self.cacheKey = cacheKey
        self.map = map
        self.join = join
        self.startAfter = startAfter
        self.sleep = sleep
        self.waitSignal = waitSignal
        self.signalTimeout = signalTimeout
        self.workflow = workflow
        self.rateLimit = rateLimit
        self.concurrency = concurrency
        self.cache = cache
        self.circuitBreaker = circuitBreaker
        self.mapOptions = mapOptions
    }

    /// Whether a worker runs this node (false for sleep, signal and child-workflow nodes, which
    /// have no type).
    public var runsTask: Bool { sleep == nil && waitSignal == nil && workflow == nil }

    /// How long the node waits, once ready, before its first attempt (or, for a sleep node, before
    /// it succeeds); nil when it does not.
    public var readyDelay: Duration? { sleep ?? startAfter }

    /// The join the engine applies: the declared one, or ``JoinPolicy/all`` when none is declared.
    public var effectiveJoin: JoinPolicy { join ?? .all }
}
