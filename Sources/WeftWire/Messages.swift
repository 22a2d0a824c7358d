import WeftCore

/// The handshake's first message, client → server (`weft/wire/v1/hello.proto`).
public struct Hello: Hashable, Sendable {
    public var protocolVersions: ClosedRange<UInt32>
    public var cluster: String
    public var role: NodeRole
    public var nodeID: String
    public var authToken: [UInt8]

    public init(protocolVersions: ClosedRange<UInt32>, cluster: String, role: NodeRole, nodeID: String, authToken: [UInt8]) {
        self.protocolVersions = protocolVersions
        self.cluster = cluster
        self.role = role
        self.nodeID = nodeID
        self.authToken = authToken
    }
}

/// The server's answer to `Hello` when it accepts the connection.
public struct HelloAck: Hashable, Sendable {
    public var protocolVersion: UInt32
    public var cluster: String
    public var role: NodeRole
    public var nodeID: String

    public init(protocolVersion: UInt32, cluster: String, role: NodeRole, nodeID: String) {
        self.protocolVersion = protocolVersion
        self.cluster = cluster
        self.role = role
        self.nodeID = nodeID
    }
}

/// `weft.api.v1.Health/Check` request.
public struct HealthCheckRequest: Hashable, Sendable {
    public var service: String
    public init(service: String = "") { self.service = service }
}

/// `weft.api.v1.Health/Check` response.
public struct HealthCheckResponse: Hashable, Sendable {
    public enum ServingStatus: UInt32, Hashable, Sendable, CustomStringConvertible {
        case unknown = 0
        case serving = 1
        case notServing = 2
        case serviceUnknown = 3

        public var description: String {
            switch self {
            case .unknown: "UNKNOWN"
            case .serving: "SERVING"
            case .notServing: "NOT_SERVING"
            case .serviceUnknown: "SERVICE_UNKNOWN"
            }
        }
    }

    public var status: ServingStatus
    public var role: NodeRole?
    public var nodeID: String
    public var version: String
    public var uptimeMilliseconds: UInt64
    public var message: String

    public init(
        status: ServingStatus,
        role: NodeRole? = nil,
        nodeID: String = "",
        version: String = "",
        uptimeMilliseconds: UInt64 = 0,
        message: String = ""
    ) {
        self.status = status
        self.role = role
        self.nodeID = nodeID
        self.version = version
        self.uptimeMilliseconds = uptimeMilliseconds
        self.message = message
    }
}
