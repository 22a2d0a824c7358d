import Foundation
import WeftCore

/// The task types a worker runs, by name. Handlers take and return bytes; the typed `register`
/// wraps JSON coding around them.
public struct TaskRegistry: Sendable {
    public typealias Handler = @Sendable ([UInt8], TaskContext) async throws -> [UInt8]

    private(set) var handlers: [String: Handler] = [:]

    public init() {}

    public var taskTypes: [String] { handlers.keys.sorted() }

    /// Registers a handler on raw payload bytes. Registering a type twice is a programming error.
    public mutating func register(_ taskType: String, _ handler: @escaping Handler) {
        precondition(!taskType.isEmpty, "a task type needs a name")
        precondition(handlers[taskType] == nil, "task type '\(taskType)' registered twice")
        handlers[taskType] = handler
    }

    /// Registers a typed handler: the input is decoded from JSON (a failure to decode fails the
    /// attempt non-retryably with kind `BadInput`), the output encoded to JSON.
    public mutating func register<Input: Decodable & Sendable, Output: Encodable & Sendable>(
        _ taskType: String, input: Input.Type, output: Output.Type,
        _ handler: @escaping @Sendable (Input, TaskContext) async throws -> Output
    ) {
        register(taskType) { bytes, context in
            let input = try JSONDecoder().decode(Input.self, from: Data(bytes.isEmpty ? Array("null".utf8) : bytes))
            let output = try await handler(input, context)
            return Array(try JSONEncoder().encode(output))
        }
    }

    func handler(for taskType: String) -> Handler? { handlers[taskType] }
}
