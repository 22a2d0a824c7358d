import Testing
import WeftCore
@testable import WeftMembership

/// Event scripts against one machine (STYLE §6, ring 1): what it sends and reports, step by step.
@Suite("SWIM state machine")
struct SWIMStateMachineTests {
    static let settings = MembershipSettings.localTesting

    static func member(_ id: String, incarnation: UInt64 = 0, status: MemberStatus = .alive) -> Member {
        Member(id: id, gossipAddress: "\(id):7946", rpcAddress: "\(id):7400", role: .scheduler, incarnation: incarnation, status: status)
    }

    /// A running machine `a` that already knows `others` as alive.
    static func machine(knowing others: [String], seeds: [String] = []) -> SWIMStateMachine {
        var machine = SWIMStateMachine(myself: member("a"), seeds: seeds, settings: settings, seed: 7)
        _ = machine.start(now: .zero)
        let table = others.map { MemberUpdate(member($0)) }
        _ = machine.received(SWIMMessage(from: "seed", kind: .sync(members: table, wantsReply: false)), from: "seed:7946", now: .zero)
        return machine
    }

    static func at(_ milliseconds: Int64) -> MembershipInstant { MembershipInstant(nanoseconds: milliseconds * 1_000_000) }

    static func sends(_ actions: [SWIMStateMachine.Action]) -> [(SWIMMessage, String)] {
        actions.compactMap { if case .send(let message, let address) = $0 { (message, address) } else { nil } }
    }

    static func changes(_ actions: [SWIMStateMachine.Action]) -> [MemberChange] {
        actions.compactMap { if case .changed(let change) = $0 { change } else { nil } }
    }

    /// Ticks the machine at every deadline up to `end`, collecting the actions.
    static func run(_ machine: inout SWIMStateMachine, until end: MembershipInstant) -> [SWIMStateMachine.Action] {
        var actions: [SWIMStateMachine.Action] = []
        while let due = machine.nextDeadline, due <= end {
            actions += machine.tick(now: due)
        }
        return actions
    }

    @Test("news of a member replaces what is known by SWIM's order: incarnation, then status")
    func supersedes_followsSWIMOrdering() {
        func m(_ id: String, incarnation: UInt64, status: MemberStatus) -> Member { Self.member(id, incarnation: incarnation, status: status) }
        #expect(m("b", incarnation: 2, status: .alive).supersedes(m("b", incarnation: 1, status: .suspect)))
        #expect(!m("b", incarnation: 1, status: .alive).supersedes(m("b", incarnation: 1, status: .suspect)))
        #expect(m("b", incarnation: 1, status: .suspect).supersedes(m("b", incarnation: 1, status: .alive)))
        #expect(!m("b", incarnation: 1, status: .suspect).supersedes(m("b", incarnation: 1, status: .suspect)))
        #expect(!m("b", incarnation: 0, status: .suspect).supersedes(m("b", incarnation: 1, status: .alive)))
        #expect(m("b", incarnation: 1, status: .dead).supersedes(m("b", incarnation: 1, status: .suspect)))
        #expect(!m("b", incarnation: 0, status: .dead).supersedes(m("b", incarnation: 1, status: .alive)))
        #expect(!m("b", incarnation: 5, status: .suspect).supersedes(m("b", incarnation: 1, status: .dead)))
        #expect(m("b", incarnation: 2, status: .alive).supersedes(m("b", incarnation: 1, status: .dead)))
        #expect(m("b", incarnation: 1, status: .left).supersedes(m("b", incarnation: 1, status: .dead)))
        #expect(!m("b", incarnation: 1, status: .dead).supersedes(m("b", incarnation: 1, status: .left)))
    }

