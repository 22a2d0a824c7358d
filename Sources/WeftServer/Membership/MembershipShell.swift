import Foundation
import Logging
import Metrics
import WeftCore
import WeftMembership
import WeftTransport
import WeftWire

/// The I/O shell around `SWIMStateMachine` (STYLE §2): UDP on the event loop, the machine's
/// deadlines as one loop timer, packets checked (version, cluster, token, bounds) before the
/// machine sees them, and the resulting member view published for the ring and the admin calls.
/// It decides nothing itself.
///
/// Loop-confined: every entry point hops to `loop`; readers (`members`, `ring`) take a lock.
///
/// Metrics: `weft_gossip_packets_total{direction=sent|received}`,
/// `weft_gossip_packets_dropped_total{reason}` and `weft_members{status}`.
public final class MembershipShell: @unchecked Sendable {
    // @unchecked Sendable: the machine, socket, timer and caches are touched on `loop` only; the
    // published view is behind `view`'s lock.

    public struct Configuration: Sendable {
        public var cluster: String
        public var authToken: [UInt8]
        public var nodeID: String
        public var role: NodeRole
        /// Where to bind the gossip socket (port 0: any free port).
        public var bind: Endpoint
        /// The host others use to reach this node's gossip (the `--advertise` host), with the bound
        /// gossip port; nil: the bound address (127.0.0.1 when bound to every interface).
        public var advertiseHost: String?
        /// This node's RPC address as others should dial it.
        public var rpcAddress: String
        /// Seeds as `HOST:PORT`, names allowed (a headless Service resolves to every scheduler).
        public var seeds: [String]
        public var settings: MembershipSettings
        public var virtualNodes: Int
        /// A fault hook for tests (hidden flag `--debug-gossip-cut-file`): gossip to and from the
        /// addresses listed in this file (one `HOST:PORT` a line, read every 200 ms) is dropped,
        /// as a network partition would.
        public var cutFile: String?

        public init(
            cluster: String, authToken: [UInt8], nodeID: String, role: NodeRole, bind: Endpoint, advertiseHost: String? = nil,
            rpcAddress: String, seeds: [String], settings: MembershipSettings = .lan, cutFile: String? = nil,
            virtualNodes: Int = HashRing.defaultVirtualNodes
        ) {
            self.cluster = cluster
            self.authToken = authToken
            self.nodeID = nodeID
            self.role = role
            self.bind = bind
            self.advertiseHost = advertiseHost
            self.rpcAddress = rpcAddress
            self.seeds = seeds
            self.settings = settings
            self.cutFile = cutFile
            self.virtualNodes = virtualNodes
        }
    }

    /// Why a received packet was dropped before the state machine saw it.
    public enum DropReason: String, Sendable, CaseIterable {
        case malformed, foreignCluster = "foreign_cluster", badMAC = "bad_mac", stale, unknownVersion = "unknown_version"
    }

    /// What the shell publishes after every change.
    public struct View: Sendable {
        public var members: [Member] = []
        public var ring = HashRing(nodes: [])
        public var packetsSent = 0
        public var packetsReceived = 0
        public var dropped: [DropReason: Int] = [:]

        /// The RPC address of the scheduler the ring names for `partition`, if any.
        public func ownerAddress(of partition: PartitionID) -> String? {
            guard let owner = ring.owner(of: partition) else { return nil }
            return members.first { $0.id == owner }?.rpcAddress
        }
    }

    public let configuration: Configuration
    public let loop: EventLoop
    private let logger: Logger
    private let view = Locked(View())
    private let seal: GossipSeal
    private let wallClock: any WallClock
    private let origin = ContinuousClock.now
    private var cut: Set<String> = []
    private var cutReadAt: ContinuousClock.Instant?

    // Loop-confined.
    private var machine: SWIMStateMachine?
    private var socket: UDPSocket?
    private var timer: (id: UInt64, at: MembershipInstant)?
    private var resolved: [String: (address: SocketAddress, until: ContinuousClock.Instant)] = [:]
    private var observers: [@Sendable (View) -> Void] = []

