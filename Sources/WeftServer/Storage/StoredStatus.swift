import WeftWire

/// `task_attempts.status` as stored: the one place these spellings live (SQL statements, the
/// ledger, recovery and reads all go through it).
public enum AttemptStatus: String, Sendable, Hashable, CaseIterable {
    /// Queued for a worker (or taken by one: the start is written with the attempt's end).
    case scheduled
    /// Failed; the next attempt (this row's number) is due at `scheduled_at`.
    case retryWait = "retry_wait"
    /// A map node's own row while its elements run; `output` holds the width.
    case mapping
    /// A signal node's wait (attempt 1); `output` holds its deadline (Unix milliseconds, as
    /// text) when it has one.
    case awaitingSignal = "awaiting_signal"
    case succeeded
    case failed
    case timedOut = "timed_out"
    case cancelled

    /// Statuses of a row that can still change (the "still open" test of the writer's updates).
    public static let open: [AttemptStatus] = [.scheduled, .retryWait, .mapping, .awaitingSignal]

    public var isOpen: Bool { Self.open.contains(self) }

    /// `'scheduled', 'retry_wait', 'mapping', 'awaiting_signal'`, for the writer's fixed SQL texts.
    static let openSQLList = open.map { "'\($0.rawValue)'" }.joined(separator: ", ")

    /// How a client sees a row (`started`: a worker took the attempt).
    func taskStatus(started: Bool) -> TaskStatus {
        switch self {
        case .scheduled: started ? .running : .ready
        case .retryWait: .retryWait
        case .mapping, .awaitingSignal: .running
        case .succeeded: .succeeded
        case .failed, .timedOut: .failed
        case .cancelled: .cancelled
        }
    }
}

/// `runs.status` as stored.
public enum RunStatusText: String, Sendable, Hashable, CaseIterable {
    case pending
    case running
    case succeeded
    case failed
    case cancelled

    init(_ status: RunStatus) {
        switch status {
        case .pending: self = .pending
        case .running, .unspecified: self = .running
        case .succeeded: self = .succeeded
        case .failed: self = .failed
        case .cancelled: self = .cancelled
        }
    }

    var wire: RunStatus {
        switch self {
        case .pending: .pending
        case .running: .running
        case .succeeded: .succeeded
        case .failed: .failed
        case .cancelled: .cancelled
        }
    }
}