    @Test("start syncs with every seed but itself; a seed answers with its table and learns the joiner")
    func start_joinsThroughSeeds() throws {
        var joiner = SWIMStateMachine(myself: Self.member("a"), seeds: ["a:7946", "s:7946", "t:7946"], settings: Self.settings, seed: 1)
        let sent = Self.sends(joiner.start(now: .zero))
        #expect(sent.map(\.1) == ["s:7946", "t:7946"])
        let (join, _) = try #require(sent.first)
        guard case .sync(let table, wantsReply: true) = join.kind else { Issue.record("expected a sync, got \(join)"); return }
        #expect(table.map(\.member.id) == ["a"])

        var seed = SWIMStateMachine(myself: Self.member("s"), seeds: [], settings: Self.settings, seed: 2)
        _ = seed.start(now: .zero)
        let answer = seed.received(join, from: "a:7946", now: Self.at(1))
        #expect(Self.changes(answer) == [MemberChange(member: Self.member("a"), previous: nil)])
        let reply = try #require(Self.sends(answer).first)
        #expect(reply.1 == "a:7946")
        _ = joiner.received(reply.0, from: "s:7946", now: Self.at(2))
        #expect(joiner.activeMembers.map(\.id) == ["a", "s"])
    }

    @Test("a ping is acked with its sequence number, to the sender's address")
    func ping_isAcked() throws {
        var machine = Self.machine(knowing: ["b"])
        let sent = Self.sends(machine.received(SWIMMessage(from: "b", kind: .ping(sequence: 42)), from: "10.1.1.1:9", now: Self.at(5)))
        let (ack, address) = try #require(sent.first)
        #expect(ack.kind == .ack(sequence: 42))
        #expect(address == "10.1.1.1:9")
    }

    @Test("an unanswered member is asked about through others, then suspected; the machine's own health worsens")
    func probe_withoutAck_suspects() throws {
        var machine = Self.machine(knowing: ["b", "c", "d", "e"])
        let first = Self.sends(machine.tick(now: Self.at(100)))
        let (ping, target) = try #require(first.first)
        guard case .ping(let sequence) = ping.kind else { Issue.record("expected a ping, got \(ping)"); return }
        // Probe timeout (50 ms): ping-req through the three others.
        let asked = Self.sends(machine.tick(now: Self.at(150)))
        #expect(asked.count == 3)
        #expect(!asked.map(\.1).contains(target))
        for (request, _) in asked {
            #expect(request.kind == .pingRequest(sequence: sequence, target: String(target.prefix(1)), targetAddress: target))
        }
        // One helper nacks; the period ends with no ack.
        _ = machine.received(SWIMMessage(from: "x", kind: .nack(sequence: sequence)), from: asked[0].1, now: Self.at(160))
        let end = machine.tick(now: Self.at(200))
        let suspected = try #require(Self.changes(end).first)
        #expect(suspected.member.id == String(target.prefix(1)))
        #expect(suspected.member.status == .suspect)
        #expect(machine.localHealth == 2, "two of three expected nacks missing")
    }

    @Test("an ack ends the probe: nobody is suspected and local health improves")
    func probe_acked_clearsHealth() throws {
        var machine = Self.machine(knowing: ["b", "c"])
        // Two failed periods raise the score…
        let actions = Self.run(&machine, until: Self.at(400))
        let raised = machine.localHealth
        #expect(raised == 2, "two periods without an ack and without the one expected nack")
        // …and the ack of the probe that started at the end of the second period lowers it.
        let pings = Self.sends(actions).compactMap { if case .ping(let sequence) = $0.0.kind { sequence } else { nil } }
        let sequence = try #require(pings.last)
        _ = machine.received(SWIMMessage(from: "b", kind: .ack(sequence: sequence)), from: "b:7946", now: Self.at(401))
        #expect(machine.localHealth == raised - 1)
    }

