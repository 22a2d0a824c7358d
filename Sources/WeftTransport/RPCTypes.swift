import WeftCore
import WeftWire

/// Per-call options on the client side.
public struct CallOptions: Sendable {
    /// The call fails with `DEADLINE_EXCEEDED` when no response arrived by then; the server is told
    /// the remaining budget and cancels its handler too. nil: no deadline.
    public var deadline: ContinuousClock.Instant?
    /// Sent with the request (`weft-*` keys are reserved).
    public var metadata: [String: String]
    /// When the connection is down (backing off after a failure), wait for it to come back (until
    /// the deadline) instead of failing at once with `UNAVAILABLE`.
    public var waitForReady: Bool
    /// With `waitForReady`: the longest a call waits for a connection that is down before it fails
    /// with `UNAVAILABLE` (nil: until the deadline). A call cut after it was sent is not affected.
    public var readyWaitLimit: Duration?

    public init(timeout: Duration? = nil, metadata: [String: String] = [:], waitForReady: Bool = false) {
        self.deadline = timeout.map { ContinuousClock.now + $0 }
        self.metadata = metadata
        self.waitForReady = waitForReady
    }

    /// Propagates a server handler's deadline to the calls it makes (ARCHITECTURE.md §3).
    public init(deadline: ContinuousClock.Instant?, metadata: [String: String] = [:], waitForReady: Bool = false) {
        self.deadline = deadline
        self.metadata = metadata
        self.waitForReady = waitForReady
    }
}

/// Who is on the other end of a server connection, as the handshake established.
public struct PeerIdentity: Sendable, Hashable {
    public var role: NodeRole
    public var nodeID: String
    public var address: String
}

/// What a server handler knows about its call.
public struct ServerContext: Sendable {
    public var method: String
    public var metadata: [String: String]
    /// The caller's deadline, if it set one. Pass it on with `CallOptions(deadline:)`.
    public var deadline: ContinuousClock.Instant?
    public var peer: PeerIdentity

    /// Time left until the deadline (nil without one).
    public var timeRemaining: Duration? { deadline.map { $0 - ContinuousClock.now } }
}

/// The four call shapes of ARCHITECTURE.md §3.
public enum RPCMethodKind: Sendable, Hashable {
    case unary
    case serverStreaming
    case clientStreaming
    case bidirectionalStreaming
}

extension RPCError {
    /// Maps anything a handler (or a call) threw onto a status.
    static func from(_ error: any Error) -> RPCError {
        switch error {
        case let error as RPCError: error
        case is CancellationError: RPCError(.cancelled, "cancelled")
        case let error as WireError: RPCError(.invalidArgument, "malformed message: \(error)")
        case let error as any RPCStatusConvertible: error.rpcError
        default: RPCError(.unknown, String(describing: error))
        }
    }
}

/// Method names reserved by the protocol itself.
enum ProtocolMethods {
    static let hello = "weft.wire.v1/Hello"
    static let supportedVersions: ClosedRange<UInt32> = 1...1
}
