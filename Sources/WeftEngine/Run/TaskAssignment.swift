import WeftCore

/// Everything a worker needs to run one attempt of one task (ARCHITECTURE.md §4): the engine emits
/// it with ``RunStateMachine/Action/dispatch(_:)``; the scheduler puts it in the ready queue named
/// by ``queue`` at ``priority`` and pushes it to a worker, adding the partition's fence.
public struct TaskAssignment: Hashable, Sendable, CustomStringConvertible {
    /// The run the attempt belongs to.
    public var runID: RunID
    /// The node or map element to run.
    public var node: NodeKey
    /// 1-based. User code receives it so side effects can be made idempotent.
    public var attempt: Int
    /// The task type a worker registered.
    public var type: String
    /// The ready queue to put the attempt in.
    public var queue: String
    /// Its priority within that queue.
    public var priority: TaskPriority
    /// The input payload (JSON by contract; see ``JSONPayload``).
    public var input: [UInt8]
    /// The attempt's limits; the worker heartbeats well within ``TaskTimeouts/heartbeat``.
    public var timeouts: TaskTimeouts
    /// The node's concurrency key, for the scheduler's per-key limits.
    public var concurrencyKey: String?
    /// The node's cache key, for the scheduler's result cache.
    public var cacheKey: String?
    /// For a child-workflow node: the workflow whose run is this attempt. The scheduler starts that
    /// run (with ``input``) instead of queueing the attempt for a worker, and reports its outcome as
    /// the attempt's.
    public var childWorkflow: String?

    public init(
        runID: RunID,
        node: NodeKey,
        attempt: Int,
        type: String,
        queue: String,
        priority: TaskPriority,
        input: [UInt8],
        timeouts: TaskTimeouts,
        concurrencyKey: String? = nil,
        cacheKey: String? = nil,
        childWorkflow: String? = nil
    ) {
        self.runID = runID
        self.node = node
        self.attempt = attempt
        self.type = type
        self.queue = queue
        self.priority = priority
        self.input = input
        self.timeouts = timeouts
        self.concurrencyKey = concurrencyKey
        self.cacheKey = cacheKey
        self.childWorkflow = childWorkflow
    }

    public var description: String { "\(runID)/\(node)#\(attempt) (\(type) on \(queue), \(priority))" }
}
