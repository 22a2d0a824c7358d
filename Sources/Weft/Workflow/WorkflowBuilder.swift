import Foundation
import WeftCore

/// A task in a workflow built with the Swift DSL (ARCHITECTURE.md §4):
///
/// ```swift
/// let extract = Step("extract", type: "echo").retry(maxAttempts: 5, initialBackoff: "200ms").priority(.high)
/// let clean = Step("clean", type: "noop")
/// let enrich = Step("enrich", type: "noop")
/// let load = Step("load", type: "noop")
/// let ingest = Workflow("ingest", extract >>> (clean | enrich) >>> load)
/// let same = Workflow("ingest", extract, clean | enrich, load)     // stages in order
/// ```
///
/// `a >>> b` makes every first step of `b` depend on every last step of `a`; `a | b` runs both
/// side by side. Both chain (`a >>> b >>> c`, `a | b | c`). Mixing them needs parentheses:
/// `a >>> b | c` does not compile, because it reads either way — `>>>` has a precedence group of
/// its own, unordered with `|`'s. (Swift's `>>` could not be used: it binds tighter than `|`, so
/// `a >> b | c` would silently mean `(a >> b) | c`, and `a >> b >> c` does not parse.)
/// A step's options mirror the definition file's fields; the server validates the result
/// (cycles, unknown types, limits) when the workflow is registered.
public struct Step: Sendable, Hashable {
    public enum Priority: String, Sendable, Hashable, Codable {
        case critical, high, normal, low
    }

    public enum Join: Sendable, Hashable {
        case all
        case any
        case atLeast(Int)

        var text: String {
            switch self {
            case .all: "all"
            case .any: "any"
            case .atLeast(let n): "at_least(\(n))"
            }
        }
    }

    public var name: String
    public var type: String
    var options: [String: JSONValue] = [:]

    public init(_ name: String, type: String) {
        self.name = name
        self.type = type
    }

    /// Retry policy; durations as text (`"200ms"`, `"30s"`).
    public func retry(maxAttempts: Int, initialBackoff: String? = nil, maxBackoff: String? = nil, nonRetryable: [String] = []) -> Step {
        var retry: [String: JSONValue] = ["max_attempts": .number(Double(maxAttempts))]
        if let initialBackoff { retry["initial_backoff"] = .string(initialBackoff) }
        if let maxBackoff { retry["max_backoff"] = .string(maxBackoff) }
        if !nonRetryable.isEmpty { retry["non_retryable"] = .array(nonRetryable.map(JSONValue.string)) }
        return with("retry", .object(retry))
    }

    public func timeouts(scheduleToStart: String? = nil, startToClose: String? = nil, heartbeat: String? = nil) -> Step {
        var timeouts: [String: JSONValue] = [:]
        if let scheduleToStart { timeouts["schedule_to_start"] = .string(scheduleToStart) }
        if let startToClose { timeouts["start_to_close"] = .string(startToClose) }
        if let heartbeat { timeouts["heartbeat"] = .string(heartbeat) }
        return with("timeouts", .object(timeouts))
    }

    public func priority(_ priority: Priority) -> Step { with("priority", .string(priority.rawValue)) }
    public func queue(_ queue: String) -> Step { with("queue", .string(queue)) }
    /// One task per element of the JSON array its (single) parent returns.
    public func map() -> Step { with("map", .bool(true)) }
    public func join(_ join: Join) -> Step { with("join", .string(join.text)) }

    private func with(_ key: String, _ value: JSONValue) -> Step {
        var copy = self
        copy.options[key] = value
        return copy
    }
}

/// A part of a workflow graph: its steps, their dependencies, and the steps it starts and ends with.
public struct StepGraph: Sendable {
    var steps: [Step] = []
    var dependencies: [String: [String]] = [:]
    var entries: [String] = []
    var exits: [String] = []

    init(_ step: Step) {
        steps = [step]
        entries = [step.name]
        exits = [step.name]
    }

