import WeftCore

// Swift twins of `weft/api/v1/client.proto` (service "weft.api.v1.Client"). Field meanings are
// documented in the .proto file.

/// Method names of the client service.
public enum ClientMethods {
    public static let registerWorkflow = "weft.api.v1.Client/RegisterWorkflow"
    public static let listWorkflows = "weft.api.v1.Client/ListWorkflows"
    public static let startRun = "weft.api.v1.Client/StartRun"
    public static let getRun = "weft.api.v1.Client/GetRun"
    public static let waitRun = "weft.api.v1.Client/WaitRun"
    public static let cancelRun = "weft.api.v1.Client/CancelRun"
    public static let retryRun = "weft.api.v1.Client/RetryRun"
    public static let listRuns = "weft.api.v1.Client/ListRuns"
}

public enum RunStatus: UInt32, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case unspecified = 0
    case pending = 1
    case running = 2
    case succeeded = 3
    case failed = 4
    case cancelled = 5

    public var isClosed: Bool { self == .succeeded || self == .failed || self == .cancelled }

    public var description: String {
        switch self {
        case .unspecified: "UNSPECIFIED"
        case .pending: "PENDING"
        case .running: "RUNNING"
        case .succeeded: "SUCCEEDED"
        case .failed: "FAILED"
        case .cancelled: "CANCELLED"
        }
    }
}

public enum TaskStatus: UInt32, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case unspecified = 0
    case pending = 1
    case ready = 2
    case dispatched = 3
    case running = 4
    case succeeded = 5
    case failed = 6
    case cancelled = 7
    case retryWait = 8

    public var description: String {
        switch self {
        case .unspecified: "UNSPECIFIED"
        case .pending: "PENDING"
        case .ready: "READY"
        case .dispatched: "DISPATCHED"
        case .running: "RUNNING"
        case .succeeded: "SUCCEEDED"
        case .failed: "FAILED"
        case .cancelled: "CANCELLED"
        case .retryWait: "RETRY_WAIT"
        }
    }
}

/// A run's priority on the wire; `unspecified` means "the definition's".
public enum WirePriority: UInt32, Hashable, Sendable, CaseIterable {
    case unspecified = 0
    case low = 1
    case normal = 2
    case high = 3
    case critical = 4
}

public struct RegisterWorkflowRequest: Hashable, Sendable {
    public var definitionJSON: [UInt8]
    public init(definitionJSON: [UInt8]) { self.definitionJSON = definitionJSON }
}

public struct RegisterWorkflowResponse: Hashable, Sendable {
    public var name: String
    public var version: String
    public var created: Bool
    public init(name: String, version: String, created: Bool) {
        self.name = name
        self.version = version
        self.created = created
    }
}

public struct ListWorkflowsRequest: Hashable, Sendable {
    public init() {}
}

public struct WorkflowSummary: Hashable, Sendable {
    public var name: String
    public var version: String
    public var taskCount: UInt32
    public var createdAtMilliseconds: Int64
    public init(name: String, version: String, taskCount: UInt32, createdAtMilliseconds: Int64) {
        self.name = name
        self.version = version
        self.taskCount = taskCount
        self.createdAtMilliseconds = createdAtMilliseconds
    }
}

public struct ListWorkflowsResponse: Hashable, Sendable {
    public var workflows: [WorkflowSummary]
    public init(workflows: [WorkflowSummary]) { self.workflows = workflows }
}

public struct StartRunRequest: Hashable, Sendable {
    public var workflow: String
    public var version: String
    public var input: [UInt8]
    public var idempotencyKey: String
    public var priority: WirePriority
    /// Set by a coordinator when forwarding (see the .proto); nil from clients.
    public var runID: RunID?
    public init(
        workflow: String, version: String = "", input: [UInt8] = [], idempotencyKey: String = "", priority: WirePriority = .unspecified,
        runID: RunID? = nil
    ) {
        self.workflow = workflow
        self.version = version
        self.input = input
        self.idempotencyKey = idempotencyKey
        self.priority = priority
        self.runID = runID
    }
}

public struct StartRunResponse: Hashable, Sendable {
    public var runID: RunID
    public var created: Bool
    public init(runID: RunID, created: Bool) {
        self.runID = runID
        self.created = created
    }
}

