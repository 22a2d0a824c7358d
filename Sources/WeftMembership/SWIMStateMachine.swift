import WeftCore

/// One SWIM packet's content (ARCHITECTURE §2): a probe message plus piggy-backed gossip. The shell
/// encodes it (`Protos/weft/gossip/v1`) with the cluster name and auth, and drops foreign packets
/// before they get here.
public struct SWIMMessage: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Are you there? Answered with `ack` of the same sequence number.
        case ping(sequence: UInt64)
        /// Probe `target` for me (it did not answer my ping): forward its `ack` to me, or send me a
        /// `nack` when it does not answer in time (Lifeguard: a missing nack hints that *I* am slow).
        case pingRequest(sequence: UInt64, target: String, targetAddress: String)
        case ack(sequence: UInt64)
        case nack(sequence: UInt64)
        /// The sender's whole member table (anti-entropy, and how a node joins through a seed);
        /// answered with the receiver's own when `wantsReply`.
        case sync(members: [MemberUpdate], wantsReply: Bool)
    }

    /// The sender's node id.
    public var from: String
    /// The sender's incarnation: a packet is proof of life at it (news that a member was suspected
    /// or declared dead at a lower one is outdated).
    public var incarnation: UInt64
    public var kind: Kind
    /// Piggy-backed gossip.
    public var updates: [MemberUpdate]

    public init(from: String, incarnation: UInt64 = 0, kind: Kind, updates: [MemberUpdate] = []) {
        self.from = from
        self.incarnation = incarnation
        self.kind = kind
        self.updates = updates
    }

    public var description: String {
        let gossip = updates.isEmpty ? "" : " +\(updates.count)"
        switch kind {
        case .ping(let sequence): return "ping(\(sequence)) from \(from)\(gossip)"
        case .pingRequest(let sequence, let target, _): return "ping-req(\(sequence), \(target)) from \(from)\(gossip)"
        case .ack(let sequence): return "ack(\(sequence)) from \(from)\(gossip)"
        case .nack(let sequence): return "nack(\(sequence)) from \(from)\(gossip)"
        case .sync(let members, let wantsReply): return "sync(\(members.count)\(wantsReply ? ", reply" : "")) from \(from)"
        }
    }
}

/// SWIM membership with the Lifeguard extensions, as a pure value (STYLE §2): events in (`start`,
/// `received`, `tick`, `leave`), actions out (packets to send, member changes to apply). Time comes
/// with every event and randomness from a seeded generator, so a whole cluster of these machines
/// runs deterministically in a simulation.
///
/// ## The protocol
///
/// Every protocol period one active member is probed, in a shuffled round-robin order: `ping`;
/// without an `ack` within the probe timeout, `ping-req` through `indirectProbes` other members; if
/// no `ack` (direct or forwarded) has come by the end of the period, the member becomes `suspect`.
/// A suspicion ends in `dead` after the Lifeguard timeout, which starts long and shrinks as other
/// members independently suspect the same incarnation; it ends earlier if the member refutes it by
/// gossiping `alive` with a higher incarnation (only a member raises its own incarnation). Every
/// change is piggy-backed on the next packets, each update a bounded number of times. Members
/// exchange whole tables (`sync`) periodically; a node with no members syncs with its seeds (how it
/// joins), and every other sync round goes to a dead member instead (how a healed network
/// partition merges back). `leave` tells the cluster at once.
///
/// ## Lifeguard's local health
///
/// `localHealth` (0…`maxLocalHealth`) rises when this node's probes fail without the expected
/// nacks (a hint that this node, not the probed one, is slow) and when it must refute a suspicion
/// of itself; it falls with every successful probe. Probe period and timeout are stretched by
/// `1 + localHealth`, so an overloaded node stops accusing healthy ones.
///
/// ## Transitions of a member (as this node sees it)
///
///     (unknown) ─alive/suspect─▶ alive ⇄ suspect ─timeout─▶ dead
///                                  └──────────┴───left────▶ left
///     dead, left ─alive with a higher incarnation─▶ alive   (a restart, or a refuted verdict)
///
/// ## Invariants
///
/// - Incarnations never decrease, for any member (news with a lower one is ignored).
/// - The member table holds at most `maxMembers` members; relayed probes at most `maxRelays`.
/// - After `leave`, the machine sends nothing more and ignores what it receives.
public struct SWIMStateMachine: Sendable {
    public enum Action: Sendable, Hashable, CustomStringConvertible {
        case send(SWIMMessage, to: String)
        /// A member's status (or address) changed; the ring and the shell's view follow.
        case changed(MemberChange)

