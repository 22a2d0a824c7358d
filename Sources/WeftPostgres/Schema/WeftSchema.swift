import Logging

/// Weft's Postgres schema (ARCHITECTURE.md §5): its migrations, and the one call that brings a
/// database up to date for `weft migrate` and `weft dev`.
///
/// ```
/// var configuration = WeftSchema.Configuration()
/// configuration.partitionCount = 256          // only when creating the cluster; nil = keep
/// let report = try await WeftSchema.migrate(connection: conn, configuration: configuration, logger: logger)
/// ```
///
/// ``migrate(connection:configuration:logger:)`` does three things, each idempotent:
/// 1. applies pending ``migrations`` (``SchemaMigrator``);
/// 2. initializes the cluster once: records the partition count P and the cluster name in
///    `cluster_meta` and fills `partition_owners` with P rows at fence 0. Later runs check the
///    requested values against the recorded ones and refuse a different P or name;
/// 3. creates the table partitions for now and ahead (``PartitionMaintenance``).
public enum WeftSchema {
    /// Every migration of the Weft schema, by version.
    public static let migrations: [Migration] = [migration1, migration2, migration3, migration4, migration5]

    /// P when the cluster is created without an explicit count (ARCHITECTURE.md §2).
    public static let defaultPartitionCount = 256

    /// The largest P accepted: every scheduler claims and recovers partitions one row each, and
    /// the single-scheduler mode claims all of them in one statement.
    public static let maximumPartitionCount = 65_536

    /// The cluster name recorded when none is given (the `--cluster` default).
    public static let defaultClusterName = "weft"

    /// What ``migrate(connection:configuration:logger:)`` should do beyond applying migrations.
    public struct Configuration: Sendable {
        /// P for a new cluster; `nil` uses ``WeftSchema/defaultPartitionCount``. For an existing
        /// cluster, `nil` keeps the recorded P and any other value than the recorded one throws
        /// ``StoreError/Code/partitionCountMismatch``. Range `1 ... maximumPartitionCount`.
        public var partitionCount: Int?
        /// The cluster's name for a new cluster; `nil` uses ``WeftSchema/defaultClusterName``.
        /// For an existing cluster, a different name throws
        /// ``StoreError/Code/clusterNameMismatch`` (this is probably the wrong database).
        public var clusterName: String?
        /// The time table partitions are created around (tests pass a fixed time).
        public var now: PostgresTimestamp
        /// Monthly table partitions of `runs` and `task_attempts` to create after the current
        /// month's. Default 2.
        public var monthsAhead: Int
        /// Daily table partitions of `history_events` to create after today's (UTC). Default 7:
        /// writes keep working for a week even if maintenance stops.
        public var daysAhead: Int

        public init(
            partitionCount: Int? = nil,
            clusterName: String? = nil,
            now: PostgresTimestamp = .now(),
            monthsAhead: Int = PartitionMaintenance.defaultMonthsAhead,
            daysAhead: Int = PartitionMaintenance.defaultDaysAhead
        ) {
            self.partitionCount = partitionCount
            self.clusterName = clusterName
            self.now = now
            self.monthsAhead = monthsAhead
            self.daysAhead = daysAhead
        }
    }

    /// What ``migrate(connection:configuration:logger:)`` did, for the caller to print or log.
    public struct MigrationReport: Sendable {
        /// The migrations this call applied, in order (empty: the schema was up to date).
        public var applied: [Migration]
        /// The highest applied migration version after this call.
        public var schemaVersion: Int
        /// The cluster's recorded settings.
        public var cluster: ClusterMetadata
        /// Whether this call created the cluster (recorded P and the name, filled
        /// `partition_owners`).
        public var clusterCreated: Bool
        /// The table partitions this call created.
        public var createdTablePartitions: [TablePartition]
    }

