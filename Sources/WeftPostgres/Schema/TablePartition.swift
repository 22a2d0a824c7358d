/// One of the schema's tables that are partitioned by time (ARCHITECTURE.md §5).
public enum PartitionedTable: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// By month of `created_at`.
    case runs
    /// By month of `created_at` (the run's creation time).
    case taskAttempts = "task_attempts"
    /// By day of `at`.
    case historyEvents = "history_events"

    /// How long each table partition spans.
    public enum Interval: Hashable, Sendable {
        /// A UTC calendar month: `[first of month 00:00+00, first of next month 00:00+00)`.
        case month
        /// A UTC calendar day: `[00:00+00, next day 00:00+00)`.
        case day
    }

    public var interval: Interval {
        switch self {
        case .runs, .taskAttempts: .month
        case .historyEvents: .day
        }
    }

    /// The table's name in SQL.
    public var name: String { rawValue }

    public var description: String { rawValue }
}

/// A table partition of a ``PartitionedTable``, named after the UTC month or day it covers:
/// `runs_2026_11`, `task_attempts_2026_11`, `history_events_2026_11_25`.
///
/// Invariant: ``name`` determines ``lowerBound`` and ``upperBound``, which are always a whole
/// UTC month (``PartitionedTable/Interval/month``) or day. ``PartitionMaintenance`` only manages
/// tables named this way; it neither lists nor drops tables of other names.
public struct TablePartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The partitioned table it belongs to.
    public let table: PartitionedTable
    /// Its table name, without schema.
    public let name: String
    /// Inclusive.
    public let lowerBound: PostgresTimestamp
    /// Exclusive.
    public let upperBound: PostgresTimestamp

    /// The table partition of `table` that holds rows of time `timestamp`.
    public init(table: PartitionedTable, containing timestamp: PostgresTimestamp) {
        self.init(table: table, startingOn: timestamp.civilDate)
    }

    /// `start` is rounded down to the first of its month for monthly tables.
    init(table: PartitionedTable, startingOn start: CivilDate) {
        self.table = table
        let first: CivilDate
        let next: CivilDate
        switch table.interval {
        case .month:
            first = start.firstOfMonth
            next = start.firstOfMonth(adding: 1)
            name = "\(table.name)_\(PostgresTimestamp.pad(first.year, 4))_\(PostgresTimestamp.pad(first.month, 2))"
        case .day:
            first = start
            next = start.adding(days: 1)
            name = "\(table.name)_\(PostgresTimestamp.pad(first.year, 4))_\(PostgresTimestamp.pad(first.month, 2))_\(PostgresTimestamp.pad(first.day, 2))"
        }
        lowerBound = PostgresTimestamp(startOf: first)
        upperBound = PostgresTimestamp(startOf: next)
    }

    /// The table partition a table named `name` would be, or `nil` if `name` is not of the form
    /// this type creates.
    init?(name: String) {
        for table in PartitionedTable.allCases {
            guard name.hasPrefix(table.name + "_") else { continue }
            let fields = name.dropFirst(table.name.count + 1).split(separator: "_", omittingEmptySubsequences: false)
            let widths = table.interval == .month ? [4, 2] : [4, 2, 2]
            guard fields.count == widths.count,
                  zip(fields, widths).allSatisfy({ field, width in field.utf8.count == width && field.utf8.allSatisfy { (48...57).contains($0) } })
            else { return nil }
            let numbers = fields.compactMap { Int($0) }
            guard let date = CivilDate(year: numbers[0], month: numbers[1], day: numbers.count > 2 ? numbers[2] : 1) else { return nil }
            self.init(table: table, startingOn: date)
            guard self.name == name else { return nil }
            return
        }
        return nil
    }

    public var description: String { name }

    /// By table, then by time.
    public static func < (a: TablePartition, b: TablePartition) -> Bool {
        (a.table.name, a.lowerBound.unixMicroseconds) < (b.table.name, b.lowerBound.unixMicroseconds)
    }
}
