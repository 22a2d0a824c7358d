import WeftCore

// Swift twins of `weft/api/v1/admin.proto` (service "weft.api.v1.Admin").

/// Method names of the admin service.
public enum AdminMethods {
    /// On a coordinator in cluster mode: the members its gossip knows.
    public static let members = "weft.api.v1.Admin/Members"
    /// On a coordinator in cluster mode: the ring and every partition's owner by it.
    public static let ring = "weft.api.v1.Admin/Ring"
    /// On a coordinator: every partition's recorded owner, fence and open runs.
    public static let partitions = "weft.api.v1.Admin/Partitions"
    /// On a coordinator (forwarded to the node) or a scheduler (itself): hand every partition off,
    /// leave, exit.
    public static let drain = "weft.api.v1.Admin/Drain"
}

public struct MembersRequest: Hashable, Sendable {
    public init() {}
}

public struct MemberInfo: Hashable, Sendable {
    public var nodeID: String
    public var role: String
    public var gossipAddress: String
    public var rpcAddress: String
    public var status: String
    public var incarnation: UInt64
    public init(nodeID: String, role: String, gossipAddress: String, rpcAddress: String, status: String, incarnation: UInt64) {
        self.nodeID = nodeID
        self.role = role
        self.gossipAddress = gossipAddress
        self.rpcAddress = rpcAddress
        self.status = status
        self.incarnation = incarnation
    }
}

public struct MembersResponse: Hashable, Sendable {
    public var members: [MemberInfo]
    public init(members: [MemberInfo]) { self.members = members }
}

public struct RingRequest: Hashable, Sendable {
    public init() {}
}

public struct RingOwner: Hashable, Sendable {
    public var partition: UInt32
    public var nodeID: String
    public init(partition: UInt32, nodeID: String) {
        self.partition = partition
        self.nodeID = nodeID
    }
}

public struct RingResponse: Hashable, Sendable {
    public var nodes: [String]
    public var virtualNodes: UInt32
    public var owners: [RingOwner]
    public init(nodes: [String], virtualNodes: UInt32, owners: [RingOwner]) {
        self.nodes = nodes
        self.virtualNodes = virtualNodes
        self.owners = owners
    }
}

public struct PartitionsRequest: Hashable, Sendable {
    public init() {}
}

public struct PartitionInfo: Hashable, Sendable {
    public var partition: UInt32
    public var ownerNode: String
    public var ownerAddress: String
    public var fence: Int64
    public var openRuns: UInt64
    public var ringOwner: String
    /// Tasks ready and waiting for a worker, from the owner's memory.
    public var readyTasks: UInt64
    /// The owner's engine: "serving", "recovering", "draining"; empty when it did not answer.
    public var state: String
    public init(
        partition: UInt32, ownerNode: String, ownerAddress: String, fence: Int64, openRuns: UInt64, ringOwner: String,
        readyTasks: UInt64 = 0, state: String = ""
    ) {
        self.partition = partition
        self.ownerNode = ownerNode
        self.ownerAddress = ownerAddress
        self.fence = fence
        self.openRuns = openRuns
        self.ringOwner = ringOwner
        self.readyTasks = readyTasks
        self.state = state
    }
}

public struct PartitionsResponse: Hashable, Sendable {
    public var partitions: [PartitionInfo]
    public init(partitions: [PartitionInfo]) { self.partitions = partitions }
}

public struct DrainRequest: Hashable, Sendable {
    public var nodeID: String
    public init(nodeID: String) { self.nodeID = nodeID }
}

public struct DrainResponse: Hashable, Sendable {
    public var nodeID: String
    public var message: String
    public init(nodeID: String, message: String) {
        self.nodeID = nodeID
        self.message = message
    }
}
