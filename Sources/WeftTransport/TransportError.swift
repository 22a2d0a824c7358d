/// Failures of sockets and connections themselves (not of a call's outcome, which is `RPCError`).
public struct TransportError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case ioError = "I/O error"
            case addressResolution = "address resolution failed"
            case connectionRefused = "connection refused"
            case connectTimeout = "connect timed out"
            case connectionClosed = "connection closed"
            case protocolViolation = "protocol violation"
            case handshakeFailed = "handshake failed"
            case shutdown = "shut down"
            case frameTimeout = "frame timed out"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        public static let ioError = Code(.ioError)
        public static let addressResolution = Code(.addressResolution)
        public static let connectionRefused = Code(.connectionRefused)
        public static let connectTimeout = Code(.connectTimeout)
        public static let connectionClosed = Code(.connectionClosed)
        /// The peer sent something the protocol forbids (oversized or garbage frame, wrong kind).
        public static let protocolViolation = Code(.protocolViolation)
        public static let handshakeFailed = Code(.handshakeFailed)
        public static let shutdown = Code(.shutdown)
        /// The peer began a frame and did not finish it in time (slowloris).
        public static let frameTimeout = Code(.frameTimeout)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}
