/// Archives of runs (issue 12): a month of `runs` and `task_attempts` streamed out as JSON Lines
/// through `COPY … TO STDOUT` — one object per row, `{"table": "runs" | "task_attempts", "row": {…}}`,
/// the row as `to_jsonb` writes it (bytea as `\x…` hex) — and loaded back, for inspection, into
/// `archive_rows (archive, table_name, row jsonb)` through `COPY … FROM STDIN`. Neither holds a month
/// in memory. Export a month before the run retention drops it.
public enum RunArchive {
    public struct Counts: Hashable, Sendable {
        public var runs = 0
        public var attempts = 0
        /// Runs of the month still open when it was exported (they are in it as they were).
        public var openRuns = 0
        public init() {}
    }

    /// The first instant of month `text` (`YYYY-MM`) and of the month after, as SQL literals.
    public static func monthBounds(_ text: String) throws -> (from: String, to: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 7, parts.count == 2, parts[0].count == 4, parts[1].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), (1970...9999).contains(year), (1...12).contains(month)
        else {
            throw StoreError(code: .invalidArgument, message: "a month is written YYYY-MM (e.g. 2026-11), not '\(text.prefix(40))'")
        }
        func literal(_ year: Int, _ month: Int) -> String {
            "\(year)-\(month < 10 ? "0" : "")\(month)-01 00:00:00+00"
        }
        return (literal(year, month), month == 12 ? literal(year + 1, 1) : literal(year, month + 1))
    }

    /// Streams month `month`'s runs, then their attempts, to `line` (one JSON object each, no
    /// newline).
    public static func export(month: String, connection: PostgresConnection, line: @escaping @Sendable ([UInt8]) throws -> Void) async throws -> Counts {
        let (from, to) = try monthBounds(month)
        var counts = Counts()
        let range = "created_at >= '\(from)' AND created_at < '\(to)'"
        counts.openRuns = try await connection.query("SELECT count(*)::int AS n FROM runs WHERE \(range) AND closed_at IS NULL")[0].int("n") ?? 0
        counts.runs = try await connection.copyOut(
            "COPY (SELECT jsonb_build_object('table', 'runs', 'row', to_jsonb(r))::text FROM runs r WHERE \(range) ORDER BY created_at, run_id) TO STDOUT"
        ) { try line(unescaped($0)) }
        counts.attempts = try await connection.copyOut(
            """
            COPY (SELECT jsonb_build_object('table', 'task_attempts', 'row', to_jsonb(a))::text FROM task_attempts a WHERE \(range)
                  ORDER BY created_at, run_id, node, attempt) TO STDOUT
            """
        ) { try line(unescaped($0)) }
        return counts
    }

    /// Loads JSON Lines written by ``export(month:connection:line:)`` into `archive_rows` under
    /// `archive` (created if missing), all or nothing. Lines that are not JSON fail the load with
    /// Postgres's message (naming the line); objects of another shape are refused.
    public static func load(archive: String, lines: some Sequence<[UInt8]> & Sendable, connection: PostgresConnection) async throws -> Counts {
        try await connection.execute("""
            CREATE TABLE IF NOT EXISTS archive_rows (
                archive     text        NOT NULL,
                table_name  text        NOT NULL CHECK (table_name IN ('runs', 'task_attempts')),
                row         jsonb       NOT NULL,
                imported_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        try await connection.execute("CREATE INDEX IF NOT EXISTS archive_rows_archive ON archive_rows (archive, table_name)")
        return try await connection.transaction { connection in
            try connection.execute("CREATE TEMP TABLE archive_import (line jsonb NOT NULL) ON COMMIT DROP")
            try connection.copyIn("COPY archive_import (line) FROM STDIN", rows: lines.lazy.map(escaped))
            let bad = try connection.query(
                "SELECT count(*)::int AS n FROM archive_import WHERE jsonb_typeof(line->'row') IS DISTINCT FROM 'object' OR line->>'table' NOT IN ('runs', 'task_attempts') OR line->>'table' IS NULL")
            if let n = try bad[0].int("n"), n > 0 {
                throw StoreError(code: .invalidArgument, message: "\(n) line(s) are not {\"table\": \"runs\"|\"task_attempts\", \"row\": {…}}: nothing was loaded")
            }
            let rows = try connection.query(
                """
                WITH inserted AS (
                    INSERT INTO archive_rows (archive, table_name, row) SELECT $1, line->>'table', line->'row' FROM archive_import RETURNING table_name)
                SELECT count(*) FILTER (WHERE table_name = 'runs')::int AS runs, count(*) FILTER (WHERE table_name = 'task_attempts')::int AS attempts
                FROM inserted
                """, [PostgresValue(archive)])
            var counts = Counts()
            counts.runs = try rows[0].int("runs") ?? 0
            counts.attempts = try rows[0].int("attempts") ?? 0
            return counts
        }
    }

    /// A line of `COPY … TO` text format back to its value. The values are JSON text, which holds no
    /// raw control characters, so the only escape in them is a doubled backslash.
    static func unescaped(_ line: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(line.count)
        var index = 0
        let end = line.last == UInt8(ascii: "\n") ? line.count - 1 : line.count
        while index < end {
            let byte = line[index]
            if byte == UInt8(ascii: "\\"), index + 1 < end {
                let next = line[index + 1]
                switch next {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                default: out.append(next)
                }
                index += 2
            } else {
                out.append(byte)
                index += 1
            }
        }
        return out
    }

    /// A value as a line of `COPY … FROM` text format: backslashes doubled, and the control
    /// characters the format gives meaning to escaped.
    static func escaped(_ value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.count + 8)
        for byte in value {
            switch byte {
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            default: out.append(byte)
            }
        }
        return out
    }
}