        public var description: String {
            switch self {
            case .send(let message, let address): "send \(message) to \(address)"
            case .changed(let change): "changed \(change)"
            }
        }
    }

    public enum Phase: Sendable, Hashable {
        case idle, running, left
    }

    private struct Suspicion: Sendable {
        var incarnation: UInt64
        var started: MembershipInstant
        /// Nodes that suspected this incarnation, besides the first.
        var confirmations: Set<String>
        var firstSuspecter: String
        var deadline: MembershipInstant
    }

    private struct Probe: Sendable {
        var target: String
        var sequence: UInt64
        /// When to ask others (ping-req); nil once asked, or once acked.
        var directDeadline: MembershipInstant?
        var acked = false
        var expectedNacks = 0
        var nacks = 0
    }

    private struct Relay: Sendable {
        var originAddress: String
        var originSequence: UInt64
        var deadline: MembershipInstant
    }

    public let settings: MembershipSettings
    public private(set) var myself: Member
    public private(set) var phase: Phase = .idle
    public private(set) var localHealth = 0

    private var others: [String: Member] = [:]
    /// When a dead or left member is forgotten.
    private var tombstones: [String: MembershipInstant] = [:]
    private var suspicions: [String: Suspicion] = [:]
    /// Members whose latest incarnation was inferred from a packet header (proof of life), not
    /// announced by the member itself: their addresses may be those of a previous life.
    private var provisional: Set<String> = []
    private var dissemination = Dissemination()
    private var probe: Probe?
    private var probeOrder: [String] = []
    private var probeIndex = 0
    private var relays: [UInt64: Relay] = [:]
    private var nextSequence: UInt64 = 0
    private var nextPeriod: MembershipInstant?
    private var nextSync: MembershipInstant?
    private var syncRound = 0
    private var random: SplitMix64
    private let seeds: [String]

    /// - Parameters:
    ///   - myself: this node as it announces itself (its incarnation: 0, or higher after a restart
    ///     if the shell kept it; a node told it is dead refutes with a higher one anyway).
    ///   - seeds: gossip addresses to join through (its own address is skipped).
    ///   - seed: of the random generator (probe order, ping-req helpers, sync partners).
    public init(myself: Member, seeds: [String], settings: MembershipSettings, seed: UInt64) {
        var me = myself
        me.status = .alive
        self.myself = me
        self.seeds = seeds.filter { $0 != myself.gossipAddress }
        self.settings = settings
        self.random = SplitMix64(seed: seed)
    }

    // MARK: Reading

    /// Every member this node knows, itself included, dead and left ones too, by id.
    public var members: [Member] { ([myself] + others.values).sorted { $0.id < $1.id } }

    /// The alive and suspect members, itself included, by id.
    public var activeMembers: [Member] { members.filter(\.status.isActive) }

    public func member(_ id: String) -> Member? { id == myself.id ? myself : others[id] }

    /// When `tick` must be called next (nil: nothing is due, e.g. before `start` or after `leave`).
    public var nextDeadline: MembershipInstant? {
        guard phase == .running else { return nil }
        var soonest = [nextPeriod, nextSync, probe?.directDeadline].compactMap { $0 }.min()
        for suspicion in suspicions.values where soonest.map({ suspicion.deadline < $0 }) ?? true {
            soonest = suspicion.deadline
        }
        for relay in relays.values where soonest.map({ relay.deadline < $0 }) ?? true {
            soonest = relay.deadline
        }
        return soonest
    }

    // MARK: Events

    /// Joins: syncs with every seed and starts probing.
    public mutating func start(now: MembershipInstant) -> [Action] {
        guard phase == .idle else { return [] }
        phase = .running
        dissemination.add(MemberUpdate(myself))
        nextPeriod = now + settings.probeInterval
        nextSync = now + settings.syncInterval
        return seeds.map { .send(syncMessage(wantsReply: true), to: $0) }
    }

    /// Says goodbye: every active member is told at once (not only by gossip, which needs periods);
    /// then nothing more is sent.
    public mutating func leave(now: MembershipInstant) -> [Action] {
        guard phase == .running else {
            phase = .left
            return []
        }
        myself.status = .left
        let goodbye = SWIMMessage(from: myself.id, incarnation: myself.incarnation, kind: .sync(members: [MemberUpdate(myself)], wantsReply: false))
        let actions = others.values.filter(\.status.isActive).sorted { $0.id < $1.id }.map { Action.send(goodbye, to: $0.gossipAddress) }
        phase = .left
        probe = nil
        relays = [:]
        suspicions = [:]
        return actions
    }

