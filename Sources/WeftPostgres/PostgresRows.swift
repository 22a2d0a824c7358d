/// The rows a statement returned, copied out of libpq's `PGresult` (which is freed at once), as
/// text-format cells: `nil` is SQL NULL.
///
/// A random-access collection of ``PostgresRow``s:
/// ```
/// let rows = try conn.query("SELECT id, name FROM users WHERE id = $1", [7])
/// let id = try rows[0]["id", as: Int.self]   // Int?, nil for NULL
/// let name = try rows.first?.string("name")
/// ```
///
/// Invariant: every row has exactly ``columns``.count cells.
public struct PostgresRows: RandomAccessCollection, Sendable {
    /// The column names, in result order.
    public var columns: [String] { layout.names }
    /// The command tag (`SELECT 3`, `INSERT 0 1`, `UPDATE 2`, ...).
    public let commandTag: String
    /// The rows affected (or returned) by the command, when the tag reports a count.
    public let affectedRows: Int?

    private let layout: PostgresRow.Layout
    private let cells: [[String?]]

    /// No rows (what a statement that was not sent returned).
    public static let empty = PostgresRows(columns: [], cells: [], commandTag: "", affectedRows: 0)

    init(columns: [String], cells: [[String?]], commandTag: String, affectedRows: Int?) {
        layout = PostgresRow.Layout(names: columns)
        self.cells = cells
        self.commandTag = commandTag
        self.affectedRows = affectedRows
    }

    public var startIndex: Int { cells.startIndex }
    public var endIndex: Int { cells.endIndex }

    public subscript(position: Int) -> PostgresRow {
        PostgresRow(layout: layout, cells: cells[position])
    }
}
