import Logging

/// Keeps the time-partitioned tables (ARCHITECTURE.md §5) writable and bounded: creates table
/// partitions ahead of time and drops history past its retention.
///
/// Run ``ensurePartitions(now:monthsAhead:daysAhead:)`` at migrate time and periodically (hourly
/// is plenty; the defaults keep a week of margin), and
/// ``dropExpiredHistory(now:retention:idempotencyKeyBatchSize:)`` periodically. Both are
/// idempotent and safe to run from several processes at once: they serialize on the schema lock
/// (``SchemaLock``), which also keeps them apart from migrations.
///
/// There is deliberately no DEFAULT table partition (see `WeftSchema.migration1`): a row whose
/// time no table partition covers is refused by Postgres, reported as
/// ``StoreError/Code/missingTablePartition``.
///
/// Locking, so that writers are never blocked:
/// - A new table partition is created as a plain table (`CREATE TABLE ... (LIKE parent ...)`) and
///   then attached (`ALTER TABLE parent ATTACH PARTITION ...`), which takes only a
///   `SHARE UPDATE EXCLUSIVE` lock on the parent; `CREATE TABLE ... PARTITION OF` would take
///   `ACCESS EXCLUSIVE` and, while waiting behind a long query, queue every writer behind it.
///   Both statements run in one transaction, so no half-made table partition is ever visible.
/// - An expired day partition is detached with `DETACH PARTITION ... CONCURRENTLY` (again no
///   `ACCESS EXCLUSIVE` on the parent), then dropped. History is never bulk-`DELETE`d. A detach
///   interrupted half-way is completed (`FINALIZE`) and a table left detached but not dropped is
///   dropped by the next run.
/// - `runs` and `task_attempts` month partitions are dropped past the run retention by
///   ``dropExpiredRuns(now:retention:)`` — whole, never by a bulk `DELETE` — and only when no run
///   of that month is still open.
public struct PartitionMaintenance: Sendable {
    /// Monthly table partitions created after the current month's by default.
    public static let defaultMonthsAhead = 2
    /// Daily `history_events` table partitions created after today's by default.
    public static let defaultDaysAhead = 7
    /// Idempotency keys deleted per statement by default: short transactions, short row locks.
    public static let defaultIdempotencyKeyBatchSize = 1000

    public let connection: PostgresConnection
    private let logger: Logger

    public init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// What ``dropExpiredHistory(now:retention:idempotencyKeyBatchSize:)`` removed.
    public struct HistoryCleanup: Hashable, Sendable {
        /// The `history_events` day partitions dropped, oldest first.
        public var droppedTablePartitions: [TablePartition]
        /// How many `idempotency_keys` rows were deleted.
        public var deletedIdempotencyKeys: Int

        public init(droppedTablePartitions: [TablePartition], deletedIdempotencyKeys: Int) {
            self.droppedTablePartitions = droppedTablePartitions
            self.deletedIdempotencyKeys = deletedIdempotencyKeys
        }
    }

