/// The three per-attempt time limits of ``TaskTimeouts``. The raw values are the definition file's
/// field names, used in messages and history records.
public enum TimeoutKind: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case scheduleToStart = "schedule_to_start"
    case startToClose = "start_to_close"
    case heartbeat

    public var description: String { rawValue }
}
