import WeftCore

/// One versioned schema change: SQL applied once, in its own transaction, by ``SchemaMigrator``.
///
/// Rules for migration SQL:
/// - Never edit a migration once it has shipped: the ``checksum`` recorded when it was applied
///   must match, or `weft migrate` refuses to run (``StoreError/Code/migrationChecksumMismatch``).
///   Change the schema with a new, higher version instead.
/// - Create objects unqualified: they go into the first schema of the connection's `search_path`
///   (`public` unless the URL says otherwise, a per-test schema in the tests).
/// - No transaction control (`BEGIN`, `COMMIT`) and no statement that cannot run inside a
///   transaction (`CREATE INDEX CONCURRENTLY`, `VACUUM`).
public struct Migration: Hashable, Sendable, CustomStringConvertible {
    /// Positive, strictly increasing along a migration list.
    public let version: Int
    /// A short description, recorded in `schema_migrations.name` and printed by `weft migrate`.
    public let name: String
    /// One or more `;`-separated statements, run with the simple query protocol.
    public let sql: String
    /// `xxh64:` and 16 hex digits of the xxHash64 of ``sql``'s UTF-8 bytes. Any edit, even of
    /// whitespace or a comment, changes it.
    public let checksum: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        checksum = Self.checksum(of: sql)
    }

    /// The checksum ``SchemaMigrator`` records for `sql`.
    public static func checksum(of sql: String) -> String {
        let hex = String(StableHash.xxh64(sql), radix: 16)
        return "xxh64:" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// `1 (initial schema)`.
    public var description: String { "\(version) (\(name))" }
}

/// A row of `schema_migrations`: a migration applied to the database.
public struct AppliedMigration: Hashable, Sendable {
    public var version: Int
    public var name: String
    public var checksum: String
    public var appliedAt: PostgresTimestamp
}