public struct TaskInfo: Hashable, Sendable {
    public var node: String
    public var attempt: UInt32
    public var status: TaskStatus
    public var worker: String
    public var scheduledAtMilliseconds: Int64
    public var startedAtMilliseconds: Int64
    public var finishedAtMilliseconds: Int64
    public var output: [UInt8]
    public var error: String
    public init(
        node: String, attempt: UInt32, status: TaskStatus, worker: String = "", scheduledAtMilliseconds: Int64 = 0,
        startedAtMilliseconds: Int64 = 0, finishedAtMilliseconds: Int64 = 0, output: [UInt8] = [], error: String = ""
    ) {
        self.node = node
        self.attempt = attempt
        self.status = status
        self.worker = worker
        self.scheduledAtMilliseconds = scheduledAtMilliseconds
        self.startedAtMilliseconds = startedAtMilliseconds
        self.finishedAtMilliseconds = finishedAtMilliseconds
        self.output = output
        self.error = error
    }
}

public struct RunInfo: Hashable, Sendable {
    public var runID: RunID
    public var workflow: String
    public var version: String
    public var status: RunStatus
    public var input: [UInt8]
    public var output: [UInt8]
    public var error: String
    public var createdAtMilliseconds: Int64
    public var closedAtMilliseconds: Int64
    public var tasks: [TaskInfo]
    public init(
        runID: RunID, workflow: String, version: String, status: RunStatus, input: [UInt8] = [], output: [UInt8] = [],
        error: String = "", createdAtMilliseconds: Int64, closedAtMilliseconds: Int64 = 0, tasks: [TaskInfo] = []
    ) {
        self.runID = runID
        self.workflow = workflow
        self.version = version
        self.status = status
        self.input = input
        self.output = output
        self.error = error
        self.createdAtMilliseconds = createdAtMilliseconds
        self.closedAtMilliseconds = closedAtMilliseconds
        self.tasks = tasks
    }
}

public struct GetRunRequest: Hashable, Sendable {
    public var runID: RunID
    public var includeTasks: Bool
    public init(runID: RunID, includeTasks: Bool = true) {
        self.runID = runID
        self.includeTasks = includeTasks
    }
}

public struct WaitRunRequest: Hashable, Sendable {
    public var runID: RunID
    public init(runID: RunID) { self.runID = runID }
}

public struct CancelRunRequest: Hashable, Sendable {
    public var runID: RunID
    public var reason: String
    public init(runID: RunID, reason: String = "") {
        self.runID = runID
        self.reason = reason
    }
}

public struct CancelRunResponse: Hashable, Sendable {
    public var status: RunStatus
    public init(status: RunStatus) { self.status = status }
}

public struct RetryRunRequest: Hashable, Sendable {
    public var runID: RunID
    public init(runID: RunID) { self.runID = runID }
}

public struct ListRunsRequest: Hashable, Sendable {
    public var workflow: String
    public var status: RunStatus
    public var sinceMilliseconds: Int64
    public var untilMilliseconds: Int64
    public var limit: UInt32
    public var pageToken: String
    public init(
        workflow: String = "", status: RunStatus = .unspecified, sinceMilliseconds: Int64 = 0, untilMilliseconds: Int64 = 0,
        limit: UInt32 = 0, pageToken: String = ""
    ) {
        self.workflow = workflow
        self.status = status
        self.sinceMilliseconds = sinceMilliseconds
        self.untilMilliseconds = untilMilliseconds
        self.limit = limit
        self.pageToken = pageToken
    }
}

public struct RunSummary: Hashable, Sendable {
    public var runID: RunID
    public var workflow: String
    public var status: RunStatus
    public var createdAtMilliseconds: Int64
    public var closedAtMilliseconds: Int64
    public init(runID: RunID, workflow: String, status: RunStatus, createdAtMilliseconds: Int64, closedAtMilliseconds: Int64 = 0) {
        self.runID = runID
        self.workflow = workflow
        self.status = status
        self.createdAtMilliseconds = createdAtMilliseconds
        self.closedAtMilliseconds = closedAtMilliseconds
    }
}

public struct ListRunsResponse: Hashable, Sendable {
    public var runs: [RunSummary]
    public var nextPageToken: String
    public init(runs: [RunSummary], nextPageToken: String = "") {
        self.runs = runs
        self.nextPageToken = nextPageToken
    }
}
