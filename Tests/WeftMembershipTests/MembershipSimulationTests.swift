import Foundation
import Testing
import WeftCore
@testable import WeftMembership

/// Whole clusters of SWIM machines on a simulated network (STYLE §6, ring 2), one seed per case;
/// a failure names its seed, and `WEFT_SIM_SEED=N` runs that one alone.
enum SimulationSeeds {
    /// 200 fixed seeds (a cheap scenario runs them all; the longer ones a prefix), or just
    /// `WEFT_SIM_SEED`.
    static var ci: [UInt64] {
        if let one = ProcessInfo.processInfo.environment["WEFT_SIM_SEED"].flatMap(UInt64.init) { return [one] }
        return Array(1...200)
    }
}

/// Every simulation suite, one case at a time: the cases are CPU-bound, and side by side they
/// would hold both threads of the cooperative pool (two on our machines), starving every other
/// suite's tasks (the Postgres pool-starvation probe failed while two of them ran at once).
@Suite(.serialized) enum Simulations {}

extension Simulations {
@Suite("Membership simulation", .serialized)
struct MembershipSimulationTests {
    @Test("five nodes join through one seed and agree on members and ring within seconds", arguments: SimulationSeeds.ci)
    func join_converges(seed: UInt64) async {
        var sim = ClusterSimulation(nodes: 5, seed: seed)
        sim.startAll()
        await sim.advance(to: .seconds(5))
        #expect(sim.violations == [], "replay with WEFT_SIM_SEED=\(seed)")
        let agree = sim.viewsAgreeWithReality
        #expect(agree, "replay with WEFT_SIM_SEED=\(seed): \(sim.liveNodes.map { sim.activeView(of: $0).sorted() })")
        let ringsAgree = sim.ringsAgree()
        #expect(ringsAgree, "replay with WEFT_SIM_SEED=\(seed)")
        #expect(sim.falseDeaths() == [], "replay with WEFT_SIM_SEED=\(seed)")
    }

    @Test("a crashed node is suspected, then declared dead by every other node; nobody else is", arguments: SimulationSeeds.ci)
    func crash_detected(seed: UInt64) async throws {
        var sim = ClusterSimulation(nodes: 6, seed: seed)
        sim.startAll()
        await sim.advance(to: .seconds(5))
        sim.crash(3)
        let crashedAt = sim.now
        await sim.advance(to: .seconds(20))
        #expect(sim.violations == [], "replay with WEFT_SIM_SEED=\(seed)")
        let agree = sim.viewsAgreeWithReality
        #expect(agree, "replay with WEFT_SIM_SEED=\(seed): \(sim.liveNodes.map { sim.activeView(of: $0).sorted() })")
        let ringsAgree = sim.ringsAgree()
        #expect(ringsAgree, "replay with WEFT_SIM_SEED=\(seed)")
        #expect(sim.falseDeaths() == [], "replay with WEFT_SIM_SEED=\(seed)")
        // localTesting: a period of 100 ms, suspicion ≤ 6 × 4 × log10(6) × 100 ms ≈ 1.9 s; the
        // round-robin reaches the node within N periods of every prober (N − 1 may probe it).
        for observer in sim.liveNodes {
            let dead = try #require(sim.firstTime(observer, saw: 3, as: .dead), "replay with WEFT_SIM_SEED=\(seed)")
            #expect(dead - crashedAt < .seconds(5), "replay with WEFT_SIM_SEED=\(seed): s\(observer) took \(dead - crashedAt)")
        }
    }

    @Test("in a cluster of three, the two survivors confirm each other's suspicion: a crash is declared dead after the shortest suspicion, not the longest", arguments: SimulationSeeds.ci.prefix(100))
    func crashInThree_suspicionsConfirmEachOther(seed: UInt64) async throws {
        var sim = ClusterSimulation(nodes: 3, seed: seed)
        sim.startAll()
        await sim.advance(to: .seconds(3))
        sim.crash(2)
        let crashedAt = sim.now
        await sim.advance(to: .seconds(10))
        // localTesting: probing reaches the node within two periods of each survivor (200 ms), a
        // probe takes one more (100 ms); the shortest suspicion is 4 × 100 ms, the longest 2.4 s.
        for observer in [0, 1] {
            let dead = try #require(sim.firstTime(observer, saw: 2, as: .dead), "replay with WEFT_SIM_SEED=\(seed)")
            #expect(dead - crashedAt < .milliseconds(1200), "replay with WEFT_SIM_SEED=\(seed): s\(observer) took \(dead - crashedAt)")
        }
    }

    @Test("under 5% packet loss, 5% duplicated datagrams and jittery delays below the probe timeout, no live node is declared dead", arguments: SimulationSeeds.ci.prefix(50))
    func lossyNetwork_noFalseDeaths(seed: UInt64) async {
        var sim = ClusterSimulation(nodes: 7, seed: seed)
        sim.network.loss = 0.05
        sim.network.duplication = 0.05
        sim.network.delay = .milliseconds(1) ... .milliseconds(20)
        sim.startAll()
        await sim.advance(to: .seconds(30))
        #expect(sim.violations == [], "replay with WEFT_SIM_SEED=\(seed)")
        #expect(sim.falseDeaths() == [], "replay with WEFT_SIM_SEED=\(seed)")
        let agree = sim.viewsAgreeWithReality
        #expect(agree, "replay with WEFT_SIM_SEED=\(seed): \(sim.liveNodes.map { sim.activeView(of: $0).sorted() })")
    }

