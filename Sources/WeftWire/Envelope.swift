import WeftCore

/// One frame of the Weft protocol (ARCHITECTURE.md §3): what call it belongs to, what it is, and
/// its payload. The protobuf-c struct it is encoded to never leaves `Codec/`.
public struct Envelope: Hashable, Sendable {
    public enum Kind: UInt32, Hashable, Sendable, CustomStringConvertible {
        /// Opens a call (carries the request message of unary and server-streaming calls).
        case request = 1
        /// Ends a call, with its status (and the response message of unary / client-streaming calls).
        case response = 2
        /// One message of a stream, in either direction.
        case streamMessage = 3
        /// The client finished sending (half-close) on a client- or bidi-streaming call.
        case streamEnd = 4
        /// The client gave up on the call; the server cancels the handler.
        case cancel = 5

        public var description: String {
            switch self {
            case .request: "REQUEST"
            case .response: "RESPONSE"
            case .streamMessage: "STREAM_MESSAGE"
            case .streamEnd: "STREAM_END"
            case .cancel: "CANCEL"
            }
        }
    }

    public var callID: UInt64
    public var kind: Kind
    /// `package.Service/Method`, on `.request` only.
    public var method: String
    /// Milliseconds of budget left when the request was sent; 0 means no deadline.
    public var deadlineMilliseconds: UInt64
    public var status: StatusCode
    public var statusMessage: String
    public var metadata: [String: String]
    public var payload: [UInt8]

    public init(
        callID: UInt64,
        kind: Kind,
        method: String = "",
        deadlineMilliseconds: UInt64 = 0,
        status: StatusCode = .ok,
        statusMessage: String = "",
        metadata: [String: String] = [:],
        payload: [UInt8] = []
    ) {
        self.callID = callID
        self.kind = kind
        self.method = method
        self.deadlineMilliseconds = deadlineMilliseconds
        self.status = status
        self.statusMessage = statusMessage
        self.metadata = metadata
        self.payload = payload
    }
}

/// A message with a protobuf-c twin: serialises to and from bytes. Every RPC payload conforms.
public protocol WireMessage: Sendable {
    /// The protobuf encoding of this message.
    func serializedBytes() -> [UInt8]
    /// Decodes the protobuf encoding; throws `WireError` on bytes that do not parse.
    init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError)
}

extension WireMessage {
    public init(serializedBytes bytes: [UInt8]) throws(WireError) {
        // withUnsafeBytes cannot forward a typed throw; decode into a Result first.
        let result: Result<Self, WireError> = bytes.withUnsafeBytes { raw in
            do throws(WireError) { return .success(try Self(serializedBytes: raw)) } catch { return .failure(error) }
        }
        self = try result.get()
    }
}
