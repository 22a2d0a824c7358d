import CProtobufC
import CWeftProtos
import Glibc
import WeftCore

// Written by hand (generate-swift.py covers the API schemas): the gossip schema is small, and its
// decoder enforces the bounds of `GossipPacket.Limits` field by field.

extension GossipPacket: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Gossip__V1__Packet()
        weft__gossip__v1__packet__init(&m)
        m.protocol_version = protocolVersion
        m.cluster = a.string(cluster)
        m.sent_at_ms = sentAtMilliseconds
        m.from = a.string(from)
        m.incarnation = incarnation
        switch kind {
        case .ping(let sequence):
            m.kind_case = WEFT__GOSSIP__V1__PACKET__KIND_PING
            m.ping = a.message {
                var c = Weft__Gossip__V1__Ping()
                weft__gossip__v1__ping__init(&c)
                c.sequence = sequence
                return c
            }
        case .pingRequest(let sequence, let target, let targetAddress):
            m.kind_case = WEFT__GOSSIP__V1__PACKET__KIND_PING_REQUEST
            m.ping_request = a.message {
                var c = Weft__Gossip__V1__PingRequest()
                weft__gossip__v1__ping_request__init(&c)
                c.sequence = sequence
                c.target = a.string(target)
                c.target_address = a.string(targetAddress)
                return c
            }
        case .ack(let sequence):
            m.kind_case = WEFT__GOSSIP__V1__PACKET__KIND_ACK
            m.ack = a.message {
                var c = Weft__Gossip__V1__Ack()
                weft__gossip__v1__ack__init(&c)
                c.sequence = sequence
                return c
            }
        case .nack(let sequence):
            m.kind_case = WEFT__GOSSIP__V1__PACKET__KIND_NACK
            m.nack = a.message {
                var c = Weft__Gossip__V1__Nack()
                weft__gossip__v1__nack__init(&c)
                c.sequence = sequence
                return c
            }
        case .sync(let members, let wantsReply):
            m.kind_case = WEFT__GOSSIP__V1__PACKET__KIND_SYNC
            m.sync = a.message {
                var c = Weft__Gossip__V1__Sync()
                weft__gossip__v1__sync__init(&c)
                (c.n_members, c.members) = a.repeated(members) { $0.cMessage(a) }
                c.wants_reply = wantsReply ? 1 : 0
                return c
            }
        }
        (m.n_updates, m.updates) = a.repeated(updates) { $0.cMessage(a) }
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__gossip__v1__packet__get_packed_size, pack: weft__gossip__v1__packet__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count <= Limits.maxPacketBytes else {
            throw WireError(.frameTooLarge, "a gossip packet of \(bytes.count) bytes exceeds \(Limits.maxPacketBytes)")
        }
        self = try unpackMessage(
            bytes, name: "GossipPacket", unpack: weft__gossip__v1__packet__unpack, free: weft__gossip__v1__packet__free_unpacked
        ) { (m: borrowing Weft__Gossip__V1__Packet) throws(WireError) -> GossipPacket in
            guard m.n_updates <= Limits.maxUpdates else {
                throw WireError(.invalidField, "GossipPacket.updates has \(m.n_updates) members, more than \(Limits.maxUpdates)")
            }
            let kind: Kind
            switch m.kind_case {
            case WEFT__GOSSIP__V1__PACKET__KIND_PING:
                kind = .ping(sequence: try requiredMessage(m.ping, field: "GossipPacket.ping") { $0.sequence })
            case WEFT__GOSSIP__V1__PACKET__KIND_PING_REQUEST:
                kind = try requiredMessage(m.ping_request, field: "GossipPacket.ping_request") { (c) throws(WireError) in
                    .pingRequest(
                        sequence: c.sequence, target: try gossipText(c.target, "PingRequest.target", max: Limits.maxIDBytes),
                        targetAddress: try gossipText(c.target_address, "PingRequest.target_address", max: Limits.maxAddressBytes))
                }
            case WEFT__GOSSIP__V1__PACKET__KIND_ACK:
                kind = .ack(sequence: try requiredMessage(m.ack, field: "GossipPacket.ack") { $0.sequence })
            case WEFT__GOSSIP__V1__PACKET__KIND_NACK:
                kind = .nack(sequence: try requiredMessage(m.nack, field: "GossipPacket.nack") { $0.sequence })
            case WEFT__GOSSIP__V1__PACKET__KIND_SYNC:
                kind = try requiredMessage(m.sync, field: "GossipPacket.sync") { (c) throws(WireError) in
                    guard c.n_members <= Limits.maxSyncMembers else {
                        throw WireError(.invalidField, "Sync.members has \(c.n_members) members, more than \(Limits.maxSyncMembers)")
                    }
                    return .sync(
                        members: try swiftArray(c.n_members, c.members) { (member) throws(WireError) in try GossipMember(c: member) },
                        wantsReply: c.wants_reply != 0)
                }
            default:
                throw WireError(.invalidField, "GossipPacket has no kind")
            }
            return GossipPacket(
                protocolVersion: m.protocol_version,
                cluster: try gossipText(m.cluster, "GossipPacket.cluster", max: Limits.maxClusterBytes, allowEmpty: true),
                sentAtMilliseconds: m.sent_at_ms,
                from: try gossipText(m.from, "GossipPacket.from", max: Limits.maxIDBytes),
                incarnation: m.incarnation,
                kind: kind,
                updates: try swiftArray(m.n_updates, m.updates) { (member) throws(WireError) in try GossipMember(c: member) })
        }
    }
}