    init(steps: [Step], dependencies: [String: [String]], entries: [String], exits: [String]) {
        self.steps = steps
        self.dependencies = dependencies
        self.entries = entries
        self.exits = exits
    }
}

/// Something that can stand on either side of `>>>` and `|`.
public protocol StepGraphConvertible: Sendable {
    var graph: StepGraph { get }
}

extension Step: StepGraphConvertible {
    public var graph: StepGraph { StepGraph(self) }
}

extension StepGraph: StepGraphConvertible {
    public var graph: StepGraph { self }
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
public func >> (lhs: some StepGraphConvertible, rhs: some StepGraphConvertible) -> StepGraph {
    lhs >>> rhs
}

/// Sequence: everything `rhs` starts with depends on everything `lhs` ends with.
public func >>> (lhs: some StepGraphConvertible, rhs: some StepGraphConvertible) -> StepGraph {
    let a = lhs.graph
    let b = rhs.graph
    var dependencies = a.dependencies.merging(b.dependencies) { $0 + $1 }
    for entry in b.entries {
        for exit in a.exits where !(dependencies[entry] ?? []).contains(exit) {
            dependencies[entry, default: []].append(exit)
        }
    }
    return StepGraph(steps: merge(a.steps, b.steps), dependencies: dependencies, entries: a.entries, exits: b.exits)
}

/// Side by side: both run once their own dependencies are met.
public func | (lhs: some StepGraphConvertible, rhs: some StepGraphConvertible) -> StepGraph {
    let a = lhs.graph
    let b = rhs.graph
    return StepGraph(
        steps: merge(a.steps, b.steps), dependencies: a.dependencies.merging(b.dependencies) { $0 + $1 },
        entries: a.entries + b.entries.filter { !a.entries.contains($0) },
        exits: a.exits + b.exits.filter { !a.exits.contains($0) })
}

/// Steps of both sides, each once (a step used twice by name is the same step).
private func merge(_ a: [Step], _ b: [Step]) -> [Step] {
    var seen = Set(a.map(\.name))
    var out = a
    for step in b where !seen.contains(step.name) {
        seen.insert(step.name)
        out.append(step)
    }
    return out
}

/// A named workflow: the graph plus its name, ready to register (`WeftClient.register(_:)`).
public struct Workflow: Sendable {
    public var name: String
    public var graph: StepGraph

    public init(_ name: String, _ graph: some StepGraphConvertible) {
        self.name = name
        self.graph = graph.graph
    }

    /// Stages run in order: each stage's first steps depend on the previous stage's last steps.
    public init(_ name: String, _ first: any StepGraphConvertible, _ rest: any StepGraphConvertible...) {
        self.name = name
        var graph = first.graph
        for stage in rest { graph = graph >>> stage.graph }
        self.graph = graph
    }

    /// The definition in the file format of ARCHITECTURE.md §4, as JSON.
    public func definitionJSON() -> [UInt8] {
        let tasks: [JSONValue] = graph.steps.map { step in
            var object: [String: JSONValue] = ["name": .string(step.name), "type": .string(step.type)]
            if let parents = graph.dependencies[step.name], !parents.isEmpty {
                object["depends_on"] = .array(parents.map(JSONValue.string))
            }
            object.merge(step.options) { _, new in new }
            return .object(object)
        }
        return JSONValue.object(["name": .string(name), "tasks": .array(tasks)]).serialized()
    }
}

/// A minimal JSON value with deterministic (sorted-key) serialisation.
enum JSONValue: Sendable, Hashable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])

    func serialized() -> [UInt8] {
        var out = ""
        write(to: &out)
        return Array(out.utf8)
    }

    private func write(to out: inout String) {
        switch self {
        case .string(let s): out += quoteJSON(s)
        case .number(let n): out += n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .bool(let b): out += b ? "true" : "false"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, key) in fields.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                out += quoteJSON(key) + ":"
                fields[key]!.write(to: &out)
            }
            out += "}"
        }
    }
}

func quoteJSON(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