    @Test("a suspect is declared dead after the Lifeguard timeout; more independent suspicions make it shorter")
    func suspicion_timesOut_fasterWithConfirmations() throws {
        func deathTime(confirmers: [String]) throws -> MembershipInstant {
            var machine = Self.machine(knowing: ["b", "c", "d", "e", "f", "g", "h", "i", "j"])
            let suspect = MemberUpdate(Self.member("b", status: .suspect), suspectedBy: "c")
            _ = machine.received(SWIMMessage(from: "c", kind: .ack(sequence: 0), updates: [suspect]), from: "c:7946", now: Self.at(10))
            for confirmer in confirmers {
                let again = MemberUpdate(Self.member("b", status: .suspect), suspectedBy: confirmer)
                _ = machine.received(SWIMMessage(from: confirmer, kind: .ack(sequence: 0), updates: [again]), from: "\(confirmer):7946", now: Self.at(20))
            }
            var now = Self.at(20)
            while let due = machine.nextDeadline, due <= Self.at(60_000) {
                now = due
                let died = Self.changes(machine.tick(now: due)).contains { $0.member.id == "b" && $0.member.status == .dead }
                if died { return now }
            }
            Issue.record("b was never declared dead")
            return now
        }
        let alone = try deathTime(confirmers: [])
        let confirmed = try deathTime(confirmers: ["d", "e", "f"])
        // 10 members: min = 4 × log10(10) × 100 ms = 400 ms; max = 6 × min = 2.4 s.
        #expect(alone == Self.at(10) + .milliseconds(2400))
        #expect(confirmed == Self.at(10) + .milliseconds(400))
    }

    @Test("a suspicion of itself is refuted with a higher incarnation, gossiped on the next packet")
    func suspicionOfSelf_isRefuted() throws {
        var machine = Self.machine(knowing: ["b"])
        let rumour = MemberUpdate(Self.member("a", incarnation: 0, status: .suspect), suspectedBy: "b")
        _ = machine.received(SWIMMessage(from: "b", kind: .ping(sequence: 1), updates: [rumour]), from: "b:7946", now: Self.at(5))
        #expect(machine.myself.incarnation == 1)
        #expect(machine.localHealth == 1)
        let reply = Self.sends(machine.received(SWIMMessage(from: "b", kind: .ping(sequence: 2)), from: "b:7946", now: Self.at(6)))
        let gossip = try #require(reply.first).0.updates
        #expect(gossip.contains(MemberUpdate(Self.member("a", incarnation: 1, status: .alive))))
    }

    @Test("news with a lower incarnation changes nothing; a dead member comes back only with a higher one")
    func staleNews_ignored_resurrectionNeedsHigherIncarnation() {
        var machine = Self.machine(knowing: ["b"])
        _ = machine.received(SWIMMessage(from: "c", kind: .ack(sequence: 0), updates: [MemberUpdate(Self.member("b", incarnation: 3))]), from: "c:7946", now: Self.at(1))
        _ = machine.received(SWIMMessage(from: "c", kind: .ack(sequence: 0), updates: [MemberUpdate(Self.member("b", incarnation: 2, status: .dead))]), from: "c:7946", now: Self.at(2))
        #expect(machine.member("b")?.status == .alive)
        _ = machine.received(SWIMMessage(from: "c", kind: .ack(sequence: 0), updates: [MemberUpdate(Self.member("b", incarnation: 3, status: .dead))]), from: "c:7946", now: Self.at(3))
        #expect(machine.member("b")?.status == .dead)
        _ = machine.received(SWIMMessage(from: "c", kind: .ack(sequence: 0), updates: [MemberUpdate(Self.member("b", incarnation: 3))]), from: "c:7946", now: Self.at(4))
        #expect(machine.member("b")?.status == .dead)
        let back = machine.received(SWIMMessage(from: "b", kind: .ack(sequence: 0), updates: [MemberUpdate(Self.member("b", incarnation: 4))]), from: "b:7946", now: Self.at(5))
        #expect(Self.changes(back) == [MemberChange(member: Self.member("b", incarnation: 4), previous: .dead)])
    }

