import WeftCore
import WeftWire

/// The rows of one run exactly as the group-commit writer writes them, kept in the scheduler's
/// memory so that `WaitRun` is answered when the run closes without reading Postgres back.
///
/// Before it, every waited run cost three more queries (the coordinator's look at the run row,
/// then the run and its attempts once closed); at a thousand runs a second their planning alone was
/// a third of Postgres's CPU in `weft bench throughput` (pg_stat_statements, see the README).
///
/// `apply` mirrors the SQL of `RunStore.write` statement by statement — an attempt row is inserted,
/// or moved from `retry_wait`/`scheduled` back to `scheduled`; a finish changes only a row that is
/// still open; a close changes only an open run — so `info()` equals what `RunStore.run(_:
/// includeTasks: true)` reads once the same batches have committed (an end-to-end test compares
/// them). Only runs started by this scheduler have a ledger: a run recovered after a restart knows
/// just the latest attempt of each node, so its waiters read Postgres instead.
struct RunLedger: Sendable {
    private struct Row: Sendable {
        var node: String
        var attempt: Int
        var status: AttemptStatus
        var scheduledAt: Int64
        var output: [UInt8]?
        var errorKind: String?
        var error: String?
        var worker: String?
        var startedAt: Int64?
        var finishedAt: Int64?
    }

    private struct Key: Hashable {
        var node: String
        var attempt: Int
    }

    let runID: RunID
    let workflow: String
    let version: String
    let input: [UInt8]
    private(set) var status = RunStatusText.running
    private var output: [UInt8]?
    private var error: String?
    private var closedAt: Int64?
    private var rows: [Row] = []
    /// Row positions by (node, attempt), built only once a run has more than `indexThreshold`
    /// rows: most runs have a handful, and a dictionary per open run would cost more memory than
    /// the scan it saves.
    private var index: [Key: Int] = [:]
    private static let indexThreshold = 16

    init(_ run: NewRunRow) {
        runID = run.runID
        workflow = run.workflow
        version = run.version
        input = run.input
    }

    /// Applies the rows of `batch` that belong to this run, in the order `RunStore.write` runs its
    /// statements.
    mutating func apply(_ batch: RunWriteBatch) {
        for row in batch.attempts where row.runID == runID {
            if let at = position(of: row.node, row.attempt) {
                // ON CONFLICT DO UPDATE … WHERE status IN ('retry_wait', 'scheduled')
                guard rows[at].status == .retryWait || rows[at].status == .scheduled else { continue }
                rows[at].status = row.status
                rows[at].scheduledAt = row.scheduledAt
            } else {
                rows.append(Row(node: row.node, attempt: row.attempt, status: row.status, scheduledAt: row.scheduledAt, output: row.output))
                if !index.isEmpty {
                    index[Key(node: row.node, attempt: row.attempt)] = rows.count - 1
                } else if rows.count > Self.indexThreshold {
                    for (at, row) in rows.enumerated() { index[Key(node: row.node, attempt: row.attempt)] = at }
                }
            }
        }
        for finish in batch.finishes where finish.runID == runID {
            guard let at = position(of: finish.node, finish.attempt),
                rows[at].status.isOpen
            else { continue }
            rows[at].status = finish.status
            rows[at].output = finish.output
            rows[at].errorKind = finish.errorKind
            rows[at].error = finish.error
            rows[at].worker = finish.worker ?? rows[at].worker
            rows[at].startedAt = finish.startedAt ?? rows[at].startedAt
            rows[at].finishedAt = finish.finishedAt
        }
        for close in batch.closes where close.runID == runID && closedAt == nil {
            status = close.status
            output = close.output
            error = close.error
            closedAt = close.closedAt
        }
    }

    private func position(of node: String, _ attempt: Int) -> Int? {
        if !index.isEmpty { return index[Key(node: node, attempt: attempt)] }
        return rows.firstIndex { $0.attempt == attempt && $0.node == node }
    }

    /// Row times are microseconds; reads return milliseconds as `(extract(epoch FROM t) *
    /// 1000)::bigint` computes them (rounded half up).
    static func milliseconds(_ microseconds: Int64) -> Int64 { (microseconds + 500) / 1000 }

    /// The run with its attempts, as `RunStore.run(_:includeTasks: true)` would read it.
    func info() -> RunInfo {
        let ordered = rows.sorted { a, b in
            // ORDER BY scheduled_at, node, attempt (the database's collation is C: byte order)
            if a.scheduledAt != b.scheduledAt { return a.scheduledAt < b.scheduledAt }
            if a.node != b.node { return a.node.utf8.lexicographicallyPrecedes(b.node.utf8) }
            return a.attempt < b.attempt
        }
        return RunInfo(
            runID: runID, workflow: workflow, version: version, status: status.wire, input: input,
            output: output ?? [], error: error ?? "", createdAtMilliseconds: Int64(runID.unixMilliseconds),
            closedAtMilliseconds: closedAt.map(Self.milliseconds) ?? 0,
            tasks: ordered.map { row in
                TaskInfo(
                    node: row.node, attempt: UInt32(row.attempt), status: row.status.taskStatus(started: row.startedAt != nil),
                    worker: row.worker ?? "", scheduledAtMilliseconds: Self.milliseconds(row.scheduledAt),
                    startedAtMilliseconds: row.startedAt.map(Self.milliseconds) ?? 0,
                    finishedAtMilliseconds: row.finishedAt.map(Self.milliseconds) ?? 0, output: row.output ?? [],
                    error: [row.errorKind, row.error].compactMap { $0 }.joined(separator: ": "))
            })
    }
}
