import Foundation
import Testing
import WeftCore
import WeftWire

@Suite("Gossip packets")
struct GossipPacketTests {
    static func member(_ id: String, status: GossipMember.Status = .alive) -> GossipMember {
        GossipMember(id: id, gossipAddress: "10.0.0.1:7946", rpcAddress: "10.0.0.1:7400", role: .scheduler, incarnation: 3, status: status)
    }

    static func packet(_ kind: GossipPacket.Kind, updates: [GossipMember] = []) -> GossipPacket {
        GossipPacket(cluster: "weft", sentAtMilliseconds: 1_700_000_000_000, from: "s1", incarnation: 2, kind: kind, updates: updates)
    }

    static func decode(_ bytes: [UInt8]) throws -> GossipPacket {
        try bytes.withUnsafeBytes { try GossipPacket(serializedBytes: $0) }
    }

    @Test("every kind survives a round trip", arguments: [
        GossipPacket.Kind.ping(sequence: 7), .pingRequest(sequence: 8, target: "s3", targetAddress: "10.0.0.3:7946"), .ack(sequence: 9),
        .nack(sequence: 10), .sync(members: [member("s1"), member("s4", status: .dead)], wantsReply: true),
    ])
    func roundTrip(kind: GossipPacket.Kind) throws {
        let packet = Self.packet(kind, updates: [Self.member("s2", status: .suspect)])
        #expect(try Self.decode(packet.serializedBytes()) == packet)
    }

    @Test("a sealed datagram opens with the same token only; a flipped bit, another token or a runt is refused")
    func seal_authenticates() throws {
        let bytes = Self.packet(.ping(sequence: 1)).serializedBytes()
        let seal = GossipSeal(authToken: Array("token".utf8))
        let datagram = seal.seal(bytes)
        #expect(datagram.count == bytes.count + GossipSeal.macBytes)
        #expect(!datagram.starts(with: Array("token".utf8)) && !datagram.contains(Array("token".utf8)))
        datagram.withUnsafeBytes { raw in
            #expect(seal.isAuthentic(raw))
            #expect(GossipSeal.packetBytes(of: raw).map(Array.init) == bytes)
            #expect(!GossipSeal(authToken: Array("tokeN".utf8)).isAuthentic(raw))
            #expect(!GossipSeal(authToken: []).isAuthentic(raw))
        }
        for index in [0, bytes.count / 2, datagram.count - 1] {
            var tampered = datagram
            tampered[index] ^= 0x01
            tampered.withUnsafeBytes { #expect(!seal.isAuthentic($0), "a flip at \(index) went unnoticed") }
        }
        [UInt8](repeating: 0, count: GossipSeal.macBytes - 1).withUnsafeBytes { raw in
            #expect(GossipSeal.packetBytes(of: raw) == nil)
            #expect(!seal.isAuthentic(raw))
        }
    }

    @Test("the corpus seeds written by hand decode as the packets they describe")
    func corpusSeeds_decode() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../FuzzCorpus/frames/gossip-sync")
        let bytes = Array(try Data(contentsOf: url).dropFirst())
        let packet = try Self.decode(bytes)
        #expect(packet.from == "s1")
        guard case .sync(let members, wantsReply: true) = packet.kind else { Issue.record("not a sync: \(packet)"); return }
        #expect(members.map(\.id) == ["s1", "s4"])
        #expect(members.map(\.status) == [.alive, .dead])
    }

    @Test("fields past the bounds are refused: long ids, empty senders, too many updates, unknown statuses, no kind")
    func bounds_refused() throws {
        var long = Self.packet(.ping(sequence: 1))
        long.from = String(repeating: "x", count: GossipPacket.Limits.maxIDBytes + 1)
        #expect(throws: WireError.self) { try Self.decode(long.serializedBytes()) }
        var empty = Self.packet(.ping(sequence: 1))
        empty.from = ""
        #expect(throws: WireError.self) { try Self.decode(empty.serializedBytes()) }
        let crowded = Self.packet(.ping(sequence: 1), updates: (0...GossipPacket.Limits.maxUpdates).map { Self.member("m\($0)") })
        #expect(throws: WireError.self) { try Self.decode(crowded.serializedBytes()) }
        var address = Self.member("s2")
        address.gossipAddress = String(repeating: "a", count: GossipPacket.Limits.maxAddressBytes + 1)
        #expect(throws: WireError.self) { try Self.decode(Self.packet(.ack(sequence: 1), updates: [address]).serializedBytes()) }
        // Member.status = 9: the `status` field (6, varint: 0x30) of a left member (3) patched.
        var left = Self.packet(.ack(sequence: 1), updates: [Self.member("s2", status: .left)]).serializedBytes()
        let at = try #require((0..<left.count - 1).first { left[$0] == 0x30 && left[$0 + 1] == 0x03 })
        left[at + 1] = 0x09
        #expect(throws: WireError.self) { try Self.decode(left) }
        let noKind: [UInt8] = [0x08, 0x01, 0x22, 0x02, 0x73, 0x31]
        #expect(throws: WireError.self) { try Self.decode(noKind) }
        #expect(throws: WireError.self) { try Self.decode([UInt8](repeating: 0, count: GossipPacket.Limits.maxPacketBytes + 1)) }
    }
}
