/// An event the run state machine did not apply, and why (``RunStateMachine/Action/ignored(_:)``).
///
/// Nothing about the run changed. The shell answers the reporter accordingly — a worker whose
/// result is ignored as stale learns that it was not recorded (ARCHITECTURE.md §4: recording is
/// exactly-once) — and logs or counts it. Peer-supplied nonsense (unknown nodes, attempts that
/// were never dispatched) ends up here rather than in a trap.
public struct IgnoredEvent: Hashable, Sendable, CustomStringConvertible {
    /// Why. A struct with static members so that new reasons break no `switch`.
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case runNotRunning = "the run is not running"
            case runAlreadyStarted = "the run has already started"
            case unknownNode = "no such node in this run"
            case staleAttempt = "not the node's open attempt"
            case attemptNotStarted = "the attempt has not been taken by a worker"
            case attemptAlreadyStarted = "the attempt was already taken by a worker"
            case staleTimer = "the timer no longer applies"
            case nodeFinished = "the node has already finished"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The run is pending or closed (succeeded, failed, cancelled): results that arrive after
        /// cancellation land here.
        public static let runNotRunning = Reason(.runNotRunning)
        /// ``RunStateMachine/started(input:now:)`` was applied twice.
        public static let runAlreadyStarted = Reason(.runAlreadyStarted)
        /// The node (or map element) does not exist in this run.
        public static let unknownNode = Reason(.unknownNode)
        /// The attempt is not the node's open attempt: it already ended (completed, failed, timed
        /// out, superseded by a retry), or it never existed.
        public static let staleAttempt = Reason(.staleAttempt)
        /// A heartbeat or worker loss for an attempt that is still queued.
        public static let attemptNotStarted = Reason(.attemptNotStarted)
        /// A second ``RunStateMachine/taskDispatched(node:attempt:worker:now:)`` for one attempt.
        public static let attemptAlreadyStarted = Reason(.attemptAlreadyStarted)
        /// A timer fired for an attempt or a wait that is over.
        public static let staleTimer = Reason(.staleTimer)
        /// A cancel of a node that already succeeded, failed or was cancelled.
        public static let nodeFinished = Reason(.nodeFinished)

        public var description: String { base.rawValue }
    }

    /// Why the event was ignored.
    public var reason: Reason
    /// The node the event named, if any.
    public var node: NodeKey?
    /// The attempt the event named, if any.
    public var attempt: Int?

    public init(_ reason: Reason, node: NodeKey? = nil, attempt: Int? = nil) {
        self.reason = reason
        self.node = node
        self.attempt = attempt
    }

    public var description: String {
        switch (node, attempt) {
        case (let node?, let attempt?): "ignored event for '\(node)' attempt \(attempt): \(reason)"
        case (let node?, nil): "ignored event for '\(node)': \(reason)"
        default: "ignored event: \(reason)"
        }
    }
}
