import WeftCore

// Swift twins of `weft/api/v1/admin.proto` (service "weft.api.v1.Admin").

/// Method names of the admin service.
public enum AdminMethods {
    /// On a coordinator in cluster mode: the members its gossip knows.
    public static let members = "weft.api.v1.Admin/Members"
    /// On a coordinator in cluster mode: the ring and every partition's owner by it.
    public static let ring = "weft.api.v1.Admin/Ring"
    /// On a coordinator: every partition's recorded owner, fence and open runs.
    public static let partitions = "weft.api.v1.Admin/Partitions"
    /// On a coordinator (forwarded to the node) or a scheduler (itself): hand every partition off,
    /// leave, exit.
    public static let drain = "weft.api.v1.Admin/Drain"
    /// On a coordinator: delete result-cache entries (`weftctl cache purge`).
    public static let purgeCache = "weft.api.v1.Admin/PurgeCache"
    /// On a coordinator: the circuit breakers of task types (`weftctl breakers`).
    public static let breakers = "weft.api.v1.Admin/Breakers"
    /// On a coordinator (every scheduler asked) or a scheduler (itself): the connected workers.
    public static let workers = "weft.api.v1.Admin/Workers"
    /// On a coordinator (every scheduler asked) or a scheduler (itself): ready tasks per queue.
    public static let queues = "weft.api.v1.Admin/Queues"
    /// On a coordinator: create a cron schedule.
    public static let createSchedule = "weft.api.v1.Admin/CreateSchedule"
    /// On a coordinator: one schedule with its next fire times.
    public static let getSchedule = "weft.api.v1.Admin/GetSchedule"
    /// On a coordinator: every schedule.
    public static let listSchedules = "weft.api.v1.Admin/ListSchedules"
    /// On a coordinator: pause or resume a schedule.
    public static let pauseSchedule = "weft.api.v1.Admin/PauseSchedule"
    /// On a coordinator: start a run of a schedule now (forwarded to the owner of its partition).
    public static let triggerSchedule = "weft.api.v1.Admin/TriggerSchedule"
    /// On a coordinator: fire every tick of a time range (forwarded to the owner of its partition).
    public static let backfillSchedule = "weft.api.v1.Admin/BackfillSchedule"
    /// On a coordinator: delete a schedule (its runs stay).
    public static let deleteSchedule = "weft.api.v1.Admin/DeleteSchedule"
}

public struct MembersRequest: Hashable, Sendable {
    public init() {}
}

public struct MemberInfo: Hashable, Sendable {
    public var nodeID: String
    public var role: String
    public var gossipAddress: String
    public var rpcAddress: String
    public var status: String
    public var incarnation: UInt64
    public init(nodeID: String, role: String, gossipAddress: String, rpcAddress: String, status: String, incarnation: UInt64) {
        self.nodeID = nodeID
        self.role = role
        self.gossipAddress = gossipAddress
        self.rpcAddress = rpcAddress
        self.status = status
        self.incarnation = incarnation
    }
}

public struct MembersResponse: Hashable, Sendable {
    public var members: [MemberInfo]
    public init(members: [MemberInfo]) { self.members = members }
}

public struct RingRequest: Hashable, Sendable {
    public init() {}
}

public struct RingOwner: Hashable, Sendable {
    public var partition: UInt32
    public var nodeID: String
    public init(partition: UInt32, nodeID: String) {
        self.partition = partition
        self.nodeID = nodeID
    }
}

public struct RingResponse: Hashable, Sendable {
    public var nodes: [String]
    public var virtualNodes: UInt32
    public var owners: [RingOwner]
    public init(nodes: [String], virtualNodes: UInt32, owners: [RingOwner]) {
        self.nodes = nodes
        self.virtualNodes = virtualNodes
        self.owners = owners
    }
}

public struct PartitionsRequest: Hashable, Sendable {
    public init() {}
}