    @Test("a ping-req is relayed: the target's ack goes back to the origin, silence becomes a nack")
    func pingRequest_relayed() throws {
        var machine = Self.machine(knowing: ["b", "c"])
        let relayed = Self.sends(machine.received(
            SWIMMessage(from: "b", kind: .pingRequest(sequence: 77, target: "c", targetAddress: "c:7946")), from: "b:7946", now: Self.at(1)))
        let (ping, address) = try #require(relayed.first)
        #expect(address == "c:7946")
        guard case .ping(let sequence) = ping.kind else { Issue.record("expected a ping, got \(ping)"); return }
        let forwarded = Self.sends(machine.received(SWIMMessage(from: "c", kind: .ack(sequence: sequence)), from: "c:7946", now: Self.at(2)))
        #expect(forwarded.map(\.0.kind) == [.ack(sequence: 77)])
        #expect(forwarded.map(\.1) == ["b:7946"])

        _ = machine.received(SWIMMessage(from: "b", kind: .pingRequest(sequence: 78, target: "c", targetAddress: "c:7946")), from: "b:7946", now: Self.at(3))
        let silence = Self.sends(machine.tick(now: Self.at(3) + Self.settings.probeTimeout))
        #expect(silence.contains { $0.0.kind == .nack(sequence: 78) && $0.1 == "b:7946" })
    }

    @Test("leave tells every active member at once; afterwards the machine ignores everything")
    func leave_announcesAndGoesQuiet() {
        var machine = Self.machine(knowing: ["b", "c"])
        let sent = Self.sends(machine.leave(now: Self.at(1)))
        #expect(sent.map(\.1) == ["b:7946", "c:7946"])
        for (message, _) in sent {
            #expect(message.kind == .sync(members: [MemberUpdate(Self.member("a", status: .left))], wantsReply: false))
        }
        #expect(machine.received(SWIMMessage(from: "b", kind: .ping(sequence: 1)), from: "b:7946", now: Self.at(2)).isEmpty)
        #expect(machine.tick(now: Self.at(10_000)).isEmpty)
        #expect(machine.nextDeadline == nil)

        var other = Self.machine(knowing: ["b"])
        let goodbye = other.received(sent[0].0, from: "a:7946", now: Self.at(2))
        #expect(goodbye.isEmpty, "a is not known to this machine yet: a left stranger is not added")
        _ = other.received(SWIMMessage(from: "b", kind: .ack(sequence: 0), updates: [MemberUpdate(Self.member("z"))]), from: "b:7946", now: Self.at(3))
        let zLeft = other.received(
            SWIMMessage(from: "z", kind: .sync(members: [MemberUpdate(Self.member("z", status: .left))], wantsReply: false)), from: "z:7946", now: Self.at(4))
        #expect(Self.changes(zLeft).map(\.member.status) == [.left])
    }

    @Test("the member table and the relays are bounded, whatever peers send")
    func tables_areBounded() {
        var settings = Self.settings
        settings.maxMembers = 10
        settings.maxRelays = 4
        var machine = SWIMStateMachine(myself: Self.member("a"), seeds: [], settings: settings, seed: 3)
        _ = machine.start(now: .zero)
        let flood = (0..<100).map { MemberUpdate(Self.member("m\($0)")) }
        _ = machine.received(SWIMMessage(from: "x", kind: .sync(members: flood, wantsReply: false)), from: "x:1", now: Self.at(1))
        #expect(machine.members.count == 11, "ten others and itself")
        var relayed = 0
        for sequence in 0..<20 {
            let sent = machine.received(
                SWIMMessage(from: "x", kind: .pingRequest(sequence: UInt64(sequence), target: "m1", targetAddress: "m1:7946")), from: "x:1", now: Self.at(2))
            relayed += sent.count
        }
        #expect(relayed == 4)
    }

    @Test("gossip is piggy-backed a bounded number of times, least-sent first")
    func dissemination_isBounded() {
        var queue = Dissemination()
        for id in ["a", "b", "c"] { queue.add(MemberUpdate(Self.member(id))) }
        #expect(queue.take(max: 2, limit: 2).map(\.member.id) == ["c", "b"])
        #expect(queue.take(max: 2, limit: 2).map(\.member.id) == ["a", "c"])
        #expect(queue.take(max: 2, limit: 2).map(\.member.id) == ["b", "a"])
        #expect(queue.isEmpty)
        queue.add(MemberUpdate(Self.member("a")))
        queue.add(MemberUpdate(Self.member("a", incarnation: 1)))
        #expect(queue.take(max: 8, limit: 4) == [MemberUpdate(Self.member("a", incarnation: 1))])
    }

