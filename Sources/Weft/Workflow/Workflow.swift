import WeftCore

/// A named workflow: a graph of steps that takes `Input` (the run's input) and gives `Output` (the
/// run's output), ready to register with ``WeftClient/register(_:)``.
///
/// ```swift
/// let ingest = Workflow("ingest", extract >>> (clean | enrich) >>> load)
/// let same = Workflow("ingest") {           // stages in order
///     extract
///     clean | enrich
///     load
/// }
/// ```
///
/// The definition is the file format of ARCHITECTURE.md §4, so a workflow written here and the same
/// workflow written as YAML for `weftctl workflow apply` are the same version.
public struct Workflow<Input: Codable & Sendable, Output: Codable & Sendable>: Sendable {
    /// The workflow's name.
    public let name: String
    /// Its steps and dependencies.
    public let graph: StepGraph
    /// The longest a run may take (``timeout(_:)``); nil: no limit.
    public private(set) var runTimeout: Duration?

    /// The workflow `name` made of `flow`.
    public init(_ name: String, _ flow: some WorkflowGraph<Input, Output>) {
        self.name = name
        self.graph = flow.graph
    }

    /// The workflow `name` made of stages that run in order: each stage's first steps depend on
    /// the previous stage's last steps (the same as joining the stages with `>>>`).
    public init(_ name: String, @StagesBuilder _ stages: () -> Flow<Input, Output>) {
        self.init(name, stages())
    }

    /// Limits how long a run may take, from its start to its close: past it the run fails
    /// (`RunTimeout`) and its attempts in flight are cancelled. The deadline is durable (it follows
    /// from the run's id), so restarts do not move it.
    public func timeout(_ limit: Duration) -> Self {
        var copy = self
        copy.runTimeout = limit
        return copy
    }

    /// The definition in the file format of ARCHITECTURE.md §4, as JSON (object keys sorted, so
    /// the same workflow always gives the same bytes and version).
    ///
    /// Throws ``WeftError`` (`INVALID_ARGUMENT`) for what the types could not check: two different
    /// steps with one name, or a step used in several places whose parents do not give what it
    /// takes (several parents give ``ParentOutputs``; one parent gives its own output). The server
    /// checks the rest (names, cycles, limits, durations) when the workflow is registered.
    public func definitionJSON() throws -> [UInt8] {
        var problems: [String] = graph.conflicts.sorted().map { "two different steps are named '\($0)'" }
        for step in graph.steps {
            let parents = graph.dependencies[step.name]?.count ?? 0
            switch step.input {
            case .any:
                break
            case .parentOutputs where parents < 2:
                problems.append(
                    "step '\(step.name)' takes ParentOutputs but has \(parents == 0 ? "no parent" : "one parent"); only a step with several parents receives them")
            case .single(let type) where parents >= 2:
                problems.append(
                    "step '\(step.name)' has \(parents) parents (\(graph.dependencies[step.name]!.joined(separator: ", "))), so it receives ParentOutputs, but it takes \(type)")
            case .parentOutputs, .single:
                break
            }
        }
        guard problems.isEmpty else {
            throw WeftError(.invalidArgument, "workflow '\(name)': " + problems.joined(separator: "; "))
        }
        let tasks: [JSONValue] = graph.steps.map { step in
            var object: [String: JSONValue] = ["name": .string(step.name)]
            if !step.type.isEmpty { object["type"] = .string(step.type) }  // a sleep node has none
            if let parents = graph.dependencies[step.name], !parents.isEmpty {
                object["depends_on"] = .array(parents.map(JSONValue.string))
            }
            object.merge(step.options) { _, new in new }
            return .object(object)
        }
        var definition: [String: JSONValue] = ["name": .string(name), "tasks": .array(tasks)]
        if let runTimeout { definition["timeout"] = .string(DurationText.format(runTimeout)) }
        return JSONValue.object(definition).serialized()
    }
}

/// Builds a ``Flow`` from stages listed one per line, each running after the one before:
/// `{ a; b | c; d }` is `a >>> (b | c) >>> d`, with the same type checks.
@resultBuilder
public enum StagesBuilder {
    /// The first stage.
    public static func buildPartialBlock<A, B>(first: some WorkflowGraph<A, B>) -> Flow<A, B> {
        Flow(graph: first.graph)
    }

    /// The next stage takes what the stages so far give.
    public static func buildPartialBlock<A, B, C>(accumulated: Flow<A, B>, next: some WorkflowGraph<B, C>) -> Flow<A, C> {
        accumulated >>> next
    }

    /// The next stage is untyped and takes anything as JSON.
    public static func buildPartialBlock<A, B, C>(accumulated: Flow<A, B>, next: some WorkflowGraph<JSONValue, C>) -> Flow<A, C> {
        accumulated >>> next
    }

    /// Untyped after untyped (the most specific, so that such stages are not ambiguous).
    public static func buildPartialBlock<A, C>(accumulated: Flow<A, JSONValue>, next: some WorkflowGraph<JSONValue, C>) -> Flow<A, C> {
        accumulated >>> next
    }
}