public struct PartitionInfo: Hashable, Sendable {
    public var partition: UInt32
    public var ownerNode: String
    public var ownerAddress: String
    public var fence: Int64
    public var openRuns: UInt64
    public var ringOwner: String
    /// Tasks ready and waiting for a worker, from the owner's memory.
    public var readyTasks: UInt64
    /// The owner's engine: "serving", "recovering", "draining"; empty when it did not answer.
    public var state: String
    public init(
        partition: UInt32, ownerNode: String, ownerAddress: String, fence: Int64, openRuns: UInt64, ringOwner: String,
        readyTasks: UInt64 = 0, state: String = ""
    ) {
        self.partition = partition
        self.ownerNode = ownerNode
        self.ownerAddress = ownerAddress
        self.fence = fence
        self.openRuns = openRuns
        self.ringOwner = ringOwner
        self.readyTasks = readyTasks
        self.state = state
    }
}

public struct PartitionsResponse: Hashable, Sendable {
    public var partitions: [PartitionInfo]
    public init(partitions: [PartitionInfo]) { self.partitions = partitions }
}

public struct DrainRequest: Hashable, Sendable {
    public var nodeID: String
    public init(nodeID: String) { self.nodeID = nodeID }
}

/// Which result-cache entries to delete: `key` of `taskType`, every key of `taskType` (empty
/// `key`), or with `all` every entry.
public struct PurgeCacheRequest: Hashable, Sendable {
    public var taskType: String
    public var key: String
    public var all: Bool
    public init(taskType: String = "", key: String = "", all: Bool = false) {
        self.taskType = taskType
        self.key = key
        self.all = all
    }
}

public struct PurgeCacheResponse: Hashable, Sendable {
    /// Entries deleted.
    public var purged: UInt64
    public init(purged: UInt64) { self.purged = purged }
}

public struct BreakersRequest: Hashable, Sendable {
    public init() {}
}

/// One task type's circuit breaker.
public struct BreakerInfo: Hashable, Sendable {
    public var taskType: String
    /// `closed`, `open` or `half_open`.
    public var state: String
    /// Failures in the current window.
    public var failures: UInt64
    /// Outcomes in the current window.
    public var requests: UInt64
    /// While open: when it lets a probe through (Unix milliseconds); else 0.
    public var openUntilMilliseconds: Int64

    public init(taskType: String, state: String, failures: UInt64 = 0, requests: UInt64 = 0, openUntilMilliseconds: Int64 = 0) {
        self.taskType = taskType
        self.state = state
        self.failures = failures
        self.requests = requests
        self.openUntilMilliseconds = openUntilMilliseconds
    }
}

public struct BreakersResponse: Hashable, Sendable {
    public var breakers: [BreakerInfo]
    public init(breakers: [BreakerInfo]) { self.breakers = breakers }
}

public struct DrainResponse: Hashable, Sendable {
    public var nodeID: String
    public var message: String
    public init(nodeID: String, message: String) {
        self.nodeID = nodeID
        self.message = message
    }
}

/// `Admin/Workers`: no fields.
public struct WorkersRequest: Hashable, Sendable {
    /// The request.
    public init() {}
}

/// One worker's stream to one scheduler (`weftctl workers`).
public struct WorkerInfo: Hashable, Sendable {
    /// The worker's id (`--worker-id`).
    public var workerID: String
    /// The queues it takes tasks from.
    public var queues: [String]
    /// The task types it registered (empty: any).
    public var taskTypes: [String]
    /// Credits it granted this scheduler and has not used: slots free for this scheduler's tasks.
    public var freeSlots: UInt32
    /// Attempts it runs for this scheduler now.
    public var inFlight: UInt32
    /// When its stream to this scheduler opened (Unix milliseconds).
    public var connectedAtMilliseconds: Int64
    /// The scheduler's node id.
    public var scheduler: String

    /// A worker record.
    public init(
        workerID: String, queues: [String], taskTypes: [String], freeSlots: UInt32, inFlight: UInt32,
        connectedAtMilliseconds: Int64, scheduler: String
    ) {
        self.workerID = workerID
        self.queues = queues
        self.taskTypes = taskTypes
        self.freeSlots = freeSlots
        self.inFlight = inFlight
        self.connectedAtMilliseconds = connectedAtMilliseconds
        self.scheduler = scheduler
    }
}

/// The connected workers.
public struct WorkersResponse: Hashable, Sendable {
    /// One entry per (worker, scheduler) stream, by worker id then scheduler.
    public var workers: [WorkerInfo]
    /// The response.
    public init(workers: [WorkerInfo]) { self.workers = workers }
}

