import Logging

/// Applies an ordered list of ``Migration``s to the schema that the connection's `search_path`
/// selects, and records them in `schema_migrations(version, name, applied_at, checksum)`.
///
/// ```
/// let migrator = try SchemaMigrator(migrations: WeftSchema.migrations, connection: conn, logger: logger)
/// let applied = try await migrator.migrate()     // [] when the schema is up to date
/// ```
///
/// Invariants:
/// - Each migration runs in its own transaction together with its `schema_migrations` row: a
///   migration is either wholly applied and recorded, or not at all.
/// - Every transaction first takes the schema's advisory lock (``SchemaLock``,
///   `pg_advisory_xact_lock`) and then re-reads `schema_migrations`, so concurrent migrators (two
///   `weft migrate` runs, several `weft dev` starts) apply each migration exactly once; the
///   others wait, then find nothing to do.
/// - Before applying anything, every recorded migration is checked against this list: a changed
///   checksum, a version this list does not know, or a pending version below an applied one
///   throws a ``StoreError`` and applies nothing.
/// - Re-running applies nothing (idempotent).
public struct SchemaMigrator: Sendable {
    /// The migrations, in strictly increasing version order.
    public let migrations: [Migration]
    public let connection: PostgresConnection
    private let logger: Logger

    /// Throws ``StoreError/Code/invalidArgument`` unless versions are positive and strictly
    /// increasing.
    public init(migrations: [Migration], connection: PostgresConnection, logger: Logger) throws {
        for (index, migration) in migrations.enumerated() {
            guard migration.version > 0 else {
                throw StoreError(code: .invalidArgument, message: "migration versions must be positive, not \(migration.version)", migrationVersion: migration.version)
            }
            if index > 0, migrations[index - 1].version >= migration.version {
                throw StoreError(
                    code: .invalidArgument,
                    message: "migration versions must be strictly increasing: \(migrations[index - 1].version) is followed by \(migration.version)",
                    migrationVersion: migration.version
                )
            }
        }
        self.migrations = migrations
        self.connection = connection
        self.logger = logger
    }

    /// Applies every pending migration, oldest first, one transaction each; returns those this
    /// call applied (empty when the schema was up to date or a concurrent migrator applied them).
    ///
    /// A failing migration throws its ``PostgresError``; the migrations before it stay applied.
    public func migrate() async throws -> [Migration] {
        var applied: [Migration] = []
        while let migration = try await applyNext() {
            applied.append(migration)
            logger.debug("schema migration applied", metadata: ["migration.version": "\(migration.version)", "migration.name": "\(migration.name)"])
        }
        return applied
    }

    /// The migrations recorded in `schema_migrations`, by version (empty when the table does not
    /// exist yet).
    public func appliedMigrations() async throws -> [AppliedMigration] {
        try await connection.transaction { connection in
            try Self.readApplied(schema: SchemaLock.currentSchema(on: connection), on: connection)
        }
    }

    /// The migrations of this list that are not applied yet, after the same consistency checks
    /// as ``migrate()``.
    public func pendingMigrations() async throws -> [Migration] {
        let migrations = migrations
        return try await connection.transaction { connection in
            let applied = try Self.readApplied(schema: SchemaLock.currentSchema(on: connection), on: connection)
            return try Self.pending(migrations, applied: applied)
        }
    }

    /// One transaction: lock, read and check the record, apply and record the first pending
    /// migration. `nil` when nothing is pending.
    private func applyNext() async throws -> Migration? {
        let migrations = migrations
        return try await connection.transaction { connection in
            let schema = try SchemaLock.lockForTransaction(on: connection)
            try connection.executeScript(Self.createTableSQL(schema: schema))
            let applied = try Self.readApplied(schema: schema, on: connection)
            guard let next = try Self.pending(migrations, applied: applied).first else { return nil }
            try connection.executeScript(next.sql)
            try connection.execute(
                "INSERT INTO \(SQLIdentifier.qualified(schema, "schema_migrations")) (version, name, checksum) VALUES ($1, $2, $3)",
                [PostgresValue(next.version), PostgresValue(next.name), PostgresValue(next.checksum)]
            )
            return next
        }
    }

    static func createTableSQL(schema: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(SQLIdentifier.qualified(schema, "schema_migrations")) (
            version    integer     PRIMARY KEY,
            name       text        NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            checksum   text        NOT NULL
        )
        """
    }

    /// `schema_migrations` of `schema` (qualified, so a table of that name elsewhere on the
    /// `search_path` is never read).
    private static func readApplied(schema: String, on connection: isolated PostgresConnection) throws -> [AppliedMigration] {
        let table = SQLIdentifier.qualified(schema, "schema_migrations")
        let exists = try connection.query("SELECT to_regclass($1) IS NOT NULL AS present", [PostgresValue(table)])
        guard try exists.first?.bool("present") == true else { return [] }
        let rows = try connection.query("""
            SELECT version, name, checksum, (extract(epoch FROM applied_at) * 1000000)::bigint AS applied_at_us
            FROM \(table) ORDER BY version
            """)
        return try rows.map { row in
            guard let version = try row.int("version"), let name = try row.string("name"),
                  let checksum = try row.string("checksum"), let appliedAt = try row.int64("applied_at_us")
            else {
                throw PostgresError(code: .decodingFailed, message: "schema_migrations has a row with NULLs")
            }
            return AppliedMigration(version: version, name: name, checksum: checksum, appliedAt: PostgresTimestamp(unixMicroseconds: appliedAt))
        }
    }

    /// The migrations of `migrations` not in `applied`, after checking that `applied` is a
    /// prefix-consistent record of `migrations`.
    static func pending(_ migrations: [Migration], applied: [AppliedMigration]) throws -> [Migration] {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for record in applied {
            guard let migration = known[record.version] else {
                throw StoreError(
                    code: .unknownMigration,
                    message: "the database has migration \(record.version) (\(record.name)), which this version of Weft does not know: it was migrated by a newer Weft; upgrade this binary",
                    migrationVersion: record.version
                )
            }
            guard migration.checksum == record.checksum else {
                throw StoreError(
                    code: .migrationChecksumMismatch,
                    message: "migration \(migration) was applied with checksum \(record.checksum), but this Weft's migration \(migration.version) has checksum \(migration.checksum): an applied migration must never be edited; add a new migration instead",
                    migrationVersion: record.version
                )
            }
        }
        let appliedVersions = Set(applied.map(\.version))
        let pending = migrations.filter { !appliedVersions.contains($0.version) }
        if let first = pending.first, let latest = applied.last, first.version < latest.version {
            throw StoreError(
                code: .migrationOutOfOrder,
                message: "migration \(first) is pending but the later migration \(latest.version) is already applied; migrations must be added with versions above every applied one",
                migrationVersion: first.version
            )
        }
        return pending
    }
}
