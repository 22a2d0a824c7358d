import Testing
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
