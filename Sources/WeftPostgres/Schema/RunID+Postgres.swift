import WeftCore

extension RunID {
    /// The run's `created_at`: the UUIDv7's millisecond timestamp (exact), what the schema's
    /// `weft_uuid7_time(run_id)` computes (for ids up to 2106) and what the CHECK constraints of
    /// `runs` and `task_attempts` require. Pass it with every lookup by run id so that Postgres prunes to one
    /// table partition:
    ///
    /// ```
    /// try conn.query("SELECT status FROM runs WHERE run_id = $1 AND created_at = $2",
    ///                [PostgresValue(text: "\(id)"), .timestamp(id.createdAt)])
    /// ```
    public var createdAt: PostgresTimestamp {
        PostgresTimestamp(unixMilliseconds: Int64(unixMilliseconds))
    }
}

extension RunID: PostgresDecodable {
    /// A `uuid` cell (`0190f3c4-...`); `nil` for text that is not a UUIDv7.
    public init?(postgresText: String) {
        do {
            try self.init(parsing: postgresText)
        } catch {
            // Not a UUIDv7: the protocol reports that as nil, and the row accessor turns it into
            // a decodingFailed error naming the column.
            return nil
        }
    }
}

extension PostgresValue {
    /// A `uuid` parameter: the run id's canonical text form.
    public init(_ runID: RunID) { self.init(text: runID.description) }

    public static func runID(_ value: RunID) -> PostgresValue { PostgresValue(value) }
}
