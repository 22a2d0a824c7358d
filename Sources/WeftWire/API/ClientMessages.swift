import WeftCore

// Swift twins of `weft/api/v1/client.proto` (service "weft.api.v1.Client"). Field meanings are
// documented in the .proto file.

/// Method names of the client service.
public enum ClientMethods {
    public static let registerWorkflow = "weft.api.v1.Client/RegisterWorkflow"
    public static let listWorkflows = "weft.api.v1.Client/ListWorkflows"
    public static let getWorkflow = "weft.api.v1.Client/GetWorkflow"
    public static let getRunHistory = "weft.api.v1.Client/GetRunHistory"
    public static let signalRun = "weft.api.v1.Client/SignalRun"
    /// Scheduler to scheduler (never through a coordinator): children of a run's node closed.
    public static let childRunsClosed = "weft.api.v1.Client/ChildRunsClosed"
    public static let startRun = "weft.api.v1.Client/StartRun"
    public static let getRun = "weft.api.v1.Client/GetRun"
    public static let waitRun = "weft.api.v1.Client/WaitRun"
    public static let cancelRun = "weft.api.v1.Client/CancelRun"
    public static let retryRun = "weft.api.v1.Client/RetryRun"
    public static let listRuns = "weft.api.v1.Client/ListRuns"
}

/// A run's lifecycle state (ARCHITECTURE.md §4).
public enum RunStatus: UInt32, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Not set (a list filter matching every status).
    case unspecified = 0
    /// Accepted, not started yet.
    case pending = 1
    /// Its tasks are running.
    case running = 2
    /// Every task finished; the run has its output.
    case succeeded = 3
    /// A task failed past its retries (or a join could not be met).
    case failed = 4
    /// Cancelled on request.
    case cancelled = 5

    /// Succeeded, failed or cancelled: nothing will change any more.
    public var isClosed: Bool { self == .succeeded || self == .failed || self == .cancelled }

    /// The upper-snake name (`SUCCEEDED`).
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

/// One task attempt's state.
public enum TaskStatus: UInt32, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Not set.
    case unspecified = 0
    /// Waiting for its parents.
    case pending = 1
    /// Queued for a worker.
    case ready = 2
    /// Pushed to a worker.
    case dispatched = 3
    /// A worker runs it.
    case running = 4
    /// It succeeded.
    case succeeded = 5
    /// It failed.
    case failed = 6
    /// It was cancelled (with its run, or superseded).
    case cancelled = 7
    /// Waiting out its retry backoff.
    case retryWait = 8

    /// The upper-snake name (`RETRY_WAIT`).
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

/// What `RegisterWorkflow` did.
public struct RegisterWorkflowResponse: Hashable, Sendable {
    /// The workflow's name.
    public var name: String
    /// The version: the content hash of the canonical definition.
    public var version: String
    /// False when this content was registered already (nothing changed).
    public var created: Bool
    /// A response (tests, tools).
    public init(name: String, version: String, created: Bool) {
        self.name = name
        self.version = version
        self.created = created
    }
}

public struct ListWorkflowsRequest: Hashable, Sendable {
    public init() {}
}

/// A registered workflow's latest version.
public struct WorkflowSummary: Hashable, Sendable {
    /// The workflow's name.
    public var name: String
    /// Its latest version (a content hash).
    public var version: String
    /// How many tasks it has.
    public var taskCount: UInt32
    /// When that version was registered (Unix milliseconds).
    public var createdAtMilliseconds: Int64
    /// A summary (tests, tools).
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

/// `GetWorkflow`: a workflow's definition at one version (empty: the latest) and its versions.
public struct GetWorkflowRequest: Hashable, Sendable {
    /// The workflow's name.
    public var name: String
    /// The version; empty for the latest.
    public var version: String
    /// The request.
    public init(name: String, version: String = "") {
        self.name = name
        self.version = version
    }
}

/// One version of a workflow.
public struct WorkflowVersionSummary: Hashable, Sendable {
    /// The version (the content hash of the canonical definition).
    public var version: String
    /// How many tasks it has.
    public var taskCount: UInt32
    /// When that content was last registered (Unix milliseconds).
    public var appliedAtMilliseconds: Int64
    /// A version record.
    public init(version: String, taskCount: UInt32, appliedAtMilliseconds: Int64) {
        self.version = version
        self.taskCount = taskCount
        self.appliedAtMilliseconds = appliedAtMilliseconds
    }
}

/// A workflow's definition at one version, and all its versions.
public struct GetWorkflowResponse: Hashable, Sendable {
    /// The workflow's name.
    public var name: String
    /// The version shown.
    public var version: String
    /// Its canonical definition (JSON, the file format of ARCHITECTURE.md §4).
    public var definitionJSON: [UInt8]
    /// When that version was last registered (Unix milliseconds).
    public var appliedAtMilliseconds: Int64
    /// Every version, the latest first.
    public var versions: [WorkflowVersionSummary]
    /// A response.
    public init(name: String, version: String, definitionJSON: [UInt8], appliedAtMilliseconds: Int64, versions: [WorkflowVersionSummary]) {
        self.name = name
        self.version = version
        self.definitionJSON = definitionJSON
        self.appliedAtMilliseconds = appliedAtMilliseconds
        self.versions = versions
    }
}

public struct StartRunRequest: Hashable, Sendable {
    public var workflow: String
    public var version: String
    public var input: [UInt8]
    public var idempotencyKey: String
    public var priority: WirePriority
    /// Set by a coordinator when forwarding (see the .proto); nil from clients.
    public var runID: RunID?
    /// The bytes of the id of the closed run whose succeeded nodes this run reuses (RetryRun with
    /// `from_failed`); empty: none.
    public var resumeOf: [UInt8]
    /// A child workflow's parent run (16 bytes; empty: not a child). Set only by schedulers.
    public var parentRun: [UInt8]
    /// The parent's node (a map element: `node[i]`).
    public var parentNode: String
    /// The parent node's attempt.
    public var parentAttempt: UInt32
    /// The width of the map the child belongs to (1: a single child).
    public var parentWidth: UInt32
    /// How deep the child nests (1: a child of a top-level run).
    public var parentDepth: UInt32
    public init(
        workflow: String, version: String = "", input: [UInt8] = [], idempotencyKey: String = "", priority: WirePriority = .unspecified,
        runID: RunID? = nil, resumeOf: [UInt8] = [], parentRun: [UInt8] = [], parentNode: String = "", parentAttempt: UInt32 = 0,
        parentWidth: UInt32 = 0, parentDepth: UInt32 = 0
    ) {
        self.workflow = workflow
        self.version = version
        self.input = input
        self.idempotencyKey = idempotencyKey
        self.priority = priority
        self.runID = runID
        self.resumeOf = resumeOf
        self.parentRun = parentRun
        self.parentNode = parentNode
        self.parentAttempt = parentAttempt
        self.parentWidth = parentWidth
        self.parentDepth = parentDepth
    }