    /// Creates every missing table partition for the current UTC month plus `monthsAhead` months
    /// (`runs`, `task_attempts`) and the current UTC day plus `daysAhead` days
    /// (`history_events`); returns those it created (empty when all existed). One transaction.
    ///
    /// `monthsAhead` must be in `0 ... 36`, `daysAhead` in `0 ... 366`
    /// (``StoreError/Code/invalidArgument``). Throws ``StoreError/Code/clusterNotInitialized`` when
    /// the schema has not been migrated.
    public func ensurePartitions(
        now: PostgresTimestamp,
        monthsAhead: Int = defaultMonthsAhead,
        daysAhead: Int = defaultDaysAhead
    ) async throws -> [TablePartition] {
        guard (0...36).contains(monthsAhead) else {
            throw StoreError(code: .invalidArgument, message: "monthsAhead must be between 0 and 36, not \(monthsAhead)")
        }
        guard (0...366).contains(daysAhead) else {
            throw StoreError(code: .invalidArgument, message: "daysAhead must be between 0 and 366, not \(daysAhead)")
        }
        let wanted = Self.partitions(around: now, monthsAhead: monthsAhead, daysAhead: daysAhead)
        let created = try await connection.transaction { connection in
            let schema = try SchemaLock.lockForTransaction(on: connection)
            try Self.requireTables(schema: schema, on: connection)
            let attached = Set(try Self.existing(schema: schema, on: connection).filter { $0.state == .attached }.map(\.partition))
            var created: [TablePartition] = []
            for partition in wanted where !attached.contains(partition) {
                let parent = SQLIdentifier.qualified(schema, partition.table.name)
                let child = SQLIdentifier.qualified(schema, partition.name)
                // IF NOT EXISTS: a same-named table left detached (by hand) is attached again.
                // task_attempts rows are updated once, when the attempt ends: room on the page makes
                // that update HOT (WeftSchema.migration2).
                let options = partition.table.name == "task_attempts" ? " WITH (fillfactor = 70)" : ""
                try connection.execute(
                    "CREATE TABLE IF NOT EXISTS \(child) (LIKE \(parent) INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)\(options)"
                )
                try connection.execute(
                    "ALTER TABLE \(parent) ATTACH PARTITION \(child) FOR VALUES FROM ('\(partition.lowerBound.text)') TO ('\(partition.upperBound.text)')"
                )
                created.append(partition)
            }
            return created
        }
        for partition in created {
            logger.debug("table partition created", metadata: ["postgres.table": "\(partition.name)"])
        }
        return created
    }

    /// Detaches and drops every `history_events` day partition that lies wholly before
    /// `now - retention` (its upper bound is at or before it), oldest first, then deletes the
    /// `idempotency_keys` created before `now - retention` in batches of
    /// `idempotencyKeyBatchSize` rows (one short statement each, until a batch comes back short).
    ///
    /// `retention` must be positive, so the current day is never dropped. Rows of newer day
    /// partitions are untouched.
    public func dropExpiredHistory(
        now: PostgresTimestamp,
        retention: Duration,
        idempotencyKeyBatchSize: Int = defaultIdempotencyKeyBatchSize
    ) async throws -> HistoryCleanup {
        guard retention > .zero else {
            throw StoreError(code: .invalidArgument, message: "the history retention must be positive")
        }
        guard idempotencyKeyBatchSize >= 1 else {
            throw StoreError(code: .invalidArgument, message: "the idempotency key batch size must be at least 1, not \(idempotencyKeyBatchSize)")
        }
        let cutoff = now - retention
        let dropped = try await dropHistoryPartitions(before: cutoff)
        let deleted = try await deleteIdempotencyKeys(before: cutoff, batchSize: idempotencyKeyBatchSize)
        return HistoryCleanup(droppedTablePartitions: dropped, deletedIdempotencyKeys: deleted)
    }

    /// What ``dropExpiredRuns(now:retention:)`` removed and kept.
    public struct RunCleanup: Hashable, Sendable {
        /// The `runs` and `task_attempts` month partitions dropped, oldest first.
        public var droppedTablePartitions: [TablePartition]
        /// Months past the retention kept because a run of theirs is still open (their `runs` partition).
        public var keptForOpenRuns: [TablePartition]
        /// Rows of `run_signals` and `child_runs` deleted with their runs.
        public var deletedRelatedRows: Int

        public init(droppedTablePartitions: [TablePartition], keptForOpenRuns: [TablePartition], deletedRelatedRows: Int) {
            self.droppedTablePartitions = droppedTablePartitions
            self.keptForOpenRuns = keptForOpenRuns
            self.deletedRelatedRows = deletedRelatedRows
        }
    }

