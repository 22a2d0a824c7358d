/// A part of a workflow that takes `Input` and gives `Output`: a ``Step``, a ``MapStep``, or a
/// ``Flow`` built from them with `>>>` (sequence) and `|` (side by side).
///
/// The types make wiring mistakes compile errors: `a >>> b` needs `b`'s input to be `a`'s output,
/// and the steps of `a | b` take the same input. What a part gives:
/// - one last step: that step's output;
/// - several last steps (`a | b`): ``ParentOutputs``, their outputs keyed by step name — the
///   input a step after them receives.
///
/// Untyped steps (``JSONValue`` in and out) accept any output, and side by side give
/// ``JSONValue``, so a workflow of built-in tasks reads as it runs.
public protocol WorkflowGraph<Input, Output>: Sendable {
    /// What the part's first steps receive.
    associatedtype Input: Codable & Sendable
    /// What the part's last steps give (``ParentOutputs`` when there are several).
    associatedtype Output: Codable & Sendable
    /// The steps and dependencies.
    var graph: StepGraph { get }
}

/// A part of a workflow built with `>>>` and `|` (see ``WorkflowGraph``).
public struct Flow<Input: Codable & Sendable, Output: Codable & Sendable>: WorkflowGraph {
    /// The steps and dependencies.
    public let graph: StepGraph

    init(graph: StepGraph) {
        self.graph = graph
    }
}

/// The precedence of `>>>`: left-associative, and deliberately unordered with `|` (Swift's
/// `AdditionPrecedence`), so that a mix without parentheses is a compile error, not a guess.
precedencegroup WeftSequencePrecedence {
    associativity: left
    higherThan: AssignmentPrecedence
}

/// Sequence of workflow steps: `a >>> b`.
infix operator >>> : WeftSequencePrecedence

/// Swift's `>>` binds tighter than `|`, so `a >> b | c` would mean `(a >> b) | c`: refused.
@available(*, unavailable, message: "use >>> to sequence steps: Swift's >> binds tighter than |, so a >> b | c would mean (a >> b) | c")
public func >> <A, B, C>(lhs: some WorkflowGraph<A, B>, rhs: some WorkflowGraph<B, C>) -> Flow<A, C> {
    lhs >>> rhs
}

/// Sequence: every first step of `rhs` depends on every last step of `lhs`, and receives its
/// output (`B`).
public func >>> <A, B, C>(lhs: some WorkflowGraph<A, B>, rhs: some WorkflowGraph<B, C>) -> Flow<A, C> {
    Flow(graph: lhs.graph.followed(by: rhs.graph))
}

/// Sequence into untyped steps, which take any output as JSON.
public func >>> <A, B, C>(lhs: some WorkflowGraph<A, B>, rhs: some WorkflowGraph<JSONValue, C>) -> Flow<A, C> {
    Flow(graph: lhs.graph.followed(by: rhs.graph))
}

/// Untyped into untyped (the most specific of the three, so that such a chain is not ambiguous).
public func >>> <A, C>(lhs: some WorkflowGraph<A, JSONValue>, rhs: some WorkflowGraph<JSONValue, C>) -> Flow<A, C> {
    Flow(graph: lhs.graph.followed(by: rhs.graph))
}

/// Side by side: both parts receive the same input and run at the same time; a step after them
/// receives their outputs keyed by step name (``ParentOutputs``).
public func | <A, X, Y>(lhs: some WorkflowGraph<A, X>, rhs: some WorkflowGraph<A, Y>) -> Flow<A, ParentOutputs> {
    Flow(graph: lhs.graph.beside(rhs.graph))
}

/// Untyped steps side by side: JSON in, JSON (an object keyed by step name) out.
public func | (lhs: some WorkflowGraph<JSONValue, JSONValue>, rhs: some WorkflowGraph<JSONValue, JSONValue>) -> Flow<JSONValue, JSONValue> {
    Flow(graph: lhs.graph.beside(rhs.graph))
}

/// The input of a step with several parents: each parent's output, by the parent's name. Read an
/// output with the parent step itself, so that its type comes along:
///
/// ```swift
/// let load = TaskType<ParentOutputs, Report>("load")
/// registry.register(load) { parents, _ in
///     let rows = try parents.output(of: clean)      // clean: Step<Batch, [Row]>
///     let tags = try parents.output(of: enrich)     // enrich: Step<Batch, Tags>
///     …
/// }
/// ```
///
/// Under a join of ``Join/any`` or ``Join/atLeast(_:)`` only the parents that had succeeded are
/// present; ``contains(_:)`` tells.
public struct ParentOutputs: Sendable, Hashable, Codable {
    /// Each parent's output, by name.
    public let outputs: [String: JSONValue]

    /// Parent outputs by name (mostly for tests).
    public init(_ outputs: [String: JSONValue]) {
        self.outputs = outputs
    }