    private let sentCounter = Counter(label: "weft_gossip_packets_total", dimensions: [("direction", "sent")])
    private let receivedCounter = Counter(label: "weft_gossip_packets_total", dimensions: [("direction", "received")])
    private let droppedCounters: [DropReason: Counter] = Dictionary(uniqueKeysWithValues: DropReason.allCases.map {
        ($0, Counter(label: "weft_gossip_packets_dropped_total", dimensions: [("reason", $0.rawValue)]))
    })
    private let memberGauges: [MemberStatus: Gauge] = Dictionary(uniqueKeysWithValues: MemberStatus.allCases.map {
        ($0, Gauge(label: "weft_members", dimensions: [("status", $0.description)]))
    })

    public init(configuration: Configuration, loop: EventLoop = .shared, wallClock: any WallClock = SystemWallClock(), logger: Logger) {
        self.configuration = configuration
        self.loop = loop
        self.logger = logger
        self.wallClock = wallClock
        seal = GossipSeal(authToken: configuration.authToken)
    }

    // MARK: Reading (any thread)

    public var current: View { view.withLock { $0 } }
    public var members: [Member] { current.members }
    public var ring: HashRing { current.ring }

    /// Where gossip is bound (after `start`).
    public var gossipAddress: String? { current.members.first { $0.id == configuration.nodeID }?.gossipAddress }

    // MARK: Lifecycle

    /// Binds, joins through the seeds and starts probing. `seed` seeds the machine's generator.
    public func start(seed: UInt64 = UInt64.random(in: .min ... .max)) async throws {
        let bind = try await SocketAddress.resolve(configuration.bind)
        try await onLoop { () throws -> Void in
            let socket = try UDPSocket(bindingTo: bind[0], on: self.loop) { [unowned self] bytes, from in
                self.receivedDatagram(bytes, from: from)
            }
            self.socket = socket
            let bound = socket.localAddress.endpoint
            let host = self.configuration.advertiseHost ?? (bound.host == "0.0.0.0" || bound.host == "::" ? "127.0.0.1" : bound.host)
            let advertised = Endpoint(host: host, port: bound.port).description
            let myself = Member(
                id: self.configuration.nodeID, gossipAddress: advertised, rpcAddress: self.configuration.rpcAddress,
                role: self.configuration.role)
            self.machine = SWIMStateMachine(myself: myself, seeds: self.configuration.seeds, settings: self.configuration.settings, seed: seed)
            self.carryOut { machine, now in machine.start(now: now) }
            self.logger.info("gossip listening", metadata: ["address": "\(socket.localAddress)", "advertised": "\(advertised)", "seeds": "\(self.configuration.seeds)"])
        }
    }

    /// Tells the cluster this node leaves, then closes the socket.
    public func leave() async {
        try? await onLoop { () throws -> Void in
            self.carryOut { machine, now in machine.leave(now: now) }
            if let timer = self.timer { self.loop.cancelTimer(timer.id) }
            self.timer = nil
            self.socket?.close()
        }
    }

    /// Stops without a goodbye (what a crash looks like to the others); for tests.
    public func stopSilently() async {
        try? await onLoop { () throws -> Void in
            if let timer = self.timer { self.loop.cancelTimer(timer.id) }
            self.timer = nil
            self.machine = nil
            self.socket?.close()
        }
    }

    /// Calls `observer` on the loop after every change of the view (and once now).
    public func observe(_ observer: @escaping @Sendable (View) -> Void) {
        loop.execute {
            self.observers.append(observer)
            observer(self.current)
        }
    }

    // MARK: The shell

