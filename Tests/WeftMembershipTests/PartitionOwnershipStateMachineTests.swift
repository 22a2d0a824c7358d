import Testing
import WeftCore
import WeftMembership

@Suite("Partition ownership state machine")
struct PartitionOwnershipStateMachineTests {
    typealias Machine = PartitionOwnershipStateMachine
    static let settings = Machine.Settings.localTesting

    static func owned(_ fence: Int64 = 7) -> Machine {
        var machine = Machine(partition: PartitionID(3), settings: settings)
        _ = machine.ringChanged(isMine: true)
        _ = machine.leaseResult(.acquired)
        _ = machine.fenceAdvanced(Fence(fence))
        return machine
    }

    @Test("lease, then fence, then engine — once per fence — then renewals")
    func acquire_leaseFenceEngine() {
        var machine = Machine(partition: PartitionID(3), settings: Self.settings)
        #expect(machine.ringChanged(isMine: true) == [.acquireLease(takeOver: nil)])
        #expect(machine.leaseResult(.acquired) == [.advanceFence])
        #expect(machine.fenceAdvanced(Fence(7)) == [.startEngine(Fence(7)), .schedule(.renew, after: Self.settings.renewEvery)])
        #expect(machine.fenceAdvanced(Fence(8)) == [], "a second fence result starts nothing")
        #expect(machine.timerFired(.renew) == [.renewLease])
        #expect(machine.renewed(.acquired) == [.schedule(.renew, after: Self.settings.renewEvery)])
        #expect(machine.engineFence == Fence(7))
    }

    @Test("a dead member's lease is taken over at once")
    func deadHolder_takenOver() {
        var machine = Machine(partition: PartitionID(3), settings: Self.settings)
        #expect(machine.ringChanged(isMine: true, deadHolder: "s2#4") == [.acquireLease(takeOver: "s2#4")])
    }

    @Test("a lease held by another is retried after a pause, once")
    func leaseHeld_retried() {
        var machine = Machine(partition: PartitionID(3), settings: Self.settings)
        _ = machine.ringChanged(isMine: true)
        #expect(machine.leaseResult(.held) == [.schedule(.retry, after: Self.settings.retryDelay)])
        #expect(machine.state == .idle)
        #expect(machine.timerFired(.retry) == [.acquireLease(takeOver: nil)])
        #expect(machine.leaseResult(.failed) == [.schedule(.retry, after: Self.settings.retryDelay)])
        _ = machine.ringChanged(isMine: false)
        #expect(machine.timerFired(.retry) == [], "no longer ours: the retry does nothing")
    }

    @Test("when the ring moves the partition away: hand off (flush), then release the lease")
    func ringMovesAway_handsOff() {
        var machine = Self.owned()
        #expect(machine.ringChanged(isMine: false) == [.handOff(Fence(7))])
        #expect(machine.engineFence == Fence(7), "the engine runs until its writer flushed")
        #expect(machine.handedOff() == [.releaseLease])
        #expect(machine.engineFence == nil)
        #expect(machine.released() == [])
        #expect(machine.state == .idle)
    }

    @Test("the ring moves away while the lease is being taken: the lease is released, no engine starts")
    func ringMovesAwayWhileLeasing_releases() {
        var machine = Machine(partition: PartitionID(3), settings: Self.settings)
        _ = machine.ringChanged(isMine: true)
        _ = machine.ringChanged(isMine: false)
        #expect(machine.leaseResult(.acquired) == [.releaseLease])
        var fencing = Machine(partition: PartitionID(3), settings: Self.settings)
        _ = fencing.ringChanged(isMine: true)
        _ = fencing.leaseResult(.acquired)
        _ = fencing.ringChanged(isMine: false)
        #expect(fencing.fenceAdvanced(Fence(9)) == [.releaseLease])
    }

    @Test("a lost fence stops the engine at once and releases; it is never retried with that fence")
    func fenceLost_stops() {
        var machine = Self.owned()
        #expect(machine.fenceLost() == [.stopEngine(Fence(7)), .releaseLease])
        #expect(machine.fenceLost() == [])
        #expect(machine.released() == [.schedule(.retry, after: Self.settings.retryDelay)], "still ours by the ring: a new lease, a new fence")
        #expect(machine.timerFired(.retry) == [.acquireLease(takeOver: nil)])
    }

    @Test("a lease Redis lost is acquired again with the engine running; one another node took stops the engine")
    func renewRefused_reacquires() {
        var machine = Self.owned()
        #expect(machine.renewed(.held) == [.acquireLease(takeOver: nil)])
        #expect(machine.engineFence == Fence(7))
        #expect(machine.leaseResult(.acquired) == [.verifyFence(Fence(7))])
        #expect(machine.fenceVerified(true) == [.schedule(.renew, after: Self.settings.renewEvery)])
        #expect(machine.state == .owned(Fence(7)))

        // The lease had expired and the partition went elsewhere and came back: the fence moved on.
        var stale = Self.owned()
        _ = stale.renewed(.held)
        _ = stale.leaseResult(.acquired)
        #expect(stale.fenceVerified(false) == [.stopEngine(Fence(7)), .advanceFence])
        #expect(stale.fenceAdvanced(Fence(9)) == [.startEngine(Fence(9)), .schedule(.renew, after: Self.settings.renewEvery)])

        var taken = Self.owned()
        _ = taken.renewed(.held)
        #expect(taken.leaseResult(.held) == [.stopEngine(Fence(7)), .schedule(.retry, after: Self.settings.retryDelay)])
        #expect(taken.engineFence == nil)
    }

    @Test("Redis down: renewals fail, the engine keeps running (the fence decides), renewals retried sooner")
    func redisDown_keepsEngine() {
        var machine = Self.owned()
        #expect(machine.renewed(.failed) == [.schedule(.renew, after: Self.settings.retryDelay)])
        #expect(machine.renewed(.failed) == [.schedule(.renew, after: Self.settings.retryDelay)])
        #expect(machine.engineFence == Fence(7))
    }

    @Test("a failed fence advance releases the lease and retries")
    func fenceFailed_retries() {
        var machine = Machine(partition: PartitionID(3), settings: Self.settings)
        _ = machine.ringChanged(isMine: true)
        _ = machine.leaseResult(.acquired)
        #expect(machine.fenceAdvanced(nil) == [.releaseLease])
        #expect(machine.released() == [.schedule(.retry, after: Self.settings.retryDelay)])
    }
}
