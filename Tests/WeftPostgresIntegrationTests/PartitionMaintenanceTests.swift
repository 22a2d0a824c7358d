import Testing
import WeftCore
import WeftPostgres
import _WeftTestKit

@Suite("PartitionMaintenance", .enabled(if: IntegrationEnvironment.postgresConfigured))
struct PartitionMaintenanceTests {
    private let logger = SchemaFixtures.logger

    /// The bounds Postgres recorded for each attached table partition of the schema, in UTC.
    private func bounds(on connection: PostgresConnection) async throws -> [String: String] {
        try await connection.executeScript("SET TimeZone TO 'UTC'")
        let rows = try await connection.query("""
            SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind = 'r'
            """)
        var bounds: [String: String] = [:]
        for row in rows { bounds[try #require(try row.string("name"))] = try row.string("bound") }
        return bounds
    }

    @Test("migrate creates this month and the next, today and two more days, with exact UTC bounds")
    func ensurePartitions_atMigrate_createsExpectedPartitions() async throws {
        try await TestSchema.with { (connection) async throws in
            let report = try await SchemaFixtures.migrate(connection, now: SchemaFixtures.now, monthsAhead: 1, daysAhead: 2)
            let expected = [
                "history_events_2026_11_25", "history_events_2026_11_26", "history_events_2026_11_27",
                "runs_2026_11", "runs_2026_12", "task_attempts_2026_11", "task_attempts_2026_12",
            ]
            #expect(report.createdTablePartitions.map(\.name).sorted() == expected)
            let maintenance = PartitionMaintenance(connection: connection, logger: logger)
            #expect(try await maintenance.tablePartitions().map(\.name).sorted() == expected)

            let bounds = try await bounds(on: connection)
            #expect(bounds["runs_2026_11"] == "FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00')")
            #expect(bounds["task_attempts_2026_12"] == "FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')")
            #expect(bounds["history_events_2026_11_27"] == "FOR VALUES FROM ('2026-11-27 00:00:00+00') TO ('2026-11-28 00:00:00+00')")

            // Idempotent; a day later exactly one more day partition is due.
            #expect(try await maintenance.ensurePartitions(now: SchemaFixtures.now, monthsAhead: 1, daysAhead: 2).isEmpty)
            let nextDay = try await maintenance.ensurePartitions(now: SchemaFixtures.now + .seconds(86_400), monthsAhead: 1, daysAhead: 2)
            #expect(nextDay.map(\.name) == ["history_events_2026_11_28"])
        }
    }

    @Test("table partitions roll over month and year ends")
    func ensurePartitions_atYearEnd_rollsOver() async throws {
        try await TestSchema.with { (connection) async throws in
            let now = SchemaFixtures.timestamp(2026, 12, 31, 23, 59)
            let report = try await SchemaFixtures.migrate(connection, now: now, monthsAhead: 1, daysAhead: 1)
            #expect(report.createdTablePartitions.map(\.name).sorted() == [
                "history_events_2026_12_31", "history_events_2027_01_01", "runs_2026_12", "runs_2027_01",
                "task_attempts_2026_12", "task_attempts_2027_01",
            ])
            let partition = try #require(report.createdTablePartitions.first { $0.name == "history_events_2027_01_01" })
            #expect(partition.lowerBound == SchemaFixtures.timestamp(2027, 1, 1))
            #expect(partition.upperBound == SchemaFixtures.timestamp(2027, 1, 2))
        }
    }

