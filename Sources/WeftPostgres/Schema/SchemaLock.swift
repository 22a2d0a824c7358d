/// The advisory lock that serializes everything that changes the shape of one Weft schema:
/// migrations, cluster initialization and table-partition maintenance (creating, detaching and
/// dropping table partitions). Two `weft migrate` runs, or a migration and a maintenance pass,
/// therefore never interleave.
///
/// The key is the pair (`0x57454654` — "WEFT", `hashtext(current_schema())`), so Weft schemas
/// in different Postgres schemas of one database (the integration tests' per-test schemas) do
/// not wait for each other. A hash collision between two schema names only serializes them.
enum SchemaLock {
    /// "WEFT" in ASCII: the first key of every Weft schema lock.
    static let classID: Int32 = 0x5745_4654

    /// The schema that unqualified names resolve to and that the lock is for. Throws
    /// ``StoreError/Code/invalidArgument`` when `search_path` names no existing schema
    /// (`current_schema()` is NULL, and the lock function would silently lock nothing).
    static func currentSchema(on connection: isolated PostgresConnection) throws -> String {
        let rows = try connection.query("SELECT current_schema() AS schema")
        guard let schema = try rows.first?.string("schema") else {
            throw StoreError(
                code: .invalidArgument,
                message: "the connection's search_path names no existing schema: create the schema or fix search_path in the Postgres URL"
            )
        }
        return schema
    }

    /// Takes the lock for the current schema until the end of the current transaction
    /// (`pg_advisory_xact_lock`), waiting as long as another holder keeps it. Returns the schema.
    @discardableResult
    static func lockForTransaction(on connection: isolated PostgresConnection) throws -> String {
        let schema = try currentSchema(on: connection)
        try connection.execute("SELECT pg_advisory_xact_lock($1::int, hashtext($2))", [PostgresValue(classID), PostgresValue(schema)])
        return schema
    }

    /// Takes the lock for the current schema until ``unlockSession(schema:on:)`` or the end of
    /// the session (`pg_advisory_lock`), for work that cannot run inside a transaction
    /// (`DETACH PARTITION ... CONCURRENTLY`). Returns the schema.
    static func lockSession(on connection: isolated PostgresConnection) throws -> String {
        let schema = try currentSchema(on: connection)
        try connection.execute("SELECT pg_advisory_lock($1::int, hashtext($2))", [PostgresValue(classID), PostgresValue(schema)])
        return schema
    }

    static func unlockSession(schema: String, on connection: isolated PostgresConnection) throws {
        try connection.execute("SELECT pg_advisory_unlock($1::int, hashtext($2))", [PostgresValue(classID), PostgresValue(schema)])
    }
}

/// SQL identifier quoting: `"name"`, with embedded quotes doubled.
enum SQLIdentifier {
    static func quoted(_ name: String) -> String {
        "\"" + name.replacing("\"", with: "\"\"") + "\""
    }

    /// `"schema"."name"`.
    static func qualified(_ schema: String, _ name: String) -> String {
        quoted(schema) + "." + quoted(name)
    }
}
