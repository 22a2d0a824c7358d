import Foundation
import Logging
import WeftCore
import WeftEngine
import WeftPostgres
import WeftWire

/// Reads and writes runs, attempts, history and definitions in Postgres (schema of
/// `WeftSchema`), for the scheduler's writer and for the coordinator's reads.
///
/// One `RunStore` wraps one connection; a scheduler uses one for its writer and another for reads,
/// so that reads never queue behind a batch.
public struct RunStore: Sendable {
    public let connection: PostgresConnection
    let owners: PartitionOwnerStore

    public init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.owners = PartitionOwnerStore(connection: connection, logger: logger)
    }

    // MARK: Writing

    /// Session settings for the connection `commit` writes on (`PostgresConnection.connect(url:
    /// settings:)`), part of the plan below.
    ///
    /// The batch UPDATEs join a `VALUES` list of at most a few thousand rows to tables of millions,
    /// and the one good plan is a nested loop that probes the primary key once per row. Left alone,
    /// the planner picked a hash join over a scan of the whole partition, or of every open run
    /// through the partial index, whenever its statistics were missing or stale — a fresh month
    /// partition, any table autovacuum has not analysed yet — and a batch then cost time in
    /// proportion to the table (`EXPLAIN ANALYZE` of 200 closes over 50k runs: 17 ms against 4 ms).
    /// Two more parts keep the plan: these settings take hash and merge joins off the table for
    /// this connection, and the "still open" tests are written as `(r.closed_at IS NULL OR
    /// v.closed_at IS NULL)` (`v.closed_at` is never NULL): a join filter, which the planner
    /// cannot use to estimate the runs side at a handful of rows and put it on the outside.
    ///
    /// `idle_in_transaction_session_timeout`: a writer paused in the middle of a batch (SIGSTOP,
    /// a long GC, a frozen VM) holds `FOR SHARE` locks on its partitions' fence rows, and the node
    /// that takes those partitions over cannot advance their fences until they are released —
    /// with a paused peer, never (the cluster tests caught it: the takeover waited forever).
    /// Postgres ends such a session after 5 s; a batch itself is idle between statements for
    /// microseconds. The paused writer, when it resumes, finds its connection gone, reconnects,
    /// and its batch then fails the fence check.
    public static let writerSessionSettings: KeyValuePairs<String, String> = [
        "enable_hashjoin": "off", "enable_mergejoin": "off", "idle_in_transaction_session_timeout": "5s",
    ]

    /// Writes `batches` in one transaction that first checks every partition's fence. Throws
    /// `StoreError.ownershipLost` (never to be retried) when a fence moved.
    public func commit(_ batches: [RunWriteBatch], fences: [PartitionID: Fence]) async throws -> [RunWriteOutcome] {
        var needed: [PartitionID: Fence] = [:]
        for batch in batches {
            guard let fence = fences[batch.partition] else {
                throw StoreError(code: .ownershipLost, message: "partition \(batch.partition) is not owned by this scheduler")
            }
            needed[batch.partition] = fence
        }
        guard !needed.isEmpty else { return [] }
        return try await owners.withFencedTransaction(fences: needed) { connection in
            try Self.write(batches, on: connection)
        }
    }

    /// The batch as one statement per table, each an `unnest` of binary arrays (one array per
    /// column, see `PostgresBinaryArray`): the SQL text is fixed whatever the batch holds.
    private static func write(_ batches: [RunWriteBatch], on connection: isolated PostgresConnection) throws -> [RunWriteOutcome] {
        var outcomes = [RunWriteOutcome](repeating: .committed, count: batches.count)
        // 1. New runs. A run id that already has a row is not started again (ARCHITECTURE.md §3):
        //    inserted or not is what RETURNING says. An existing row that is still open in a
        //    partition this writer owns is this writer's own, from an earlier try of the same batch
        //    whose commit answer was lost (every open run of an owned partition is in the
        //    scheduler's memory, and only the owner inserts runs): the batch is written again,
        //    idempotently. A closed one is another run: nothing of the batch is written.
        let starting = batches.indices.filter { batches[$0].newRun != nil }
        if !starting.isEmpty {
            var runs = Columns(.uuid, .timestamptz, .int4, .int2, .text, .text, .text, .bytea)
            for index in starting {
                let run = batches[index].newRun!
                runs[0].append(run.runID)
                runs[1].append(run.runID.createdAt)
                runs[2].append(batches[index].partition.rawValue)
                runs[3].append(run.priority)
                runs[4].append(run.workflow)
                runs[5].append(run.version)
                runs[6].append(RunStatusText.running.rawValue)
                runs[7].append(bytes: run.input)
            }
            let inserted = try runs.query(
                """
                INSERT INTO runs (run_id, created_at, partition, priority, workflow, version, status, input)
                SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::int4[], $4::int2[], $5::text[], $6::text[], $7::text[], $8::bytea[])
                ON CONFLICT DO NOTHING
                """, on: connection)
            // Only when some row was not inserted (rare): which of the batch's runs exist, closed?
            // (Rows inserted just now are open, so they never match.)
            let existing = (inserted.affectedRows ?? 0) < starting.count ? starting : []
            if !existing.isEmpty {
                var ids = PostgresBinaryArray(.uuid, reservingElements: existing.count)
                var times = PostgresBinaryArray(.timestamptz, reservingElements: existing.count)
                for index in existing {
                    ids.append(batches[index].newRun!.runID)
                    times.append(batches[index].newRun!.runID.createdAt)
                }
                let rows = try connection.query(
                    """
                    SELECT r.run_id, r.workflow, r.status FROM runs r JOIN unnest($1::uuid[], $2::timestamptz[]) AS v(run_id, created_at)
                      ON r.run_id = v.run_id AND r.created_at = v.created_at
                    WHERE r.closed_at IS NOT NULL
                    """, arrays: [ids, times])
                var closed: [RunID: (String, RunStatusText)] = [:]
                for row in rows {
                    guard let id = try row["run_id", as: RunID.self] else { continue }
                    closed[id] = (try row.string("workflow") ?? "", RunStatusText(rawValue: try row.string("status") ?? "") ?? .running)
                }
                for index in existing {
                    if let (workflow, status) = closed[batches[index].newRun!.runID] {
                        outcomes[index] = .existingRun(workflow: workflow, status: status)
                    }
                }
            }
        }

        // 2. Idempotency keys of the runs being started: a key another run holds means this start
        //    is a repeat of that run's; the row just inserted goes again.
        let keyed = starting.filter { outcomes[$0] == .committed && batches[$0].newRun?.idempotencyKey != nil }
        if !keyed.isEmpty {
            var keys = PostgresBinaryArray(.text, reservingElements: keyed.count)
            var runIDs = PostgresBinaryArray(.uuid, reservingElements: keyed.count)
            for index in keyed {
                keys.append(batches[index].newRun!.idempotencyKey!)
                runIDs.append(batches[index].newRun!.runID)
            }
            _ = try connection.query(
                "INSERT INTO idempotency_keys (key, run_id) SELECT * FROM unnest($1::text[], $2::uuid[]) ON CONFLICT (key) DO NOTHING",
                arrays: [keys, runIDs])
            let owners = try connection.query("SELECT key, run_id FROM idempotency_keys WHERE key = ANY($1::text[])", arrays: [keys])
            var winner: [String: RunID] = [:]
            for row in owners {
                if let key = try row.string("key"), let run = (try row["run_id", as: RunID.self]) { winner[key] = run }
            }
            var losers = Columns(.uuid, .timestamptz)
            for index in keyed {
                let run = batches[index].newRun!
                guard let existing = winner[run.idempotencyKey!], existing != run.runID else { continue }
                outcomes[index] = .duplicateRun(existing)
                losers[0].append(run.runID)
                losers[1].append(run.runID.createdAt)
            }
            try losers.run(
                """
                DELETE FROM runs r USING unnest($1::uuid[], $2::timestamptz[]) AS v(run_id, created_at)
                WHERE r.run_id = v.run_id AND r.created_at = v.created_at AND r.closed_at IS NULL
                """, on: connection)
        }
        // Child runs' links to their parents, with the runs (only new rows: a repeat keeps its link).
        let children = starting.filter { outcomes[$0] == .committed && batches[$0].newRun?.parent != nil }
        if !children.isEmpty {
            var links = Columns(.uuid, .timestamptz, .uuid, .text, .int4, .int4, .int4)
            for index in children {
                let run = batches[index].newRun!
                let link = run.parent!
                links[0].append(run.runID)
                links[1].append(run.runID.createdAt)
                links[2].append(link.parentRun)
                links[3].append(link.node)
                links[4].append(link.attempt)
                links[5].append(link.width)
                links[6].append(link.depth)
            }
            try links.run(
                """
                INSERT INTO child_runs (child_run_id, child_created_at, parent_run_id, parent_node, parent_attempt, map_width, depth)
                SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::int4[], $6::int4[], $7::int4[])
                ON CONFLICT DO NOTHING
                """, on: connection)
        }
        let live = batches.indices.filter { outcomes[$0] == .committed }.map { batches[$0] }

        // 3. Attempt rows (scheduled / retry wait / map); a retry row becomes scheduled in place.
        var attempts = Columns(.uuid, .timestamptz, .text, .int4, .text, .timestamptz, .bytea)
        for row in live.lazy.flatMap(\.attempts) {
            attempts[0].append(row.runID)
            attempts[1].append(row.runID.createdAt)
            attempts[2].append(row.node)
            attempts[3].append(row.attempt)
            attempts[4].append(row.status.rawValue)
            attempts[5].append(PostgresTimestamp(unixMicroseconds: row.scheduledAt))
            attempts[6].append(bytes: row.output)
        }
        try attempts.run(
            """
            INSERT INTO task_attempts (run_id, created_at, node, attempt, status, scheduled_at, output)
            SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::int4[], $5::text[], $6::timestamptz[], $7::bytea[])
            ON CONFLICT (run_id, node, attempt, created_at) DO UPDATE
            SET status = EXCLUDED.status, scheduled_at = EXCLUDED.scheduled_at
            WHERE task_attempts.status IN ('\(AttemptStatus.retryWait.rawValue)', '\(AttemptStatus.scheduled.rawValue)')
            """, on: connection)

        // 4. Finished attempts: only rows still open change (exactly-once recording).
        var finishes = Columns(.uuid, .timestamptz, .text, .int4, .text, .bytea, .text, .text, .text, .timestamptz, .timestamptz)
        for row in live.lazy.flatMap(\.finishes) {
            finishes[0].append(row.runID)
            finishes[1].append(row.runID.createdAt)
            finishes[2].append(row.node)
            finishes[3].append(row.attempt)
            finishes[4].append(row.status.rawValue)
            finishes[5].append(bytes: row.output)
            finishes[6].append(row.errorKind)
            finishes[7].append(row.error)
            finishes[8].append(row.worker)
            finishes[9].append(row.startedAt.map { PostgresTimestamp(unixMicroseconds: $0) })
            finishes[10].append(PostgresTimestamp(unixMicroseconds: row.finishedAt))
        }
        try finishes.run(
            """
            UPDATE task_attempts AS t SET status = v.status, output = v.output, error_kind = v.error_kind, error = v.error,
                   worker = COALESCE(v.worker, t.worker), started_at = COALESCE(v.started_at, t.started_at), finished_at = v.finished_at
            FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::int4[], $5::text[], $6::bytea[], $7::text[], $8::text[],
                        $9::text[], $10::timestamptz[], $11::timestamptz[])
                 AS v(run_id, created_at, node, attempt, status, output, error_kind, error, worker, started_at, finished_at)
            WHERE t.run_id = v.run_id AND t.created_at = v.created_at AND t.node = v.node AND t.attempt = v.attempt
              AND (t.status IN (\(AttemptStatus.openSQLList)) OR v.finished_at IS NULL)
            """, on: connection)

        // 5. Closed runs.
        var closes = Columns(.uuid, .timestamptz, .text, .bytea, .text, .timestamptz)
        for row in live.lazy.flatMap(\.closes) {
            closes[0].append(row.runID)
            closes[1].append(row.runID.createdAt)
            closes[2].append(row.status.rawValue)
            closes[3].append(bytes: row.output)
            closes[4].append(row.error)
            closes[5].append(PostgresTimestamp(unixMicroseconds: row.closedAt))
        }
        try closes.run(
            """
            UPDATE runs AS r SET status = v.status, output = v.output, error = v.error, closed_at = v.closed_at, updated_at = now()
            FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::bytea[], $5::text[], $6::timestamptz[])
                 AS v(run_id, created_at, status, output, error, closed_at)
            WHERE r.run_id = v.run_id AND r.created_at = v.created_at
              AND (r.closed_at IS NULL OR v.closed_at IS NULL)
            """, on: connection)

        // 6. History (the audit log).
        var history = Columns(.uuid, .timestamptz, .int8, .int4, .text, .bytea)
        for batch in live {
            for row in batch.history {
                history[0].append(row.runID)
                history[1].append(PostgresTimestamp(unixMicroseconds: row.at))
                history[2].append(Int(row.seq))
                history[3].append(batch.partition.rawValue)
                history[4].append(row.kind)
                history[5].append(bytes: row.body)
            }
        }
        try history.run(
            """
            INSERT INTO history_events (run_id, at, seq, partition, kind, body)
            SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::int8[], $4::int4[], $5::text[], $6::bytea[])
            ON CONFLICT DO NOTHING
            """, on: connection)
        // 7. Signals received, then those taken (a signal may be both in one batch).
        var signals = Columns(.uuid, .int4, .text, .bytea, .timestamptz)
        for row in live.lazy.flatMap(\.signals) {
            signals[0].append(row.runID)
            signals[1].append(row.seq)
            signals[2].append(row.name)
            signals[3].append(bytes: row.payload)
            signals[4].append(PostgresTimestamp(unixMicroseconds: row.receivedAt))
        }
        try signals.run(
            """
            INSERT INTO run_signals (run_id, seq, name, payload, received_at)
            SELECT * FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::bytea[], $5::timestamptz[])
            ON CONFLICT DO NOTHING
            """, on: connection)
        var consumed = Columns(.uuid, .int4, .text)
        for row in live.lazy.flatMap(\.signalConsumptions) {
            consumed[0].append(row.runID)
            consumed[1].append(row.seq)
            consumed[2].append(row.node)
        }
        try consumed.run(
            """
            UPDATE run_signals AS s SET consumed_by = v.node
            FROM unnest($1::uuid[], $2::int4[], $3::text[]) AS v(run_id, seq, node)
            WHERE s.run_id = v.run_id AND s.seq = v.seq AND s.consumed_by IS NULL
            """, on: connection)
        return outcomes
    }

    /// The columns of one batch statement, a binary array each.
    private struct Columns {
        var arrays: [PostgresBinaryArray]

        init(_ elements: PostgresBinaryArray.Element...) {
            arrays = elements.map { PostgresBinaryArray($0) }
        }

        subscript(column: Int) -> PostgresBinaryArray {
            get { arrays[column] }
            _modify { yield &arrays[column] }
        }

        /// Runs `sql` unless there are no rows.
        func run(_ sql: String, on connection: isolated PostgresConnection) throws {
            _ = try query(sql, on: connection)
        }

        /// Runs `sql` unless there are no rows, and returns what it returned.
        func query(_ sql: String, on connection: isolated PostgresConnection) throws -> PostgresRows {
            guard arrays[0].count > 0 else { return .empty }
            assert(arrays.allSatisfy { $0.count == arrays[0].count }, "columns of different lengths")
            return try connection.query(sql, arrays: arrays)
        }
    }

    // MARK: Recovery

    /// The open runs of `partitions` with the latest attempt of every node: the frontier, not the
    /// history (ARCHITECTURE.md §2 "Handoff").
    func openRuns(partitions: [PartitionID]) async throws -> [StoredOpenRun] {
        let list = Self.intArray(partitions)
        let runs = try await connection.query(
            """
            SELECT run_id, partition, priority, workflow, version, input FROM runs
            WHERE partition = ANY($1::int[]) AND closed_at IS NULL
            """, [list])
        var byID: [RunID: StoredOpenRun] = [:]
        for row in runs {
            guard let id = (try row["run_id", as: RunID.self]) else { continue }
            byID[id] = StoredOpenRun(
                runID: id, partition: PartitionID(try row.int("partition") ?? 0), workflow: try row.string("workflow") ?? "",
                version: try row.string("version") ?? "", priority: try row.int("priority") ?? 2, input: try row.bytes("input") ?? [],
                latestAttempts: [])
        }
        guard !byID.isEmpty else { return [] }
        let attempts = try await connection.query(
            """
            SELECT DISTINCT ON (a.run_id, a.node) a.run_id, a.node, a.attempt, a.status,
                   (extract(epoch FROM a.scheduled_at) * 1000)::bigint AS scheduled_ms, a.worker, a.error_kind, a.error, a.output
            FROM task_attempts a JOIN runs r ON r.run_id = a.run_id AND r.created_at = a.created_at
            WHERE r.partition = ANY($1::int[]) AND r.closed_at IS NULL
            ORDER BY a.run_id, a.node, a.attempt DESC
            """, [list])
        for row in attempts {
            guard let id = (try row["run_id", as: RunID.self]), byID[id] != nil else { continue }
            byID[id]!.latestAttempts.append(StoredAttempt(
                node: try row.string("node") ?? "", attempt: try row.int("attempt") ?? 1, status: try row.string("status") ?? "",
                scheduledAt: try row.int64("scheduled_ms") ?? 0, worker: try row.string("worker"), errorKind: try row.string("error_kind"),
                error: try row.string("error"), output: try row.bytes("output")))
        }
        // Signals: the ones still waiting for a node, and how many each run has had.
        let signals = try await connection.query(
            """
            SELECT s.run_id, s.seq, s.name, s.payload, s.consumed_by IS NULL AS pending
            FROM run_signals s JOIN runs r ON r.run_id = s.run_id
            WHERE r.partition = ANY($1::int[]) AND r.closed_at IS NULL
            ORDER BY s.run_id, s.seq
            """, [list])
        for row in signals {
            guard let id = (try row["run_id", as: RunID.self]), byID[id] != nil else { continue }
            let seq = try row.int("seq") ?? 0
            byID[id]!.nextSignalSeq = max(byID[id]!.nextSignalSeq, seq + 1)
            if try row.bool("pending") ?? false {
                byID[id]!.pendingSignals.append(PendingSignal(seq: seq, name: try row.string("name") ?? "", payload: try row.bytes("payload") ?? []))
            }
        }
        // Open child runs: their parents, to tell when they close.
        let links = try await connection.query(
            """
            SELECT c.child_run_id, c.parent_run_id, c.parent_node, c.parent_attempt, c.map_width, c.depth
            FROM child_runs c JOIN runs r ON r.run_id = c.child_run_id AND r.created_at = c.child_created_at
            WHERE r.partition = ANY($1::int[]) AND r.closed_at IS NULL
            """, [list])
        for row in links {
            guard let id = (try row["child_run_id", as: RunID.self]), byID[id] != nil, let parent = try row["parent_run_id", as: RunID.self] else { continue }
            byID[id]!.parent = ChildLink(
                parentRun: parent, node: try row.string("parent_node") ?? "", attempt: try row.int("parent_attempt") ?? 1,
                width: try row.int("map_width") ?? 1, depth: try row.int("depth") ?? 1)
        }
        return Array(byID.values)
    }

    /// The closed children of `parents` (`child_runs` joined to `runs`): what a parent's owner
    /// reads when told children closed, after a recovery, and in its periodic sweep.
    func closedChildren(of parents: [RunID]) async throws -> [ClosedChild] {
        guard !parents.isEmpty else { return [] }
        var ids = PostgresBinaryArray(.uuid, reservingElements: parents.count)
        for id in parents { ids.append(id) }
        let rows = try await connection.query(
            """
            SELECT c.parent_run_id, c.parent_node, c.parent_attempt, r.run_id, r.status, r.output, r.error
            FROM child_runs c JOIN runs r ON r.run_id = c.child_run_id AND r.created_at = c.child_created_at
            WHERE c.parent_run_id = ANY($1::uuid[]) AND r.closed_at IS NOT NULL
            """, arrays: [ids])
        var out: [ClosedChild] = []
        for row in rows {
            guard let parent = try row["parent_run_id", as: RunID.self], let child = try row["run_id", as: RunID.self] else { continue }
            out.append(ClosedChild(
                parent: parent, node: try row.string("parent_node") ?? "", attempt: try row.int("parent_attempt") ?? 0, child: child,
                status: RunStatusText(rawValue: try row.string("status") ?? "") ?? .failed, output: try row.bytes("output") ?? [],
                error: try row.string("error") ?? ""))
        }
        return out
    }

    // MARK: Reads for clients

    /// A run and (optionally) every attempt of its tasks; nil when there is no such run.
    public func run(_ id: RunID, includeTasks: Bool) async throws -> RunInfo? {
        let rows = try await connection.query(
            """
            SELECT workflow, version, status, input, output, error,
                   (extract(epoch FROM created_at) * 1000)::bigint AS created_ms,
                   (extract(epoch FROM closed_at) * 1000)::bigint AS closed_ms
            FROM runs WHERE run_id = $1::uuid AND created_at = $2::timestamptz
            """, [PostgresValue(id), .timestamp(id.createdAt)])
        guard let row = rows.first else { return nil }
        var info = RunInfo(
            runID: id, workflow: try row.string("workflow") ?? "", version: try row.string("version") ?? "",
            status: Self.runStatus(try row.string("status") ?? ""), input: try row.bytes("input") ?? [],
            output: try row.bytes("output") ?? [], error: try row.string("error") ?? "",
            createdAtMilliseconds: try row.int64("created_ms") ?? 0, closedAtMilliseconds: try row.int64("closed_ms") ?? 0)
        if includeTasks {
            let attempts = try await connection.query(
                """
                SELECT node, attempt, status, worker, error_kind, error, output,
                       (extract(epoch FROM scheduled_at) * 1000)::bigint AS scheduled_ms,
                       (extract(epoch FROM started_at) * 1000)::bigint AS started_ms,
                       (extract(epoch FROM finished_at) * 1000)::bigint AS finished_ms
                FROM task_attempts WHERE run_id = $1::uuid AND created_at = $2::timestamptz
                ORDER BY scheduled_at, node, attempt
                """, [PostgresValue(id), .timestamp(id.createdAt)])
            info.tasks = try attempts.map { row in
                let kind = try row.string("error_kind")
                let message = try row.string("error")
                return TaskInfo(
                    node: try row.string("node") ?? "", attempt: UInt32(try row.int("attempt") ?? 1),
                    status: Self.taskStatus(try row.string("status") ?? "", started: (try row.int64("started_ms")) != nil),
                    worker: try row.string("worker") ?? "", scheduledAtMilliseconds: try row.int64("scheduled_ms") ?? 0,
                    startedAtMilliseconds: try row.int64("started_ms") ?? 0, finishedAtMilliseconds: try row.int64("finished_ms") ?? 0,
                    output: try row.bytes("output") ?? [],
                    error: [kind, message].compactMap { $0 }.joined(separator: ": "))
            }
            if info.status.isClosed {
                // A run's close cancels its open attempts (implied by the close; their rows are not
                // rewritten): show them so.
                for index in info.tasks.indices where [.pending, .ready, .dispatched, .running, .retryWait].contains(info.tasks[index].status) {
                    info.tasks[index].status = .cancelled
                }
            }
        }
        return info
    }

    /// What happened in run `id`, oldest first (`GetRunHistory`), or nil when there is no such run:
    /// the routine lifecycle from the run's and its attempts' rows (their timestamps are the
    /// events: ARCHITECTURE.md §5 keeps no history row for them) merged with its `history_events`
    /// (failures, timeouts, retries, map expansion, cancellation). At most `limit` entries.
    public func history(_ id: RunID, limit: Int) async throws -> GetRunHistoryResponse? {
        let runs = try await connection.query(
            """
            SELECT workflow, version, status, error,
                   (extract(epoch FROM created_at) * 1000000)::bigint AS created_us,
                   (extract(epoch FROM closed_at) * 1000000)::bigint AS closed_us
            FROM runs WHERE run_id = $1::uuid AND created_at = $2::timestamptz
            """, [PostgresValue(id), .timestamp(id.createdAt)])
        guard let run = runs.first else { return nil }
        let status = Self.runStatus(try run.string("status") ?? "")
        var entries: [(rank: Int, entry: RunHistoryEntry)] = []
        func add(_ at: Int64?, _ kind: String, node: String = "", attempt: Int = 0, _ detail: String = "", rank: Int) {
            guard let at else { return }
            entries.append((rank, RunHistoryEntry(atMicros: at, kind: kind, node: node, attempt: UInt32(clamping: attempt), detail: detail)))
        }
        add(try run.int64("created_us"), "run_started", "workflow \(try run.string("workflow") ?? "") version \(try run.string("version") ?? "")", rank: 0)
        if status == .succeeded { add(try run.int64("closed_us"), "run_succeeded", rank: 9) }
        let attempts = try await connection.query(
            """
            SELECT node, attempt, status, worker,
                   (extract(epoch FROM scheduled_at) * 1000000)::bigint AS scheduled_us,
                   (extract(epoch FROM started_at) * 1000000)::bigint AS started_us,
                   (extract(epoch FROM finished_at) * 1000000)::bigint AS finished_us
            FROM task_attempts WHERE run_id = $1::uuid AND created_at = $2::timestamptz
            ORDER BY scheduled_at, node, attempt LIMIT $3::int
            """, [PostgresValue(id), .timestamp(id.createdAt), PostgresValue(limit)])
        for row in attempts {
            let node = try row.string("node") ?? ""
            let attempt = try row.int("attempt") ?? 1
            let stored = AttemptStatus(rawValue: try row.string("status") ?? "")
            guard stored != .mapping else { continue }  // the map's own row: map_expanded / map_completed below
            if stored != .retryWait { add(try row.int64("scheduled_us"), "attempt_scheduled", node: node, attempt: attempt, rank: 1) }
            add(try row.int64("started_us"), "attempt_started", node: node, attempt: attempt, "on \(try row.string("worker") ?? "?")", rank: 2)
            switch stored {
            case .succeeded?: add(try row.int64("finished_us"), "attempt_succeeded", node: node, attempt: attempt, rank: 3)
            case .cancelled?: add(try row.int64("finished_us"), "attempt_cancelled", node: node, attempt: attempt, rank: 3)
            default: break  // failures and timeouts: their history rows say why
            }
        }
        let recorded = try await connection.query(
            """
            SELECT kind, body, (extract(epoch FROM at) * 1000000)::bigint AS at_us
            FROM history_events WHERE run_id = $1::uuid AND at >= $2::timestamptz
            ORDER BY seq LIMIT $3::int
            """, [PostgresValue(id), .timestamp(id.createdAt), PostgresValue(limit)])
        for row in recorded {
            let kind = try row.string("kind") ?? ""
            let body = String(decoding: try row.bytes("body") ?? [], as: UTF8.self)
            // Bodies start with the node (`shard[2]#3 Timeout: …`, `shard width 40`) except the run's own.
            var node = "", attempt = 0, detail = body
            if !kind.hasPrefix("run_") {
                let head = body.prefix { $0 != " " }
                detail = String(body.dropFirst(head.count).drop { $0 == " " })
                if let hash = head.lastIndex(of: "#"), let number = Int(head[head.index(after: hash)...]) {
                    node = String(head[..<hash])
                    attempt = number
                } else {
                    node = String(head)
                }
            }
            add(try row.int64("at_us"), kind, node: node, attempt: attempt, detail, rank: kind.hasPrefix("run_") ? 9 : 4)
        }
        let ordered = entries.enumerated().sorted { a, b in
            (a.element.entry.atMicros, a.element.rank, a.offset) < (b.element.entry.atMicros, b.element.rank, b.offset)
        }.map(\.element.entry)
        let truncated = ordered.count > limit || attempts.count >= limit || recorded.count >= limit
        return GetRunHistoryResponse(runID: id, status: status, entries: Array(ordered.prefix(limit)), truncated: truncated)
    }

    /// One page of runs, newest first; the page token is the last row's position.
    public func listRuns(_ request: ListRunsRequest) async throws -> ListRunsResponse {
        let limit = Int(request.limit == 0 ? 50 : min(request.limit, 1000))
        var conditions: [String] = []
        var parameters: [PostgresValue?] = []
        func add(_ condition: String, _ value: PostgresValue) {
            parameters.append(value)
            conditions.append(condition.replacingOccurrences(of: "$?", with: "$\(parameters.count)"))
        }
        if !request.workflow.isEmpty { add("workflow = $?::text", PostgresValue(request.workflow)) }
        if request.status != .unspecified { add("status = $?::text", PostgresValue(Self.statusText(request.status))) }
        if request.sinceMilliseconds != 0 { add("created_at >= $?::timestamptz", .timestamp(PostgresTimestamp(unixMilliseconds: request.sinceMilliseconds))) }
        if request.untilMilliseconds != 0 { add("created_at < $?::timestamptz", .timestamp(PostgresTimestamp(unixMilliseconds: request.untilMilliseconds))) }
        if !request.pageToken.isEmpty {
            guard let after = try? RunID(parsing: request.pageToken) else {  // a token we did not issue
                throw RPCError(.invalidArgument, "invalid page token \(MessageText.quoted(request.pageToken))")
            }
            parameters.append(.timestamp(after.createdAt))
            parameters.append(PostgresValue(after))
            conditions.append("(created_at, run_id) < ($\(parameters.count - 1)::timestamptz, $\(parameters.count)::uuid)")
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try await connection.query(
            """
            SELECT run_id, workflow, status,
                   (extract(epoch FROM created_at) * 1000)::bigint AS created_ms,
                   (extract(epoch FROM closed_at) * 1000)::bigint AS closed_ms
            FROM runs \(whereClause) ORDER BY created_at DESC, run_id DESC LIMIT \(limit + 1)
            """, parameters)
        var runs: [RunSummary] = []
        for row in rows.prefix(limit) {
            guard let id = (try row["run_id", as: RunID.self]) else { continue }
            runs.append(RunSummary(
                runID: id, workflow: try row.string("workflow") ?? "", status: Self.runStatus(try row.string("status") ?? ""),
                createdAtMilliseconds: try row.int64("created_ms") ?? 0, closedAtMilliseconds: try row.int64("closed_ms") ?? 0))
        }
        let next = rows.count > limit ? runs.last.map(\.runID.description) ?? "" : ""
        return ListRunsResponse(runs: runs, nextPageToken: next)
    }

    public func idempotencyKey(_ key: String) async throws -> RunID? {
        let rows = try await connection.query("SELECT run_id FROM idempotency_keys WHERE key = $1::text", [PostgresValue(key)])
        return try rows.first?["run_id", as: RunID.self]
    }

    // MARK: Definitions

    /// Stores a definition body under its version; re-applying makes that version the latest again.
    /// Returns whether the version is new.
    public func saveDefinition(name: String, version: String, body: [UInt8]) async throws -> Bool {
        let rows = try await connection.query(
            """
            INSERT INTO workflow_definitions (name, version_hash, body) VALUES ($1::text, $2::text, $3::bytea)
            ON CONFLICT (name, version_hash) DO UPDATE SET applied_at = now()
            RETURNING (xmax = 0) AS created
            """, [PostgresValue(name), PostgresValue(version), .bytea(body)])
        return try rows.first?.bool("created") ?? false
    }

    /// The body of `name` at `version`, or at its latest version when `version` is nil.
    public func definition(name: String, version: String?) async throws -> (version: String, body: [UInt8])? {
        let rows: PostgresRows
        if let version {
            rows = try await connection.query(
                "SELECT version_hash, body FROM workflow_definitions WHERE name = $1::text AND version_hash = $2::text",
                [PostgresValue(name), PostgresValue(version)])
        } else {
            rows = try await connection.query(
                "SELECT version_hash, body FROM workflow_definitions_latest WHERE name = $1::text", [PostgresValue(name)])
        }
        guard let row = rows.first, let version = try row.string("version_hash"), let body = try row.bytes("body") else { return nil }
        return (version, body)
    }

    /// The `limit` latest versions of `name` (last registered first), with bodies.
    public func definitionVersions(name: String, limit: Int) async throws -> [(version: String, body: [UInt8], appliedAtMilliseconds: Int64)] {
        let rows = try await connection.query(
            """
            SELECT version_hash, body, (extract(epoch FROM applied_at) * 1000)::bigint AS applied_ms
            FROM workflow_definitions WHERE name = $1::text ORDER BY applied_at DESC, version_hash LIMIT $2::int
            """, [PostgresValue(name), PostgresValue(limit)])
        var out: [(version: String, body: [UInt8], appliedAtMilliseconds: Int64)] = []
        for row in rows {
            out.append((try row.string("version_hash") ?? "", try row.bytes("body") ?? [], try row.int64("applied_ms") ?? 0))
        }
        return out
    }

    /// The latest version of every workflow, with its body.
    public func latestDefinitions() async throws -> [(name: String, version: String, body: [UInt8], createdAtMilliseconds: Int64)] {
        let rows = try await connection.query(
            """
            SELECT name, version_hash, body, (extract(epoch FROM applied_at) * 1000)::bigint AS applied_ms
            FROM workflow_definitions_latest ORDER BY name
            """)
        var out: [(name: String, version: String, body: [UInt8], createdAtMilliseconds: Int64)] = []
        for row in rows {
            let name = try row.string("name") ?? ""
            let version = try row.string("version_hash") ?? ""
            let body = try row.bytes("body") ?? []
            let applied = try row.int64("applied_ms") ?? 0
            out.append((name, version, body, applied))
        }
        return out
    }

    /// An `int[]` parameter of partitions, in text form: `{1,2,3}`.
    static func intArray(_ partitions: [PartitionID]) -> PostgresValue {
        PostgresValue(text: "{" + partitions.map { String($0.rawValue) }.joined(separator: ",") + "}")
    }

    // MARK: Status text

    static func statusText(_ status: WeftWire.RunStatus) -> String { RunStatusText(status).rawValue }

    static func runStatus(_ text: String) -> WeftWire.RunStatus { RunStatusText(rawValue: text)?.wire ?? .unspecified }

    static func taskStatus(_ text: String, started: Bool) -> TaskStatus {
        AttemptStatus(rawValue: text)?.taskStatus(started: started) ?? .unspecified
    }
}
