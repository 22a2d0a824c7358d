/// Time limits on each attempt of a task (ARCHITECTURE.md §4). File field `timeouts:
/// {schedule_to_start, start_to_close, heartbeat}`, each optional; an absent limit is not enforced.
/// A limit that expires fails the attempt with kind ``TaskFailure/timeoutKind``, and the retry
/// policy decides what follows.
public struct TaskTimeouts: Hashable, Sendable {
    /// From the moment the attempt is queued for dispatch until a worker takes it. Guards against
    /// a queue with no (or too few) workers.
    public var scheduleToStart: Duration?
    /// From the moment a worker takes the attempt until it reports a result.
    public var startToClose: Duration?
    /// The longest silence allowed between heartbeats while a worker runs the attempt (the clock
    /// starts when the worker takes it). Detects dead workers much sooner than `startToClose`.
    public var heartbeat: Duration?

    public init(scheduleToStart: Duration? = nil, startToClose: Duration? = nil, heartbeat: Duration? = nil) {
        self.scheduleToStart = scheduleToStart
        self.startToClose = startToClose
        self.heartbeat = heartbeat
    }

    /// The limit of one kind.
    public subscript(kind: TimeoutKind) -> Duration? {
        switch kind {
        case .scheduleToStart: scheduleToStart
        case .startToClose: startToClose
        case .heartbeat: heartbeat
        }
    }

    /// `true` when no limit is set.
    public var isEmpty: Bool { scheduleToStart == nil && startToClose == nil && heartbeat == nil }
}
