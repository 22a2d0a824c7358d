/// A run's lifecycle, as stored in `runs.status` (the raw values).
///
/// Transitions: `pending → running → succeeded | failed | cancelled`, and `pending → cancelled`.
/// The last three are terminal ("closed").
public enum RunStatus: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Created; ``RunStateMachine/started(input:now:)`` not yet applied.
    case pending
    /// Tasks are being dispatched.
    case running
    /// Every node finished and the run's output is known.
    case succeeded
    /// A node failed and the workflow could not tolerate it.
    case failed
    /// Cancelled on request.
    case cancelled

    /// `true` for the terminal statuses.
    public var isClosed: Bool {
        switch self {
        case .pending, .running: false
        case .succeeded, .failed, .cancelled: true
        }
    }

    public var description: String { rawValue }
}
