/// One row of ``PostgresRows``: text-format cells by column name or index, with typed accessors.
///
/// Every accessor returns `nil` for SQL NULL and throws ``PostgresError/Code/decodingFailed`` for
/// a column that does not exist or text that is not a valid value of the requested type.
public struct PostgresRow: Sendable {
    /// Column names and a name → index table, built once per result and shared by its rows.
    final class Layout: Sendable {
        // Sendable: immutable after init.
        let names: [String]
        let indices: [String: Int]

        init(names: [String]) {
            self.names = names
            // The first column of a given name wins, as in `SELECT a.id, b.id`.
            indices = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    let layout: Layout
    /// The cells, in column order; `nil` is SQL NULL.
    public let cells: [String?]

    /// The column names, in result order.
    public var columns: [String] { layout.names }

    /// The raw text of a cell (`nil` for NULL), or `nil` if there is no such column.
    public subscript(column: String) -> String? {
        layout.indices[column].flatMap { cells[$0] }
    }

    /// The raw text of the cell at `index` (`nil` for NULL).
    public subscript(index: Int) -> String? { cells[index] }

    /// The cell of `column` decoded as `type`, `nil` for NULL.
    public subscript<Value: PostgresDecodable>(column: String, as type: Value.Type) -> Value? {
        get throws {
            guard let index = layout.indices[column] else {
                throw PostgresError(code: .decodingFailed, message: "no column named \"\(column)\"")
            }
            return try self[index, as: type]
        }
    }

    /// The cell at `index` decoded as `type`, `nil` for NULL.
    public subscript<Value: PostgresDecodable>(index: Int, as type: Value.Type) -> Value? {
        get throws {
            guard cells.indices.contains(index) else {
                throw PostgresError(code: .decodingFailed, message: "no column at index \(index)")
            }
            guard let text = cells[index] else { return nil }
            guard let value = Value(postgresText: text) else {
                // The text is a value read from the database: name the column and type only.
                throw PostgresError(
                    code: .decodingFailed,
                    message: "column \"\(layout.names[index])\" is not a valid \(Value.self)"
                )
            }
            return value
        }
    }

    public func string(_ column: String) throws -> String? { try self[column, as: String.self] }
    public func int(_ column: String) throws -> Int? { try self[column, as: Int.self] }
    public func int64(_ column: String) throws -> Int64? { try self[column, as: Int64.self] }
    public func bool(_ column: String) throws -> Bool? { try self[column, as: Bool.self] }
    public func double(_ column: String) throws -> Double? { try self[column, as: Double.self] }
    /// A `bytea` cell (hex or escape output format) as bytes.
    public func bytes(_ column: String) throws -> [UInt8]? { try self[column, as: [UInt8].self] }
}
