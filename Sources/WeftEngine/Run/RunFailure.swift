/// Why a run failed: the node whose failure could not be tolerated, its failure, and — when the
/// node was not a leaf — the downstream node that can consequently never run.
public struct RunFailure: Hashable, Sendable, CustomStringConvertible {
    /// The node that failed for good (a workflow node, never a map element: an element's failure
    /// fails its map node first); empty when the run itself failed (its workflow's `timeout`).
    public var node: NodeKey
    /// Its failure.
    public var failure: TaskFailure
    /// The child whose join can no longer be satisfied because of it; `nil` when ``node`` is a
    /// leaf (a failed leaf always fails the run).
    public var blockedNode: String?

    public init(node: NodeKey, failure: TaskFailure, blockedNode: String? = nil) {
        self.node = node
        self.failure = failure
        self.blockedNode = blockedNode
    }

    public var description: String {
        // An empty node: the run itself (its workflow's timeout).
        var text = node.name.isEmpty ? "the run failed: \(failure)" : "task '\(node)' failed: \(failure)"
        if let blockedNode { text += "; '\(blockedNode)' can no longer run" }
        return text
    }
}
