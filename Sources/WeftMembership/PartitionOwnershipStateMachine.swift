import WeftCore

/// Ownership of one partition by this scheduler (ARCHITECTURE §2): a Redis lease for fast mutual
/// exclusion, then the Postgres fence for correctness, then the engine; renewal while owned; a
/// handoff when the ring moves the partition away. Pure (STYLE §2): results of the shell's I/O come
/// in as events, actions go out.
///
/// ## Transitions
///
///     idle ─ring: mine─▶ leasing ─acquired─▶ fencing ─advanced(f)─▶ owned(f) ─ring: not mine─▶ handingOff(f)
///      ▲                   │ held/failed        │ failed                 │                        │ handedOff
///      └──retry timer──────┴────────────────────┴──(release)◀───────────┼────────────────────────┘
///                                                                        ├─renew refused─▶ reacquiring(f) ─acquired─▶ owned(f)
///                                                                        │                      └ held by another ─▶ (stop) idle
///                                                                        └─fence lost─▶ (stop at once, release) idle
///
/// - A lease held by a member SWIM has confirmed dead is taken over at once (`takeOver`), not
///   waited out.
/// - A lease that vanished (Redis restarted or was flushed) is acquired again and the fence checked
///   (`.verifyFence`): still ours, the engine keeps running, since the fence, not Redis, decides;
///   moved on (the lease had expired and another node took the partition meanwhile, then gave it
///   back), the engine stops and the fence is advanced anew. Without the check an engine with
///   nothing to write would sit on a stale fence, holding the lease, for ever. A renew that
///   fails for want of Redis keeps the engine too (retried sooner): the fence protects the data,
///   and another node cannot take the lease from a Redis that is down either.
/// - A lost fence stops the engine at once and is never retried with that fence.
///
/// ## Invariants
///
/// - At most one `.startEngine` per fence value; an engine runs only in `owned`, `reacquiring` and
///   `handingOff`, and every path out of them stops it (`.handOff` or `.stopEngine`).
/// - A lease is released only after the engine stopped writing (handoff: after its writer flushed).
public struct PartitionOwnershipStateMachine: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        case idle
        case leasing
        case fencing
        case owned(Fence)
        case reacquiring(Fence)
        case handingOff(Fence)
        case releasing
    }

    public enum Timer: Sendable, Hashable {
        case retry, renew
    }

    public enum Action: Sendable, Hashable {
        /// `SET NX PX` (or, when `takeOver` names the dead holder, replace its lease).
        case acquireLease(takeOver: String?)
        /// `UPDATE partition_owners SET range_id = range_id + 1 … RETURNING range_id`.
        case advanceFence
        /// Recover the partition's open runs under `fence`, then serve.
        case startEngine(Fence)
        /// Stop admitting, flush the writer, drop the runs from memory; then `handedOff()`.
        case handOff(Fence)
        /// Stop at once (the lease or the fence is gone): nothing more is written.
        case stopEngine(Fence)
        /// Read the partition's fence; then `fenceVerified(_:)`.
        case verifyFence(Fence)
        case renewLease
        /// Compare-and-delete; then `released()`.
        case releaseLease
        case schedule(Timer, after: Duration)
    }

    public enum LeaseResult: Sendable, Hashable {
        case acquired
        /// Someone else holds it.
        case held
        /// Redis did not answer.
        case failed
    }

    public struct Settings: Sendable, Hashable {
        public var leaseTTL: Duration
        public var retryDelay: Duration

        public init(leaseTTL: Duration, retryDelay: Duration) {
            self.leaseTTL = leaseTTL
            self.retryDelay = retryDelay
        }

        /// Renew at a third of the TTL: two renewals may fail before the lease expires.
        public var renewEvery: Duration { leaseTTL / 3 }

        public static let lan = Settings(leaseTTL: .seconds(10), retryDelay: .seconds(1))
        public static let localTesting = Settings(leaseTTL: .seconds(2), retryDelay: .milliseconds(200))
    }

    public let partition: PartitionID
    public let settings: Settings
    public private(set) var state = State.idle
    /// Whether the ring names this node the owner.
    public private(set) var isMine = false
    private var retryArmed = false

    public init(partition: PartitionID, settings: Settings) {
        self.partition = partition
        self.settings = settings
    }

    /// The fence of the engine running here, if one is.
    public var engineFence: Fence? {
        switch state {
        case .owned(let fence), .reacquiring(let fence), .handingOff(let fence): fence
        case .idle, .leasing, .fencing, .releasing: nil
        }
    }

    // MARK: Events

    /// The ring changed. `deadHolder`: the previous owner's lease value when SWIM confirmed it dead
    /// (its lease may be taken over at once).
    public mutating func ringChanged(isMine: Bool, deadHolder: String? = nil) -> [Action] {
        self.isMine = isMine
        switch (state, isMine) {
        case (.idle, true):
            state = .leasing
            return [.acquireLease(takeOver: deadHolder)]
        case (.owned(let fence), false), (.reacquiring(let fence), false):
            state = .handingOff(fence)
            return [.handOff(fence)]
        default:
            return []  // in flight: the result events look at `isMine` again
        }
    }

    public mutating func leaseResult(_ result: LeaseResult) -> [Action] {
        switch state {
        case .leasing:
            switch result {
            case .acquired where isMine:
                state = .fencing
                return [.advanceFence]
            case .acquired:
                state = .releasing
                return [.releaseLease]
            case .held, .failed:
                return retryLater()
            }
        case .reacquiring(let fence):
            switch result {
            case .acquired:
                return [.verifyFence(fence)]
            case .held:
                // Another node took the lease: it will advance the fence; stop before it does.
                return [.stopEngine(fence)] + retryLater()
            case .failed:
                return [.schedule(.renew, after: settings.retryDelay)]
            }
        default:
            return []
        }
    }

    public mutating func fenceAdvanced(_ fence: Fence?) -> [Action] {
        guard state == .fencing else { return [] }
        guard let fence else {
            state = .releasing
            return [.releaseLease]  // then retry from `released`
        }
        guard isMine else {
            state = .releasing
            return [.releaseLease]
        }
        state = .owned(fence)
        return [.startEngine(fence), .schedule(.renew, after: settings.renewEvery)]
    }

    public mutating func timerFired(_ timer: Timer) -> [Action] {
        switch (timer, state) {
        case (.renew, .owned), (.renew, .reacquiring):
            return [.renewLease]
        case (.retry, _):
            retryArmed = false
            guard state == .idle, isMine else { return [] }
            state = .leasing
            return [.acquireLease(takeOver: nil)]
        default:
            return []
        }
    }

    public mutating func renewed(_ result: LeaseResult) -> [Action] {
        switch (state, result) {
        case (.owned, .acquired), (.reacquiring, .acquired):
            if case .reacquiring(let fence) = state { state = .owned(fence) }
            return [.schedule(.renew, after: settings.renewEvery)]
        case (.owned(let fence), .held), (.reacquiring(let fence), .held):
            // The lease is not ours any more (expired, or Redis lost it): take it again if free.
            state = .reacquiring(fence)
            return [.acquireLease(takeOver: nil)]
        case (.owned, .failed), (.reacquiring, .failed):
            return [.schedule(.renew, after: settings.retryDelay)]
        default:
            return []
        }
    }

    /// Whether the partition's fence is still the engine's, after a lease was acquired again.
    public mutating func fenceVerified(_ holds: Bool) -> [Action] {
        guard case .reacquiring(let fence) = state else { return [] }
        if holds {
            state = .owned(fence)
            return [.schedule(.renew, after: settings.renewEvery)]
        }
        state = .fencing
        return [.stopEngine(fence), .advanceFence]
    }

    /// The engine's writer found the fence moved on: stop at once, never retry that fence.
    public mutating func fenceLost() -> [Action] {
        guard let fence = engineFence else { return [] }
        state = .releasing
        return [.stopEngine(fence), .releaseLease]
    }

    /// The handoff finished: the engine stopped and its writer flushed.
    public mutating func handedOff() -> [Action] {
        guard case .handingOff = state else { return [] }
        state = .releasing
        return [.releaseLease]
    }

    public mutating func released() -> [Action] {
        guard state == .releasing else { return [] }
        state = .idle
        return isMine ? retryLater() : []
    }

    private mutating func retryLater() -> [Action] {
        state = .idle
        guard !retryArmed else { return [] }
        retryArmed = true
        return [.schedule(.retry, after: settings.retryDelay)]
    }
}