    /// A packet from `address` (its UDP source, where replies go).
    public mutating func received(_ message: SWIMMessage, from address: String, now: MembershipInstant) -> [Action] {
        guard phase == .running, message.from != myself.id else { return [] }
        var actions: [Action] = []
        if var sender = others[message.from], message.incarnation > sender.incarnation {
            sender.incarnation = message.incarnation
            sender.status = .alive
            apply(MemberUpdate(sender), now: now, into: &actions)
            // A header carries no addresses: a member that restarted elsewhere is recorded at its
            // new incarnation with its old addresses until its own update (same incarnation) comes.
            provisional.insert(sender.id)
        }
        for update in message.updates.prefix(settings.maxUpdatesPerPacket * 4) {
            apply(update, now: now, into: &actions)
        }
        switch message.kind {
        case .ping(let sequence):
            actions.append(.send(outgoing(.ack(sequence: sequence)), to: address))
        case .pingRequest(let sequence, let target, let targetAddress):
            if target == myself.id {
                actions.append(.send(outgoing(.ack(sequence: sequence)), to: address))
            } else if relays.count < settings.maxRelays {
                nextSequence += 1
                relays[nextSequence] = Relay(originAddress: address, originSequence: sequence, deadline: now + scaled(settings.probeTimeout))
                actions.append(.send(outgoing(.ping(sequence: nextSequence)), to: targetAddress))
            }
        case .ack(let sequence):
            if probe?.sequence == sequence {
                if probe?.acked == false {
                    probe?.acked = true
                    probe?.directDeadline = nil
                    localHealth = max(0, localHealth - 1)
                }
            } else if let relay = relays.removeValue(forKey: sequence) {
                actions.append(.send(outgoing(.ack(sequence: relay.originSequence)), to: relay.originAddress))
            }
        case .nack(let sequence):
            if probe?.sequence == sequence { probe?.nacks += 1 }
        case .sync(let members, let wantsReply):
            for update in members.prefix(settings.maxMembers) {
                apply(update, now: now, into: &actions)
            }
            if wantsReply { actions.append(.send(syncMessage(wantsReply: false), to: address)) }
        }
        return actions
    }

    /// Does whatever is due at `now`: ends the probe period (suspecting an unanswered member) and
    /// starts the next, sends ping-reqs, nacks relays that timed out, declares dead the suspects
    /// whose time ran out, syncs.
    public mutating func tick(now: MembershipInstant) -> [Action] {
        guard phase == .running else { return [] }
        var actions: [Action] = []
        for (sequence, relay) in relays where relay.deadline <= now {
            relays[sequence] = nil
            actions.append(.send(outgoing(.nack(sequence: relay.originSequence)), to: relay.originAddress))
        }
        for (id, suspicion) in suspicions where suspicion.deadline <= now {
            suspicions[id] = nil
            guard var member = others[id], member.status == .suspect, member.incarnation == suspicion.incarnation else { continue }
            member.status = .dead
            set(member, now: now, into: &actions)
            dissemination.add(MemberUpdate(member))
        }
        if let deadline = probe?.directDeadline, deadline <= now {
            askOthers(now: now, into: &actions)
        }
        if let period = nextPeriod, period <= now {
            concludeProbe(now: now, into: &actions)
            startProbe(now: now, into: &actions)
            nextPeriod = now + scaled(settings.probeInterval)
        }
        if let sync = nextSync, sync <= now {
            startSyncRound(now: now, into: &actions)
            nextSync = now + settings.syncInterval
        }
        return actions
    }

    // MARK: Probing

    private func scaled(_ duration: Duration) -> Duration { duration * (localHealth + 1) }

    private mutating func startProbe(now: MembershipInstant, into actions: inout [Action]) {
        guard let target = nextProbeTarget() else {
            // Nobody known yet: the join did not get through (a lost datagram, a seed not up yet).
            // Ask the seeds again every period rather than at the next sync round.
            let targets = seeds.filter { $0 != myself.gossipAddress }
            actions.append(contentsOf: targets.map { .send(syncMessage(wantsReply: true), to: $0) })
            return
        }
        nextSequence += 1
        probe = Probe(target: target.id, sequence: nextSequence, directDeadline: now + scaled(settings.probeTimeout))
        var ping = outgoing(.ping(sequence: nextSequence))
        if target.status == .suspect, !ping.updates.contains(where: { $0.member.id == target.id }) {
            // Lifeguard's buddy system: a suspect hears of its suspicion from whoever probes it, so
            // it can refute in time even when gossip has not reached it.
            ping.updates.append(MemberUpdate(target, suspectedBy: suspicions[target.id]?.firstSuspecter))
        }
        actions.append(.send(ping, to: target.gossipAddress))
    }

