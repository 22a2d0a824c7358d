import Testing
import WeftCore
import WeftMembership

@Suite("Hash ring")
struct HashRingTests {
    static let partitions = 256

    @Test("points are xxh64 of \"node#i\" and \"partition-p\" (ARCHITECTURE §2), so every process agrees")
    func points_areStableHashes() {
        #expect(HashRing.point(of: "s1", virtualNode: 0) == StableHash.xxh64("s1#0"))
        #expect(HashRing.point(of: PartitionID(7)) == StableHash.xxh64("partition-7"))
        // A partition belongs to the first virtual node at or clockwise after its point.
        let ring = HashRing(nodes: ["a", "b", "c"], virtualNodes: 4)
        var points: [(UInt64, String)] = []
        for node in ["a", "b", "c"] {
            for virtual in 0..<4 { points.append((HashRing.point(of: node, virtualNode: virtual), node)) }
        }
        points.sort { $0.0 < $1.0 }
        for partition in 0..<Self.partitions {
            let key = HashRing.point(of: PartitionID(partition))
            let expected = (points.first { $0.0 >= key } ?? points[0]).1
            #expect(ring.owner(of: PartitionID(partition)) == expected)
        }
    }

    @Test("the same member set, in any order and with repeats, gives the same owners")
    func ring_isDeterministic() {
        let one = HashRing(nodes: ["s2", "s0", "s1"])
        let two = HashRing(nodes: ["s1", "s2", "s0", "s1"])
        #expect(one == two)
        #expect(one.owners(partitionCount: Self.partitions) == two.owners(partitionCount: Self.partitions))
        #expect(HashRing(nodes: []).owner(of: PartitionID(0)) == nil)
    }

    @Test("with 64 virtual nodes, every node of 2–10 owns a fair share (within ±60% of 256/N)")
    func ring_isBalanced() {
        for count in 2...10 {
            let nodes = (0..<count).map { "scheduler-\($0)" }
            let ring = HashRing(nodes: nodes)
            let fair = Double(Self.partitions) / Double(count)
            for node in nodes {
                let owned = Double(ring.partitions(of: node, partitionCount: Self.partitions).count)
                #expect(owned > fair * 0.4 && owned < fair * 1.6, "\(node) of \(count) owns \(owned), fair is \(fair)")
            }
        }
    }

    @Test("a join or a leave moves only the partitions of the node that came or went: about 1/N of them")
    func joinOrLeave_movesAboutOneNth() {
        var moved: [Double] = []
        for count in 2...12 {
            let nodes = (0..<count).map { "weft-scheduler-\($0)" }
            let before = HashRing(nodes: nodes).owners(partitionCount: Self.partitions)
            let joined = HashRing(nodes: nodes + ["weft-scheduler-new"]).owners(partitionCount: Self.partitions)
            for partition in 0..<Self.partitions where before[partition] != joined[partition] {
                #expect(joined[partition] == "weft-scheduler-new", "a join may only move partitions to the newcomer")
            }
            let left = HashRing(nodes: nodes.dropLast()).owners(partitionCount: Self.partitions)
            for partition in 0..<Self.partitions where before[partition] != left[partition] {
                #expect(before[partition] == nodes.last, "a leave may only move the leaver's partitions")
            }
            let share = Double(zip(before, joined).count { $0 != $1 }) / Double(Self.partitions)
            #expect(share < 1.0 / Double(count + 1) * 1.8, "\(count) → \(count + 1) nodes moved \(share)")
            moved.append(share * Double(count + 1))
        }
        // On average over the cluster sizes, the moved share is 1/N.
        let mean = moved.reduce(0, +) / Double(moved.count)
        #expect(mean > 0.75 && mean < 1.25, "moved × N averaged \(mean)")
    }
}
