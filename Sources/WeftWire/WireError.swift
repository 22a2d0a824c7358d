/// Everything that can be wrong with bytes received from a peer. A `WireError` always means the
/// peer misbehaved (or is not a Weft peer): the transport logs it and closes that connection.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case frameTooLarge = "frame too large"
            case malformedMessage = "malformed message"
            case invalidField = "invalid field"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The 4-byte length header announced more than `maxFrameBytes`.
        public static let frameTooLarge = Code(.frameTooLarge)
        /// protobuf-c could not parse the bytes as the expected message.
        public static let malformedMessage = Code(.malformedMessage)
        /// The message parsed but a field holds a value this version does not accept.
        public static let invalidField = Code(.invalidField)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }

    static func frameTooLarge(length: UInt32, max: Int) -> WireError {
        WireError(.frameTooLarge, "frame of \(length) bytes exceeds the limit of \(max) bytes")
    }
}
