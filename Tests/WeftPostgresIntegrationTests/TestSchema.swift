import Testing
import WeftCore
import WeftPostgres
import _WeftTestKit

/// A connection whose `search_path` is a fresh schema of its own, so tests run in parallel on one
/// database. The schema is dropped (CASCADE) afterwards, whether `body` succeeded or not.
enum TestSchema {
    static func connect() async throws -> PostgresConnection {
        let url = try #require(try IntegrationEnvironment.postgresURL())
        return try await PostgresConnection.connect(url: url, logger: IntegrationEnvironment.logger(label: "weft.test.postgres"))
    }

    static func with(_ body: (PostgresConnection) async throws -> Void) async throws {
        let connection = try await connect()
        let schema = IntegrationEnvironment.uniqueName(prefix: "weft_test")
        try await connection.executeScript("CREATE SCHEMA \(schema); SET search_path TO \(schema)")
        do {
            try await body(connection)
            try await connection.executeScript("DROP SCHEMA \(schema) CASCADE")
            await connection.close()
        } catch {
            // The test's own error is the one to report; a schema left behind only costs space.
            _ = try? await connection.executeScript("DROP SCHEMA \(schema) CASCADE")
            await connection.close()
            throw error
        }
    }
}

/// A fresh schema that several connections share, for tests of concurrent sessions (two
/// migrators, a stale and a current owner). Every connection's `search_path` is the schema;
/// `TestSchema.withShared` drops the schema and closes every connection afterwards.
final class SharedSchema: Sendable {
    /// The schema's name (unique per test).
    let name: String
    /// The first connection, opened by `TestSchema.withShared`.
    let connection: PostgresConnection
    private let others: Locked<[PostgresConnection]>

    fileprivate init(name: String, connection: PostgresConnection) {
        self.name = name
        self.connection = connection
        others = Locked([])
    }

    /// Another session on the same schema, closed when the test ends.
    func connect() async throws -> PostgresConnection {
        let connection = try await TestSchema.connect()
        others.withLock { $0.append(connection) }
        try await connection.executeScript("SET search_path TO \(name)")
        return connection
    }

    fileprivate func closeAll() async {
        for connection in others.withLock({ $0 }) { await connection.close() }
        await connection.close()
    }
}

extension TestSchema {
    /// Like ``with(_:)``, with a ``SharedSchema`` that can open more connections to the schema.
    static func withShared(_ body: (SharedSchema) async throws -> Void) async throws {
        let connection = try await connect()
        let name = IntegrationEnvironment.uniqueName(prefix: "weft_test")
        try await connection.executeScript("CREATE SCHEMA \(name); SET search_path TO \(name)")
        let shared = SharedSchema(name: name, connection: connection)
        do {
            try await body(shared)
        } catch {
            await shared.closeAll()
            await dropSchema(name)
            throw error
        }
        await shared.closeAll()
        await dropSchema(name)
    }

    /// Drops `name` on a fresh connection (the test's may be closed or broken).
    private static func dropSchema(_ name: String) async {
        do {
            let connection = try await connect()
            try await connection.executeScript("DROP SCHEMA \(name) CASCADE")
            await connection.close()
        } catch {
            // The test's own result is the one to report; a schema left behind only costs space.
            Issue.record("could not drop test schema \(name): \(error)")
        }
    }
}