    /// The next active member in a shuffled round-robin (SWIM's bound on time to first detection).
    private mutating func nextProbeTarget() -> Member? {
        for _ in 0..<2 {
            while probeIndex < probeOrder.count {
                let id = probeOrder[probeIndex]
                probeIndex += 1
                if let member = others[id], member.status.isActive { return member }
            }
            probeOrder = others.values.filter(\.status.isActive).map(\.id).sorted()
            probeOrder.shuffle(using: &random)
            probeIndex = 0
        }
        return nil
    }

    private mutating func askOthers(now: MembershipInstant, into actions: inout [Action]) {
        guard var current = probe, let target = others[current.target] else { return }
        current.directDeadline = nil
        var helpers = others.values.filter { $0.status.isActive && $0.id != target.id }.sorted { $0.id < $1.id }
        helpers.shuffle(using: &random)
        for helper in helpers.prefix(settings.indirectProbes) {
            let request = SWIMMessage.Kind.pingRequest(sequence: current.sequence, target: target.id, targetAddress: target.gossipAddress)
            actions.append(.send(outgoing(request), to: helper.gossipAddress))
            current.expectedNacks += 1
        }
        probe = current
    }

    /// The end of a protocol period: an unanswered member becomes suspect.
    private mutating func concludeProbe(now: MembershipInstant, into actions: inout [Action]) {
        guard let finished = probe else { return }
        probe = nil
        guard !finished.acked else { return }
        // Lifeguard: nacks that did not come mean the helpers could not reach *us* in time either.
        let missingNacks = finished.expectedNacks - finished.nacks
        localHealth = min(settings.maxLocalHealth, localHealth + (finished.expectedNacks > 0 ? max(0, missingNacks) : 1))
        // A member already suspect (someone else suspected it first) gets this node's own
        // suspicion too: Lifeguard counts it as an independent confirmation, which shortens the
        // timeout here and, gossiped, everywhere (without it a suspicion of a dead member in a
        // cluster of three ran its longest course, 24 s with `.lan`).
        guard let target = others[finished.target], target.status.isActive else { return }
        var suspect = target
        suspect.status = .suspect
        apply(MemberUpdate(suspect, suspectedBy: myself.id), now: now, into: &actions)
    }

    private mutating func startSyncRound(now: MembershipInstant, into actions: inout [Action]) {
        syncRound += 1
        for (id, until) in tombstones where until <= now {
            tombstones[id] = nil
            others[id] = nil
            provisional.remove(id)
        }
        let active = others.values.filter(\.status.isActive).sorted { $0.id < $1.id }
        let dead = others.values.filter { $0.status == .dead }.sorted { $0.id < $1.id }
        if active.isEmpty {
            let targets = Set(seeds).union(dead.map(\.gossipAddress)).sorted()
            actions.append(contentsOf: targets.map { .send(syncMessage(wantsReply: true), to: $0) })
        } else if syncRound % 2 == 0, let partner = dead.randomElement(using: &random) {
            actions.append(.send(syncMessage(wantsReply: true), to: partner.gossipAddress))
        } else if let partner = active.randomElement(using: &random) {
            actions.append(.send(syncMessage(wantsReply: true), to: partner.gossipAddress))
        }
    }

    // MARK: Gossip

    private mutating func outgoing(_ kind: SWIMMessage.Kind) -> SWIMMessage {
        let limit = settings.retransmitLimit(members: others.count + 1)
        return SWIMMessage(
            from: myself.id, incarnation: myself.incarnation, kind: kind,
            updates: dissemination.take(max: settings.maxUpdatesPerPacket, limit: limit))
    }

    private func syncMessage(wantsReply: Bool) -> SWIMMessage {
        let table = [MemberUpdate(myself)] + others.values.sorted { $0.id < $1.id }.map { member in
            MemberUpdate(member, suspectedBy: member.status == .suspect ? suspicions[member.id]?.firstSuspecter : nil)
        }
        return SWIMMessage(from: myself.id, incarnation: myself.incarnation, kind: .sync(members: table, wantsReply: wantsReply))
    }