/// `Admin/Queues`: no fields.
public struct QueuesRequest: Hashable, Sendable {
    /// The request.
    public init() {}
}

/// One queue's backlog (`weftctl queues`).
public struct QueueInfo: Hashable, Sendable {
    /// The queue's name.
    public var queue: String
    /// Ready tasks of priority `critical`.
    public var readyCritical: UInt64
    /// Ready tasks of priority `high`.
    public var readyHigh: UInt64
    /// Ready tasks of priority `normal`.
    public var readyNormal: UInt64
    /// Ready tasks of priority `low`.
    public var readyLow: UInt64
    /// How long the oldest ready task has waited, in milliseconds (0: none waits).
    public var oldestReadyMilliseconds: Int64
    /// Connected workers that take the queue (on a coordinator: the most any scheduler has, as
    /// every worker connects to every scheduler).
    public var workers: UInt32
    /// Their free slots.
    public var freeSlots: UInt32
    /// Ready tasks no connected worker of the queue can run (none registered their type).
    public var unserved: UInt64
    /// Tasks waiting for their rate limit (not counted as ready).
    public var rateLimited: UInt64
    /// Tasks waiting for a slot of their concurrency limit (not counted as ready).
    public var concurrencyLimited: UInt64

    /// A queue record.
    public init(
        queue: String, readyCritical: UInt64 = 0, readyHigh: UInt64 = 0, readyNormal: UInt64 = 0, readyLow: UInt64 = 0,
        oldestReadyMilliseconds: Int64 = 0, workers: UInt32 = 0, freeSlots: UInt32 = 0, unserved: UInt64 = 0, rateLimited: UInt64 = 0,
        concurrencyLimited: UInt64 = 0
    ) {
        self.queue = queue
        self.readyCritical = readyCritical
        self.readyHigh = readyHigh
        self.readyNormal = readyNormal
        self.readyLow = readyLow
        self.oldestReadyMilliseconds = oldestReadyMilliseconds
        self.workers = workers
        self.freeSlots = freeSlots
        self.unserved = unserved
        self.rateLimited = rateLimited
        self.concurrencyLimited = concurrencyLimited
    }

    /// Ready tasks of every priority.
    public var ready: UInt64 { readyCritical + readyHigh + readyNormal + readyLow }
}

/// Every queue with ready tasks or workers.
public struct QueuesResponse: Hashable, Sendable {
    /// By name.
    public var queues: [QueueInfo]
    /// The response.
    public init(queues: [QueueInfo]) { self.queues = queues }
}

// MARK: Schedules

/// What a cron schedule starts and when (`weftctl schedule create`).
public struct ScheduleSpec: Hashable, Sendable {
    /// The schedule's name (unique).
    public var name: String
    /// The workflow each tick starts.
    public var workflow: String
    /// The workflow version; empty: its latest version at each fire.
    public var version: String
    /// A cron expression: 5 fields, or 6 with a leading second, or a macro such as `@daily`.
    public var cron: String
    /// The IANA time zone the expression is read in; empty: UTC.
    public var timezone: String
    /// The input of every run (JSON); empty: `null`.
    public var inputJSON: [UInt8]
    /// `skip` (empty: the default), `buffer_one` or `allow`.
    public var overlap: String
    /// Ticks older than this when considered are skipped; 0: the default (10 minutes).
    public var catchupWindowMilliseconds: Int64

    /// A schedule specification.
    public init(
        name: String, workflow: String, version: String = "", cron: String, timezone: String = "", inputJSON: [UInt8] = [],
        overlap: String = "", catchupWindowMilliseconds: Int64 = 0
    ) {
        self.name = name
        self.workflow = workflow
        self.version = version
        self.cron = cron
        self.timezone = timezone
        self.inputJSON = inputJSON
        self.overlap = overlap
        self.catchupWindowMilliseconds = catchupWindowMilliseconds
    }
}

/// `CreateSchedule`.
public struct CreateScheduleRequest: Hashable, Sendable {
    /// What to create.
    public var spec: ScheduleSpec
    /// Create it paused.
    public var paused: Bool
    /// The request.
    public init(spec: ScheduleSpec, paused: Bool = false) {
        self.spec = spec
        self.paused = paused
    }
}

