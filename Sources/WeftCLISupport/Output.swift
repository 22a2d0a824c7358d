/// A failure of the operation itself (exit code 1), as opposed to a usage error (exit code 2).
public struct CommandFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A plain-text table with left-aligned columns, as `weftctl` prints by default.
public struct Table {
    public var headers: [String]
    public var rows: [[String]]

    public init(headers: [String], rows: [[String]]) {
        self.headers = headers
        self.rows = rows
    }

    public func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var out = ""
            for (i, cell) in cells.enumerated() {
                let isLast = i == cells.count - 1
                out += isLast ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }
            return out
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}

/// A JSON string literal for `text`.
public func jsonString(_ text: String) -> String {
    JSONLogHandler.quote(text)
}

/// The version every binary reports.
public enum WeftVersion {
    public static let current = "0.1.0"
}
