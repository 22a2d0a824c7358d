/// Why an attempt (or a node) failed: a kind that retry policies match on, a message for humans,
/// and whether a retry could help. Workers report it (the SDK maps thrown errors to it); the engine
/// makes its own for timeouts, lost workers and map problems, with the kinds below.
public struct TaskFailure: Hashable, Sendable, CustomStringConvertible {
    /// A short identifier such as `BadInput` or `Timeout`, matched by
    /// ``RetryPolicy/nonRetryable``.
    public var kind: String
    /// What went wrong, for humans.
    public var message: String
    /// `false` when the failure is known to be permanent (retrying cannot help).
    public var retryable: Bool

    public init(kind: String, message: String, retryable: Bool = true) {
        self.kind = kind
        self.message = message
        self.retryable = retryable
    }

    /// An attempt exceeded one of its ``TaskTimeouts``. Retryable.
    public static let timeoutKind = "Timeout"
    /// The kind recorded on the attempt of a node cancelled on request.
    public static let cancelledKind = "Cancelled"
    /// The run exceeded its workflow's `timeout`. Not retryable.
    public static let runTimeoutKind = "RunTimeout"
    /// The worker running an attempt went away. Retryable.
    public static let workerLostKind = "WorkerLost"
    /// A map node's input is not a JSON array. Not retryable.
    public static let invalidMapInputKind = "InvalidMapInput"
    /// A map node's input has more elements than ``RunStateMachine/Configuration/maxMapWidth``.
    /// Not retryable.
    public static let mapTooWideKind = "MapTooWide"
    /// An element of a map node's fan-out failed for good, so the map node failed. Not retryable.
    public static let mapElementFailedKind = "MapElementFailed"

    /// The failure the engine records when `kind`'s limit expires.
    public static func timeout(_ kind: TimeoutKind) -> TaskFailure {
        let message = switch kind {
        case .scheduleToStart: "no worker took the attempt within its schedule_to_start timeout"
        case .startToClose: "the attempt did not finish within its start_to_close timeout"
        case .heartbeat: "no heartbeat within the attempt's heartbeat timeout"
        }
        return TaskFailure(kind: timeoutKind, message: message, retryable: true)
    }

    /// `Kind: message`.
    public var description: String { "\(kind): \(message)" }
}