    /// Drops the `runs` and `task_attempts` month partitions that lie wholly before
    /// `now - retention`, oldest first — a month with a run still open is kept whole (and reported)
    /// until its last run closes (or, for a child run, its parent). The signals and child links of a dropped month's runs are
    /// deleted first (they live in tables of their own). `retention` must be at least a day.
    ///
    /// No run can be added to such a month meanwhile: run ids are checked to be within an hour
    /// of their start (`RunIDPolicy`), so only the current months receive rows.
    public func dropExpiredRuns(now: PostgresTimestamp, retention: Duration) async throws -> RunCleanup {
        guard retention >= .seconds(86_400) else {
            throw StoreError(code: .invalidArgument, message: "the run retention must be at least a day")
        }
        let cutoff = now - retention
        let schema = try await SchemaLock.lockSession(on: connection)
        var cleanup = RunCleanup(droppedTablePartitions: [], keptForOpenRuns: [], deletedRelatedRows: 0)
        do {
            let tables = try await Self.existing(schema: schema, on: connection)
            let expiredRuns = tables.filter { $0.partition.table == .runs && $0.partition.upperBound <= cutoff }.sorted { $0.partition < $1.partition }
            for month in expiredRuns {
                let runs = SQLIdentifier.qualified(schema, month.partition.name)
                if month.state == .attached {
                    // Open: a run of the month, or the parent waiting for one of its children.
                    let open = try await connection.query("""
                        SELECT EXISTS (SELECT 1 FROM \(runs) WHERE closed_at IS NULL)
                            OR EXISTS (SELECT 1 FROM \(SQLIdentifier.qualified(schema, "child_runs")) c
                                       JOIN \(SQLIdentifier.qualified(schema, "runs")) p ON p.run_id = c.parent_run_id
                                       WHERE c.child_run_id IN (SELECT run_id FROM \(runs)) AND p.closed_at IS NULL) AS open
                        """)
                    if try open.first?.bool("open") == true {
                        cleanup.keptForOpenRuns.append(month.partition)
                        logger.warning("a month past the run retention keeps its runs: some are still open", metadata: [
                            "postgres.table": "\(month.partition.name)",
                        ])
                        continue
                    }
                    for (related, column) in [("run_signals", "run_id"), ("child_runs", "child_run_id")] {
                        cleanup.deletedRelatedRows += try await connection.execute(
                            "DELETE FROM \(SQLIdentifier.qualified(schema, related)) WHERE \(column) IN (SELECT run_id FROM \(runs))")
                    }
                }
                // Its attempts first (they share the month), then the runs.
                let attempts = tables.filter { $0.partition.table == .taskAttempts && $0.partition.lowerBound == month.partition.lowerBound }
                for table in attempts + [month] {
                    try await detachAndDrop(table, schema: schema)
                    cleanup.droppedTablePartitions.append(table.partition)
                }
            }
        } catch {
            await unlock(schema: schema)
            throw error
        }
        await unlock(schema: schema)
        return cleanup
    }

    private func detachAndDrop(_ table: ExistingTable, schema: String) async throws {
        let parent = SQLIdentifier.qualified(schema, table.partition.table.name)
        let child = SQLIdentifier.qualified(schema, table.partition.name)
        switch table.state {
        case .attached:
            try await connection.execute("ALTER TABLE \(parent) DETACH PARTITION \(child) CONCURRENTLY")
        case .detachPending:
            try await connection.execute("ALTER TABLE \(parent) DETACH PARTITION \(child) FINALIZE")
        case .detached:
            break
        }
        try await connection.execute("DROP TABLE \(child)")
        logger.debug("table partition dropped", metadata: ["postgres.table": "\(table.partition.name)"])
    }

    /// The table partitions of the schema that are attached to their table, by table then time.
    public func tablePartitions() async throws -> [TablePartition] {
        try await connection.transaction { connection in
            let schema = try SchemaLock.currentSchema(on: connection)
            return try Self.existing(schema: schema, on: connection).filter { $0.state == .attached }.map(\.partition).sorted()
        }
    }

    // MARK: - Steps

    private func dropHistoryPartitions(before cutoff: PostgresTimestamp) async throws -> [TablePartition] {
        // DETACH ... CONCURRENTLY cannot run inside a transaction: hold the session-level lock.
        let schema = try await SchemaLock.lockSession(on: connection)
        var dropped: [TablePartition] = []
        do {
            let expired = try await Self.existing(schema: schema, on: connection)
                .filter { $0.partition.table == .historyEvents && $0.partition.upperBound <= cutoff }
                .sorted { $0.partition < $1.partition }
            for table in expired {
                try await detachAndDrop(table, schema: schema)
                dropped.append(table.partition)
            }
        } catch {
            await unlock(schema: schema)
            throw error
        }
        await unlock(schema: schema)
        return dropped
    }

