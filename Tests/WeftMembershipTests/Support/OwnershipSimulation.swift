import WeftCore
@testable import WeftMembership

/// Partition ownership on top of a `ClusterSimulation` (STYLE §6, ring 2): each live node runs one
/// `PartitionOwnershipStateMachine` per partition, fed by its own ring, against a simulated Redis
/// (leases with TTLs on the simulated clock, compare-and-set/-delete) and a simulated
/// `partition_owners` (fences). Engines "write" every step; a write counts only if its fence is
/// the partition's current one, as the real writer's fenced transaction would.
///
/// Invariants after every slice: at most one live engine holds a partition's current fence (no
/// split-brain write), and every engine a node runs was started from a fence advance of its own.
struct OwnershipSimulation {
    var cluster: ClusterSimulation
    let partitions: Int
    let settings: PartitionOwnershipStateMachine.Settings
    private(set) var machines: [[PartitionOwnershipStateMachine]]
    /// The engines each node runs: partition → fence.
    private(set) var engines: [[Int: Fence]]
    private var rings: [HashRing]
    private var leases: [Int: (holder: String, until: MembershipInstant)] = [:]
    private(set) var fences: [Int: Fence] = [:]
    private var timers: [[Int: [PartitionOwnershipStateMachine.Timer: MembershipInstant]]]
    private(set) var violations: [String] = []
    private var incarnationOf: [Int] = []

    init(nodes: Int, partitions: Int, seed: UInt64) {
        cluster = ClusterSimulation(nodes: nodes, seed: seed)
        self.partitions = partitions
        settings = .localTesting
        machines = (0..<nodes).map { _ in (0..<partitions).map { PartitionOwnershipStateMachine(partition: PartitionID($0), settings: .localTesting) } }
        engines = Array(repeating: [:], count: nodes)
        rings = Array(repeating: HashRing(nodes: []), count: nodes)
        timers = Array(repeating: [:], count: nodes)
        incarnationOf = Array(repeating: 0, count: nodes)
    }

    var now: MembershipInstant { cluster.now }

    /// Lease values are `node#life`, as the real ones are `node#nonce`: a restart is a new holder.
    private func leaseValue(_ node: Int) -> String { "\(ClusterSimulation.id(node))#\(incarnationOf[node])" }

    mutating func startAll() { cluster.startAll() }

    /// A crash: the node's machines, engines and timers vanish with it.
    mutating func crash(_ node: Int) {
        cluster.crash(node)
        engines[node] = [:]
        timers[node] = [:]
    }

    /// Runs in slices of 50 ms: membership first, then each live node's ownership.
    mutating func advance(to elapsed: Duration) async {
        var next = cluster.elapsed
        while next < elapsed {
            next = min(elapsed, next + .milliseconds(50))
            cluster.run(until: next)
            for node in cluster.liveNodes { step(node) }
            checkInvariants()
            await Task.yield()
        }
    }

    private mutating func step(_ node: Int) {
        let members = cluster.machines[node].members
        let active = members.filter { $0.role == .scheduler && $0.status.isActive }.map(\.id)
        if active != rings[node].nodes {
            let ring = HashRing(nodes: active)
            let previous = rings[node]
            rings[node] = ring
            let me = ClusterSimulation.id(node)
            let inactive = Set(members.filter { !$0.status.isActive }.map(\.id))
            for p in 0..<partitions {
                let before = previous.owner(of: PartitionID(p))
                let dead = before.flatMap { inactive.contains($0) && $0 != me ? "\($0)#" : nil }
                carryOut(machines[node][p].ringChanged(isMine: ring.owner(of: PartitionID(p)) == me, deadHolder: dead), node: node, partition: p)
            }
        }
        // Every engine writes: with a stale fence the write is refused and the engine stops, as
        // the real writer's fenced transaction makes it.
        for (p, fence) in engines[node] where fence != fences[p] {
            engines[node][p] = nil
            carryOut(machines[node][p].fenceLost(), node: node, partition: p)
        }
        for (p, due) in timers[node] {
            for (timer, at) in due where at <= now {
                timers[node][p]?[timer] = nil
                carryOut(machines[node][p].timerFired(timer), node: node, partition: p)
            }
        }
    }

    private mutating func carryOut(_ actions: [PartitionOwnershipStateMachine.Action], node: Int, partition p: Int) {
        var queue = actions[...]
        while let action = queue.popFirst() {
            var more: [PartitionOwnershipStateMachine.Action] = []
            switch action {
            case .acquireLease(let takeOver):
                let held = leases[p].map { $0.until > now ? $0.holder : nil } ?? nil
                let free = held == nil || (takeOver.map { held!.hasPrefix($0) } ?? false)
                if free { leases[p] = (leaseValue(node), now + settings.leaseTTL) }
                more = machines[node][p].leaseResult(free ? .acquired : .held)
            case .advanceFence:
                let fence = Fence((fences[p]?.rawValue ?? 0) + 1)
                fences[p] = fence
                more = machines[node][p].fenceAdvanced(fence)
            case .startEngine(let fence):
                if engines[node][p] != nil { violations.append("at \(now) s\(node) started a second engine for \(p)") }
                engines[node][p] = fence
            case .handOff:
                engines[node][p] = nil
                more = machines[node][p].handedOff()
            case .stopEngine:
                engines[node][p] = nil
            case .verifyFence(let fence):
                more = machines[node][p].fenceVerified(fences[p] == fence)
            case .renewLease:
                let mine = leases[p].map { $0.holder == leaseValue(node) && $0.until > now } ?? false
                if mine { leases[p] = (leaseValue(node), now + settings.leaseTTL) }
                more = machines[node][p].renewed(mine ? .acquired : .held)
            case .releaseLease:
                if leases[p]?.holder == leaseValue(node) { leases[p] = nil }
                more = machines[node][p].released()
            case .schedule(let timer, let after):
                timers[node][p, default: [:]][timer] = now + after
            }
            queue.append(contentsOf: more)
        }
    }

    private mutating func checkInvariants() {
        for p in 0..<partitions {
            let writers = cluster.liveNodes.filter { engines[$0][p] != nil && engines[$0][p] == fences[p] }
            if writers.count > 1 { violations.append("at \(now) partition \(p) has \(writers.count) engines on its current fence") }
        }
    }

    /// Whether every partition is served by exactly one live engine, on the node the rings (which
    /// must agree) name, under the partition's current fence.
    var settledOnRing: Bool {
        guard cluster.ringsAgree(), let first = cluster.liveNodes.first else { return false }
        let ring = rings[first]
        for p in 0..<partitions {
            guard let owner = ring.owner(of: PartitionID(p)),
                  let node = cluster.liveNodes.first(where: { ClusterSimulation.id($0) == owner }) else { return false }
            for other in cluster.liveNodes where other != node && engines[other][p] != nil && engines[other][p] == fences[p] {
                return false
            }
            guard engines[node][p] != nil, engines[node][p] == fences[p] else { return false }
        }
        return true
    }
}