    private func now() -> MembershipInstant {
        let elapsed = ContinuousClock.now - origin
        return MembershipInstant(nanoseconds: elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    private func onLoop<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            loop.execute { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Runs one event on the machine and carries out what it returns: sends, view changes, and the
    /// timer for its next deadline.
    private func carryOut(_ event: (inout SWIMStateMachine, MembershipInstant) -> [SWIMStateMachine.Action]) {
        guard var machine else { return }
        let actions = event(&machine, now())
        self.machine = machine
        var changed = false
        for action in actions {
            switch action {
            case .send(let message, let address):
                send(message, to: address)
            case .changed(let change):
                changed = true
                logger.info("member \(change)", metadata: ["rpc": "\(change.member.rpcAddress)"])
            }
        }
        publish(machine, changed: changed)
        armTimer(machine)
    }

    private func publish(_ machine: SWIMStateMachine, changed: Bool) {
        let members = machine.members
        let published = view.withLock { view -> View? in
            let membersChanged = changed || view.members != members
            view.members = members
            if membersChanged {
                view.ring = HashRing(nodes: members.activeSchedulers.map(\.id), virtualNodes: configuration.virtualNodes)
            }
            return membersChanged ? view : nil
        }
        guard let published else { return }
        for status in MemberStatus.allCases {
            memberGauges[status]?.record(members.count { $0.status == status })
        }
        for observer in observers { observer(published) }
    }

    private func armTimer(_ machine: SWIMStateMachine) {
        guard let due = machine.nextDeadline else {
            if let timer { loop.cancelTimer(timer.id) }
            timer = nil
            return
        }
        if let timer, timer.at == due { return }
        if let timer { loop.cancelTimer(timer.id) }
        let delay = max(Duration.zero, due - now())
        let id = loop.scheduleTimer(after: delay) { [weak self] in
            guard let self else { return }
            self.timer = nil
            self.carryOut { machine, now in machine.tick(now: now) }
        }
        timer = (id, due)
    }

    /// Whether the fault hook cuts `address` off (tests only).
    private func isCut(_ address: String) -> Bool {
        guard let path = configuration.cutFile else { return false }
        let now = ContinuousClock.now
        if cutReadAt.map({ now - $0 > .milliseconds(200) }) ?? true {
            cutReadAt = now
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            cut = Set(text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
        return cut.contains(address)
    }

    private func receivedDatagram(_ bytes: UnsafeRawBufferPointer, from: SocketAddress) {
        if isCut(from.endpoint.description) { return }
        let packet: GossipPacket
        do {
            guard let body = GossipSeal.packetBytes(of: bytes) else { throw WireError(.invalidField, "shorter than its MAC") }
            packet = try GossipPacket(serializedBytes: body)
        } catch {
            drop(.malformed, from: from, "\(error)")
            return
        }
        guard packet.protocolVersion == GossipPacket.protocolVersion else {
            drop(.unknownVersion, from: from, "protocol version \(packet.protocolVersion)")
            return
        }
        guard packet.cluster == configuration.cluster else {
            drop(.foreignCluster, from: from, "cluster \(MessageText.quoted(packet.cluster))")
            return
        }
        guard seal.isAuthentic(bytes) else {
            drop(.badMAC, from: from, "the MAC does not match this cluster's auth token")
            return
        }
        let now = UInt64(max(0, wallClock.nowMilliseconds()))
        guard max(now, packet.sentAtMilliseconds) - min(now, packet.sentAtMilliseconds) <= GossipSeal.maxAge else {
            drop(.stale, from: from, "sent \(Int64(bitPattern: now &- packet.sentAtMilliseconds)) ms before this node's clock (replayed, or clocks more than \(GossipSeal.maxAge / 1000) s apart)")
            return
        }
        view.withLock { $0.packetsReceived += 1 }
        receivedCounter.increment()
        let message = SWIMMessage(packet)
        carryOut { machine, now in machine.received(message, from: from.endpoint.description, now: now) }
    }

    private var lastDropLog: ContinuousClock.Instant?

    private func drop(_ reason: DropReason, from: SocketAddress, _ detail: String) {
        view.withLock { $0.dropped[reason, default: 0] += 1 }
        droppedCounters[reason]?.increment()
        // One line per 10 s at most: a flood of foreign packets must not flood the log.
        let now = ContinuousClock.now
        if lastDropLog.map({ now - $0 > .seconds(10) }) ?? true {
            lastDropLog = now
            logger.warning("dropped a gossip packet", metadata: ["from": "\(from)", "reason": "\(reason.rawValue)", "detail": "\(detail)"])
        }
    }

    private func send(_ message: SWIMMessage, to address: String) {
        if isCut(address) { return }
        let sentAt = UInt64(max(0, wallClock.nowMilliseconds()))
        let packets = GossipPacket.packets(message, cluster: configuration.cluster, sentAtMilliseconds: sentAt).map(seal.seal)
        withAddress(address) { [weak self] target in
            guard let self, let socket = self.socket else { return }
            for packet in packets where socket.send(packet, to: target) {
                self.view.withLock { $0.packetsSent += 1 }
                self.sentCounter.increment()
            }
        }
    }

    /// Calls `body` on the loop with `address` resolved (numeric at once; names through
    /// `getaddrinfo` off the loop, cached for 30 s).
    private func withAddress(_ address: String, _ body: @escaping (SocketAddress) -> Void) {
        if let cached = resolved[address], cached.until > .now {
            body(cached.address)
            return
        }
        guard let endpoint = try? Endpoint(parsing: address) else {
            logger.debug("not a gossip address", metadata: ["address": "\(address)"])
            return
        }
        if let numeric = SocketAddress(numericHost: endpoint.host, port: endpoint.port) {
            body(numeric)
            return
        }
        let loop = self.loop
        let deliver = UncheckedBox(body)
        SocketAddress.resolve(endpoint) { result in
            loop.execute {
                switch result {
                case .success(let addresses):
                    self.resolved[address] = (addresses[0], .now + .seconds(30))
                    deliver.value(addresses[0])
                case .failure(let error):
                    self.logger.debug("cannot resolve a gossip address", metadata: ["address": "\(address)", "error": "\(error)"])
                }
            }
        }
    }
}

/// Carries a loop-confined closure through a `@Sendable` hop that ends on the same loop.
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

// MARK: Machine ↔ wire

extension SWIMMessage {
    init(_ packet: GossipPacket) {
        let kind: Kind = switch packet.kind {
        case .ping(let sequence): .ping(sequence: sequence)
        case .pingRequest(let sequence, let target, let address): .pingRequest(sequence: sequence, target: target, targetAddress: address)
        case .ack(let sequence): .ack(sequence: sequence)
        case .nack(let sequence): .nack(sequence: sequence)
        case .sync(let members, let wantsReply): .sync(members: members.map(MemberUpdate.init), wantsReply: wantsReply)
        }
        self.init(from: packet.from, incarnation: packet.incarnation, kind: kind, updates: packet.updates.map(MemberUpdate.init))
    }
}

extension MemberUpdate {
    init(_ wire: GossipMember) {
        // Both enums number the statuses as the schema does (alive 0 … left 3).
        let status = MemberStatus(rawValue: UInt8(wire.status.rawValue))!
        self.init(
            Member(id: wire.id, gossipAddress: wire.gossipAddress, rpcAddress: wire.rpcAddress, role: wire.role, incarnation: wire.incarnation, status: status),
            suspectedBy: wire.suspectedBy.isEmpty ? nil : wire.suspectedBy)
    }

    var wire: GossipMember {
        let status = GossipMember.Status(rawValue: UInt32(member.status.rawValue))!
        return GossipMember(
            id: member.id, gossipAddress: member.gossipAddress, rpcAddress: member.rpcAddress, role: member.role,
            incarnation: member.incarnation, status: status, suspectedBy: suspectedBy ?? "")
    }
}

extension GossipPacket {
    /// `message` as datagrams: one, or a sync split over several so that each fits in a UDP
    /// payload (only the first asks for a reply).
    /// (Each is sealed with its MAC before it is sent: `GossipSeal`.)
    static func packets(_ message: SWIMMessage, cluster: String, sentAtMilliseconds: UInt64) -> [[UInt8]] {
        func packet(_ kind: Kind, updates: [MemberUpdate]) -> GossipPacket {
            GossipPacket(cluster: cluster, sentAtMilliseconds: sentAtMilliseconds, from: message.from, incarnation: message.incarnation, kind: kind, updates: updates.map(\.wire))
        }
        switch message.kind {
        case .ping(let sequence): return [packet(.ping(sequence: sequence), updates: message.updates).serializedBytes()]
        case .pingRequest(let sequence, let target, let address):
            return [packet(.pingRequest(sequence: sequence, target: target, targetAddress: address), updates: message.updates).serializedBytes()]
        case .ack(let sequence): return [packet(.ack(sequence: sequence), updates: message.updates).serializedBytes()]
        case .nack(let sequence): return [packet(.nack(sequence: sequence), updates: message.updates).serializedBytes()]
        case .sync(let members, let wantsReply):
            var out: [[UInt8]] = []
            var pending = [members[...]]
            var first = true
            while let chunk = pending.popLast() {
                let bytes = packet(.sync(members: chunk.map(\.wire), wantsReply: wantsReply && first), updates: []).serializedBytes()
                if bytes.count > Limits.maxPacketBytes - 512 && chunk.count > 1 {
                    let middle = chunk.startIndex + chunk.count / 2
                    pending.append(chunk[middle...])
                    pending.append(chunk[..<middle])
                    continue
                }
                out.append(bytes)
                first = false
            }
            return out
        }
    }
}
