import WeftCore

/// A workflow definition that passed ``WorkflowDefinition/validated(limits:)``: a DAG with unique,
/// well-formed names, known acyclic dependencies and sane options, plus what the engine derives from
/// it once — the topological order, parents and children of every node, roots, leaves, the canonical
/// encoding and the content hash (``version``).
///
/// Invariants (established by validation, relied on by ``RunStateMachine``):
/// - node names are unique; every dependency names another node; there is no cycle;
/// - a `map` node has exactly one parent; a root has no `join`; `at_least(N)` has `1 ≤ N ≤ parents`;
/// - nodes are numbered in topological order: every parent has a smaller number than its children;
///   ties are broken by name (byte order), so the order depends only on the workflow's content.
///
/// The derived data lives in one immutable shared object, so copying a `ValidatedWorkflow` into
/// each of many runs' state machines costs one reference count, not a graph.
public struct ValidatedWorkflow: Sendable, Equatable, CustomStringConvertible {
    /// The immutable derived form. Node numbers are positions in ``tasks``.
    final class Graph: Sendable {
        let definition: WorkflowDefinition
        /// The nodes in topological order.
        let tasks: [TaskDefinition]
        let indexByName: [String: Int]
        /// Per node, its parents' numbers ordered by name (the key order of combined inputs).
        let parents: [[Int]]
        /// Per node, its children's numbers in topological order.
        let children: [[Int]]
        let roots: [Int]
        let leaves: [Int]
        let canonicalJSON: [UInt8]
        let version: WorkflowVersion

        init(definition: WorkflowDefinition, tasks: [TaskDefinition], parents: [[Int]], children: [[Int]]) {
            self.definition = definition
            self.tasks = tasks
            var indexByName: [String: Int] = [:]
            indexByName.reserveCapacity(tasks.count)
            for (index, task) in tasks.enumerated() { indexByName[task.name] = index }
            self.indexByName = indexByName
            self.parents = parents
            self.children = children
            self.roots = tasks.indices.filter { parents[$0].isEmpty }
            self.leaves = tasks.indices.filter { children[$0].isEmpty }
            let canonical = CanonicalEncoding.encode(name: definition.name, tasks: tasks, timeout: definition.timeout)
            self.canonicalJSON = canonical
            self.version = WorkflowVersion(rawValue: StableHash.xxh64(canonical))
        }
    }

    let graph: Graph

    init(graph: Graph) { self.graph = graph }

    /// The definition as given to ``WorkflowDefinition/validated(limits:)``.
    public var definition: WorkflowDefinition { graph.definition }

    /// The workflow's name.
    public var name: String { graph.definition.name }

    /// The content hash a run pins: xxHash64 of ``canonicalJSON``.
    public var version: WorkflowVersion { graph.version }

    /// The canonical encoding: JSON with sorted keys, tasks sorted by name, dependency and
    /// non-retryable lists sorted, every default spelled out and durations in one exact spelling.
    /// Two definitions that mean the same thing have the same canonical encoding, whatever their
    /// key order, whitespace, task order or format (YAML or JSON); any change of meaning changes
    /// it. It decodes back to an equivalent ``WorkflowDefinition``, so it is also the form to store.
    public var canonicalJSON: [UInt8] { graph.canonicalJSON }

    /// The nodes in topological order (parents before children, ties by name).
    public var tasks: [TaskDefinition] { graph.tasks }

    /// The node names in topological order.
    public var topologicalOrder: [String] { graph.tasks.map(\.name) }

    /// Nodes without parents, in topological order: they run first, with the run's input.
    public var roots: [String] { graph.roots.map { graph.tasks[$0].name } }

    /// Nodes without children, in topological order: their outputs make the run's output.
    public var leaves: [String] { graph.leaves.map { graph.tasks[$0].name } }

    /// The node named `name`, or `nil`.
    public func task(named name: String) -> TaskDefinition? {
        graph.indexByName[name].map { graph.tasks[$0] }
    }

    /// The parents of `name`, ordered by name; `nil` for an unknown node.
    public func parents(of name: String) -> [String]? {
        graph.indexByName[name].map { graph.parents[$0].map { graph.tasks[$0].name } }
    }

    /// The children of `name`, in topological order; `nil` for an unknown node.
    public func children(of name: String) -> [String]? {
        graph.indexByName[name].map { graph.children[$0].map { graph.tasks[$0].name } }
    }

    /// Every node's parents, ordered by name.
    public var parents: [String: [String]] {
        Dictionary(uniqueKeysWithValues: graph.tasks.indices.map { index in
            (graph.tasks[index].name, graph.parents[index].map { graph.tasks[$0].name })
        })
    }

    /// Every node's children, in topological order.
    public var children: [String: [String]] {
        Dictionary(uniqueKeysWithValues: graph.tasks.indices.map { index in
            (graph.tasks[index].name, graph.children[index].map { graph.tasks[$0].name })
        })
    }

    public var description: String { "\(name)@\(version)" }

    /// Equal when the canonical encodings are equal, i.e. when the workflows mean the same thing.
    public static func == (a: ValidatedWorkflow, b: ValidatedWorkflow) -> Bool {
        a.graph === b.graph || a.graph.canonicalJSON == b.graph.canonicalJSON
    }
}
