import Logging
import WeftCore
import WeftPostgres

/// How the scheduler's group-commit writer gets every batch an outcome, whatever Postgres does
/// (ARCHITECTURE.md §6). It is the writer's `flush`: it never throws.
///
/// - **Fences.** Batches of partitions this node no longer owns get `.notOwner` without being
///   sent. A commit refused because a fence moved on (`StoreError.ownershipLost`) removes that
///   partition from the `FenceTable` — its records get `.notOwner`, and the scheduler stops that
///   partition's engine when it hears so — and the rest is committed again. Never retried for the
///   lost partition.
/// - **Outages.** A transient failure (connection refused or lost, server restarting, out of
///   connections, serialization conflict) marks storage unavailable (`StorageHealth`: `/readyz`
///   false, new runs refused with `UNAVAILABLE`) and the same records are committed again with
///   backoff (50 ms doubling to 2 s) until Postgres is back — however long that takes, or until
///   shutdown has waited `StorageHealth.shutdownGrace` for it (then `.abandoned`: nothing was
///   acknowledged or dispatched for those records, and recovery after the restart resumes from
///   what was committed). Every write is idempotent, so a retry after a lost commit answer is safe.
/// - **Poison.** Any other failure is about some record's data (a row outside every table
///   partition, a constraint): the batch is split in halves and each is committed on its own,
///   recursively, so only the offending records get `.rejected` and everything else commits.
///   Order is kept: the first half commits before the second. A missing *history* table partition
///   is not poison (every record has history rows for today): it is repaired (the maintenance
///   creates table partitions) and retried like an outage.
struct BatchCommitter: Sendable {
    /// Runs the fenced transaction (`RunStore.commit`).
    let commit: @Sendable ([RunWriteBatch], [PartitionID: Fence]) async throws -> [RunWriteOutcome]
    let fences: FenceTable
    let health: StorageHealth
    /// Creates missing table partitions (best effort; a failure is logged by the caller).
    let repairTablePartitions: @Sendable () async -> Void
    let logger: Logger
    var initialBackoff: Duration = .milliseconds(50)
    var maxBackoff: Duration = .seconds(2)

    func flush(_ records: [RunWriteBatch]) async -> [RunWriteOutcome] {
        var outcomes = [RunWriteOutcome?](repeating: nil, count: records.count)
        await write(Array(records.indices), of: records, into: &outcomes)
        return outcomes.map { $0 ?? .abandoned }
    }

    private func write(_ indices: [Int], of records: [RunWriteBatch], into outcomes: inout [RunWriteOutcome?]) async {
        var pending = indices
        var backoff = initialBackoff
        while !pending.isEmpty {
            let owned = fences.snapshot()
            var sending: [Int] = []
            for index in pending {
                if owned[records[index].partition] == nil {
                    outcomes[index] = .notOwner(records[index].partition)
                } else {
                    sending.append(index)
                }
            }
            pending = sending
            guard !pending.isEmpty else { return }
            let error: any Error
            do {
                let results = try await commit(pending.map { records[$0] }, owned)
                for (index, outcome) in zip(pending, results) { outcomes[index] = outcome }
                health.succeeded()
                return
            } catch let failure {
                error = failure
            }
            switch Self.classify(error) {
            case .fenceLost(let partition):
                logger.error("partition fence lost: its engine stops", metadata: ["partition": "\(partition)", "error": "\(error)"])
                fences.remove(partition)
            case .transient, .repairable:
                if case .repairable = Self.classify(error) { await repairTablePartitions() }
                health.failed(error)
                if health.shutdownDeadlinePassed {
                    logger.error("shutting down with writes Postgres never took", metadata: ["records": "\(pending.count)", "error": "\(error)"])
                    for index in pending { outcomes[index] = .abandoned }
                    return
                }
                try? await Task.sleep(for: backoff)  // never cancelled: the flush task is not
                backoff = min(backoff * 2, maxBackoff)
            case .data:
                guard pending.count > 1 else {
                    logger.error("a record cannot be written; only its caller fails", metadata: ["partition": "\(records[pending[0]].partition)", "error": "\(error)"])
                    outcomes[pending[0]] = .rejected(Self.reason(error))
                    return
                }
                let half = pending.count / 2
                await write(Array(pending[..<half]), of: records, into: &outcomes)
                await write(Array(pending[half...]), of: records, into: &outcomes)
                return
            }
        }
    }

