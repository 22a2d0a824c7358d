import Testing
import WeftCore
import WeftPostgres
import _WeftTestKit

@Suite("PostgresConnection", .enabled(if: IntegrationEnvironment.postgresConfigured))
struct PostgresConnectionTests {
    @Test("connects from the URL and runs a statement")
    func connect_validURL_runsStatement() async throws {
        let connection = try await TestSchema.connect()
        #expect(await connection.isConnected)
        let rows = try await connection.query("SELECT 1 AS one, current_setting('client_encoding') AS encoding")
        #expect(rows.columns == ["one", "encoding"])
        #expect(try rows[0].int("one") == 1)
        #expect(try rows[0].string("encoding") == "UTF8")
        await connection.close()
        #expect(await !connection.isConnected)
        await #expect(throws: PostgresError.self) { try await connection.query("SELECT 1") }
    }

    @Test("session settings apply, escaped, and hold after a reset")
    func connect_settings_applyToTheSession() async throws {
        let url = try #require(try IntegrationEnvironment.postgresURL())
        let name = #"weft a\b"#
        let connection = try await PostgresConnection.connect(
            url: url, settings: ["enable_hashjoin": "off", "weft.note": name],
            logger: IntegrationEnvironment.logger(label: "weft.test.postgres"))
        func expectSettings() async throws {
            let rows = try await connection.query("SELECT current_setting('enable_hashjoin') AS h, current_setting('weft.note') AS a")
            #expect(try rows[0].string("h") == "off")
            #expect(try rows[0].string("a") == name)
        }
        try await expectSettings()
        // Kill the session from another one: the next statement resets it, with the same settings.
        let pid = try await connection.query("SELECT pg_backend_pid() AS pid")[0].int("pid") ?? 0
        let other = try await TestSchema.connect()
        try await other.execute("SELECT pg_terminate_backend($1)", [.int(pid)])
        await other.close()
        _ = try? await connection.query("SELECT 1")  // finds the session gone
        try await expectSettings()
        await connection.close()
    }

    @Test("parameters round-trip, including NULL and unicode")
    func query_parametersWithNullAndUnicode_roundTrip() async throws {
        try await TestSchema.with { (connection) async throws in
            try await connection.executeScript("CREATE TABLE notes (id bigint PRIMARY KEY, body text, extra text, flag boolean, score double precision)")
            let body = "héllo wörld — 日本語 🚀 \"quoted\" 'single' \\ back"
            let inserted = try await connection.execute(
                "INSERT INTO notes (id, body, extra, flag, score) VALUES ($1, $2, $3, $4, $5)",
                [.int64(9_000_000_000), .string(body), nil, true, 2.5]
            )
            #expect(inserted == 1)

            let rows = try await connection.query("SELECT id, body, extra, flag, score FROM notes WHERE id = $1", [.int64(9_000_000_000)])
            #expect(rows.count == 1)
            let row = try #require(rows.first)
            #expect(try row.int64("id") == 9_000_000_000)
            #expect(try row["id", as: Int.self] == 9_000_000_000)
            #expect(try row.string("body") == body)
            #expect(row["extra"] == nil)
            #expect(try row.string("extra") == nil)
            #expect(try row.bool("flag") == true)
            #expect(try row.double("score") == 2.5)
            #expect(rows.commandTag == "SELECT 1")

            let typed = try await connection.query("SELECT $1::int IS NULL AS is_null, $2::float8 AS inf", [nil, .double(.infinity)])
            #expect(try typed[0].bool("is_null") == true)
            #expect(try typed[0].double("inf") == .infinity)
            await #expect(throws: PostgresError.self) { try await connection.query("SELECT 'x' AS v").first?.int("v") }
        }
    }

