import WeftCore

/// The consistent-hash ring of ARCHITECTURE §2: each scheduler of the member set has `virtualNodes`
/// points, virtual node `i` of node `n` at `xxh64("n#i")`; partition `p` belongs to the node of the
/// first point clockwise from `xxh64("partition-p")` (a point equal to it counts). Every node that
/// sees the same member set derives the same owner for every partition, and adding or removing one
/// of N nodes moves about 1/N of the partitions. Points that collide are ordered by node id, so
/// even a collision is resolved the same way everywhere.
public struct HashRing: Sendable, Hashable {
    public static let defaultVirtualNodes = 64

    /// The nodes on the ring, by id.
    public let nodes: [String]
    public let virtualNodes: Int
    private let points: [UInt64]
    private let owners: [Int32]

    public init(nodes: some Sequence<String>, virtualNodes: Int = HashRing.defaultVirtualNodes) {
        precondition(virtualNodes > 0, "a ring needs at least one virtual node per node")
        let sorted = Array(Set(nodes)).sorted()
        var placed: [(point: UInt64, node: Int32)] = []
        placed.reserveCapacity(sorted.count * virtualNodes)
        for (index, node) in sorted.enumerated() {
            for virtual in 0..<virtualNodes {
                placed.append((Self.point(of: node, virtualNode: virtual), Int32(index)))
            }
        }
        placed.sort { $0.point != $1.point ? $0.point < $1.point : $0.node < $1.node }
        self.nodes = sorted
        self.virtualNodes = virtualNodes
        self.points = placed.map(\.point)
        self.owners = placed.map(\.node)
    }

    public var isEmpty: Bool { nodes.isEmpty }

    /// Where virtual node `virtualNode` of `node` sits: `xxh64("node#i")`.
    public static func point(of node: String, virtualNode: Int) -> UInt64 {
        StableHash.xxh64("\(node)#\(virtualNode)")
    }

    /// Where partition `partition` sits: `xxh64("partition-p")`.
    public static func point(of partition: PartitionID) -> UInt64 {
        StableHash.xxh64("partition-\(partition.rawValue)")
    }

    /// The node that owns `partition`; nil on an empty ring.
    public func owner(of partition: PartitionID) -> String? {
        guard !points.isEmpty else { return nil }
        let key = Self.point(of: partition)
        var low = 0
        var high = points.count
        while low < high {  // the first point >= key
            let middle = (low + high) / 2
            if points[middle] < key { low = middle + 1 } else { high = middle }
        }
        return nodes[Int(owners[low == points.count ? 0 : low])]
    }

    /// The owner of every partition `0..<count`; empty strings on an empty ring.
    public func owners(partitionCount count: Int) -> [String] {
        (0..<count).map { owner(of: PartitionID($0)) ?? "" }
    }

    /// The partitions of `0..<count` that `node` owns.
    public func partitions(of node: String, partitionCount count: Int) -> [PartitionID] {
        (0..<count).map(PartitionID.init).filter { owner(of: $0) == node }
    }
}