    @Test("out-of-range look-ahead is refused")
    func ensurePartitions_invalidLookAhead_throwsInvalidArgument() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection)
            let maintenance = PartitionMaintenance(connection: connection, logger: logger)
            let months = try await #require(throws: StoreError.self) { try await maintenance.ensurePartitions(now: SchemaFixtures.now, monthsAhead: -1) }
            #expect(months.code == .invalidArgument)
            await #expect(throws: StoreError.self) { try await maintenance.ensurePartitions(now: SchemaFixtures.now, daysAhead: 10_000) }
        }
    }

    @Test("a run in a covered month is stored and found by id; one in an uncovered month is refused clearly")
    func insertRun_coveredAndUncoveredMonths() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection, now: SchemaFixtures.now, monthsAhead: 1)
            let covered = SchemaFixtures.runID(at: SchemaFixtures.timestamp(2026, 12, 31, 23, 59))
            try await connection.transaction { connection in
                try SchemaFixtures.insertRun(covered, on: connection)
                // Its attempts share the run's created_at, hence its table partition.
                try connection.execute(
                    "INSERT INTO task_attempts (run_id, created_at, scheduled_at, attempt, node, status) VALUES ($1, $2, now(), 1, 'extract', 'scheduled')",
                    [.runID(covered), .timestamp(covered.createdAt)]
                )
            }
            let found = try await connection.query(
                "SELECT run_id, created_at, tableoid::regclass::text AS stored_in FROM runs WHERE run_id = $1 AND created_at = $2",
                [.runID(covered), .timestamp(covered.createdAt)]
            )
            #expect(try found.first?.string("stored_in") == "runs_2026_12")
            #expect(try found.first?["run_id", as: RunID.self] == covered)
            #expect(try found.first?["created_at", as: PostgresTimestamp.self] == covered.createdAt)

            let uncovered = SchemaFixtures.runID(at: SchemaFixtures.timestamp(2031, 3, 4, 5, 6))
            let error = try await #require(throws: PostgresError.self) {
                try await connection.transaction { connection in try SchemaFixtures.insertRun(uncovered, on: connection) }
            }
            #expect(error.isMissingTablePartition)
            #expect(error.tableName == "runs")
            #expect(error.detail == "Partition key of the failing row contains (created_at) = (<redacted>).")
            #expect(!error.description.contains("2031"))
            let translated = try #require(StoreError.translating(error) as? StoreError)
            #expect(translated.code == .missingTablePartition)
            #expect(translated.table == "runs")
            #expect(translated.description.contains("weft migrate"))
            #expect(!translated.description.contains("2031"))
            #expect(try await SchemaFixtures.count("SELECT count(*) AS n FROM runs", on: connection) == 1)
        }
    }

    @Test("created_at must be the run id's time")
    func insertRun_createdAtNotFromRunID_isRefused() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection)
            let id = SchemaFixtures.runID(at: SchemaFixtures.now)
            let error = try await #require(throws: PostgresError.self) {
                try await connection.execute(
                    "INSERT INTO runs (run_id, created_at, partition, workflow, version, status) VALUES ($1, $2, 0, 'wf', 'v1', 'pending')",
                    [.runID(id), .timestamp(id.createdAt + .milliseconds(1))]
                )
            }
            #expect(error.sqlState == .checkViolation)
            #expect(error.constraintName == "runs_created_at_from_run_id")
        }
    }

    @Test("RunID.createdAt matches weft_uuid7_time in SQL for ids from 1970 to 2106")
    func createdAt_matchesSQLFunction() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection)
            var random = SystemRandomNumberGenerator()
            let ids = (0..<200).map { _ in
                // weft_uuid7_time is exact through 2^32 seconds (2106), see WeftSchema.migration1.
                SchemaFixtures.runID(at: PostgresTimestamp(unixMilliseconds: Int64.random(in: 0..<(1 << 32) * 1000, using: &random)))
            }
            let array = PostgresValue(text: "{" + ids.map { "\($0)" }.joined(separator: ",") + "}")
            let rows = try await connection.query(
                "SELECT (extract(epoch FROM weft_uuid7_time(id)) * 1000000)::bigint AS us FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n) ORDER BY n",
                [array]
            )
            #expect(try rows.map { try $0.int64("us") } == ids.map { $0.createdAt.unixMicroseconds })
        }
    }

    @Test("timestamps round-trip through the server in any session time zone")
    func timestamp_roundTripsInAnyTimeZone() async throws {
        let connection = try await TestSchema.connect()
        let values = [
            SchemaFixtures.timestamp(2026, 11, 25, 10),
            PostgresTimestamp(unixMicroseconds: 1_764_064_800_123_456),
            PostgresTimestamp(unixMicroseconds: -1),
            SchemaFixtures.timestamp(1, 1, 1),
        ]
        for zone in ["UTC", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham"] {
            try await connection.executeScript("SET TimeZone TO '\(zone)'")
            for value in values {
                let row = try await connection.query(
                    "SELECT $1::timestamptz AS t, (extract(epoch FROM $1::timestamptz) * 1000000)::bigint AS us", [.timestamp(value)])[0]
                #expect(try row.int64("us") == value.unixMicroseconds, "\(value) in \(zone)")
                #expect(try row["t", as: PostgresTimestamp.self] == value, "\(value) in \(zone): \(row["t"] ?? "NULL")")
            }
        }
        #expect(SchemaFixtures.timestamp(2026, 11, 25, 10).text == "2026-11-25 10:00:00+00")
        #expect(PostgresTimestamp(unixMicroseconds: 1_764_064_800_123_450).text == "2025-11-25 10:00:00.12345+00")
        #expect(PostgresTimestamp(year: 2026, month: 2, day: 29) == nil)
        await connection.close()
    }

    @Test("expired history day partitions are dropped whole; newer ones keep their rows")
    func dropExpiredHistory_dropsOnlyExpiredDayPartitions() async throws {
        try await TestSchema.with { (connection) async throws in
            // Day partitions 2026-11-01 ... 2026-11-10.
            try await SchemaFixtures.migrate(connection, now: SchemaFixtures.timestamp(2026, 11, 1), daysAhead: 9)
            let old = SchemaFixtures.runID(at: SchemaFixtures.timestamp(2026, 11, 2, 8))
            let recent = SchemaFixtures.runID(at: SchemaFixtures.timestamp(2026, 11, 9, 8))
            try await connection.transaction { connection in
                try SchemaFixtures.insertEvent(old, seq: 0, at: SchemaFixtures.timestamp(2026, 11, 2, 8), on: connection)
                try SchemaFixtures.insertEvent(old, seq: 1, at: SchemaFixtures.timestamp(2026, 11, 2, 9), on: connection)
                try SchemaFixtures.insertEvent(recent, seq: 0, at: SchemaFixtures.timestamp(2026, 11, 7, 13), on: connection)
                try SchemaFixtures.insertEvent(recent, seq: 1, at: SchemaFixtures.timestamp(2026, 11, 9, 8), on: connection)
                for index in 0..<5 {
                    try connection.execute(
                        "INSERT INTO idempotency_keys (key, run_id, created_at) VALUES ($1, $2, $3)",
                        [PostgresValue("old-\(index)"), .runID(old), .timestamp(SchemaFixtures.timestamp(2026, 11, 2))]
                    )
                }
                for index in 0..<2 {
                    try connection.execute(
                        "INSERT INTO idempotency_keys (key, run_id, created_at) VALUES ($1, $2, $3)",
                        [PostgresValue("new-\(index)"), .runID(recent), .timestamp(SchemaFixtures.timestamp(2026, 11, 9))]
                    )
                }
            }
            let maintenance = PartitionMaintenance(connection: connection, logger: logger)
            // Cutoff 2026-11-07 12:00: days up to 11-06 end before it; 11-07 does not.
            let cleanup = try await maintenance.dropExpiredHistory(
                now: SchemaFixtures.timestamp(2026, 11, 10, 12), retention: .seconds(3 * 86_400), idempotencyKeyBatchSize: 2)
            #expect(cleanup.droppedTablePartitions.map(\.name) == (1...6).map { "history_events_2026_11_0\($0)" })
            #expect(cleanup.deletedIdempotencyKeys == 5)

            let remaining = try await maintenance.tablePartitions().filter { $0.table == .historyEvents }.map(\.name)
            #expect(remaining == ["history_events_2026_11_07", "history_events_2026_11_08", "history_events_2026_11_09", "history_events_2026_11_10"])
            let events = try await connection.query("SELECT run_id::text AS run, seq FROM history_events ORDER BY at")
            #expect(try events.map { try $0.string("run") } == ["\(recent)", "\(recent)"])
            let keys = try await connection.query("SELECT key FROM idempotency_keys ORDER BY key")
            #expect(try keys.map { try $0.string("key") } == ["new-0", "new-1"])
            #expect(try await connection.query("SELECT to_regclass('history_events_2026_11_02') IS NULL AS gone")[0].bool("gone") == true)

            // Nothing more to do; the runs table partitions were never touched.
            let again = try await maintenance.dropExpiredHistory(now: SchemaFixtures.timestamp(2026, 11, 10, 12), retention: .seconds(3 * 86_400))
            #expect(again == PartitionMaintenance.HistoryCleanup(droppedTablePartitions: [], deletedIdempotencyKeys: 0))
            #expect(try await maintenance.tablePartitions().filter { $0.table == .runs }.map(\.name) == ["runs_2026_11", "runs_2026_12"])
        }
    }

    @Test("run retention drops whole months of runs and attempts with their signals and child links, never a month with an open run")
    func dropExpiredRuns_keepsMonthsWithOpenRuns() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection, now: SchemaFixtures.timestamp(2026, 9, 1), monthsAhead: 3)
            let september = SchemaFixtures.runID(at: SchemaFixtures.timestamp(2026, 9, 10, 8))
            let october = SchemaFixtures.runID(at: SchemaFixtures.timestamp(2026, 10, 10, 8))
            let parentOfNovember = SchemaFixtures.runID(at: SchemaFixtures.timestamp(2026, 11, 20, 8))
            try await connection.transaction { connection in
                for id in [september, october, parentOfNovember] {
                    try SchemaFixtures.insertRun(id, on: connection)
                    try connection.execute(
                        "INSERT INTO task_attempts (run_id, created_at, scheduled_at, attempt, node, status) VALUES ($1, $2, now(), 1, 'a', 'succeeded')",
                        [.runID(id), .timestamp(id.createdAt)])
                }
                try connection.execute("UPDATE runs SET closed_at = now(), status = 'succeeded' WHERE run_id = $1", [.runID(september)])
                try connection.execute(
                    "INSERT INTO run_signals (run_id, seq, name, payload, received_at) VALUES ($1, 0, 'go', '\\x6e756c6c', now())", [.runID(september)])
                try connection.execute(
                    """
                    INSERT INTO child_runs (child_run_id, child_created_at, parent_run_id, parent_node, parent_attempt, map_width, depth)
                    VALUES ($1, $2, $3, 'kid', 1, 1, 1)
                    """, [.runID(september), .timestamp(september.createdAt), .runID(parentOfNovember)])
            }
            let maintenance = PartitionMaintenance(connection: connection, logger: logger)
            // Cutoff 2026-11-15: September and October are past it; November is not.
            let now = SchemaFixtures.timestamp(2026, 12, 15)
            let first = try await maintenance.dropExpiredRuns(now: now, retention: .seconds(30 * 86_400))
            #expect(first.droppedTablePartitions.isEmpty, "September's run is the child of an open parent; October's run is open")
            #expect(first.keptForOpenRuns.map(\.name) == ["runs_2026_09", "runs_2026_10"])
            try await connection.execute("UPDATE runs SET closed_at = now(), status = 'succeeded' WHERE run_id = $1", [.runID(parentOfNovember)])
            let second = try await maintenance.dropExpiredRuns(now: now, retention: .seconds(30 * 86_400))
            #expect(second.droppedTablePartitions.map(\.name) == ["task_attempts_2026_09", "runs_2026_09"])
            #expect(second.keptForOpenRuns.map(\.name) == ["runs_2026_10"])
            #expect(second.deletedRelatedRows == 2)
            #expect(try await SchemaFixtures.count("SELECT count(*) AS n FROM run_signals", on: connection) == 0)
            #expect(try await SchemaFixtures.count("SELECT count(*) AS n FROM runs", on: connection) == 2)
            try await connection.execute("UPDATE runs SET closed_at = now(), status = 'failed' WHERE run_id = $1", [.runID(october)])
            let third = try await maintenance.dropExpiredRuns(now: now, retention: .seconds(30 * 86_400))
            #expect(third.droppedTablePartitions.map(\.name) == ["task_attempts_2026_10", "runs_2026_10"])
            #expect(try await maintenance.tablePartitions().filter { $0.table == .runs }.map(\.name) == ["runs_2026_11", "runs_2026_12"])
            #expect(try await SchemaFixtures.count("SELECT count(*) AS n FROM task_attempts", on: connection) == 1)
            await #expect(throws: StoreError.self) { try await maintenance.dropExpiredRuns(now: now, retention: .seconds(3600)) }
        }
    }

    @Test("a day partition left detached by an interrupted drop is dropped by the next run")
    func dropExpiredHistory_leftoverDetachedTable_isDropped() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection, now: SchemaFixtures.timestamp(2026, 11, 1), daysAhead: 3)
            try await connection.executeScript("ALTER TABLE history_events DETACH PARTITION history_events_2026_11_01")
            let maintenance = PartitionMaintenance(connection: connection, logger: logger)
            let cleanup = try await maintenance.dropExpiredHistory(now: SchemaFixtures.timestamp(2026, 11, 4), retention: .seconds(86_400))
            #expect(cleanup.droppedTablePartitions.map(\.name) == ["history_events_2026_11_01", "history_events_2026_11_02"])
            #expect(try await connection.query("SELECT to_regclass('history_events_2026_11_01') IS NULL AS gone")[0].bool("gone") == true)
        }
    }

    @Test("a non-positive retention is refused")
    func dropExpiredHistory_zeroRetention_throwsInvalidArgument() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection)
            let maintenance = PartitionMaintenance(connection: connection, logger: logger)
            let error = try await #require(throws: StoreError.self) { try await maintenance.dropExpiredHistory(now: SchemaFixtures.now, retention: .zero) }
            #expect(error.code == .invalidArgument)
        }
    }

    @Test("table partition names parse back to their table and bounds")
    func tablePartition_names_roundTrip() {
        let day = TablePartition(table: .historyEvents, containing: SchemaFixtures.timestamp(2028, 2, 29, 23, 59))
        #expect(day.name == "history_events_2028_02_29")
        #expect(day.upperBound == SchemaFixtures.timestamp(2028, 3, 1))
        let month = TablePartition(table: .taskAttempts, containing: SchemaFixtures.timestamp(2026, 12, 15))
        #expect(month.name == "task_attempts_2026_12")
        #expect(month.lowerBound == SchemaFixtures.timestamp(2026, 12, 1))
        #expect(month.upperBound == SchemaFixtures.timestamp(2027, 1, 1))
    }
}