    @Test("Lifeguard's suspicion timeout: 4·log10(N) periods, ×6 without confirmations, the minimum when none can come")
    func suspicionTimeout_formula() {
        let settings = MembershipSettings.lan
        #expect(settings.suspicionTimeout(members: 10, confirmations: 0, expected: 3) == .seconds(24))
        #expect(settings.suspicionTimeout(members: 10, confirmations: 3, expected: 3) == .seconds(4))
        #expect(settings.suspicionTimeout(members: 10, confirmations: 9, expected: 3) == .seconds(4))
        let one = settings.suspicionTimeout(members: 10, confirmations: 1, expected: 3)
        #expect(one < .seconds(24) && one > .seconds(4))
        #expect(settings.suspicionTimeout(members: 3, confirmations: 0, expected: 0) == .seconds(4))
        #expect(settings.suspicionTimeout(members: 100, confirmations: 3, expected: 3) == .seconds(8))
    }

    @Test("a member restarted on new ports: a packet header proves it alive at its new incarnation, and its own update, at the same incarnation, brings the new addresses")
    func restartOnNewPorts_newAddressesWin() {
        var machine = Self.machine(knowing: ["b"])
        // b left (SIGTERM), then came back on other ports and refuted at incarnation 3.
        _ = machine.received(SWIMMessage(from: "c", kind: .ack(sequence: 0), updates: [MemberUpdate(Self.member("b", incarnation: 2, status: .left))]), from: "c:7946", now: Self.at(10))
        let reborn = Member(id: "b", gossipAddress: "b:9000", rpcAddress: "b:9001", role: .scheduler, incarnation: 3, status: .alive)
        // Its first packet arrives before its announcement: alive at 3, addresses unknown yet.
        _ = machine.received(SWIMMessage(from: "b", incarnation: 3, kind: .ping(sequence: 1)), from: "b:9000", now: Self.at(20))
        #expect(machine.members.first { $0.id == "b" }?.incarnation == 3)
        // Its announcement (same incarnation) replaces the old addresses.
        let changes = Self.changes(machine.received(
            SWIMMessage(from: "b", incarnation: 3, kind: .ping(sequence: 2), updates: [MemberUpdate(reborn)]), from: "b:9000", now: Self.at(30)))
        let b = machine.members.first { $0.id == "b" }
        #expect(b?.gossipAddress == "b:9000" && b?.rpcAddress == "b:9001" && b?.status == .alive, "\(String(describing: b))")
        #expect(changes.contains { $0.member.id == "b" && $0.member.rpcAddress == "b:9001" })
        // Later news at the same incarnation with the old addresses (someone's stale table) changes nothing.
        _ = machine.received(SWIMMessage(from: "c", kind: .ack(sequence: 0), updates: [MemberUpdate(Self.member("b", incarnation: 3))]), from: "c:7946", now: Self.at(40))
        #expect(machine.members.first { $0.id == "b" }?.rpcAddress == "b:9001")
    }

    @Test("a node that hears of itself alive at its own incarnation but at other addresses (its previous life) announces its own at a higher one")
    func newsOfPreviousLife_refuted() {
        var machine = Self.machine(knowing: ["b"])
        let previous = Member(id: "a", gossipAddress: "old:7946", rpcAddress: "old:7400", role: .scheduler, incarnation: 0, status: .alive)
        _ = machine.received(SWIMMessage(from: "b", kind: .ack(sequence: 0), updates: [MemberUpdate(previous)]), from: "b:7946", now: Self.at(10))
        let outgoing = Self.sends(Self.run(&machine, until: Self.at(400)))
        let announced = outgoing.flatMap { $0.0.updates }.filter { $0.member.id == "a" }
        #expect(announced.contains { $0.member.incarnation == 1 && $0.member.gossipAddress == "a:7946" }, "\(announced)")
    }
}
