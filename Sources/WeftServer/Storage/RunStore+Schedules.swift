import WeftCore
import WeftEngine
import WeftPostgres
import WeftWire

/// A row of `schedules` (migration 4).
struct StoredSchedule: Sendable, Hashable {
    var id: Int64
    var name: String
    var partition: PartitionID
    var workflow: String
    var version: String
    var cron: String
    var timezone: String
    /// Empty when read for a list (inputs can be large).
    var input: [UInt8]
    var overlap: ScheduleOverlap
    var catchupWindowMilliseconds: Int64
    var paused: Bool
    var cursor: ScheduleCursor
    var lastTick: Int64?
    var lastRunID: RunID?
    var revision: Int64
    var createdAtMilliseconds: Int64

    /// The idempotency key of the start of `tick`: a tick starts one run, however often it is fired.
    func fireKey(tick: Int64) -> String { "schedule/\(id)/\(tick)" }
}

extension RunStore {
    private static let scheduleColumns = """
        id, name, partition, workflow, version, cron, timezone, overlap, catchup_window_ms, paused, next_fire_ms, buffered_ms,
        last_tick_ms, last_run_id, revision, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms
        """

    /// Creates a schedule; nil when one of that name exists.
    func createSchedule(_ s: StoredSchedule) async throws -> StoredSchedule? {
        let rows = try await connection.query(
            """
            INSERT INTO schedules (name, partition, workflow, version, cron, timezone, input, overlap, catchup_window_ms, paused, next_fire_ms)
            VALUES ($1::text, $2::int, $3::text, $4::text, $5::text, $6::text, $7::bytea, $8::text, $9::bigint, $10::boolean, $11::bigint)
            ON CONFLICT (name) DO NOTHING
            RETURNING \(Self.scheduleColumns), input
            """,
            [PostgresValue(s.name), PostgresValue(s.partition.rawValue), PostgresValue(s.workflow), PostgresValue(s.version), PostgresValue(s.cron),
             PostgresValue(s.timezone), .bytea(s.input), PostgresValue(s.overlap.rawValue), PostgresValue(s.catchupWindowMilliseconds),
             PostgresValue(s.paused), s.cursor.next.map { PostgresValue($0) }])
        return try rows.first.map { try Self.schedule(from: $0, withInput: true) }
    }

    /// How many schedules exist.
    func scheduleCount() async throws -> Int {
        try await connection.query("SELECT count(*) AS n FROM schedules").first?.int("n") ?? 0
    }

    /// One schedule, with its input.
    func schedule(named name: String) async throws -> StoredSchedule? {
        let rows = try await connection.query(
            "SELECT \(Self.scheduleColumns), input FROM schedules WHERE name = $1::text", [PostgresValue(name)])
        return try rows.first.map { try Self.schedule(from: $0, withInput: true) }
    }

    /// Schedules by name (of `partitions`, or all), at most `limit`, without inputs.
    func schedules(partitions: [PartitionID]? = nil, limit: Int) async throws -> [StoredSchedule] {
        let rows: PostgresRows
        if let partitions {
            rows = try await connection.query(
                "SELECT \(Self.scheduleColumns) FROM schedules WHERE partition = ANY($1::int[]) ORDER BY name LIMIT $2::int",
                [Self.intArray(partitions), PostgresValue(limit)])
        } else {
            rows = try await connection.query("SELECT \(Self.scheduleColumns) FROM schedules ORDER BY name LIMIT $1::int", [PostgresValue(limit)])
        }
        return try rows.map { try Self.schedule(from: $0, withInput: false) }
    }

    /// The input of schedule `id` (nil: it is gone).
    func scheduleInput(id: Int64) async throws -> [UInt8]? {
        try await connection.query("SELECT input FROM schedules WHERE id = $1::bigint", [PostgresValue(id)]).first?.bytes("input")
    }

    /// A fingerprint of the schedules of `partitions` that changes with every change an operator
    /// makes (create, pause, resume, delete) and never with a cursor: one cheap query tells an
    /// owner whether to read them again.
    func scheduleRevision(partitions: [PartitionID]) async throws -> String {
        let rows = try await connection.query(
            "SELECT coalesce(max(revision), 0) AS top, count(*) AS n FROM schedules WHERE partition = ANY($1::int[])",
            [Self.intArray(partitions)])
        return "\(try rows.first?.int64("top") ?? 0)/\(try rows.first?.int64("n") ?? 0)"
    }