    /// Whether any parent field is set (a child workflow's start).
    public var namesParent: Bool { !parentRun.isEmpty || !parentNode.isEmpty || parentAttempt != 0 || parentWidth != 0 || parentDepth != 0 }
}

public struct StartRunResponse: Hashable, Sendable {
    public var runID: RunID
    public var created: Bool
    public init(runID: RunID, created: Bool) {
        self.runID = runID
        self.created = created
    }
}

/// One attempt of one task of a run, as `GetRun` reports it.
public struct TaskInfo: Hashable, Sendable {
    /// The step (`price`) or map element (`shard[3]`).
    public var node: String
    /// The attempt's number, from 1.
    public var attempt: UInt32
    /// Its state.
    public var status: TaskStatus
    /// The worker that ran it (empty if none yet).
    public var worker: String
    /// When it was queued (Unix milliseconds).
    public var scheduledAtMilliseconds: Int64
    /// When a worker took it (Unix milliseconds; 0 if not yet).
    public var startedAtMilliseconds: Int64
    /// When it ended (Unix milliseconds; 0 if not yet).
    public var finishedAtMilliseconds: Int64
    /// Its output (JSON), when it succeeded.
    public var output: [UInt8]
    /// Why it failed (`kind: message`), when it failed.
    public var error: String
    /// A task record (tests, tools).
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

/// A run's state: what `GetRun` and `WaitRun` return.
public struct RunInfo: Hashable, Sendable {
    /// The run's id.
    public var runID: RunID
    /// Its workflow's name.
    public var workflow: String
    /// The workflow version it runs (pinned at start).
    public var version: String
    /// Its state.
    public var status: RunStatus
    /// The run's input (JSON).
    public var input: [UInt8]
    /// The run's output (JSON) once it succeeded.
    public var output: [UInt8]
    /// Why it failed or was cancelled.
    public var error: String
    /// When it was accepted (Unix milliseconds).
    public var createdAtMilliseconds: Int64
    /// When it closed (Unix milliseconds; 0 while open).
    public var closedAtMilliseconds: Int64
    /// Its task attempts (when asked for).
    public var tasks: [TaskInfo]
    /// A run record (tests, tools).
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

/// `CancelRun`: the run, or one node of it (with `subtree`, and its dependants); `terminate`
/// closes the run at once and kills its attempts without a grace period.
public struct CancelRunRequest: Hashable, Sendable {
    public var runID: RunID
    public var reason: String
    /// Empty: the whole run.
    public var node: String
    public var subtree: Bool
    public var terminate: Bool
    public init(runID: RunID, reason: String = "", node: String = "", subtree: Bool = false, terminate: Bool = false) {
        self.runID = runID
        self.reason = reason
        self.node = node
        self.subtree = subtree
        self.terminate = terminate
    }
}

public struct CancelRunResponse: Hashable, Sendable {
    public var status: RunStatus
    public init(status: RunStatus) { self.status = status }
}

public struct RetryRunRequest: Hashable, Sendable {
    public var runID: RunID
    /// Reuse the outputs of the nodes that succeeded; run the rest.
    public var fromFailed: Bool
    public init(runID: RunID, fromFailed: Bool = false) {
        self.runID = runID
        self.fromFailed = fromFailed
    }
}

/// Which runs `ListRuns` returns, newest first; empty fields match everything.
public struct ListRunsRequest: Hashable, Sendable {
    /// Only this workflow's runs.
    public var workflow: String
    /// Only runs in this state.
    public var status: RunStatus
    /// Only runs created at or after this (Unix milliseconds).
    public var sinceMilliseconds: Int64
    /// Only runs created before this (Unix milliseconds).
    public var untilMilliseconds: Int64
    /// The page size (the server caps it).
    public var limit: UInt32
    /// The previous page's `nextPageToken`, for the next page.
    public var pageToken: String
    /// A query; the defaults match every run.
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

/// One run in a `ListRuns` page.
public struct RunSummary: Hashable, Sendable {
    /// The run's id.
    public var runID: RunID
    /// Its workflow.
    public var workflow: String
    /// Its state.
    public var status: RunStatus
    /// When it was accepted (Unix milliseconds).
    public var createdAtMilliseconds: Int64
    /// When it closed (0 while open).
    public var closedAtMilliseconds: Int64
    /// A summary (tests, tools).
    public init(runID: RunID, workflow: String, status: RunStatus, createdAtMilliseconds: Int64, closedAtMilliseconds: Int64 = 0) {
        self.runID = runID
        self.workflow = workflow
        self.status = status
        self.createdAtMilliseconds = createdAtMilliseconds
        self.closedAtMilliseconds = closedAtMilliseconds
    }
}

/// One page of runs.
public struct ListRunsResponse: Hashable, Sendable {
    /// The runs, newest first.
    public var runs: [RunSummary]
    /// Pass it as `pageToken` for the next page; empty on the last.
    public var nextPageToken: String
    /// A page (tests, tools).
    public init(runs: [RunSummary], nextPageToken: String = "") {
        self.runs = runs
        self.nextPageToken = nextPageToken
    }
}

/// `GetRunHistory`: what happened in run `runID`.
public struct GetRunHistoryRequest: Hashable, Sendable {
    /// The run.
    public var runID: RunID
    /// The request.
    public init(runID: RunID) { self.runID = runID }
}

/// One thing that happened in a run (`weftctl run history`).
public struct RunHistoryEntry: Hashable, Sendable {
    /// When (Unix microseconds).
    public var atMicros: Int64
    /// What: `run_started`, `attempt_scheduled`, `attempt_started`, `attempt_succeeded`,
    /// `attempt_failed`, `attempt_timed_out`, `attempt_cancelled`, `retry_scheduled`, `timer_started`, `node_failed`,
    /// `map_expanded`, `map_completed`, `signal_awaited`, `signal_received`, `run_succeeded`, `run_failed`,
    /// `run_cancelled`.
    public var kind: String
    /// The step or map element it concerns (empty for the run's own entries).
    public var node: String
    /// The attempt it concerns (0 when none).
    public var attempt: UInt32
    /// The rest: the worker, the error, a map's width, a retry's time.
    public var detail: String