    enum Failure: Equatable {
        case fenceLost(PartitionID)
        /// The database is out of reach (for now).
        case transient
        /// Fixable here: a history table partition is missing.
        case repairable
        /// Some record's data cannot be stored.
        case data
    }

    static func classify(_ error: any Error) -> Failure {
        if let store = error as? StoreError {
            if store.code == .ownershipLost, let partition = store.partitionID { return .fenceLost(partition) }
            if store.code == .missingTablePartition {
                return store.table == "history_events" ? .repairable : .data
            }
            if let postgres = store.underlying as? PostgresError, postgres.isTransient { return .transient }
            return .data
        }
        if let postgres = error as? PostgresError { return postgres.isTransient ? .transient : .data }
        return .data
    }

    /// What a rejected record's caller is told.
    static func reason(_ error: any Error) -> String {
        if let store = error as? StoreError { return store.message }
        if let postgres = error as? PostgresError { return postgres.message }
        return "\(error)"
    }
}

/// The fences of the partitions this node owns, shared by the scheduler (which sets them when it
/// claims and recovers) and the writer (which reads them for every batch and drops one whose
/// fence moved on).
final class FenceTable: Sendable {
    private let fences = Locked<[PartitionID: Fence]>([:])

    func snapshot() -> [PartitionID: Fence] { fences.withLock { $0 } }
    func set(_ partition: PartitionID, _ fence: Fence) { fences.withLock { $0[partition] = fence } }
    func remove(_ partition: PartitionID) { _ = fences.withLock { $0.removeValue(forKey: partition) } }
    func fence(of partition: PartitionID) -> Fence? { fences.withLock { $0[partition] } }
}

/// Whether Postgres takes writes right now, as the writer last found (ARCHITECTURE.md §6):
/// while it does not, `/readyz` is false and new runs are refused with `UNAVAILABLE`.
final class StorageHealth: Sendable {
    private struct State {
        var unavailableSince: ContinuousClock.Instant?
        var lastError = ""
        var shutdownDeadline: ContinuousClock.Instant?
        var onChange: (@Sendable (Bool, String) -> Void)?
    }

    private let state = Locked(State())
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Called with (available, reason) whenever availability changes.
    func onChange(_ body: @escaping @Sendable (Bool, String) -> Void) {
        state.withLock { $0.onChange = body }
    }

    var isAvailable: Bool { state.withLock { $0.unavailableSince == nil } }

    /// Why storage is unavailable (empty when it is available).
    var unavailableReason: String { state.withLock { $0.unavailableSince == nil ? "" : $0.lastError } }

    func failed(_ error: any Error) {
        let text = "\(error)"
        let (changed, callback) = state.withLock { state -> (Bool, (@Sendable (Bool, String) -> Void)?) in
            state.lastError = text
            guard state.unavailableSince == nil else { return (false, nil) }
            state.unavailableSince = .now
            return (true, state.onChange)
        }
        guard changed else { return }
        logger.error("Postgres is unavailable: writes wait and new runs are refused until it is back", metadata: ["error": "\(text)"])
        callback?(false, text)
    }

    func succeeded() {
        let (since, callback) = state.withLock { state -> (ContinuousClock.Instant?, (@Sendable (Bool, String) -> Void)?) in
            guard let since = state.unavailableSince else { return (nil, nil) }
            state.unavailableSince = nil
            state.lastError = ""
            return (since, state.onChange)
        }
        guard let since else { return }
        logger.notice("Postgres is back: writes resume", metadata: ["outage": "\(DurationText.format(ContinuousClock.now - since))"])
        callback?(true, "")
    }

    /// Shutdown began: writes still failing after `grace` are abandoned.
    func shuttingDown(grace: Duration) {
        state.withLock { $0.shutdownDeadline = .now + grace }
    }

    var shutdownDeadlinePassed: Bool {
        state.withLock { state in state.shutdownDeadline.map { ContinuousClock.now >= $0 } ?? false }
    }
}
