import WeftCore

/// One SWIM packet (`Protos/weft/gossip/v1/swim.proto`): who sends it, for which cluster, when, a
/// probe message and piggy-backed gossip. On the wire it is sealed with an HMAC (`GossipSeal`).
/// The membership shell turns it into the state machine's `SWIMMessage` after checking version,
/// cluster, MAC and age.
public struct GossipPacket: Sendable, Hashable {
    public static let protocolVersion: UInt32 = 2

    /// What a receiver accepts; anything past it is refused before it is looked at.
    public enum Limits {
        /// A UDP payload over IPv4 is at most 65,507 bytes.
        public static let maxPacketBytes = 65_507
        public static let maxIDBytes = 128
        /// `host:port`, a DNS name included.
        public static let maxAddressBytes = 262
        public static let maxClusterBytes = 128
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
    /// The sender's wall clock (Unix milliseconds) when it sent the packet.
    public var sentAtMilliseconds: UInt64
    public var from: String
    public var incarnation: UInt64
    public var kind: Kind
    public var updates: [GossipMember]

    public init(
        protocolVersion: UInt32 = GossipPacket.protocolVersion, cluster: String, sentAtMilliseconds: UInt64, from: String,
        incarnation: UInt64, kind: Kind, updates: [GossipMember] = []
    ) {
        self.protocolVersion = protocolVersion
        self.cluster = cluster
        self.sentAtMilliseconds = sentAtMilliseconds
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

/// Seals gossip packets with HMAC-SHA256 and opens sealed datagrams: `packet ‖ MAC(packet)`.
///
/// The key is derived from the cluster's auth token (`HMAC(token, "weft gossip v2")`), so gossip
/// proves knowledge of the token without sending it; a node without the token can neither join
/// nor forge a suspicion, a death or a leave. The packet's `sent_at_ms` bounds how long a captured
/// datagram can be replayed (`maxAge`). (With an empty token the MAC still catches corruption, but
/// anyone can compute it.)
public struct GossipSeal: Sendable {
    public static let macBytes = SHA256.digestBytes
    /// How far a packet's send time may be from the receiver's clock, either way.
    public static let maxAge: UInt64 = 60_000

    private let mac: HMACSHA256

    public init(authToken: [UInt8]) {
        let key = HMACSHA256(key: authToken).authenticationCode(for: Array("weft gossip v2".utf8))
        mac = HMACSHA256(key: key)
    }

    /// The datagram for `packet`.
    public func seal(_ packet: [UInt8]) -> [UInt8] {
        packet + mac.authenticationCode(for: packet)
    }

    /// The packet bytes of `datagram`, or nil when it is too short to hold a MAC.
    public static func packetBytes(of datagram: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard datagram.count >= macBytes else { return nil }
        return UnsafeRawBufferPointer(rebasing: datagram[..<(datagram.count - macBytes)])
    }

    /// Whether `datagram`'s MAC is right (compared in constant time).
    public func isAuthentic(_ datagram: UnsafeRawBufferPointer) -> Bool {
        guard let packet = Self.packetBytes(of: datagram) else { return false }
        let expected = mac.authenticationCode(for: packet)
        return ConstantTime.equals(expected, datagram[(datagram.count - Self.macBytes)...])
    }
}
