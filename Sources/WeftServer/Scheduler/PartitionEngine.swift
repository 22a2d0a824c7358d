import WeftCore

/// The lifecycle of one partition's engine on this scheduler (ARCHITECTURE.md §2): the fence it
/// holds and the open runs it keeps in memory.
///
/// Transitions:  recovering → serving          (its open runs are rebuilt from Postgres)
///               recovering, serving → stopped (its fence moved on: another node claimed it)
/// `stopped` is final for this fence: the engine never writes again (a later claim makes a new
/// engine with a new fence). Invariants: `runs` is empty once stopped; every run in `runs`
/// belongs to this partition.
struct PartitionEngine: Sendable {
    enum State: Hashable, Sendable {
        case recovering
        case serving
        case stopped
    }

    let fence: Fence
    private(set) var state = State.recovering
    /// Open runs of the partition held in memory.
    var runs: Set<RunID> = []

    init(fence: Fence) {
        self.fence = fence
    }

    mutating func serve() {
        precondition(state == .recovering, "a partition engine serves once, after recovering: \(self)")
        state = .serving
    }

    mutating func stop() {
        state = .stopped
        runs = []
    }
}