    /// Decodes the object of parent outputs.
    public init(from decoder: any Decoder) throws {
        guard case .object(let fields) = try JSONValue(from: decoder) else {
            throw DecodingError.typeMismatch(
                ParentOutputs.self,
                .init(codingPath: decoder.codingPath, debugDescription: "parent outputs are a JSON object keyed by parent name"))
        }
        outputs = fields
    }

    /// Encodes the object of parent outputs.
    public func encode(to encoder: any Encoder) throws {
        try JSONValue.object(outputs).encode(to: encoder)
    }

    /// Whether the parent named `name` succeeded and its output is here.
    public func contains(_ name: String) -> Bool { outputs[name] != nil }

    /// The output of parent `step`, decoded as its output type. Throws `DecodingError` when it is
    /// missing or does not decode.
    public func output<I, O>(of step: Step<I, O>) throws -> O {
        try decode(step.name, as: O.self)
    }

    /// The output of parent map step `step`: the list of its tasks' outputs.
    public func output<I, O>(of step: MapStep<I, O>) throws -> [O] {
        try decode(step.name, as: [O].self)
    }

    /// The payload of parent signal step `step`.
    public func output<P>(of step: WaitSignal<P>) throws -> P {
        try decode(step.name, as: P.self)
    }

    /// The output of the parent named `name`, as JSON; nil when it is not here.
    public subscript(name: String) -> JSONValue? { outputs[name] }

    private func decode<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        guard let value = outputs[name] else {
            throw DecodingError.keyNotFound(
                AnyKey(name),
                .init(codingPath: [], debugDescription: "no output of parent '\(name)' (parents here: \(outputs.keys.sorted().joined(separator: ", ")))"))
        }
        return try value.decoded(as: T.self)
    }
}

/// What a step expects as input, for the checks that types cannot make (a step used in two places
/// of a workflow gets the parents of both).
enum InputShape: Sendable, Hashable {
    /// ``JSONValue``: anything.
    case any
    /// ``ParentOutputs``: needs two or more parents.
    case parentOutputs
    /// One value of the named type: needs at most one parent.
    case single(String)

    init(_ type: Any.Type) {
        if type == JSONValue.self {
            self = .any
        } else if type == ParentOutputs.self {
            self = .parentOutputs
        } else {
            self = .single(String(reflecting: type))
        }
    }
}

/// One step as the definition sees it.
struct StepSpec: Sendable, Hashable {
    var name: String
    var type: String
    var options: [String: JSONValue]
    var input: InputShape
}

/// The steps of a part of a workflow, their dependencies, and the steps it starts and ends with.
public struct StepGraph: Sendable {
    var steps: [StepSpec] = []
    var dependencies: [String: [String]] = [:]
    var entries: [String] = []
    var exits: [String] = []
    /// Names given to two different steps (reported when the workflow is registered).
    var conflicts: Set<String> = []

    init(_ step: StepSpec) {
        steps = [step]
        entries = [step.name]
        exits = [step.name]
    }

    private init(steps: [StepSpec], dependencies: [String: [String]], entries: [String], exits: [String], conflicts: Set<String>) {
        self.steps = steps
        self.dependencies = dependencies
        self.entries = entries
        self.exits = exits
        self.conflicts = conflicts
    }

    /// `self >>> next`.
    func followed(by next: StepGraph) -> StepGraph {
        var dependencies = dependencies.merging(next.dependencies) { $0 + $1 }
        for entry in next.entries {
            for exit in exits where !(dependencies[entry] ?? []).contains(exit) {
                dependencies[entry, default: []].append(exit)
            }
        }
        let (steps, conflicts) = merged(with: next)
        return StepGraph(steps: steps, dependencies: dependencies.mapValues(unique), entries: entries, exits: next.exits, conflicts: conflicts)
    }

    /// `self | other`.
    func beside(_ other: StepGraph) -> StepGraph {
        let (steps, conflicts) = merged(with: other)
        return StepGraph(
            steps: steps, dependencies: dependencies.merging(other.dependencies) { $0 + $1 }.mapValues(unique),
            entries: entries + other.entries.filter { !entries.contains($0) },
            exits: exits + other.exits.filter { !exits.contains($0) },
            conflicts: conflicts)
    }

    /// Steps of both sides, each once: the same step used twice by name is one task; two different
    /// steps with one name are a conflict.
    private func merged(with other: StepGraph) -> ([StepSpec], Set<String>) {
        var byName = Dictionary(uniqueKeysWithValues: steps.map { ($0.name, $0) })
        var out = steps
        var conflicts = conflicts.union(other.conflicts)
        for step in other.steps {
            if let known = byName[step.name] {
                if known != step { conflicts.insert(step.name) }
                continue
            }
            byName[step.name] = step
            out.append(step)
        }
        return (out, conflicts)
    }
}

private func unique(_ names: [String]) -> [String] {
    var seen = Set<String>()
    return names.filter { seen.insert($0).inserted }
}

extension JSONValue {
    /// The value decoded as `T` (through its JSON text).
    func decoded<T: Decodable>(as type: T.Type) throws -> T {
        try JSONCoding.decode(T.self, from: serialized())
    }
}