    @Test("a network partition splits the cluster; once healed, it merges back into one", arguments: SimulationSeeds.ci.prefix(100))
    func partition_heals(seed: UInt64) async {
        var sim = ClusterSimulation(nodes: 5, seed: seed)
        sim.network.partition([0, 1], from: [2, 3, 4], during: .seconds(3) ..< .seconds(13))
        sim.startAll()
        await sim.advance(to: .seconds(12))
        // Each side has declared the other dead by now.
        let left = sim.activeView(of: 0), right = sim.activeView(of: 4)
        #expect(left == ["s0", "s1"], "replay with WEFT_SIM_SEED=\(seed)")
        #expect(right == ["s2", "s3", "s4"], "replay with WEFT_SIM_SEED=\(seed)")
        await sim.advance(to: .seconds(40))
        #expect(sim.violations == [], "replay with WEFT_SIM_SEED=\(seed)")
        let agree = sim.viewsAgreeWithReality
        #expect(agree, "replay with WEFT_SIM_SEED=\(seed): \(sim.liveNodes.map { sim.activeView(of: $0).sorted() })")
        let ringsAgree = sim.ringsAgree()
        #expect(ringsAgree, "replay with WEFT_SIM_SEED=\(seed)")
    }

    @Test("a node that leaves is gone from every view at once, not after a suspicion", arguments: SimulationSeeds.ci.prefix(40))
    func leave_isImmediate(seed: UInt64) async throws {
        var sim = ClusterSimulation(nodes: 4, seed: seed)
        sim.startAll()
        await sim.advance(to: .seconds(4))
        sim.leave(2)
        let leftAt = sim.now
        await sim.advance(to: .seconds(5))
        let agree = sim.viewsAgreeWithReality
        #expect(agree, "replay with WEFT_SIM_SEED=\(seed): \(sim.liveNodes.map { sim.activeView(of: $0).sorted() })")
        for observer in sim.liveNodes {
            let left = try #require(sim.firstTime(observer, saw: 2, as: .left), "replay with WEFT_SIM_SEED=\(seed)")
            #expect(left - leftAt < .milliseconds(100))
            let suspected = sim.firstTime(observer, saw: 2, as: .suspect)
            #expect(suspected == nil || suspected! < leftAt, "replay with WEFT_SIM_SEED=\(seed)")
        }
    }

    @Test("a node restarted with incarnation 0 after being declared dead refutes the verdict and is alive again", arguments: SimulationSeeds.ci.prefix(40))
    func restartAfterDeath_rejoins(seed: UInt64) async {
        var sim = ClusterSimulation(nodes: 4, seed: seed)
        sim.startAll()
        await sim.advance(to: .seconds(3))
        sim.crash(1)
        await sim.advance(to: .seconds(10))
        let forgotten = sim.liveNodes.allSatisfy { !sim.activeView(of: $0).contains("s1") }
        #expect(forgotten, "replay with WEFT_SIM_SEED=\(seed)")
        sim.restart(1)
        await sim.advance(to: .seconds(20))
        let agree = sim.viewsAgreeWithReality
        #expect(agree, "replay with WEFT_SIM_SEED=\(seed): \(sim.liveNodes.map { sim.activeView(of: $0).sorted() })")
        #expect(sim.violations == [], "replay with WEFT_SIM_SEED=\(seed)")
    }
}

}

extension Simulations {
/// Ownership machines over the simulated membership: liveness (the partitions always come to rest
/// on the ring's owners) and safety (never two engines on a partition's current fence).
@Suite("Ownership simulation", .serialized)
struct OwnershipSimulationTests {
    @Test("partitions settle on the ring's owners through a join, a crash and a network partition, with 3% loss and 3% duplicated datagrams; never two writers on one fence", arguments: SimulationSeeds.ci)
    func ownership_settlesAndNeverSplits(seed: UInt64) async {
        var sim = OwnershipSimulation(nodes: 4, partitions: 32, seed: seed)
        sim.cluster.network.loss = 0.03
        sim.cluster.network.duplication = 0.03
        sim.startAll()
        await sim.advance(to: .seconds(6))
        #expect(sim.settledOnRing, "replay with WEFT_SIM_SEED=\(seed): after the join")
        sim.crash(3)
        await sim.advance(to: .seconds(16))
        #expect(sim.settledOnRing, "replay with WEFT_SIM_SEED=\(seed): after the crash")
        sim.cluster.network.partition([0], from: [1, 2], during: .seconds(16) ..< .seconds(26))
        await sim.advance(to: .seconds(45))
        #expect(sim.settledOnRing, "replay with WEFT_SIM_SEED=\(seed): after the partition healed")
        #expect(sim.violations == [], "replay with WEFT_SIM_SEED=\(seed)")
        #expect(sim.cluster.violations == [], "replay with WEFT_SIM_SEED=\(seed)")
    }
}
}