extension GossipMember {
    func cMessage(_ a: CArena) -> Weft__Gossip__V1__Member {
        var c = Weft__Gossip__V1__Member()
        weft__gossip__v1__member__init(&c)
        c.id = a.string(id)
        c.gossip_address = a.string(gossipAddress)
        c.rpc_address = a.string(rpcAddress)
        c.role = role.wire
        c.incarnation = incarnation
        c.status = Weft__Gossip__V1__MemberStatus(rawValue: status.rawValue)
        c.suspected_by = a.string(suspectedBy)
        return c
    }

    init(c: Weft__Gossip__V1__Member) throws(WireError) {
        guard let role = NodeRole(wire: c.role) else {
            throw WireError(.invalidField, "Member.role \(c.role.rawValue) is not a known role")
        }
        guard let status = Status(rawValue: c.status.rawValue) else {
            throw WireError(.invalidField, "Member.status \(c.status.rawValue) is not a known status")
        }
        self.init(
            id: try gossipText(c.id, "Member.id", max: GossipPacket.Limits.maxIDBytes),
            gossipAddress: try gossipText(c.gossip_address, "Member.gossip_address", max: GossipPacket.Limits.maxAddressBytes),
            rpcAddress: try gossipText(c.rpc_address, "Member.rpc_address", max: GossipPacket.Limits.maxAddressBytes, allowEmpty: true),
            role: role, incarnation: c.incarnation, status: status,
            suspectedBy: try gossipText(c.suspected_by, "Member.suspected_by", max: GossipPacket.Limits.maxIDBytes, allowEmpty: true))
    }
}

/// A string field of a gossip packet: refused when longer than `max` bytes, or empty unless allowed.
private func gossipText(_ pointer: UnsafeMutablePointer<CChar>?, _ field: StaticString, max: Int, allowEmpty: Bool = false) throws(WireError) -> String {
    guard let pointer else {
        if allowEmpty { return "" }
        throw WireError(.invalidField, "\(field) is empty")
    }
    let length = strnlen(pointer, max + 1)
    guard length <= max else { throw WireError(.invalidField, "\(field) is longer than \(max) bytes") }
    guard length > 0 || allowEmpty else { throw WireError(.invalidField, "\(field) is empty") }
    return String(cString: pointer)
}