    /// Pauses or resumes; a resumed schedule's cursor is `next` (and nothing stays buffered).
    /// nil: no such schedule.
    func setSchedulePaused(name: String, paused: Bool, next: Int64?) async throws -> StoredSchedule? {
        let rows: PostgresRows
        if paused {
            rows = try await connection.query(
                """
                UPDATE schedules SET paused = true, revision = nextval('schedule_revisions'), updated_at = now()
                WHERE name = $1::text RETURNING \(Self.scheduleColumns), input
                """, [PostgresValue(name)])
        } else {
            rows = try await connection.query(
                """
                UPDATE schedules SET paused = false, next_fire_ms = $2::bigint, buffered_ms = NULL,
                    revision = nextval('schedule_revisions'), updated_at = now()
                WHERE name = $1::text RETURNING \(Self.scheduleColumns), input
                """, [PostgresValue(name), next.map { PostgresValue($0) }])
        }
        return try rows.first.map { try Self.schedule(from: $0, withInput: true) }
    }

    /// Deletes a schedule (its runs stay). Returns whether there was one.
    func deleteSchedule(name: String) async throws -> Bool {
        try await connection.execute("DELETE FROM schedules WHERE name = $1::text", [PostgresValue(name)]) > 0
    }

    /// Moves schedule `id`'s cursor from `from` to `to` (recording the tick fired and its run when
    /// given) if it still is at `from` and `partition` still has `fence`: an operator's change
    /// meanwhile, or a new owner, wins. Returns whether it moved.
    func advanceSchedule(
        id: Int64, from: ScheduleCursor, to: ScheduleCursor, fired: (tick: Int64, run: RunID)?, partition: PartitionID, fence: Fence
    ) async throws -> Bool {
        try await connection.execute(
            """
            UPDATE schedules SET next_fire_ms = $4::bigint, buffered_ms = $5::bigint,
                last_tick_ms = coalesce($6::bigint, last_tick_ms), last_run_id = coalesce($7::uuid, last_run_id)
            WHERE id = $1::bigint AND next_fire_ms IS NOT DISTINCT FROM $2::bigint AND buffered_ms IS NOT DISTINCT FROM $3::bigint
              AND NOT paused
              AND EXISTS (SELECT 1 FROM partition_owners WHERE partition_id = $8::int AND range_id = $9::bigint)
            """,
            [PostgresValue(id), from.next.map { PostgresValue($0) }, from.buffered.map { PostgresValue($0) },
             to.next.map { PostgresValue($0) }, to.buffered.map { PostgresValue($0) },
             fired.map { PostgresValue($0.tick) }, fired.map { PostgresValue($0.run.description) },
             PostgresValue(partition.rawValue), PostgresValue(fence.rawValue)]) > 0
    }

    private static func schedule(from row: PostgresRow, withInput: Bool) throws -> StoredSchedule {
        StoredSchedule(
            id: try row.int64("id") ?? 0, name: try row.string("name") ?? "", partition: PartitionID(try row.int("partition") ?? 0),
            workflow: try row.string("workflow") ?? "", version: try row.string("version") ?? "", cron: try row.string("cron") ?? "",
            timezone: try row.string("timezone") ?? "", input: withInput ? (try row.bytes("input") ?? []) : [],
            overlap: ScheduleOverlap(rawValue: try row.string("overlap") ?? "") ?? .skip,
            catchupWindowMilliseconds: try row.int64("catchup_window_ms") ?? 0, paused: try row.bool("paused") ?? false,
            cursor: ScheduleCursor(next: try row.int64("next_fire_ms"), buffered: try row.int64("buffered_ms")),
            lastTick: try row.int64("last_tick_ms"), lastRunID: try row["last_run_id", as: RunID.self],
            revision: try row.int64("revision") ?? 0, createdAtMilliseconds: try row.int64("created_ms") ?? 0)
    }
}
