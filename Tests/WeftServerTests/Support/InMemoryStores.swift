import WeftCore
import WeftEngine
import WeftPostgres
import WeftWire
@testable import WeftServer

/// The scheduler's store in memory, with the semantics of `RunStore.commit` that the scheduler
/// relies on (fence check first, all or nothing per commit, existing runs, idempotency keys) and
/// hooks to make a commit fail the way Postgres can: a lost fence, an outage, one poisonous record,
/// or a commit held until the test lets it go.
actor InMemoryRunStore: RunReading, RunCommitting {
    struct Run {
        var workflow: String
        var partition: PartitionID
        var status: RunStatusText
        var input: [UInt8]
        var version = ""
    }

    var owners: [PartitionID: Fence] = [:]
    private(set) var runs: [RunID: Run] = [:]
    private(set) var attempts: [String: AttemptStatus] = [:]
    private(set) var keys: [String: RunID] = [:]
    private(set) var commits = 0
    private(set) var history = 0
    /// Commits still to fail with a transient error (an outage).
    var outageCommits = 0
    /// A run whose batches Postgres refuses (its data).
    var poisonRun: RunID?
    /// While set, commits wait for `releaseGate()`.
    private var gateClosed = false
    private var gateWaiters: [CheckedContinuation<Void, Never>] = []
    private(set) var commitsWaitingAtGate = 0

    func setOwner(_ partition: PartitionID, _ fence: Fence) { owners[partition] = fence }
    func setOutage(commits: Int) { outageCommits = commits }
    func setPoison(_ run: RunID?) { poisonRun = run }
    func closeGate() { gateClosed = true }

    func releaseGate() {
        gateClosed = false
        let waiters = gateWaiters
        gateWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// A closed run, as if an earlier scheduler had run it.
    func addClosedRun(_ id: RunID, workflow: String, partition: PartitionID) {
        runs[id] = Run(workflow: workflow, partition: partition, status: .succeeded, input: [])
    }

    func run(_ id: RunID) -> Run? { runs[id] }

    func commit(_ batches: [RunWriteBatch], fences: [PartitionID: Fence]) async throws -> [RunWriteOutcome] {
        if gateClosed {
            commitsWaitingAtGate += 1
            await withCheckedContinuation { gateWaiters.append($0) }
            commitsWaitingAtGate -= 1
        }
        for partition in Set(batches.map(\.partition)).sorted() {
            guard let expected = fences[partition] else { continue }
            let current = owners[partition] ?? Fence(0)
            guard current == expected else {
                throw StoreError.ownershipLost(partition: partition, expectedFence: expected, currentFence: current)
            }
        }
        if outageCommits > 0 {
            outageCommits -= 1
            throw PostgresError(code: .connectionLost, message: "server closed the connection unexpectedly")
        }
        if let poisonRun, batches.contains(where: { $0.touches(poisonRun) }) {
            throw StoreError(code: .missingTablePartition, message: "no table partition of \"runs\" covers the row's time", table: "runs")
        }
        commits += 1
        var outcomes: [RunWriteOutcome] = []
        for batch in batches {
            if let new = batch.newRun {
                if let existing = runs[new.runID], existing.status != .running {
                    outcomes.append(.existingRun(workflow: existing.workflow, status: existing.status))
                    continue
                }
                if let key = new.idempotencyKey, let holder = keys[key], holder != new.runID {
                    outcomes.append(.duplicateRun(holder))
                    continue
                }
                if let key = new.idempotencyKey { keys[key] = new.runID }
                runs[new.runID] = Run(workflow: new.workflow, partition: batch.partition, status: .running, input: new.input, version: new.version)
            }
            for row in batch.attempts { attempts["\(row.runID)/\(row.node)#\(row.attempt)"] = row.status }
            for finish in batch.finishes { attempts["\(finish.runID)/\(finish.node)#\(finish.attempt)"] = finish.status }
            for close in batch.closes where runs[close.runID]?.status == .running { runs[close.runID]!.status = close.status }
            history += batch.history.count
            outcomes.append(.committed)
        }
        return outcomes
    }

    func openRuns(partitions: [PartitionID]) async throws -> [StoredOpenRun] { [] }

    func run(_ id: RunID, includeTasks: Bool) async throws -> RunInfo? {
        guard let run = runs[id] else { return nil }
        return RunInfo(
            runID: id, workflow: run.workflow, version: run.version, status: run.status.wire, input: run.input, output: [], error: "",
            createdAtMilliseconds: Int64(id.unixMilliseconds), closedAtMilliseconds: 0)
    }

    func idempotencyKey(_ key: String) async throws -> RunID? { keys[key] }

    func closedChildren(of parents: [RunID]) async throws -> [ClosedChild] { [] }  // child workflows are tested with real processes
}

extension RunWriteBatch {
    func touches(_ run: RunID) -> Bool {
        newRun?.runID == run || attempts.contains { $0.runID == run } || finishes.contains { $0.runID == run }
            || closes.contains { $0.runID == run } || history.contains { $0.runID == run }
    }
}

/// Workflow definitions in memory.
struct InMemoryDefinitions: DefinitionReading {
    var bodies: [String: [UInt8]]

    init(_ workflows: [String: String]) {
        bodies = workflows.mapValues { Array($0.utf8) }
    }

    func definition(name: String, version: String?) async throws -> (version: String, body: [UInt8])? {
        guard let body = bodies[name] else { return nil }
        let validated = try WorkflowCatalog.decode(body)
        guard version == nil || version == validated.version.description else { return nil }
        return (validated.version.description, body)
    }
}

/// A wall clock the test sets.
final class TestClock: WallClock {
    private let now = Locked<Int64>(0)
    init(_ milliseconds: Int64) { now.withLock { $0 = milliseconds } }
    func nowMicroseconds() -> Int64 { now.withLock { $0 } * 1000 }
    func advance(by milliseconds: Int64) { now.withLock { $0 += milliseconds } }
}
