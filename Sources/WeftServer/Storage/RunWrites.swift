import WeftCore

/// The durable changes of one engine event (or one new run), written by the group-commit writer
/// in one fenced transaction together with other events' changes (ARCHITECTURE.md §5).
///
/// Every write is idempotent (inserts `ON CONFLICT DO NOTHING`, updates conditional on the row
/// still being open), so a batch whose commit acknowledgement was lost can be written again.
/// One batch is one record of the writer: it commits whole or not at all, and gets one outcome.
public struct RunWriteBatch: Sendable {
    public var partition: PartitionID
    /// A new run (StartRun): inserted only if its idempotency key (if any) was not taken.
    public var newRun: NewRunRow?
    public var attempts: [AttemptRow] = []
    public var finishes: [AttemptFinish] = []
    public var closes: [RunClose] = []
    public var history: [HistoryRow] = []
    /// Signals received (`run_signals` rows).
    public var signals: [SignalRow] = []
    /// Signals taken by signal nodes.
    public var signalConsumptions: [SignalConsumption] = []

    public init(partition: PartitionID) { self.partition = partition }

    public var isEmpty: Bool {
        newRun == nil && attempts.isEmpty && finishes.isEmpty && closes.isEmpty && history.isEmpty && signals.isEmpty
            && signalConsumptions.isEmpty
    }
}

/// What became of one batch (ARCHITECTURE.md §6: a write that fails on one record's data fails
/// that record only). Every case but `committed` means nothing of the batch was written.
public enum RunWriteOutcome: Sendable, Equatable {
    case committed
    /// The batch's new run lost its idempotency key to this run.
    case duplicateRun(RunID)
    /// The batch's new run already exists (closed, or started before a restart): a start for an
    /// existing id returns that run and never runs it again.
    case existingRun(workflow: String, status: RunStatusText)
    /// The partition's fence moved on: another owner has it. Never retried.
    case notOwner(PartitionID)
    /// The batch cannot be stored (its data broke a constraint, no table partition holds it, …);
    /// the other batches of the same flush were written. `reason` is for logs and the caller.
    case rejected(String)
    /// The writer shut down while Postgres was unreachable.
    case abandoned
}

public struct NewRunRow: Sendable {
    public var runID: RunID
    public var workflow: String
    public var version: String
    /// 0 critical … 3 low (the `runs.priority` convention).
    public var priority: Int
    public var input: [UInt8]
    public var idempotencyKey: String?
    /// A child workflow's link to its parent (`child_runs`), written with the run.
    public var parent: ChildLink? = nil
}

/// A child run's parent node (`child_runs`, migration 5).
public struct ChildLink: Sendable, Hashable {
    public var parentRun: RunID
    /// The parent's node (a map element: `node[i]`).
    public var node: String
    public var attempt: Int
    /// The width of the map the child belongs to (1: a single child).
    public var width: Int
    /// How deep the child nests (1: a child of a top-level run).
    public var depth: Int

    public init(parentRun: RunID, node: String, attempt: Int, width: Int, depth: Int) {
        self.parentRun = parentRun
        self.node = node
        self.attempt = attempt
        self.width = width
        self.depth = depth
    }
}

/// A task attempt row written when an attempt is scheduled, or a retry/map row. Times in the rows
/// of a batch are Unix microseconds.
public struct AttemptRow: Sendable {
    public var runID: RunID
    public var node: String
    public var attempt: Int
    /// `scheduled`, `retry_wait`, `mapping` or `awaiting_signal`.
    public var status: AttemptStatus
    public var scheduledAt: Int64
    public var output: [UInt8]?
}

/// The end of an attempt: written only while the row is still open (exactly-once recording).
public struct AttemptFinish: Sendable {
    public var runID: RunID
    public var node: String
    public var attempt: Int
    /// `succeeded`, `failed`, `timed_out` or `cancelled`.
    public var status: AttemptStatus
    public var output: [UInt8]?
    public var errorKind: String?
    public var error: String?
    public var worker: String?
    public var startedAt: Int64?
    public var finishedAt: Int64
}

public struct RunClose: Sendable {
    public var runID: RunID
    /// `succeeded`, `failed` or `cancelled`.
    public var status: RunStatusText
    public var output: [UInt8]?
    public var error: String?
    public var closedAt: Int64
}

/// A signal a run received (`run_signals`).
public struct SignalRow: Sendable {
    public var runID: RunID
    public var seq: Int
    public var name: String
    public var payload: [UInt8]
    /// Unix microseconds.
    public var receivedAt: Int64
}

/// Signal `seq` of a run was taken by signal node `node`.
public struct SignalConsumption: Sendable {
    public var runID: RunID
    public var seq: Int
    public var node: String
}

public struct HistoryRow: Sendable {
    public var runID: RunID
    public var seq: Int64
    public var at: Int64
    public var kind: String
    public var body: [UInt8]
}