    private func unlock(schema: String) async {
        do {
            try await SchemaLock.unlockSession(schema: schema, on: connection)
        } catch {
            // Failing to unlock means the session is gone, and a lost session releases its
            // advisory locks on the server anyway.
            logger.debug("schema lock release failed", metadata: ["error": "\(error)"])
        }
    }

    private func deleteIdempotencyKeys(before cutoff: PostgresTimestamp, batchSize: Int) async throws -> Int {
        var total = 0
        while true {
            // SKIP LOCKED: a key a start-run is inserting or reading for update is left for later.
            let deleted = try await connection.execute(
                """
                DELETE FROM idempotency_keys WHERE key IN (
                    SELECT key FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
                """,
                [.timestamp(cutoff), PostgresValue(batchSize)]
            )
            total += deleted
            if deleted < batchSize { return total }
        }
    }

    // MARK: - Catalog

    /// Where a table named like a table partition stands.
    enum State: Hashable {
        case attached
        /// `DETACH ... CONCURRENTLY` was interrupted; `FINALIZE` completes it.
        case detachPending
        /// A plain table (a drop interrupted between detach and drop).
        case detached
    }

    struct ExistingTable: Hashable {
        var partition: TablePartition
        var state: State
    }

    /// The tables of `schema` named like table partitions (``TablePartition/init(name:)``).
    static func existing(schema: String, on connection: isolated PostgresConnection) throws -> [ExistingTable] {
        let rows = try connection.query(
            """
            SELECT c.relname AS name, p.relname AS parent, i.inhdetachpending AS pending
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
            LEFT JOIN pg_class p ON p.oid = i.inhparent
            WHERE n.nspname = $1 AND c.relkind = 'r'
              AND c.relname ~ '^(runs|task_attempts|history_events)_[0-9]{4}_[0-9]{2}(_[0-9]{2})?$'
            """,
            [PostgresValue(schema)]
        )
        return try rows.compactMap { row in
            guard let name = try row.string("name"), let partition = TablePartition(name: name) else { return nil }
            guard let parent = try row.string("parent") else { return ExistingTable(partition: partition, state: .detached) }
            // A same-named table under another parent is not ours to manage.
            guard parent == partition.table.name else { return nil }
            return ExistingTable(partition: partition, state: try row.bool("pending") == true ? .detachPending : .attached)
        }
    }

    /// Throws ``StoreError/Code/clusterNotInitialized`` unless all partitioned tables exist.
    static func requireTables(schema: String, on connection: isolated PostgresConnection) throws {
        for table in PartitionedTable.allCases {
            let rows = try connection.query(
                "SELECT to_regclass($1) IS NOT NULL AS present",
                [PostgresValue(SQLIdentifier.qualified(schema, table.name))]
            )
            guard try rows.first?.bool("present") == true else {
                throw StoreError(
                    code: .clusterNotInitialized,
                    message: "table \(table.name) does not exist in schema \(schema): run `weft migrate` first",
                    table: table.name
                )
            }
        }
    }

    /// The table partitions that should exist at `now`: this month and `monthsAhead` more for the
    /// monthly tables, today and `daysAhead` more for the daily one (all UTC), by table then time.
    static func partitions(around now: PostgresTimestamp, monthsAhead: Int, daysAhead: Int) -> [TablePartition] {
        let today = now.civilDate
        var wanted: [TablePartition] = []
        for table in PartitionedTable.allCases {
            switch table.interval {
            case .month:
                for offset in 0...monthsAhead {
                    wanted.append(TablePartition(table: table, startingOn: today.firstOfMonth(adding: offset)))
                }
            case .day:
                for offset in 0...daysAhead {
                    wanted.append(TablePartition(table: table, startingOn: today.adding(days: offset)))
                }
            }
        }
        return wanted
    }
}
