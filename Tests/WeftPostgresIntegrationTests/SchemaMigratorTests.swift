import Testing
import WeftCore
import WeftPostgres
import _WeftTestKit

@Suite("SchemaMigrator", .enabled(if: IntegrationEnvironment.postgresConfigured))
struct SchemaMigratorTests {
    private let logger = SchemaFixtures.logger

    @Test("the Weft schema migrates once; a second run applies nothing and creates nothing")
    func migrate_twice_secondRunAppliesNothing() async throws {
        try await TestSchema.with { (connection) async throws in
            let first = try await SchemaFixtures.migrate(connection)
            #expect(first.applied.map(\.version) == WeftSchema.migrations.map(\.version))
            #expect(first.schemaVersion == WeftSchema.migrations.last!.version)
            #expect(first.clusterCreated)
            #expect(first.cluster == ClusterMetadata(partitionCount: 8, clusterName: "weft"))
            #expect(!first.createdTablePartitions.isEmpty)

            let tables = try await connection.query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ANY($1::text[]) ORDER BY table_name",
                [PostgresValue(text: "{cluster_meta,partition_owners,workflow_definitions,runs,task_attempts,idempotency_keys,history_events,schema_migrations,workflow_definitions_latest}")]
            )
            #expect(try tables.map { try $0.string("table_name") } == [
                "cluster_meta", "history_events", "idempotency_keys", "partition_owners", "runs", "schema_migrations",
                "task_attempts", "workflow_definitions", "workflow_definitions_latest",
            ])

            let second = try await SchemaFixtures.migrate(connection)
            #expect(second.applied.isEmpty)
            #expect(second.schemaVersion == WeftSchema.migrations.last!.version)
            #expect(!second.clusterCreated)
            #expect(second.createdTablePartitions.isEmpty)

            let migrator = try SchemaMigrator(migrations: WeftSchema.migrations, connection: connection, logger: logger)
            let applied = try await migrator.appliedMigrations()
            #expect(applied.map(\.version) == WeftSchema.migrations.map(\.version))
            #expect(applied.first?.name == "initial schema")
            #expect(applied.first?.checksum == WeftSchema.migrations[0].checksum)
            #expect(try await migrator.pendingMigrations().isEmpty)
        }
    }

    @Test("an edited applied migration is refused with its version, and nothing else is applied")
    func migrate_editedAppliedMigration_throwsChecksumMismatch() async throws {
        try await TestSchema.with { (connection) async throws in
            let original = [
                Migration(version: 1, name: "one", sql: "CREATE TABLE one (id int)"),
                Migration(version: 2, name: "two", sql: "CREATE TABLE two (id int)"),
            ]
            #expect(try await SchemaMigrator(migrations: original, connection: connection, logger: logger).migrate().count == 2)

            let edited = [
                Migration(version: 1, name: "one", sql: "CREATE TABLE one (id bigint)"),
                original[1],
                Migration(version: 3, name: "three", sql: "CREATE TABLE three (id int)"),
            ]
            let error = try await #require(throws: StoreError.self) {
                try await SchemaMigrator(migrations: edited, connection: connection, logger: logger).migrate()
            }
            #expect(error.code == .migrationChecksumMismatch)
            #expect(error.migrationVersion == 1)
            #expect(error.description.contains("must never be edited"))
            #expect(try await connection.query("SELECT to_regclass('three') IS NULL AS absent")[0].bool("absent") == true)
        }
    }

    @Test("a database migrated by a newer Weft is refused")
    func migrate_unknownAppliedVersion_throwsUnknownMigration() async throws {
        try await TestSchema.with { (connection) async throws in
            let newer = [
                Migration(version: 1, name: "one", sql: "CREATE TABLE one (id int)"),
                Migration(version: 2, name: "two", sql: "CREATE TABLE two (id int)"),
            ]
            _ = try await SchemaMigrator(migrations: newer, connection: connection, logger: logger).migrate()
            let error = try await #require(throws: StoreError.self) {
                try await SchemaMigrator(migrations: [newer[0]], connection: connection, logger: logger).migrate()
            }
            #expect(error.code == .unknownMigration)
            #expect(error.migrationVersion == 2)
        }
    }

    @Test("a pending migration below an applied one is refused")
    func migrate_pendingBelowApplied_throwsOutOfOrder() async throws {
        try await TestSchema.with { (connection) async throws in
            let one = Migration(version: 1, name: "one", sql: "CREATE TABLE one (id int)")
            let three = Migration(version: 3, name: "three", sql: "CREATE TABLE three (id int)")
            _ = try await SchemaMigrator(migrations: [one, three], connection: connection, logger: logger).migrate()
            let two = Migration(version: 2, name: "two", sql: "CREATE TABLE two (id int)")
            let error = try await #require(throws: StoreError.self) {
                try await SchemaMigrator(migrations: [one, two, three], connection: connection, logger: logger).migrate()
            }
            #expect(error.code == .migrationOutOfOrder)
            #expect(error.migrationVersion == 2)
        }
    }

    @Test("a failing migration is rolled back whole; the ones before it stay applied")
    func migrate_failingMigration_rollsBackOnlyThatMigration() async throws {
        try await TestSchema.with { (connection) async throws in
            let migrations = [
                Migration(version: 1, name: "one", sql: "CREATE TABLE one (id int)"),
                Migration(version: 2, name: "broken", sql: "CREATE TABLE two (id int); SELECT 1 / 0"),
            ]
            let migrator = try SchemaMigrator(migrations: migrations, connection: connection, logger: logger)
            await #expect(throws: PostgresError.self) { try await migrator.migrate() }
            #expect(try await migrator.appliedMigrations().map(\.version) == [1])
            #expect(try await connection.query("SELECT to_regclass('two') IS NULL AS absent")[0].bool("absent") == true)
            #expect(try await migrator.pendingMigrations().map(\.version) == [2])
        }
    }

    @Test("migration lists must have positive, strictly increasing versions")
    func init_unorderedVersions_throwsInvalidArgument() async throws {
        let connection = try await TestSchema.connect()
        let unordered = [Migration(version: 2, name: "b", sql: "SELECT 1"), Migration(version: 1, name: "a", sql: "SELECT 1")]
        let error = try #require(throws: StoreError.self) { try SchemaMigrator(migrations: unordered, connection: connection, logger: logger) }
        #expect(error.code == .invalidArgument)
        #expect(throws: StoreError.self) {
            try SchemaMigrator(migrations: [Migration(version: 0, name: "zero", sql: "SELECT 1")], connection: connection, logger: logger)
        }
        await connection.close()
    }

    @Test("concurrent migrators apply every migration exactly once")
    func migrate_concurrentMigrators_applyEachMigrationOnce() async throws {
        try await TestSchema.withShared { schema in
            // Migration 2 is slow, so the migrators surely overlap; every migration appends a row,
            // so a migration applied twice would leave a duplicate.
            let migrations = [
                Migration(version: 1, name: "table", sql: "CREATE TABLE applied (version int)"),
                Migration(version: 2, name: "slow", sql: "SELECT pg_sleep(0.3); INSERT INTO applied VALUES (2)"),
                Migration(version: 3, name: "fast", sql: "INSERT INTO applied VALUES (3)"),
            ]
            let connections = [schema.connection, try await schema.connect(), try await schema.connect()]
            let logger = logger
            let results = try await withThrowingTaskGroup(of: [Int].self) { group in
                for connection in connections {
                    group.addTask {
                        try await SchemaMigrator(migrations: migrations, connection: connection, logger: logger).migrate().map(\.version)
                    }
                }
                var results: [[Int]] = []
                for try await result in group { results.append(result) }
                return results
            }
            #expect(results.flatMap { $0 }.sorted() == [1, 2, 3])
            let rows = try await schema.connection.query("SELECT version FROM applied ORDER BY version")
            #expect(try rows.map { try $0.int("version") } == [2, 3])
        }
    }

    @Test("concurrent weft migrate runs create the cluster once")
    func weftMigrate_concurrentRuns_createClusterOnce() async throws {
        try await TestSchema.withShared { schema in
            let connections = [schema.connection, try await schema.connect(), try await schema.connect()]
            let reports = try await withThrowingTaskGroup(of: WeftSchema.MigrationReport.self) { group in
                for connection in connections {
                    group.addTask { try await SchemaFixtures.migrate(connection, partitionCount: 16) }
                }
                var reports: [WeftSchema.MigrationReport] = []
                for try await report in group { reports.append(report) }
                return reports
            }
            // Each migration is applied exactly once, by whichever run got to it first.
            #expect(reports.map(\.applied.count).reduce(0, +) == WeftSchema.migrations.count)
            #expect(Set(reports.flatMap { $0.applied.map(\.version) }).count == WeftSchema.migrations.count)
            #expect(reports.filter(\.clusterCreated).count == 1)
            #expect(reports.map(\.createdTablePartitions.count).filter { $0 > 0 }.count == 1)
            #expect(try await SchemaFixtures.count("SELECT count(*) AS n FROM partition_owners", on: schema.connection) == 16)
            #expect(try await SchemaFixtures.count("SELECT count(*) AS n FROM cluster_meta", on: schema.connection) == 2)
        }
    }

    @Test("the partition count is recorded at creation and a different one is refused")
    func migrate_differentPartitionCount_isRefused() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection, partitionCount: 8)
            let store = PartitionOwnerStore(connection: connection, logger: logger)
            #expect(try await store.partitionCount() == 8)
            #expect(try await store.owners().map(\.partition) == (0..<8).map(PartitionID.init))

            let error = try await #require(throws: StoreError.self) {
                try await SchemaFixtures.migrate(connection, partitionCount: 16)
            }
            #expect(error.code == .partitionCountMismatch)
            #expect(error.description.contains("created with 8 partitions"))

            // Not asking for a count keeps the recorded one; asking for the same is fine.
            #expect(try await SchemaFixtures.migrate(connection, partitionCount: nil).cluster.partitionCount == 8)
            #expect(try await SchemaFixtures.migrate(connection, partitionCount: 8).cluster.partitionCount == 8)
            #expect(try await store.partitionCount() == 8)
            #expect(try await SchemaFixtures.count("SELECT count(*) AS n FROM partition_owners", on: connection) == 8)
        }
    }

    @Test("a new cluster without a count gets 256 partitions; invalid counts are refused")
    func migrate_defaultAndInvalidPartitionCounts() async throws {
        try await TestSchema.with { (connection) async throws in
            let invalid = try await #require(throws: StoreError.self) { try await SchemaFixtures.migrate(connection, partitionCount: 0) }
            #expect(invalid.code == .invalidArgument)
            let report = try await SchemaFixtures.migrate(connection, partitionCount: nil)
            #expect(report.cluster.partitionCount == WeftSchema.defaultPartitionCount)
            #expect(try await SchemaFixtures.count("SELECT count(*) AS n FROM partition_owners WHERE range_id = 0", on: connection) == 256)
        }
    }

    @Test("the cluster name is recorded at creation and a different one is refused")
    func migrate_differentClusterName_isRefused() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection, clusterName: "prod-eu")
            let error = try await #require(throws: StoreError.self) { try await SchemaFixtures.migrate(connection, clusterName: "staging") }
            #expect(error.code == .clusterNameMismatch)
            #expect(try await SchemaFixtures.migrate(connection, clusterName: nil).cluster.clusterName == "prod-eu")
            let store = PartitionOwnerStore(connection: connection, logger: logger)
            #expect(try await store.clusterMetadata() == ClusterMetadata(partitionCount: 8, clusterName: "prod-eu"))
        }
    }

    @Test("an unmigrated database reports that it is not initialized")
    func partitionCount_unmigratedSchema_throwsClusterNotInitialized() async throws {
        try await TestSchema.with { (connection) async throws in
            let store = PartitionOwnerStore(connection: connection, logger: logger)
            let error = try await #require(throws: StoreError.self) { try await store.partitionCount() }
            #expect(error.code == .clusterNotInitialized)
            #expect(error.description.contains("weft migrate"))
            let maintenance = PartitionMaintenance(connection: connection, logger: logger)
            let missing = try await #require(throws: StoreError.self) { try await maintenance.ensurePartitions(now: SchemaFixtures.now) }
            #expect(missing.code == .clusterNotInitialized)
        }
    }

    @Test("a search_path without an existing schema is refused instead of locking nothing")
    func migrate_searchPathWithoutSchema_throwsInvalidArgument() async throws {
        let connection = try await TestSchema.connect()
        try await connection.executeScript("SET search_path TO weft_no_such_schema_1f2e")
        let error = try await #require(throws: StoreError.self) { try await SchemaFixtures.migrate(connection) }
        #expect(error.code == .invalidArgument)
        await connection.close()
    }
}
