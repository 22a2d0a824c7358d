import WeftCore
import WeftEngine
import WeftPostgres
import WeftWire

/// What the scheduler reads from the durable store: the open runs it recovers, closed runs for
/// waiters it has no memory of, idempotency keys. `RunStore` over Postgres in production; tests of
/// the scheduler's logic use an in-memory one.
protocol RunReading: Sendable {
    /// The open runs of `partitions` with the latest attempt of every node.
    func openRuns(partitions: [PartitionID]) async throws -> [StoredOpenRun]
    /// A run and (optionally) its attempts; nil when there is no such run.
    func run(_ id: RunID, includeTasks: Bool) async throws -> RunInfo?
    /// The run an idempotency key belongs to, if any.
    func idempotencyKey(_ key: String) async throws -> RunID?
    /// The closed children of `parents`.
    func closedChildren(of parents: [RunID]) async throws -> [ClosedChild]
}

/// Writes batches in one fenced transaction (see `RunStore.commit`).
protocol RunCommitting: Sendable {
    func commit(_ batches: [RunWriteBatch], fences: [PartitionID: Fence]) async throws -> [RunWriteOutcome]
}

/// Where workflow definitions live, by name and version.
protocol DefinitionReading: Sendable {
    /// The body of `name` at `version`, or at its latest version when `version` is nil.
    func definition(name: String, version: String?) async throws -> (version: String, body: [UInt8])?
}

/// The partition fences (ARCHITECTURE.md §2): claims and the owner map.
protocol OwnerRecords: Sendable {
    func claimAll(node: String, address: String) async throws -> [PartitionID: Fence]
    func owners() async throws -> [PartitionOwner]
}

/// An open run as recovery reads it: the run row and the latest attempt of each node.
struct StoredOpenRun: Sendable {
    var runID: RunID
    var partition: PartitionID
    var workflow: String
    var version: String
    var priority: Int
    var input: [UInt8]
    var latestAttempts: [StoredAttempt]
    /// Signals received and not taken yet, in order.
    var pendingSignals: [PendingSignal] = []
    /// The number of the next signal (signals received so far).
    var nextSignalSeq = 0
    /// A child workflow's parent node.
    var parent: ChildLink?
}

/// A closed child run, as its parent's owner reads it.
struct ClosedChild: Sendable {
    var parent: RunID
    /// The parent's node (a map element: `node[i]`).
    var node: String
    var attempt: Int
    var child: RunID
    var status: RunStatusText
    var output: [UInt8]
    var error: String
}

/// The latest attempt row of a node.
struct StoredAttempt: Sendable {
    var node: String
    var attempt: Int
    var status: String
    var scheduledAt: Int64
    var worker: String?
    var errorKind: String?
    var error: String?
    var output: [UInt8]?
}

extension RunStore: RunReading, RunCommitting, DefinitionReading {}
extension PartitionOwnerStore: OwnerRecords {}
