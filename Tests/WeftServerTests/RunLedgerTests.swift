import Testing
import WeftCore
import WeftWire
@testable import WeftServer

@Suite("RunLedger mirrors the writer's SQL")
struct RunLedgerTests {
    private let runID = Self.id(1_750_000_000_000)

    private static func id(_ milliseconds: UInt64) -> RunID {
        var random = SystemRandomNumberGenerator()
        return RunID(unixMilliseconds: milliseconds, using: &random)
    }

    private func batch(_ build: (inout RunWriteBatch) -> Void) -> RunWriteBatch {
        var batch = RunWriteBatch(partition: PartitionID(0))
        build(&batch)
        return batch
    }

    private func newLedger() -> RunLedger {
        RunLedger(NewRunRow(runID: runID, workflow: "wf", version: "v1", priority: 2, input: Array("in".utf8), idempotencyKey: nil))
    }

    @Test("a retry: the failed attempt stays, the retry row moves from retry_wait to scheduled, then succeeds")
    func retry_rowsFollowTheUpsertRules() {
        var ledger = newLedger()
        ledger.apply(batch { $0.attempts = [AttemptRow(runID: runID, node: "a", attempt: 1, status: .scheduled, scheduledAt: 10_000)] })
        ledger.apply(batch {
            $0.finishes = [AttemptFinish(
                runID: runID, node: "a", attempt: 1, status: .failed, errorKind: "Boom", error: "it broke", worker: "w1",
                startedAt: 11_000, finishedAt: 12_000)]
            $0.attempts = [AttemptRow(runID: runID, node: "a", attempt: 2, status: .retryWait, scheduledAt: 40_000)]
        })
        ledger.apply(batch { $0.attempts = [AttemptRow(runID: runID, node: "a", attempt: 2, status: .scheduled, scheduledAt: 41_000)] })
        // A late duplicate finish of attempt 1 changes nothing: the row is closed.
        ledger.apply(batch {
            $0.finishes = [AttemptFinish(runID: runID, node: "a", attempt: 1, status: .succeeded, output: [1], finishedAt: 50_000)]
        })
        ledger.apply(batch {
            $0.finishes = [AttemptFinish(
                runID: runID, node: "a", attempt: 2, status: .succeeded, output: Array("out".utf8), worker: "w2", startedAt: 42_000,
                finishedAt: 43_000)]
            $0.closes = [RunClose(runID: runID, status: .succeeded, output: Array("out".utf8), closedAt: 44_000)]
        })
        let info = ledger.info()
        #expect(info.status == .succeeded && info.output == Array("out".utf8) && info.closedAtMilliseconds == 44)
        #expect(info.input == Array("in".utf8) && info.workflow == "wf" && info.version == "v1")
        #expect(info.createdAtMilliseconds == 1_750_000_000_000)
        #expect(info.tasks == [
            TaskInfo(node: "a", attempt: 1, status: .failed, worker: "w1", scheduledAtMilliseconds: 10, startedAtMilliseconds: 11,
                     finishedAtMilliseconds: 12, error: "Boom: it broke"),
            TaskInfo(node: "a", attempt: 2, status: .succeeded, worker: "w2", scheduledAtMilliseconds: 41, startedAtMilliseconds: 42,
                     finishedAtMilliseconds: 43, output: Array("out".utf8)),
        ])
    }

    @Test("a closed run keeps its first close; rows of other runs are ignored; tasks sort by time, node, attempt")
    func close_onceAndOrdering() {
        var ledger = newLedger()
        let other = Self.id(1_750_000_000_001)
        ledger.apply(batch {
            $0.attempts = [
                AttemptRow(runID: runID, node: "b", attempt: 1, status: .scheduled, scheduledAt: 5_000),
                AttemptRow(runID: runID, node: "B", attempt: 1, status: .scheduled, scheduledAt: 5_000),
                AttemptRow(runID: runID, node: "a", attempt: 1, status: .scheduled, scheduledAt: 6_000),
                AttemptRow(runID: other, node: "x", attempt: 1, status: .scheduled, scheduledAt: 1_000),
            ]
        })
        ledger.apply(batch { $0.closes = [RunClose(runID: runID, status: .cancelled, error: "stop", closedAt: 7_000)] })
        ledger.apply(batch { $0.closes = [RunClose(runID: runID, status: .failed, error: "late", closedAt: 8_000)] })
        let info = ledger.info()
        #expect(info.status == .cancelled && info.error == "stop" && info.closedAtMilliseconds == 7)
        #expect(info.tasks.map(\.node) == ["B", "b", "a"])
        #expect(info.tasks.allSatisfy { $0.status == .ready })
    }

    @Test("a wide run (past the index threshold) finds its rows the same way")
    func wideRun_indexedLookups() {
        var ledger = newLedger()
        ledger.apply(batch { batch in
            batch.attempts = (0..<40).map { AttemptRow(runID: runID, node: "m[\($0)]", attempt: 1, status: .scheduled, scheduledAt: 5_000) }
        })
        ledger.apply(batch { batch in
            batch.finishes = (0..<40).map { AttemptFinish(runID: runID, node: "m[\($0)]", attempt: 1, status: .succeeded, output: [UInt8($0)], finishedAt: 9_000) }
            batch.attempts = [AttemptRow(runID: runID, node: "m[3]", attempt: 2, status: .scheduled, scheduledAt: 10_000)]
        })
        let tasks = ledger.info().tasks
        #expect(tasks.count == 41)
        #expect(tasks.filter { $0.status == .succeeded }.count == 40)
        #expect(tasks.first { $0.node == "m[39]" }?.output == [39])
        #expect(tasks.last?.node == "m[3]" && tasks.last?.attempt == 2 && tasks.last?.status == .ready)
    }
}