    /// Applies pending migrations, initializes or checks the cluster metadata, and creates table
    /// partitions, in the schema the connection's `search_path` selects. See the type's
    /// documentation. Safe to run concurrently from several processes.
    public static func migrate(
        connection: PostgresConnection,
        configuration: Configuration,
        logger: Logger
    ) async throws -> MigrationReport {
        if let count = configuration.partitionCount { try validatePartitionCount(count) }
        if let name = configuration.clusterName, name.isEmpty {
            throw StoreError(code: .invalidArgument, message: "the cluster name must not be empty")
        }
        let migrator = try SchemaMigrator(migrations: migrations, connection: connection, logger: logger)
        let applied = try await migrator.migrate()
        let (cluster, created) = try await initializeCluster(
            connection: connection,
            partitionCount: configuration.partitionCount,
            clusterName: configuration.clusterName
        )
        if created {
            logger.debug("cluster created", metadata: ["cluster.partitions": "\(cluster.partitionCount)", "cluster.name": "\(cluster.clusterName)"])
        }
        let maintenance = PartitionMaintenance(connection: connection, logger: logger)
        let partitions = try await maintenance.ensurePartitions(
            now: configuration.now,
            monthsAhead: configuration.monthsAhead,
            daysAhead: configuration.daysAhead
        )
        let version = try await migrator.appliedMigrations().last?.version ?? 0
        return MigrationReport(
            applied: applied,
            schemaVersion: version,
            cluster: cluster,
            clusterCreated: created,
            createdTablePartitions: partitions
        )
    }

    static func validatePartitionCount(_ count: Int) throws {
        guard (1...maximumPartitionCount).contains(count) else {
            throw StoreError(code: .invalidArgument, message: "the partition count must be between 1 and \(maximumPartitionCount), not \(count)")
        }
    }

    /// Records P and the name on first use (with P rows in `partition_owners`), else checks them.
    /// One transaction under the schema lock. Returns the recorded metadata and whether this call
    /// created it.
    private static func initializeCluster(
        connection: PostgresConnection,
        partitionCount requestedCount: Int?,
        clusterName requestedName: String?
    ) async throws -> (ClusterMetadata, Bool) {
        try await connection.transaction { connection in
            try SchemaLock.lockForTransaction(on: connection)
            let stored = try ClusterMetadata.readValues(on: connection)
            var created = false
            let count: Int
            if let recorded = stored.partitionCount {
                if let requestedCount, requestedCount != recorded {
                    throw StoreError(
                        code: .partitionCountMismatch,
                        message: "the cluster was created with \(recorded) partitions and cannot be changed to \(requestedCount); omit --partitions or pass \(recorded)"
                    )
                }
                count = recorded
            } else {
                count = requestedCount ?? defaultPartitionCount
                try connection.execute(
                    "INSERT INTO cluster_meta (key, value) VALUES ($1, $2)",
                    [PostgresValue(ClusterMetadata.partitionCountKey), PostgresValue(count)]
                )
                try connection.execute(
                    "INSERT INTO partition_owners (partition_id, range_id) SELECT g, 0 FROM generate_series(0, $1::int - 1) AS g ON CONFLICT (partition_id) DO NOTHING",
                    [PostgresValue(count)]
                )
                created = true
            }
            let name: String
            if let recorded = stored.clusterName {
                if let requestedName, requestedName != recorded {
                    throw StoreError(
                        code: .clusterNameMismatch,
                        message: "this database belongs to cluster '\(recorded)', not '\(requestedName)': check the Postgres URL and --cluster"
                    )
                }
                name = recorded
            } else {
                name = requestedName ?? defaultClusterName
                try connection.execute(
                    "INSERT INTO cluster_meta (key, value) VALUES ($1, $2)",
                    [PostgresValue(ClusterMetadata.clusterNameKey), PostgresValue(name)]
                )
            }
            try ClusterMetadata.checkOwnerRows(partitionCount: count, on: connection)
            return (ClusterMetadata(partitionCount: count, clusterName: name), created)
        }
    }
}
