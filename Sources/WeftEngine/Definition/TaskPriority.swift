/// The ready-queue priority of a task's attempts (ARCHITECTURE.md §4): four levels, FIFO within a
/// level, with aging in the scheduler so that `low` cannot starve. File values: `critical`, `high`,
/// `normal`, `low`.
///
/// Ordering: `low < normal < high < critical` — the greater value is served first.
public enum TaskPriority: String, Hashable, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case critical
    case high
    case normal
    case low

    /// 3 for `critical` down to 0 for `low`.
    public var rank: Int {
        switch self {
        case .critical: 3
        case .high: 2
        case .normal: 1
        case .low: 0
        }
    }

    public static func < (a: TaskPriority, b: TaskPriority) -> Bool { a.rank < b.rank }

    public var description: String { rawValue }
}
