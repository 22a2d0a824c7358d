import WeftCore

/// The lifecycle of one partition's engine on this scheduler (ARCHITECTURE.md §2): the fence it
/// holds and the open runs it keeps in memory.
///
/// Transitions:  recovering → serving          (its open runs are rebuilt from Postgres)
///               recovering, serving → draining (handoff: no new calls; queued writes commit)
///               any → stopped                 (its fence moved on, or the handoff finished)
/// `stopped` is final for this fence: the engine never writes again (a later claim makes a new
/// engine with a new fence). Invariants: `runs` is empty once stopped; every run in `runs`
/// belongs to this partition.
struct PartitionEngine: Sendable {
    enum State: Hashable, Sendable {
        case recovering
        case serving
        case draining
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

    /// Refuses new calls (`NOT_OWNER`) while what was queued commits; runs stay until `stop`.
    mutating func drain() {
        guard state != .stopped else { return }
        state = .draining
    }

    mutating func stop() {
        state = .stopped
        runs = []
    }
}
