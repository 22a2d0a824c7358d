/// Why ``RunStateMachine/recover(runID:workflow:snapshot:configuration:seed:now:)`` rejected a
/// snapshot: it names a node the pinned workflow does not have, or it describes a state the engine
/// can never produce (for example an attempt on a node whose parents have not succeeded). Stored
/// data that fails here is corrupt or belongs to another workflow version; the shell reports the
/// run as failed to recover rather than guessing.
public struct RecoveryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A struct with static members so that new codes break no `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unknownNode = "unknown node"
            case inconsistentSnapshot = "inconsistent snapshot"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The snapshot names a node or element the workflow does not have.
        public static let unknownNode = Code(.unknownNode)
        /// The snapshot describes an impossible state.
        public static let inconsistentSnapshot = Code(.inconsistentSnapshot)

        public var description: String { base.rawValue }
    }

    /// What kind of problem.
    public var code: Code
    /// The node concerned, when there is one.
    public var node: NodeKey?
    /// What is wrong, for humans.
    public var detail: String

    public init(_ code: Code, node: NodeKey? = nil, _ detail: String) {
        self.code = code
        self.node = node
        self.detail = detail
    }

    public var description: String {
        guard let node else { return "\(code): \(detail)" }
        return "\(code) '\(node)': \(detail)"
    }
}
