import WeftCore

/// One SWIM datagram (`Protos/weft/gossip/v1/swim.proto`): who sends it, for which cluster, with
/// which token, a probe message and piggy-backed gossip. The membership shell turns it into the
/// state machine's `SWIMMessage` after checking cluster, token and version.
public struct GossipPacket: Sendable, Hashable {
    public static let protocolVersion: UInt32 = 1

    /// What a receiver accepts; anything past it is refused before it is looked at.
    public enum Limits {
        /// A UDP payload over IPv4 is at most 65,507 bytes.
        public static let maxPacketBytes = 65_507
        public static let maxIDBytes = 128
        /// `host:port`, a DNS name included.
        public static let maxAddressBytes = 262
        public static let maxClusterBytes = 128
        public static let maxTokenBytes = 1024
        public static let maxUpdates = 64
        public static let maxSyncMembers = 1024
    }

    public enum Kind: Sendable, Hashable {
        case ping(sequence: UInt64)
        case pingRequest(sequence: UInt64, target: String, targetAddress: String)
        case ack(sequence: UInt64)
        case nack(sequence: UInt64)
        case sync(members: [GossipMember], wantsReply: Bool)
    }

    public var protocolVersion: UInt32
    public var cluster: String
    public var authToken: [UInt8]
    public var from: String
    public var incarnation: UInt64
    public var kind: Kind
    public var updates: [GossipMember]

    public init(
        protocolVersion: UInt32 = GossipPacket.protocolVersion, cluster: String, authToken: [UInt8], from: String,
        incarnation: UInt64, kind: Kind, updates: [GossipMember] = []
    ) {
        self.protocolVersion = protocolVersion
        self.cluster = cluster
        self.authToken = authToken
        self.from = from
        self.incarnation = incarnation
        self.kind = kind
        self.updates = updates
    }
}

/// What a packet says of one member (`weft.gossip.v1.Member`).
public struct GossipMember: Sendable, Hashable {
    public enum Status: UInt32, Sendable, Hashable {
        case alive = 0, suspect = 1, dead = 2, left = 3
    }

    public var id: String
    public var gossipAddress: String
    public var rpcAddress: String
    public var role: NodeRole
    public var incarnation: UInt64
    public var status: Status
    /// Empty: nobody named.
    public var suspectedBy: String

    public init(
        id: String, gossipAddress: String, rpcAddress: String, role: NodeRole, incarnation: UInt64, status: Status,
        suspectedBy: String = ""
    ) {
        self.id = id
        self.gossipAddress = gossipAddress
        self.rpcAddress = rpcAddress
        self.role = role
        self.incarnation = incarnation
        self.status = status
        self.suspectedBy = suspectedBy
    }
}
