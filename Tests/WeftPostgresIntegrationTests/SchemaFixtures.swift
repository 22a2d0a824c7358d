import Logging
import Testing
import WeftCore
import WeftPostgres
import _WeftTestKit

/// Shared set-up for the schema, maintenance and fence tests.
enum SchemaFixtures {
    static let logger = IntegrationEnvironment.logger(label: "weft.test.schema")

    /// A fixed "now" for table-partition tests: 2026-11-25 10:00:00 UTC.
    static let now = timestamp(2026, 11, 25, 10)

    static func timestamp(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0) -> PostgresTimestamp {
        guard let value = PostgresTimestamp(year: year, month: month, day: day, hour: hour, minute: minute) else {
            preconditionFailure("invalid test date \(year)-\(month)-\(day) \(hour):\(minute)")
        }
        return value
    }

    /// Migrates the connection's schema with `partitionCount` partitions, creating table
    /// partitions around `now` (1 month and 2 days ahead unless told otherwise).
    @discardableResult
    static func migrate(
        _ connection: PostgresConnection,
        partitionCount: Int? = 8,
        clusterName: String? = nil,
        now: PostgresTimestamp = now,
        monthsAhead: Int = 1,
        daysAhead: Int = 2
    ) async throws -> WeftSchema.MigrationReport {
        try await WeftSchema.migrate(
            connection: connection,
            configuration: WeftSchema.Configuration(
                partitionCount: partitionCount, clusterName: clusterName, now: now, monthsAhead: monthsAhead, daysAhead: daysAhead),
            logger: logger)
    }

    /// A new UUIDv7 run id made at `time`.
    static func runID(at time: PostgresTimestamp) -> RunID {
        var random = SystemRandomNumberGenerator()
        return RunID(unixMilliseconds: UInt64(time.unixMilliseconds), using: &random)
    }

    /// Inserts a minimal run row for `id`, with `created_at` from the id.
    static func insertRun(_ id: RunID, partition: Int = 0, on connection: isolated PostgresConnection) throws {
        try connection.execute(
            "INSERT INTO runs (run_id, created_at, partition, workflow, version, status) VALUES ($1, $2, $3, 'wf', 'v1', 'pending')",
            [.runID(id), .timestamp(id.createdAt), PostgresValue(partition)]
        )
    }

    /// Inserts one history event of `id` at `at`.
    static func insertEvent(_ id: RunID, seq: Int, at: PostgresTimestamp, partition: Int = 0, on connection: isolated PostgresConnection) throws {
        try connection.execute(
            "INSERT INTO history_events (run_id, at, seq, partition, kind, body) VALUES ($1, $2, $3, $4, 'run_started', $5)",
            [.runID(id), .timestamp(at), PostgresValue(seq), PostgresValue(partition), .bytea([1, 2, 3])]
        )
    }

    static func count(_ sql: String, _ parameters: [PostgresValue?] = [], on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query(sql, parameters)
        return try #require(try rows.first?.int("n"), "no count from: \(sql)")
    }

    /// Waits (bounded) until `condition` holds, failing the test with `what` otherwise.
    static func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        let held = try await eventually(within: .seconds(10), condition)
        try #require(held, "timed out after 10 s waiting until \(what)")
    }

    /// The backend process id of a session (to watch it in `pg_stat_activity`).
    static func backendPID(_ connection: PostgresConnection) async throws -> Int {
        try #require(try await connection.query("SELECT pg_backend_pid() AS pid")[0].int("pid"))
    }

    /// Whether backend `pid` is waiting for a heavyweight lock (row, transaction or advisory).
    static func isWaitingForLock(_ pid: Int, observer: PostgresConnection) async throws -> Bool {
        let rows = try await observer.query("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", [PostgresValue(pid)])
        return try rows.first?.string("wait_event_type") == "Lock"
    }
}
