/// A kind of task, declared once with its input and output types and shared by the code that
/// runs it and the workflows that use it:
///
/// ```swift
/// let price = TaskType<Order, Quote>("price")
///
/// registry.register(price) { order, context in try await quote(order) }   // on a worker
/// let shipping = Workflow("shipping", Step(price) >>> Step(label))         // in a workflow
/// ```
///
/// The name is what the cluster routes by (workers announce the names they run; a definition names
/// its tasks' types); the types are what the Swift compiler checks: a step whose input is a
/// `Quote` cannot follow a step whose output is a `Label`. Payloads travel as JSON, encoded and
/// decoded with `JSONEncoder`/`JSONDecoder`.
public struct TaskType<Input: Codable & Sendable, Output: Codable & Sendable>: Sendable, Hashable {
    /// The name workers register and definitions refer to (`[A-Za-z0-9_.-]`, at most 128 bytes).
    public let name: String

    /// Declares the task type `name`.
    public init(_ name: String) {
        self.name = name
    }
}

extension TaskType where Input == JSONValue, Output == JSONValue {
    /// `noop`: built into every worker; succeeds at once with output `null`.
    public static var noop: TaskType { TaskType("noop") }
    /// `echo`: built into every worker; its output is its input.
    public static var echo: TaskType { TaskType("echo") }
}