    /// Applies one piece of news about a member (SWIM's ordering, `Member.supersedes`).
    private mutating func apply(_ update: MemberUpdate, now: MembershipInstant, into actions: inout [Action]) {
        let news = update.member
        if news.id == myself.id {
            refuteIfNeeded(news)
            return
        }
        guard let known = others[news.id] else {
            guard others.count < settings.maxMembers, news.status != .left else { return }
            if news.status == .suspect { startSuspicion(news, by: update.suspectedBy, now: now) }
            set(news, now: now, into: &actions)
            dissemination.add(update)
            return
        }
        if news.status == .suspect && known.status == .suspect && news.incarnation == known.incarnation {
            confirmSuspicion(news.id, by: update.suspectedBy, now: now)
            return
        }
        // Its own announcement replaces what a packet header let us infer at the same incarnation.
        let corrects = provisional.contains(news.id) && news.incarnation == known.incarnation && news.status == known.status
            && (news.gossipAddress != known.gossipAddress || news.rpcAddress != known.rpcAddress || news.role != known.role)
        guard news.supersedes(known) || corrects else { return }
        provisional.remove(news.id)
        if news.status == .suspect {
            startSuspicion(news, by: update.suspectedBy, now: now)
        } else {
            suspicions[news.id] = nil
        }
        set(news, now: now, into: &actions)
        dissemination.add(update)
    }

    /// Stores `member`, reporting a change of status or address.
    private mutating func set(_ member: Member, now: MembershipInstant, into actions: inout [Action]) {
        let previous = others[member.id]
        others[member.id] = member
        if member.status.isActive {
            tombstones[member.id] = nil
        } else if previous?.status != member.status {
            tombstones[member.id] = now + settings.tombstoneRetention
        }
        let moved = previous.map { $0.rpcAddress != member.rpcAddress || $0.gossipAddress != member.gossipAddress || $0.role != member.role } ?? false
        if previous?.status != member.status || moved {
            if previous != nil || member.status.isActive {
                actions.append(.changed(MemberChange(member: member, previous: previous?.status)))
            }
        }
    }

    private mutating func startSuspicion(_ member: Member, by suspecter: String?, now: MembershipInstant) {
        let first = suspecter ?? ""
        let timeout = settings.suspicionTimeout(members: activeCount, confirmations: 0, expected: expectedConfirmations)
        suspicions[member.id] = Suspicion(
            incarnation: member.incarnation, started: now, confirmations: [], firstSuspecter: first, deadline: now + timeout)
    }

    /// Lifeguard: another node suspects the same incarnation independently — the timeout shrinks.
    private mutating func confirmSuspicion(_ id: String, by suspecter: String?, now: MembershipInstant) {
        guard let suspecter, var suspicion = suspicions[id], suspecter != suspicion.firstSuspecter,
              suspicion.confirmations.count < settings.indirectProbes,
              suspicion.confirmations.insert(suspecter).inserted
        else { return }
        let timeout = settings.suspicionTimeout(
            members: activeCount, confirmations: suspicion.confirmations.count, expected: expectedConfirmations)
        suspicion.deadline = suspicion.started + timeout
        suspicions[id] = suspicion
        if var member = others[id] {
            member.status = .suspect
            dissemination.add(MemberUpdate(member, suspectedBy: suspecter))
        }
    }

    /// News about this node: a suspicion or a death verdict (or an old life's `alive`) is answered
    /// with `alive` at a higher incarnation.
    private mutating func refuteIfNeeded(_ news: Member) {
        guard phase == .running else { return }
        // Alive at this incarnation but at other addresses: news of a previous life of this node
        // (a restart on new ports) — announce the new ones at a higher incarnation.
        let elsewhere = news.gossipAddress != myself.gossipAddress || news.rpcAddress != myself.rpcAddress
        let refute: Bool = switch news.status {
        case .alive: news.incarnation > myself.incarnation || (news.incarnation == myself.incarnation && elsewhere)
        case .suspect, .dead, .left: news.incarnation >= myself.incarnation
        }
        guard refute else { return }
        myself.incarnation = news.incarnation + 1
        if news.status != .alive { localHealth = min(settings.maxLocalHealth, localHealth + 1) }
        dissemination.add(MemberUpdate(myself))
    }

    private var activeCount: Int { 1 + others.values.count(where: { $0.status.isActive }) }

    /// Independent suspicions to expect: no more than the other members that could send them.
    private var expectedConfirmations: Int { max(0, min(settings.indirectProbes, activeCount - 2)) }
}
