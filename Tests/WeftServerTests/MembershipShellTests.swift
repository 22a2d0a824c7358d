import Foundation
import Glibc
import Testing
import WeftCore
import WeftMembership
import WeftTransport
import WeftWire
import _WeftTestKit
@testable import WeftServer

/// Membership over real UDP on loopback (STYLE §6, ring 4, in-process): several shells, one seed,
/// `.localTesting` timings.
@Suite("Membership shell", .serialized)
struct MembershipShellTests {
    static let token = Array("gossip-secret".utf8)

    static func shell(_ id: String, role: NodeRole = .scheduler, seeds: [String], cluster: String = "test", log: LogCapture) -> MembershipShell {
        MembershipShell(
            configuration: .init(
                cluster: cluster, authToken: token, nodeID: id, role: role, bind: Endpoint(host: "127.0.0.1", port: 0),
                rpcAddress: "127.0.0.1:7\(id.count)00", seeds: seeds, settings: .localTesting),
            logger: log.logger(label: id))
    }

    static func activeIDs(_ shell: MembershipShell) -> Set<String> {
        Set(shell.members.filter(\.status.isActive).map(\.id))
    }

    @Test("three nodes join through one seed, agree on the ring; a crashed one is declared dead, a leaver leaves at once")
    func cluster_joinsDetectsAndLeaves() async throws {
        let log = LogCapture()
        let first = Self.shell("s1", seeds: [], log: log)
        try await first.start(seed: 1)
        let seed = try #require(first.gossipAddress)
        let second = Self.shell("s2", seeds: [seed], log: log)
        let third = Self.shell("s3", seeds: [seed], log: log)
        let coordinator = Self.shell("c1", role: .coordinator, seeds: [seed], log: log)
        try await second.start(seed: 2)
        try await third.start(seed: 3)
        try await coordinator.start(seed: 4)
        let all: Set = ["s1", "s2", "s3", "c1"]
        let shells = [first, second, third, coordinator]
        let joined = try await eventually(within: .seconds(10)) { shells.allSatisfy { Self.activeIDs($0) == all } }
        #expect(joined, "views: \(shells.map { Self.activeIDs($0).sorted() }) logs: \(log.records.suffix(20))")
        // The ring holds the schedulers only, the same everywhere.
        #expect(coordinator.ring.nodes == ["s1", "s2", "s3"])
        #expect(Set(shells.map(\.ring)).count == 1)

        await third.stopSilently()
        let detected = try await eventually(within: .seconds(15)) {
            [first, second, coordinator].allSatisfy { $0.members.first { $0.id == "s3" }?.status == .dead }
        }
        #expect(detected, "views: \([first, second, coordinator].map { $0.members.map(\.description) })")
        #expect(coordinator.ring.nodes == ["s1", "s2"])

        await second.leave()
        let left = try await eventually(within: .seconds(10)) {
            [first, coordinator].allSatisfy { $0.members.first { $0.id == "s2" }?.status == .left }
        }
        #expect(left)
        #expect(first.ring.nodes == ["s1"])
        await first.leave()
        await coordinator.leave()
    }

    @Test("packets of another cluster, with a MAC of another token, sent long ago (replayed), of another version or malformed are dropped and counted; the member view does not change")
    func foreignPackets_dropped() async throws {
        let log = LogCapture()
        let node = Self.shell("s1", seeds: [], log: log)
        try await node.start(seed: 1)
        let address = try #require(node.gossipAddress)
        let endpoint = try Endpoint(parsing: address)
        let intruder = Member(id: "intruder", gossipAddress: "127.0.0.1:9", rpcAddress: "127.0.0.1:9", role: .scheduler)
        let now = UInt64(SystemWallClock().nowMilliseconds())
        func packet(
            cluster: String = "test", token: [UInt8] = Self.token, version: UInt32 = GossipPacket.protocolVersion, sentAt: UInt64 = now
        ) -> [UInt8] {
            GossipSeal(authToken: token).seal(GossipPacket(
                protocolVersion: version, cluster: cluster, sentAtMilliseconds: sentAt, from: "intruder", incarnation: 0,
                kind: .sync(members: [MemberUpdate(intruder).wire], wantsReply: true)
            ).serializedBytes())
        }
        let sender = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(sender) }
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = endpoint.port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &target.sin_addr)
        func send(_ bytes: [UInt8]) {
            _ = bytes.withUnsafeBytes { raw in
                withUnsafePointer(to: &target) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(sender, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
        }
        send(packet(cluster: "other"))
        send(packet(token: Array("wrong".utf8)))
        send(packet(sentAt: now - 5 * 60_000))
        send(packet(sentAt: now + 5 * 60_000))
        send(packet(version: 9))
        send([0xFF, 0xFF, 0xFF, 0x01, 0x02])
        send(packet(cluster: String(repeating: "x", count: 200)))
        let counted = try await eventually(within: .seconds(5)) {
            let dropped = node.current.dropped
            return dropped[.foreignCluster] == 1 && dropped[.badMAC] == 1 && dropped[.stale] == 2 && dropped[.unknownVersion] == 1 && dropped[.malformed] == 2
        }
        #expect(counted, "dropped: \(node.current.dropped)")
        #expect(Self.activeIDs(node) == ["s1"])
        #expect(node.current.packetsReceived == 0)
        // The same packet with the right cluster, MAC and time is heard.
        send(packet())
        let heard = try await eventually(within: .seconds(5)) { Self.activeIDs(node).contains("intruder") }
        #expect(heard)
        await node.leave()
    }

    @Test("a sync too large for one datagram is split, and only the first part asks for a reply")
    func largeSync_isSplit() throws {
        let members = (0..<600).map {
            MemberUpdate(Member(id: "node-\($0)-" + String(repeating: "n", count: 100), gossipAddress: "10.0.\($0 / 250).\($0 % 250):7946", rpcAddress: "10.0.0.1:7400", role: .scheduler))
        }
        let message = SWIMMessage(from: "a", kind: .sync(members: members, wantsReply: true))
        let packets = GossipPacket.packets(message, cluster: "test", sentAtMilliseconds: 1)
        #expect(packets.count > 1)
        var seen: [String] = []
        var replies = 0
        for bytes in packets {
            #expect(bytes.count + GossipSeal.macBytes <= GossipPacket.Limits.maxPacketBytes)
            let decoded = try bytes.withUnsafeBytes { try GossipPacket(serializedBytes: $0) }
            guard case .sync(let part, let wantsReply) = decoded.kind else { Issue.record("not a sync"); return }
            seen += part.map(\.id)
            if wantsReply { replies += 1 }
        }
        #expect(seen == members.map(\.member.id))
        #expect(replies == 1)
    }
}
