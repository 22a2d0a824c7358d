import DequeModule
import WeftCore
import WeftWire

/// The ledgers of the runs this scheduler closed most recently — at most `capacity`, none older
/// than `maxAge` — so that a `WaitRun` arriving just after its run closed is answered from memory
/// too.
///
/// Why: clients start a run and then wait for it, and a short run often closes before the wait
/// reaches the scheduler. Under `weft bench throughput` that was one wait in nine, each costing
/// two reads whose planning alone was most of their Postgres time. A few thousand ledgers are a
/// few megabytes; older waits read Postgres as before.
struct RecentlyClosedRuns {
    let capacity: Int
    let maxAge: Duration
    private var ledgers: [RunID: RunLedger] = [:]
    private var order = Deque<(id: RunID, closedAt: ContinuousClock.Instant)>()

    init(capacity: Int = 16_384, maxAge: Duration = .seconds(60)) {
        self.capacity = capacity
        self.maxAge = maxAge
    }

    var count: Int { ledgers.count }

    mutating func insert(_ ledger: RunLedger, now: ContinuousClock.Instant) {
        guard capacity > 0, ledgers.updateValue(ledger, forKey: ledger.runID) == nil else { return }
        order.append((ledger.runID, now))
        while order.count > capacity { ledgers[order.removeFirst().id] = nil }
        prune(now: now)
    }

    /// Whether `id` closed here recently (a start repeated after its run already finished).
    func contains(_ id: RunID) -> Bool { ledgers[id] != nil }

    /// The ledger of `id`, if it closed here recently.
    func ledger(of id: RunID) -> RunLedger? { ledgers[id] }

    /// The closed run, if it is still remembered.
    mutating func info(of id: RunID, now: ContinuousClock.Instant) -> RunInfo? {
        prune(now: now)
        return ledgers[id]?.info()
    }

    private mutating func prune(now: ContinuousClock.Instant) {
        while let first = order.first, now - first.closedAt > maxAge {
            order.removeFirst()
            ledgers[first.id] = nil
        }
    }
}
