/// Names one executable task of a run: a node of the workflow (`extract`), or one element of a
/// `map` node's fan-out (`shard[3]`, with ``index`` 3). Assignments carry it to workers, and
/// workers' results carry it back (ARCHITECTURE.md §4: `(run_id, node, attempt, fence)`).
///
/// The text form is unambiguous because node names cannot contain `[` (see
/// ``WorkflowDefinition/validated(limits:)``). Ordered by name, then index (the node itself first).
public struct NodeKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The node's name in the definition.
    public var name: String
    /// For an element of a map node's fan-out, its position in the list; `nil` for a node itself.
    public var index: Int?

    /// The node `name` itself.
    public init(_ name: String) {
        self.name = name
        self.index = nil
    }

    /// Element `index` of map node `name`.
    public init(_ name: String, index: Int) {
        precondition(index >= 0, "map element indices start at 0, got \(index)")
        self.name = name
        self.index = index
    }

    /// Parses `name` or `name[index]` (index in plain decimal, without leading zeros); `nil` for
    /// anything else. Peer-supplied text goes through here, so it never traps.
    public init?(parsing text: String) {
        guard text.hasSuffix("]"), let open = text.lastIndex(of: "[") else {
            guard !text.isEmpty, !text.contains("["), !text.contains("]") else { return nil }
            self.init(text)
            return
        }
        let name = text[..<open]
        let digits = text[text.index(after: open)..<text.index(before: text.endIndex)]
        guard !name.isEmpty, !name.contains("["), !name.contains("]"),
              !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              digits == "0" || digits.first != "0",
              let index = Int(digits)
        else { return nil }
        self.init(String(name), index: index)
    }

    /// `name` or `name[index]`.
    public var description: String {
        guard let index else { return name }
        return "\(name)[\(index)]"
    }

    public static func < (a: NodeKey, b: NodeKey) -> Bool {
        if a.name != b.name { return a.name.utf8.lexicographicallyPrecedes(b.name.utf8) }
        return (a.index ?? -1) < (b.index ?? -1)
    }
}