/// `GetSchedule`, `TriggerSchedule`, `DeleteSchedule`: a schedule by name.
public struct ScheduleRequest: Hashable, Sendable {
    /// The schedule's name.
    public var name: String
    /// The request.
    public init(name: String) { self.name = name }
}

/// One upcoming tick.
public struct ScheduleFireTime: Hashable, Sendable {
    /// Unix milliseconds.
    public var atMilliseconds: Int64
    /// A tick.
    public init(atMilliseconds: Int64) { self.atMilliseconds = atMilliseconds }
}

/// A schedule and where it stands.
public struct ScheduleInfo: Hashable, Sendable {
    /// Its specification (with defaults filled in).
    public var spec: ScheduleSpec
    /// Whether it is paused.
    public var paused: Bool
    /// Its next ticks (up to 5; none while paused).
    public var nextFires: [ScheduleFireTime]
    /// The last tick fired (Unix milliseconds; 0: none yet).
    public var lastTickMilliseconds: Int64
    /// The run of that tick (empty: none yet).
    public var lastRun: String
    /// When it was created (Unix milliseconds).
    public var createdAtMilliseconds: Int64
    /// The partition it lives in (its owner fires it).
    public var partition: UInt32
    /// A tick held back by `buffer_one` until the previous run closes (0: none).
    public var bufferedMilliseconds: Int64

    /// A schedule record.
    public init(
        spec: ScheduleSpec, paused: Bool = false, nextFires: [ScheduleFireTime] = [], lastTickMilliseconds: Int64 = 0, lastRun: String = "",
        createdAtMilliseconds: Int64 = 0, partition: UInt32 = 0, bufferedMilliseconds: Int64 = 0
    ) {
        self.spec = spec
        self.paused = paused
        self.nextFires = nextFires
        self.lastTickMilliseconds = lastTickMilliseconds
        self.lastRun = lastRun
        self.createdAtMilliseconds = createdAtMilliseconds
        self.partition = partition
        self.bufferedMilliseconds = bufferedMilliseconds
    }
}

/// `ListSchedules`.
public struct ListSchedulesRequest: Hashable, Sendable {
    /// The request.
    public init() {}
}

/// Every schedule, by name.
public struct ListSchedulesResponse: Hashable, Sendable {
    /// By name.
    public var schedules: [ScheduleInfo]
    /// The response.
    public init(schedules: [ScheduleInfo]) { self.schedules = schedules }
}

/// `PauseSchedule`: pause (`paused`) or resume.
public struct PauseScheduleRequest: Hashable, Sendable {
    /// The schedule's name.
    public var name: String
    /// true: pause; false: resume (from the next tick after now).
    public var paused: Bool
    /// The request.
    public init(name: String, paused: Bool) {
        self.name = name
        self.paused = paused
    }
}

/// The run `TriggerSchedule` started.
public struct TriggerScheduleResponse: Hashable, Sendable {
    /// Its run id.
    public var run: String
    /// The response.
    public init(run: String) { self.run = run }
}

/// `BackfillSchedule`: fire every tick in `[from, to]`.
public struct BackfillScheduleRequest: Hashable, Sendable {
    /// The schedule's name.
    public var name: String
    /// Unix milliseconds, inclusive.
    public var fromMilliseconds: Int64
    /// Unix milliseconds, inclusive.
    public var toMilliseconds: Int64
    /// The request.
    public init(name: String, fromMilliseconds: Int64, toMilliseconds: Int64) {
        self.name = name
        self.fromMilliseconds = fromMilliseconds
        self.toMilliseconds = toMilliseconds
    }
}

/// What a backfill started.
public struct BackfillScheduleResponse: Hashable, Sendable {
    /// Ticks in the range.
    public var ticks: UInt32
    /// Runs this call started (the other ticks had one already).
    public var created: UInt32
    /// The run of every tick, in order.
    public var runs: [String]
    /// The response.
    public init(ticks: UInt32, created: UInt32, runs: [String]) {
        self.ticks = ticks
        self.created = created
        self.runs = runs
    }
}

/// Whether `DeleteSchedule` deleted one.
public struct DeleteScheduleResponse: Hashable, Sendable {
    /// false: there was no such schedule.
    public var deleted: Bool
    /// The response.
    public init(deleted: Bool) { self.deleted = deleted }
}