    @Test("a duplicate primary key throws unique_violation without the parameter value")
    func insert_duplicatePrimaryKey_throwsUniqueViolationWithoutParameterValue() async throws {
        try await TestSchema.with { (connection) async throws in
            try await connection.executeScript("CREATE TABLE tokens (token text PRIMARY KEY)")
            let secret = "secret-token-8731"
            try await connection.execute("INSERT INTO tokens VALUES ($1)", [.string(secret)])
            let error = try await #require(throws: PostgresError.self) {
                try await connection.execute("INSERT INTO tokens VALUES ($1)", [.string(secret)])
            }
            #expect(error.code == .queryFailed)
            #expect(error.sqlState == .uniqueViolation)
            #expect(error.constraintName == "tokens_pkey")
            #expect(error.sql == "INSERT INTO tokens VALUES ($1)")
            #expect(error.detail == "Key (token)=(<redacted>) already exists.")
            #expect(!error.description.contains(secret))
            #expect(!String(reflecting: error).contains(secret))
            #expect(error.description.contains("23505 unique_violation"))
            #expect(error.description.contains("SQL: INSERT INTO tokens VALUES ($1) [1 parameter redacted]"))
            // The connection is still usable after a server error.
            #expect(try await connection.query("SELECT count(*) AS n FROM tokens")[0].int("n") == 1)
        }
    }

    @Test("foreign key, check and not-null violations keep their codes and drop row values")
    func insert_constraintViolations_redactRowValues() async throws {
        try await TestSchema.with { (connection) async throws in
            try await connection.executeScript("""
                CREATE TABLE parents (id text PRIMARY KEY);
                CREATE TABLE children (id text PRIMARY KEY, parent text REFERENCES parents (id),
                                       label text NOT NULL CHECK (label <> 'forbidden-label-5521'));
                """)
            let foreignKey = try await #require(throws: PostgresError.self) {
                try await connection.execute("INSERT INTO children VALUES ($1, $2, $3)", ["child-9911", "orphan-parent-3307", "ok"])
            }
            #expect(foreignKey.sqlState == .foreignKeyViolation)
            #expect(foreignKey.detail == "Key (parent)=(<redacted>) is not present in table \"parents\".")

            let check = try await #require(throws: PostgresError.self) {
                try await connection.execute("INSERT INTO children VALUES ($1, $2, $3)", ["child-9911", nil, "forbidden-label-5521"])
            }
            #expect(check.sqlState == .checkViolation)
            #expect(check.detail == "Failing row contains (<redacted>).")

            let notNull = try await #require(throws: PostgresError.self) {
                try await connection.execute("INSERT INTO children VALUES ($1, $2, $3)", ["child-9911", nil, nil])
            }
            #expect(notNull.sqlState == .notNullViolation)
            for error in [foreignKey, check, notNull] {
                for secret in ["child-9911", "orphan-parent-3307", "forbidden-label-5521"] {
                    #expect(!error.description.contains(secret), "\(error)")
                }
            }
        }
    }

    @Test("an invalid text parameter throws invalid_text_representation without its value")
    func query_invalidIntegerParameter_redactsValue() async throws {
        let connection = try await TestSchema.connect()
        let error = try await #require(throws: PostgresError.self) {
            try await connection.query("SELECT $1::int", ["not-a-number-4417"])
        }
        #expect(error.sqlState == .invalidTextRepresentation)
        #expect(!error.description.contains("not-a-number-4417"))
        await connection.close()
    }

    @Test("a syntax error throws syntax_error with the SQL")
    func query_syntaxError_throwsSyntaxError() async throws {
        let connection = try await TestSchema.connect()
        let error = try await #require(throws: PostgresError.self) { try await connection.query("SELEC 1") }
        #expect(error.sqlState == .syntaxError)
        #expect(error.sql == "SELEC 1")
        let missing = try await #require(throws: PostgresError.self) {
            try await connection.query("SELECT * FROM weft_no_such_table")
        }
        #expect(missing.sqlState == .undefinedTable)
        await connection.close()
    }

    @Test("a transaction whose body throws is rolled back; one that returns is committed")
    func transaction_bodyThrows_leavesNothingWritten() async throws {
        struct Abort: Error {}
        try await TestSchema.with { (connection) async throws in
            try await connection.executeScript("CREATE TABLE runs (id int PRIMARY KEY)")
            await #expect(throws: Abort.self) {
                try await connection.transaction { connection in
                    try connection.execute("INSERT INTO runs VALUES ($1)", [1])
                    try connection.execute("INSERT INTO runs VALUES ($1)", [2])
                    throw Abort()
                }
            }
            #expect(try await connection.query("SELECT count(*) AS n FROM runs")[0].int("n") == 0)

            let written = try await connection.transaction { connection in
                try connection.execute("INSERT INTO runs VALUES ($1), ($2)", [3, 4])
            }
            #expect(written == 2)
            #expect(try await connection.query("SELECT count(*) AS n FROM runs")[0].int("n") == 2)
        }
    }

    @Test("a transaction that swallowed a statement error reports the rollback at COMMIT")
    func transaction_swallowedStatementError_throwsRolledBack() async throws {
        try await TestSchema.with { (connection) async throws in
            try await connection.executeScript("CREATE TABLE runs (id int PRIMARY KEY)")
            let error = try await #require(throws: PostgresError.self) {
                try await connection.transaction { connection in
                    try connection.execute("INSERT INTO runs VALUES ($1)", [1])
                    do {
                        try connection.execute("INSERT INTO runs VALUES ($1)", [1])
                    } catch {
                        // Deliberately swallowed: the transaction is now aborted on the server.
                    }
                }
            }
            #expect(error.code == .transactionRolledBack)
            let nested = try await #require(throws: PostgresError.self) {
                try await connection.transaction { connection in
                    try connection.transaction { _ in }
                }
            }
            #expect(nested.code == .transactionInProgress)
            #expect(try await connection.query("SELECT count(*) AS n FROM runs")[0].int("n") == 0)
        }
    }

    @Test("bytea values round-trip, including NUL and high bytes")
    func bytea_allByteValues_roundTrip() async throws {
        try await TestSchema.with { (connection) async throws in
            try await connection.executeScript("CREATE TABLE blobs (id int PRIMARY KEY, data bytea)")
            let bytes = [UInt8](0...255) + [0, 0, 92, 120]
            try await connection.execute("INSERT INTO blobs VALUES ($1, $2), ($3, $4)", [1, .bytea(bytes), 2, .bytea([])])
            let rows = try await connection.query("SELECT data, octet_length(data) AS length FROM blobs ORDER BY id")
            #expect(try rows[0].bytes("data") == bytes)
            #expect(try rows[0].int("length") == bytes.count)
            #expect(try rows[1].bytes("data") == [])

            try await connection.executeScript("SET bytea_output = 'escape'")
            let escaped = try await connection.query("SELECT data FROM blobs WHERE id = 1")
            #expect(try escaped[0].bytes("data") == bytes)
        }
    }

    @Test("a NUL byte in a text parameter is rejected before sending")
    func query_nulInTextParameter_throwsInvalidParameter() async throws {
        let connection = try await TestSchema.connect()
        let error = try await #require(throws: PostgresError.self) {
            try await connection.query("SELECT $1::text", ["a\u{0}b"])
        }
        #expect(error.code == .invalidParameter)
        await connection.close()
    }

    @Test("a refused port or a bad URL fails promptly with connectionFailed and no password")
    func connect_refusedPortOrBadURL_throwsConnectionFailedPromptly() async throws {
        let logger = IntegrationEnvironment.logger(label: "weft.test.postgres")
        let clock = ContinuousClock()
        let start = clock.now
        let refused = try await #require(throws: PostgresError.self) {
            try await PostgresConnection.connect(url: "postgresql://weft:hunter2-secret@127.0.0.1:1/postgres", logger: logger)
        }
        #expect(refused.code == .connectionFailed)
        #expect(!refused.description.contains("hunter2-secret"))

        let badPort = try await #require(throws: PostgresError.self) {
            try await PostgresConnection.connect(url: "postgresql://weft:hunter2-secret@127.0.0.1:notaport/postgres", logger: logger)
        }
        #expect(badPort.code == .connectionFailed)
        #expect(!badPort.description.contains("hunter2-secret"))

        let malformed = try await #require(throws: PostgresError.self) {
            try await PostgresConnection.connect(url: "postgresql://weft:hunter2-secret@[::1/postgres", logger: logger)
        }
        #expect(malformed.code == .connectionFailed)
        #expect(!malformed.description.contains("hunter2-secret"))
        // "Promptly" as opposed to hanging on a connect timeout: generous, because on a loaded
        // 2-core machine the resumption of this task may wait behind other suites (it took 33 s
        // once while the membership simulations filled the cooperative pool).
        #expect(clock.now - start < .seconds(60))
    }

    @Test("a connection whose backend was terminated is reset on the next statement")
    func query_afterBackendTerminated_resetsOnce() async throws {
        let victim = try await TestSchema.connect()
        let killer = try await TestSchema.connect()
        let pid = try #require(try await victim.query("SELECT pg_backend_pid() AS pid")[0].int("pid"))
        #expect(try await killer.query("SELECT pg_terminate_backend($1) AS ok", [.int(pid)])[0].bool("ok") == true)
        // Wait (bounded) until the backend is gone, so the next statement surely hits a dead session.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while try await killer.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1", [.int(pid)])[0].int("n") != 0 {
            try #require(clock.now < deadline, "backend \(pid) did not exit")
            try await Task.sleep(for: .milliseconds(10))
        }
        await #expect(throws: PostgresError.self) { try await victim.query("SELECT 1") }
        let newPID = try await victim.query("SELECT pg_backend_pid() AS pid")[0].int("pid")
        #expect(newPID != nil && newPID != pid)
        await victim.close()
        await killer.close()
    }
}
