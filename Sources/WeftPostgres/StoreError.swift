import WeftCore

/// The domain errors of Weft's Postgres stores: ownership (fencing), cluster metadata, schema
/// migrations and table partitions. Database and connection failures stay ``PostgresError``s.
///
/// How callers react (pinned by the integration tests):
/// - ``Code/ownershipLost``: another node claimed the partition (its fence moved on). Never
///   retried: the partition's engine stops at once and drops what it had not committed
///   (ARCHITECTURE.md §2, STYLE.md §4).
/// - ``Code/missingTablePartition``: no table partition covers the row's time; retrying cannot
///   help until table-partition maintenance (``PartitionMaintenance``) has run.
/// - The migration and cluster codes are operator errors, reported by `weft migrate` (exit 1).
/// - Any ``PostgresError`` (connection lost, serialization failure, ...) is transient: retry with
///   backoff, re-verifying the fence.
///
/// Like ``PostgresError``, a `StoreError` never contains statement parameter values.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong. A struct rather than an enum so that new codes break no `switch`
    /// (STYLE.md §4).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case ownershipLost
            case unknownPartition
            case clusterNotInitialized
            case partitionCountMismatch
            case clusterNameMismatch
            case corruptClusterMetadata
            case migrationChecksumMismatch
            case unknownMigration
            case migrationOutOfOrder
            case missingTablePartition
            case invalidArgument
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A partition's fence (`partition_owners.range_id`) is no longer the caller's: another
        /// owner claimed it. Nothing of the failed transaction was written. Never retried.
        public static let ownershipLost = Code(.ownershipLost)
        /// A partition id that `partition_owners` does not have (not in `0 ..< P`).
        public static let unknownPartition = Code(.unknownPartition)
        /// `cluster_meta` has no partition count: the database was never migrated with
        /// `weft migrate`.
        public static let clusterNotInitialized = Code(.clusterNotInitialized)
        /// The requested partition count differs from the one the cluster was created with.
        /// P is fixed for the life of a cluster (ARCHITECTURE.md §2).
        public static let partitionCountMismatch = Code(.partitionCountMismatch)
        /// The requested cluster name differs from the one recorded in `cluster_meta`: probably
        /// the wrong database.
        public static let clusterNameMismatch = Code(.clusterNameMismatch)
        /// `cluster_meta` or `partition_owners` do not agree with each other (edited by hand?).
        public static let corruptClusterMetadata = Code(.corruptClusterMetadata)
        /// An applied migration's recorded checksum differs from this binary's migration of the
        /// same version: an applied migration was edited. Nothing was applied.
        public static let migrationChecksumMismatch = Code(.migrationChecksumMismatch)
        /// The database records a migration this binary does not know: it was migrated by a
        /// newer Weft. Nothing was applied.
        public static let unknownMigration = Code(.unknownMigration)
        /// A migration is pending although a later version is already applied. Nothing was
        /// applied.
        public static let migrationOutOfOrder = Code(.migrationOutOfOrder)
        /// A row's time falls in no table partition of a partitioned table (`runs`,
        /// `task_attempts`, `history_events`): table-partition maintenance is not running or is
        /// behind. The transaction wrote nothing.
        public static let missingTablePartition = Code(.missingTablePartition)
        /// An argument is out of range (a partition count of 0, an empty fence set, ...).
        public static let invalidArgument = Code(.invalidArgument)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// What happened and what to do, for people. Never contains parameter values.
    public var message: String
    /// The partition concerned (``Code/ownershipLost``, ``Code/unknownPartition``).
    public var partitionID: PartitionID?
    /// The fence the caller held (``Code/ownershipLost``).
    public var expectedFence: Fence?
    /// The partition's fence in the database when the check failed (``Code/ownershipLost``).
    public var currentFence: Fence?
    /// The migration concerned (migration codes).
    public var migrationVersion: Int?
    /// The table concerned (``Code/missingTablePartition``).
    public var table: String?
    /// The database error this one was derived from, if any.
    public var underlying: (any Error)?

    public init(
        code: Code,
        message: String,
        partitionID: PartitionID? = nil,
        expectedFence: Fence? = nil,
        currentFence: Fence? = nil,
        migrationVersion: Int? = nil,
        table: String? = nil,
        underlying: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.partitionID = partitionID
        self.expectedFence = expectedFence
        self.currentFence = currentFence
        self.migrationVersion = migrationVersion
        self.table = table
        self.underlying = underlying
    }

    /// The partition's fence moved from `expected` to `current`: another owner claimed it.
    public static func ownershipLost(partition: PartitionID, expectedFence: Fence, currentFence: Fence) -> StoreError {
        StoreError(
            code: .ownershipLost,
            message: "partition \(partition) was claimed by another owner (fence \(expectedFence) is now \(currentFence)); its engine must stop",
            partitionID: partition,
            expectedFence: expectedFence,
            currentFence: currentFence
        )
    }

    /// For example `StoreError(ownershipLost, partition: 7): partition 7 was claimed by another
    /// owner (fence 3 is now 4); its engine must stop`.
    public var description: String {
        var text = "StoreError(\(code)"
        if let partitionID { text += ", partition: \(partitionID)" }
        if let migrationVersion { text += ", migration: \(migrationVersion)" }
        if let table { text += ", table: \(table)" }
        text += "): \(message)"
        if let underlying { text += " [\(underlying)]" }
        return text
    }
}

extension PostgresError {
    /// Whether the server refused a row because no table partition of a partitioned table covers
    /// its partition key (`no partition of relation "runs" found for row`, SQLSTATE 23514).
    /// ``tableName`` names the partitioned table.
    public var isMissingTablePartition: Bool {
        sqlState == .checkViolation && message.hasPrefix("no partition of relation ")
    }
}

extension StoreError {
    /// `error` as a ``Code/missingTablePartition`` store error when it is one
    /// (``PostgresError/isMissingTablePartition``), otherwise `error` unchanged.
    public static func translating(_ error: any Error) -> any Error {
        guard let postgres = error as? PostgresError, postgres.isMissingTablePartition else { return error }
        let table = postgres.tableName ?? "?"
        return StoreError(
            code: .missingTablePartition,
            message: "no table partition of \"\(table)\" covers the row's time: run `weft migrate` or make sure table-partition maintenance is running",
            table: postgres.tableName,
            underlying: postgres
        )
    }
}
