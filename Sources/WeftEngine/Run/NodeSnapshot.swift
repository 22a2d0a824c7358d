/// The durable state of one node (or map element) of a run: what ``RunSnapshot`` holds per key.
///
/// Statuses and their transitions (absent from the snapshot = waiting for its parents):
///
///     (absent) → scheduled → started → succeeded
///                   ↑           ↓    ↘ failed
///                   └── backingOff ←┘  (attempt failed, retry pending)
///     (absent) → mapping(width) → succeeded | failed          (map nodes; no attempts of their own)
///     (absent) → awaitingSignal → succeeded | failed           (signal nodes: attempt 1 is the wait)
///     any non-terminal → cancelled                             (the run closed)
public struct NodeSnapshot: Hashable, Sendable, CustomStringConvertible {
    /// Where the node stands.
    public enum Status: Hashable, Sendable {
        /// Attempt ``NodeSnapshot/attempts`` is queued, not yet taken by a worker.
        case scheduled
        /// Attempt ``NodeSnapshot/attempts`` was taken by `worker`.
        case started(worker: String)
        /// Attempt ``NodeSnapshot/attempts`` failed; the next one is due at `until`.
        case backingOff(until: EngineInstant)
        /// A signal node waits for its signal, until `deadline` if it has one.
        case awaitingSignal(deadline: EngineInstant?)
        /// A map node fanned out into `width` elements, some still running.
        case mapping(width: Int)
        /// Finished with `output`.
        case succeeded(output: [UInt8])
        /// Failed for good.
        case failed(TaskFailure)
        /// Stopped because the run closed.
        case cancelled

        /// `true` for `succeeded`, `failed` and `cancelled`.
        public var isTerminal: Bool {
            switch self {
            case .scheduled, .started, .backingOff, .awaitingSignal, .mapping: false
            case .succeeded, .failed, .cancelled: true
            }
        }
    }

    /// Where the node stands.
    public var status: Status
    /// Attempts made so far (the open or last attempt's number); 0 for a map node.
    public var attempts: Int

    public init(_ status: Status, attempts: Int) {
        self.status = status
        self.attempts = attempts
    }

    public var description: String { "\(status) after \(attempts) attempt(s)" }
}
