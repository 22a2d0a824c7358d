import WeftCore
@testable import WeftMembership

/// N SWIM machines on a simulated network, run deterministically (STYLE §6, ring 2): one loop that
/// always carries out the earliest thing due — a packet's delivery or a machine's deadline — with
/// delays, loss and partitions drawn from a seeded generator. Invariants are checked after every
/// step; a failing seed replays exactly.
struct ClusterSimulation {
    struct Network {
        /// One-way delay, uniformly drawn.
        var delay: ClosedRange<Duration> = .milliseconds(1) ... .milliseconds(5)
        /// Probability that a packet is lost.
        var loss: Double = 0
        /// Probability that a delivered datagram arrives twice.
        var duplication: Double = 0
        /// Pairs of node indexes that cannot reach each other, from a time to a time.
        var cuts: [(a: Set<Int>, b: Set<Int>, during: Range<Duration>)] = []

        func isCut(_ from: Int, _ to: Int, at elapsed: Duration) -> Bool {
            cuts.contains { cut in
                cut.during.contains(elapsed) && ((cut.a.contains(from) && cut.b.contains(to)) || (cut.b.contains(from) && cut.a.contains(to)))
            }
        }

        mutating func partition(_ a: Set<Int>, from b: Set<Int>, during: Range<Duration>) {
            cuts.append((a, b, during))
        }
    }

    private struct Delivery {
        var at: MembershipInstant
        var order: Int
        var message: SWIMMessage
        var from: Int
        var to: Int
    }

    var machines: [SWIMStateMachine]
    var network = Network()
    private(set) var now = MembershipInstant.zero
    /// Crashed nodes neither receive nor tick.
    private(set) var crashed: Set<Int> = []
    private var everCrashed: Set<Int> = []
    private let addresses: [String]
    private let indexOfAddress: [String: Int]
    private let seeds: [String]
    private(set) var violations: [String] = []
    /// Every status change each node reported, with its time.
    private(set) var changes: [(at: MembershipInstant, node: Int, change: MemberChange)] = []
    private var pending: [Delivery] = []
    private var order = 0
    private var random: SplitMix64
    private var started: Set<Int> = []
    /// The highest incarnation each node has seen of each member (incarnations never decrease).
    private var highestIncarnation: [Int: [String: UInt64]] = [:]

    static func address(_ index: Int) -> String { "10.0.0.\(index + 1):7946" }
    static func id(_ index: Int) -> String { "s\(index)" }

    /// `nodes` schedulers, each seeded with node 0's address (as a headless Service would be).
    init(nodes: Int, seed: UInt64, settings: MembershipSettings = .localTesting, seedNodes: [Int] = [0]) {
        random = SplitMix64(seed: seed)
        addresses = (0..<nodes).map(Self.address)
        indexOfAddress = Dictionary(uniqueKeysWithValues: addresses.enumerated().map { ($1, $0) })
        let seeds = seedNodes.map(Self.address)
        self.seeds = seeds
        machines = (0..<nodes).map { index in
            SWIMStateMachine(
                myself: Member(id: Self.id(index), gossipAddress: Self.address(index), rpcAddress: "10.0.1.\(index + 1):7400", role: .scheduler),
                seeds: seeds, settings: settings, seed: seed &+ UInt64(index) &* 0x9E37_79B9)
        }
    }

    var elapsed: Duration { now - .zero }

    mutating func start(_ index: Int) {
        started.insert(index)
        carryOut(machines[index].start(now: now), of: index)
    }

    mutating func startAll() {
        for index in machines.indices { start(index) }
    }

    /// A `kill -9`: the node stops at once, silently.
    mutating func crash(_ index: Int) {
        crashed.insert(index)
        everCrashed.insert(index)
    }

    /// The crashed node starts again with a fresh machine (incarnation 0, no memory).
    mutating func restart(_ index: Int) {
        let old = machines[index]
        machines[index] = SWIMStateMachine(
            myself: Member(id: old.myself.id, gossipAddress: old.myself.gossipAddress, rpcAddress: old.myself.rpcAddress, role: old.myself.role),
            seeds: seeds, settings: old.settings, seed: random.next())
        crashed.remove(index)
        highestIncarnation[index] = [:]
        start(index)
    }

    mutating func leave(_ index: Int) {
        carryOut(machines[index].leave(now: now), of: index)
    }

    /// `run(until:)` in slices of 200 ms of simulated time, yielding between them: a test of
    /// thousands of steps must not hold a thread of the cooperative pool (two on our machines)
    /// for seconds while other suites' tasks wait to run.
    mutating func advance(to elapsed: Duration) async {
        var next = self.elapsed
        while next < elapsed {
            next = min(elapsed, next + .milliseconds(200))
            run(until: next)
            await Task.yield()
        }
    }

