import WeftCore
import WeftWire

/// What a task handler knows about the attempt it runs, and how it reports progress.
///
/// Execution is at-least-once: after a worker crash or a lost connection the same task may run
/// again with a higher `attempt`. Make side effects idempotent, e.g. keyed by `runID` + `node`.
public struct TaskContext: Sendable {
    /// The run the attempt belongs to.
    public let runID: RunID
    /// The step's name; a map step's element is `name[i]`.
    public let node: String
    /// The attempt's number, from 1.
    public let attempt: Int
    /// The run's workflow.
    public let workflow: String
    /// The task type that runs it.
    public let taskType: String
    let heartbeatSink: @Sendable ([UInt8]) async -> Void
    /// Set (before the task is cancelled) when the run was terminated rather than cancelled.
    let termination = Locked(false)

    /// A context for calling a handler directly (a unit test); heartbeats go to `heartbeat`.
    public init(
        runID: RunID, node: String, attempt: Int = 1, workflow: String = "test", taskType: String = "test",
        heartbeat: @escaping @Sendable ([UInt8]) async -> Void = { _ in }
    ) {
        self.runID = runID
        self.node = node
        self.attempt = attempt
        self.workflow = workflow
        self.taskType = taskType
        self.heartbeatSink = heartbeat
    }

    /// Sends a heartbeat now, with optional progress details. The worker already heartbeats every
    /// attempt it runs while the process is alive; call this to report progress.
    public func heartbeat(details: [UInt8] = []) async {
        await heartbeatSink(details)
    }

    /// True once the attempt was cancelled (run cancelled, timed out, worker shutting down).
    /// Cancellation is cooperative: long handlers should check it or use cancellable awaits.
    public var isCancelled: Bool { Task.isCancelled }

    /// True once the run was *terminated* (`weftctl run cancel --terminate`): stop at once and skip
    /// any cleanup. The task is cancelled as well; `exec` children get SIGKILL with no grace.
    public var isTerminated: Bool { termination.withLock { $0 } }
}

/// A task failure with an explicit kind, as the retry policy sees it: a kind listed in the task's
/// `non_retryable`, or `retryable: false`, fails the task without further attempts.
/// Any other error a handler throws fails the attempt as retryable, with its type name as the kind.
public struct TaskError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The failure's kind, as `non_retryable` lists match it.
    public var kind: String
    /// What happened.
    public var message: String
    /// False: fail the task now, whatever its retry policy.
    public var retryable: Bool

    /// A failure of kind `kind`.
    public init(kind: String, message: String, retryable: Bool = true) {
        self.kind = kind
        self.message = message
        self.retryable = retryable
    }

    /// `kind: message`.
    public var description: String { "\(kind): \(message)" }

    /// The failure a thrown error is reported as.
    package static func from(_ error: any Error) -> TaskError {
        switch error {
        case let error as TaskError: error
        case is CancellationError: TaskError(kind: "Cancelled", message: "the attempt was cancelled")
        case let error as DecodingError: TaskError(kind: "BadInput", message: "the input does not decode: \(error)", retryable: false)
        default: TaskError(kind: String(describing: type(of: error)), message: String(describing: error))
        }
    }
}
