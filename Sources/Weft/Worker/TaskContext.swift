import WeftCore
import WeftWire

/// What a task handler knows about the attempt it runs, and how it reports progress.
///
/// Execution is at-least-once: after a worker crash or a lost connection the same task may run
/// again with a higher `attempt`. Make side effects idempotent, e.g. keyed by `runID` + `node`.
public struct TaskContext: Sendable {
    public let runID: String
    public let node: String
    public let attempt: Int
    public let workflow: String
    public let taskType: String
    let heartbeatSink: @Sendable ([UInt8]) async -> Void

    /// Sends a heartbeat now, with optional progress details. The worker already heartbeats every
    /// attempt it runs while the process is alive; call this to report progress.
    public func heartbeat(details: [UInt8] = []) async {
        await heartbeatSink(details)
    }

    /// True once the attempt was cancelled (run cancelled, timed out, worker shutting down).
    /// Cancellation is cooperative: long handlers should check it or use cancellable awaits.
    public var isCancelled: Bool { Task.isCancelled }
}

/// A task failure with an explicit kind, as the retry policy sees it: a kind listed in the task's
/// `non_retryable`, or `retryable: false`, fails the task without further attempts.
/// Any other error a handler throws fails the attempt as retryable, with its type name as the kind.
public struct TaskError: Error, Sendable, Hashable, CustomStringConvertible {
    public var kind: String
    public var message: String
    public var retryable: Bool

    public init(kind: String, message: String, retryable: Bool = true) {
        self.kind = kind
        self.message = message
        self.retryable = retryable
    }

    public var description: String { "\(kind): \(message)" }

    /// The failure a thrown error is reported as.
    static func from(_ error: any Error) -> TaskError {
        switch error {
        case let error as TaskError: error
        case is CancellationError: TaskError(kind: "Cancelled", message: "the attempt was cancelled")
        case let error as DecodingError: TaskError(kind: "BadInput", message: "the input does not decode: \(error)", retryable: false)
        default: TaskError(kind: String(describing: type(of: error)), message: String(describing: error))
        }
    }
}