    /// Runs everything due up to `elapsed`, in time order.
    mutating func run(until elapsed: Duration) {
        let end = MembershipInstant.zero + elapsed
        while true {
            let nextDelivery = pending.first?.at
            var nextTick: (at: MembershipInstant, node: Int)?
            for index in started where !crashed.contains(index) {
                if let due = machines[index].nextDeadline, nextTick.map({ due < $0.at }) ?? true {
                    nextTick = (due, index)
                }
            }
            let soonest = [nextDelivery, nextTick?.at].compactMap { $0 }.min()
            guard let soonest, soonest <= end else { break }
            now = max(now, soonest)
            if let delivery = nextDelivery, delivery == soonest {
                let item = pending.removeFirst()
                if !crashed.contains(item.to), started.contains(item.to) {
                    carryOut(machines[item.to].received(item.message, from: addresses[item.from], now: now), of: item.to)
                    checkInvariants(of: item.to)
                }
            } else if let tick = nextTick {
                carryOut(machines[tick.node].tick(now: now), of: tick.node)
                checkInvariants(of: tick.node)
            }
        }
        now = max(now, end)
    }

    private mutating func carryOut(_ actions: [SWIMStateMachine.Action], of index: Int) {
        for action in actions {
            switch action {
            case .send(let message, let address):
                guard let to = indexOfAddress[address] else {
                    violations.append("\(Self.id(index)) sent to an unknown address \(address)")
                    continue
                }
                if network.isCut(index, to, at: elapsed) || random.nextUnit() < network.loss { continue }
                // A duplicate (UDP may deliver a datagram twice) travels with a delay of its own.
                let copies = random.nextUnit() < network.duplication ? 2 : 1
                for _ in 0..<copies {
                    let span = network.delay.upperBound - network.delay.lowerBound
                    let delay = network.delay.lowerBound + span.scaled(by: random.nextUnit())
                    order += 1
                    let delivery = Delivery(at: now + delay, order: order, message: message, from: index, to: to)
                    let position = pending.firstIndex { ($0.at, $0.order) > (delivery.at, delivery.order) } ?? pending.count
                    pending.insert(delivery, at: position)
                }
            case .changed(let change):
                changes.append((now, index, change))
            }
        }
    }

    /// After a step of node `index` (the only machine that step changed).
    private mutating func checkInvariants(of index: Int) {
        do {
            for member in machines[index].members {
                let seen = highestIncarnation[index, default: [:]][member.id] ?? 0
                if member.incarnation < seen {
                    violations.append("at \(now) \(Self.id(index)) lowered the incarnation of \(member.id): \(seen) → \(member.incarnation)")
                }
                highestIncarnation[index, default: [:]][member.id] = max(seen, member.incarnation)
            }
        }
    }

    // MARK: Views

    /// The ids node `index` counts as active (itself included).
    func activeView(of index: Int) -> Set<String> { Set(machines[index].activeMembers.map(\.id)) }

    /// The live (not crashed, not left) nodes.
    var liveNodes: [Int] { machines.indices.filter { !crashed.contains($0) && machines[$0].phase == .running } }

    /// Whether every live node sees exactly the live nodes as active.
    var viewsAgreeWithReality: Bool {
        let expected = Set(liveNodes.map(Self.id))
        return liveNodes.allSatisfy { activeView(of: $0) == expected }
    }

    /// Whether every live node's ring maps every partition to the same owner.
    func ringsAgree(partitionCount: Int = 256) -> Bool {
        let rings = liveNodes.map { HashRing(nodes: machines[$0].activeMembers.filter { $0.role == .scheduler }.map(\.id)) }
        guard let first = rings.first else { return true }
        return rings.allSatisfy { $0 == first }
    }

    /// The first time node `observer` reported `member` as `status`.
    func firstTime(_ observer: Int, saw member: Int, as status: MemberStatus) -> MembershipInstant? {
        changes.first { $0.node == observer && $0.change.member.id == Self.id(member) && $0.change.member.status == status }?.at
    }

    /// Whether any live node ever declared a node that was never crashed nor left dead.
    func falseDeaths(excluding: Set<Int> = []) -> [String] {
        changes.filter { entry in
            guard entry.change.member.status == .dead, let index = machines.indices.first(where: { Self.id($0) == entry.change.member.id }) else { return false }
            return !everCrashed.contains(index) && !excluding.contains(index)
        }.map { "at \($0.at) \(Self.id($0.node)) declared \($0.change.member.id) dead" }
    }
}
