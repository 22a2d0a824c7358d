import WeftCore

// Swift twins of `weft/api/v1/worker.proto` (service "weft.api.v1.Worker"). Stream items carry a
// `Message` suffix so they do not collide with the engine's own types of similar names.

/// Method names of the worker service.
public enum WorkerMethods {
    /// Unary, on a coordinator: where are the schedulers?
    public static let discover = "weft.api.v1.Worker/Discover"
    /// Bidirectional, on a scheduler: `WorkerMessage`s in, `SchedulerMessage`s out.
    public static let connect = "weft.api.v1.Worker/Connect"
}

public struct DiscoverRequest: Hashable, Sendable {
    public var queues: [String]
    public init(queues: [String] = []) { self.queues = queues }
}

public struct SchedulerEndpoint: Hashable, Sendable {
    public var nodeID: String
    public var address: String
    public init(nodeID: String, address: String) {
        self.nodeID = nodeID
        self.address = address
    }
}

public struct DiscoverResponse: Hashable, Sendable {
    public var schedulers: [SchedulerEndpoint]
    public init(schedulers: [SchedulerEndpoint]) { self.schedulers = schedulers }
}

/// One attempt of one task of one run, and the partition fence it was assigned under.
public struct AttemptReference: Hashable, Sendable {
    public var runID: RunID
    public var node: String
    public var attempt: UInt32
    public var fence: Int64
    public init(runID: RunID, node: String, attempt: UInt32, fence: Int64) {
        self.runID = runID
        self.node = node
        self.attempt = attempt
        self.fence = fence
    }
}

public struct WorkerHelloMessage: Hashable, Sendable {
    public var workerID: String
    public var queues: [String]
    public var taskTypes: [String]
    public init(workerID: String, queues: [String], taskTypes: [String]) {
        self.workerID = workerID
        self.queues = queues
        self.taskTypes = taskTypes
    }
}

public struct CreditGrant: Hashable, Sendable {
    public var credits: UInt32
    public init(credits: UInt32) { self.credits = credits }
}

public struct HeartbeatMessage: Hashable, Sendable {
    public var attempts: [AttemptReference]
    public var details: [UInt8]
    public init(attempts: [AttemptReference], details: [UInt8] = []) {
        self.attempts = attempts
        self.details = details
    }
}

public struct TaskCompletedMessage: Hashable, Sendable {
    public var ref: AttemptReference
    public var output: [UInt8]
    public init(ref: AttemptReference, output: [UInt8]) {
        self.ref = ref
        self.output = output
    }
}

public struct TaskFailedMessage: Hashable, Sendable {
    public var ref: AttemptReference
    public var kind: String
    public var message: String
    public var retryable: Bool
    public init(ref: AttemptReference, kind: String, message: String, retryable: Bool) {
        self.ref = ref
        self.kind = kind
        self.message = message
        self.retryable = retryable
    }
}

/// What a worker sends on its `Connect` stream.
public enum WorkerMessage: Hashable, Sendable {
    case hello(WorkerHelloMessage)
    case credits(CreditGrant)
    case heartbeat(HeartbeatMessage)
    case completed(TaskCompletedMessage)
    case failed(TaskFailedMessage)
}

public struct TaskAssignmentMessage: Hashable, Sendable {
    public var ref: AttemptReference
    public var taskType: String
    public var input: [UInt8]
    public var startToCloseMilliseconds: UInt64
    public var heartbeatMilliseconds: UInt64
    public var workflow: String
    public init(
        ref: AttemptReference, taskType: String, input: [UInt8], startToCloseMilliseconds: UInt64 = 0,
        heartbeatMilliseconds: UInt64 = 0, workflow: String = ""
    ) {
        self.ref = ref
        self.taskType = taskType
        self.input = input
        self.startToCloseMilliseconds = startToCloseMilliseconds
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.workflow = workflow
    }
}

public struct CancelAttemptMessage: Hashable, Sendable {
    public var ref: AttemptReference
    public var reason: String
    /// Kill at once (the run was terminated): no grace period.
    public var terminate: Bool
    public init(ref: AttemptReference, reason: String, terminate: Bool = false) {
        self.ref = ref
        self.reason = reason
        self.terminate = terminate
    }
}

/// What a scheduler sends on a worker's `Connect` stream.
public enum SchedulerMessage: Hashable, Sendable {
    case assignment(TaskAssignmentMessage)
    case cancel(CancelAttemptMessage)
    /// The schedulers the sender knows alive (cluster mode): connect to the new ones now.
    case schedulers(SchedulersChangedMessage)
}

/// The schedulers a scheduler's gossip knows alive, pushed to its workers when the set changes.
public struct SchedulersChangedMessage: Hashable, Sendable {
    public var schedulers: [SchedulerEndpoint]
    public init(schedulers: [SchedulerEndpoint]) { self.schedulers = schedulers }
}
