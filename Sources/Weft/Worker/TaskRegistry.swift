import WeftCore

/// The task types a worker runs, by name: what ``WeftWorker`` announces to the schedulers and
/// dispatches to.
///
/// ```swift
/// var registry = TaskRegistry()
/// registry.register(price) { order, context in      // price: TaskType<Order, Quote>
///     try await quote(order)
/// }
/// ```
public struct TaskRegistry: Sendable {
    /// A handler on raw payload bytes (JSON by convention).
    public typealias Handler = @Sendable ([UInt8], TaskContext) async throws -> [UInt8]

    private(set) var handlers: [String: Handler] = [:]

    /// An empty registry (add the built-in types with ``BuiltinTasks/register(into:allowExec:)``).
    public init() {}

    /// The names of the registered task types, sorted.
    public var taskTypes: [String] { handlers.keys.sorted() }

    /// Registers the handler of `task`: the input is decoded from JSON (input that does not decode
    /// fails the attempt without retry, kind `BadInput`), the output encoded to JSON.
    ///
    /// Registering a name twice is a programming error (a precondition failure).
    public mutating func register<Input, Output>(
        _ task: TaskType<Input, Output>,
        _ handler: @escaping @Sendable (Input, TaskContext) async throws -> Output
    ) {
        register(task.name) { bytes, context in
            let input = try JSONCoding.decode(Input.self, from: bytes)
            let output = try await handler(input, context)
            do {
                return try JSONCoding.encode(output)
            } catch {
                throw TaskError(kind: "BadOutput", message: "the output does not encode as JSON: \(error)", retryable: false)
            }
        }
    }

    /// Registers a handler on raw payload bytes under `taskType`. Registering a name twice is a
    /// programming error.
    public mutating func register(_ taskType: String, _ handler: @escaping Handler) {
        precondition(!taskType.isEmpty, "a task type needs a name")
        precondition(handlers[taskType] == nil, "task type '\(taskType)' registered twice")
        handlers[taskType] = handler
    }

    package func handler(for taskType: String) -> Handler? { handlers[taskType] }
}
