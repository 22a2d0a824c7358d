/// Why ``JSONPayload/splitArray(_:maxElements:)`` rejected a payload: where, and what it expected.
public struct JSONPayloadError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem. A struct with static members so that new codes break no `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case malformed = "malformed JSON"
            case tooManyElements = "too many elements"
            case duplicateMember = "duplicate member"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Not a JSON array, or not valid JSON at all.
        public static let malformed = Code(.malformed)
        /// A valid prefix, but more elements than allowed.
        public static let tooManyElements = Code(.tooManyElements)
        /// An object names the same member twice.
        public static let duplicateMember = Code(.duplicateMember)

        public var description: String { base.rawValue }
    }

    /// What kind of problem.
    public var code: Code
    /// Byte offset in the payload where the problem was found.
    public var offset: Int
    /// What was expected or found there.
    public var detail: String

    public init(_ code: Code, offset: Int, _ detail: String) {
        self.code = code
        self.offset = offset
        self.detail = detail
    }

    public var description: String { "\(detail) at byte \(offset)" }
}