    /// An entry.
    public init(atMicros: Int64, kind: String, node: String = "", attempt: UInt32 = 0, detail: String = "") {
        self.atMicros = atMicros
        self.kind = kind
        self.node = node
        self.attempt = attempt
        self.detail = detail
    }
}

/// A run's history, oldest first.
public struct GetRunHistoryResponse: Hashable, Sendable {
    /// The run.
    public var runID: RunID
    /// Its state now.
    public var status: RunStatus
    /// What happened, oldest first.
    public var entries: [RunHistoryEntry]
    /// More entries exist than were returned (a run with a very wide map).
    public var truncated: Bool

    /// A response.
    public init(runID: RunID, status: RunStatus, entries: [RunHistoryEntry], truncated: Bool = false) {
        self.runID = runID
        self.status = status
        self.entries = entries
        self.truncated = truncated
    }
}

/// `SignalRun`: signal `name` with `payload` for run `runID`.
public struct SignalRunRequest: Hashable, Sendable {
    /// The run.
    public var runID: RunID
    /// The signal's name (what a `wait_signal` node waits for).
    public var name: String
    /// Its payload: JSON (empty means `null`); the output of the node that takes it.
    public var payload: [UInt8]
    /// The request.
    public init(runID: RunID, name: String, payload: [UInt8]) {
        self.runID = runID
        self.name = name
        self.payload = payload
    }
}

/// What `SignalRun` did.
public struct SignalRunResponse: Hashable, Sendable {
    /// True: a waiting node took the signal now. False: it is kept until a node waits for it.
    public var delivered: Bool
    /// The response.
    public init(delivered: Bool) { self.delivered = delivered }
}


/// `ChildRunsClosed`: children of run `runID`'s node `node` closed; the parent's owner reads their
/// outcomes from Postgres.
public struct ChildRunsClosedRequest: Hashable, Sendable {
    public var runID: RunID
    public var node: String
    public init(runID: RunID, node: String) {
        self.runID = runID
        self.node = node
    }
}

public struct ChildRunsClosedResponse: Hashable, Sendable {
    public init() {}
}
