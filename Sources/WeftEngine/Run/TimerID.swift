/// Names a timer the engine asked its shell to arm with ``RunStateMachine/Action/schedule(_:at:)``.
/// The shell keeps at most one timer per id (scheduling an id again moves it) and reports expiry
/// with ``RunStateMachine/timerFired(_:now:)``.
///
/// A timer belongs to one attempt of one node, so a timer that outlives its attempt (a race
/// between cancellation and expiry) is recognised as stale and ignored.
public struct TimerID: Hashable, Sendable, CustomStringConvertible {
    /// What the timer is for.
    public enum Kind: Hashable, Sendable, CustomStringConvertible {
        /// A time limit of ``attempt``; expiry fails it with kind ``TaskFailure/timeoutKind``.
        case timeout(TimeoutKind)
        /// The end of the wait before ``attempt`` (the attempt about to be dispatched).
        case retryBackoff
        /// The run's own deadline (the workflow's `timeout`); ``TimerID/run`` names it.
        case runTimeout

        public var description: String {
            switch self {
            case .timeout(let kind): kind.rawValue
            case .retryBackoff: "retry_backoff"
            case .runTimeout: "run_timeout"
            }
        }
    }

    /// What the timer is for.
    public var kind: Kind
    /// The node or map element it belongs to.
    public var node: NodeKey
    /// The attempt the timer guards (timeouts) or starts (retry backoff).
    public var attempt: Int

    public init(_ kind: Kind, node: NodeKey, attempt: Int) {
        self.kind = kind
        self.node = node
        self.attempt = attempt
    }

    /// The run's own deadline timer (the workflow's `timeout`): not about a node.
    public static let run = TimerID(.runTimeout, node: NodeKey(""), attempt: 0)

    /// `heartbeat:shard[3]#2`.
    public var description: String { "\(kind):\(node)#\(attempt)" }
}
