import Testing
import WeftCore
import WeftWire
@testable import WeftServer

@Suite("RecentlyClosedRuns")
struct RecentlyClosedRunsTests {
    private static func ledger(_ milliseconds: UInt64) -> RunLedger {
        var random = SystemRandomNumberGenerator()
        let id = RunID(unixMilliseconds: milliseconds, using: &random)
        var ledger = RunLedger(NewRunRow(runID: id, workflow: "wf", version: "v", priority: 2, input: [], idempotencyKey: nil))
        var close = RunWriteBatch(partition: PartitionID(0))
        close.closes = [RunClose(runID: id, status: .succeeded, output: [7], closedAt: Int64(milliseconds) + 1)]
        ledger.apply(close)
        return ledger
    }

    @Test("remembers closed runs up to its capacity, oldest forgotten first")
    func capacity_evictsOldest() {
        var recent = RecentlyClosedRuns(capacity: 2, maxAge: .seconds(60))
        let now = ContinuousClock.now
        let (a, b, c) = (Self.ledger(1), Self.ledger(2), Self.ledger(3))
        recent.insert(a, now: now)
        recent.insert(b, now: now)
        #expect(recent.info(of: a.runID, now: now)?.status == .succeeded)
        recent.insert(c, now: now)
        #expect(recent.count == 2)
        #expect(recent.info(of: a.runID, now: now) == nil)
        #expect(!recent.contains(a.runID) && recent.contains(c.runID))
        #expect(recent.info(of: c.runID, now: now)?.output == [7])
    }

    @Test("forgets runs older than its maximum age")
    func maxAge_expires() {
        var recent = RecentlyClosedRuns(capacity: 100, maxAge: .seconds(10))
        let start = ContinuousClock.now
        let old = Self.ledger(1)
        let young = Self.ledger(2)
        recent.insert(old, now: start)
        recent.insert(young, now: start + .seconds(8))
        #expect(recent.info(of: old.runID, now: start + .seconds(9)) != nil)
        #expect(recent.info(of: old.runID, now: start + .seconds(11)) == nil)
        #expect(recent.info(of: young.runID, now: start + .seconds(11)) != nil)
        #expect(recent.count == 1)
    }
}
