import WeftCore

/// The durable changes of one engine event (or one new run), written by the group-commit writer
/// in one fenced transaction together with other events' changes (ARCHITECTURE.md §5).
///
/// Every write is idempotent (inserts `ON CONFLICT DO NOTHING`, updates conditional on the row
/// still being open), so a batch whose commit acknowledgement was lost can be written again.
public struct RunWriteBatch: Sendable {
    public var partition: PartitionID
    /// A new run (StartRun): inserted only if its idempotency key (if any) was not taken.
    public var newRun: NewRunRow?
    public var attempts: [AttemptRow] = []
    public var finishes: [AttemptFinish] = []
    public var closes: [RunClose] = []
    public var history: [HistoryRow] = []

    public init(partition: PartitionID) { self.partition = partition }

    public var isEmpty: Bool { newRun == nil && attempts.isEmpty && finishes.isEmpty && closes.isEmpty && history.isEmpty }
}

public enum RunWriteOutcome: Sendable, Equatable {
    case committed
    /// The batch's new run lost its idempotency key to this run; nothing of the batch was written.
    case duplicateRun(RunID)
}

public struct NewRunRow: Sendable {
    public var runID: RunID
    public var workflow: String
    public var version: String
    /// 0 critical … 3 low (the `runs.priority` convention).
    public var priority: Int
    public var input: [UInt8]
    public var idempotencyKey: String?
}

/// A task attempt row written when an attempt is scheduled, or a retry/map row.
public struct AttemptRow: Sendable {
    public var runID: RunID
    public var node: String
    public var attempt: Int
    /// `scheduled`, `retry_wait` or `mapping`.
    public var status: String
    public var scheduledAt: Int64
    public var output: [UInt8]?
}

/// The end of an attempt: written only while the row is still open (exactly-once recording).
public struct AttemptFinish: Sendable {
    public var runID: RunID
    public var node: String
    public var attempt: Int
    /// `succeeded`, `failed`, `timed_out` or `cancelled`.
    public var status: String
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
    public var status: String
    public var output: [UInt8]?
    public var error: String?
    public var closedAt: Int64
}

public struct HistoryRow: Sendable {
    public var runID: RunID
    public var seq: Int64
    public var at: Int64
    public var kind: String
    public var body: [UInt8]
}

/// Statuses as stored.
enum StoredStatus {
    static let openAttemptStatuses = ["scheduled", "retry_wait", "mapping"]
}
