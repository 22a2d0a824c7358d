import Testing
import WeftRedis
import _WeftTestKit

@Suite("RedisConnection", .enabled(if: IntegrationEnvironment.redisConfigured))
struct RedisConnectionTests {
    @Test("connects from the URL and answers PING")
    func connect_validURL_answersPing() async throws {
        let connection = try await TestKeys.connect()
        #expect(await connection.isConnected)
        #expect(try await connection.command(["PING"]) == .status("PONG"))
        await connection.close()
        let error = try await #require(throws: RedisError.self) { try await connection.command(["PING"]) }
        #expect(error.code == .connectionClosed)
    }

    @Test("SET and GET are binary safe, NUL bytes included")
    func setGet_valueWithNulBytes_roundTrips() async throws {
        try await TestKeys.with { (connection, prefix) async throws in
            let key = Array((prefix + "binary\u{0}key").utf8)
            let value: [UInt8] = [0, 65, 0, 255, 10, 13, 0]
            #expect(try await connection.command([Array("SET".utf8), key, value]) == .status("OK"))
            let reply = try await connection.command([Array("GET".utf8), key])
            #expect(reply == .bulk(value))
            #expect(reply.bytes == value)
            #expect(reply.string == nil)  // 0xFF is not UTF-8
            #expect(try await connection.command(["STRLEN", prefix + "binary\u{0}key"]) == .integer(7))
            #expect(try await connection.command(["GET", prefix + "missing"]) == .null)
        }
    }

    @Test("a pipeline of 1000 INCR returns 1 through 1000 in order")
    func pipeline_thousandIncrements_returnsOneThroughThousand() async throws {
        try await TestKeys.with { (connection, prefix) async throws in
            let replies = try await connection.pipeline(Array(repeating: ["INCR", prefix + "counter"], count: 1000))
            #expect(replies.map(\.int) == (1...1000).map { Optional(Int64($0)) })
            #expect(try await connection.command(["GET", prefix + "counter"]).int == 1000)
        }
    }

    @Test("an error reply throws RedisError with the server's text and no arguments")
    func command_incrOnNonInteger_throwsErrorReply() async throws {
        try await TestKeys.with { (connection, prefix) async throws in
            try await connection.command(["SET", prefix + "word", "not-a-number"])
            let error = try await #require(throws: RedisError.self) {
                try await connection.command(["INCR", prefix + "word"])
            }
            #expect(error.code == .errorReply)
            #expect(error.command == "INCR")
            #expect(error.errorPrefix == "ERR")
            #expect(error.message.contains("value is not an integer"))
            #expect(!error.description.contains(prefix))
            #expect(error.description.hasPrefix("RedisError(errorReply, command: INCR): ERR"))
            // The connection stays usable.
            #expect(try await connection.command(["GET", prefix + "word"]).string == "not-a-number")
        }
    }

    @Test("an error inside a pipeline is thrown after all replies are read")
    func pipeline_errorInMiddle_throwsAndStaysInStep() async throws {
        try await TestKeys.with { (connection, prefix) async throws in
            let error = try await #require(throws: RedisError.self) {
                try await connection.pipeline([
                    ["SET", prefix + "a", "x"],
                    ["INCR", prefix + "a"],
                    ["SET", prefix + "b", "y"],
                ])
            }
            #expect(error.code == .errorReply)
            #expect(error.command == "INCR")
            #expect(error.message.contains("command 2 of 3"))
            #expect(try await connection.command(["GET", prefix + "b"]).string == "y")
            #expect(try await connection.command(["PING"]) == .status("PONG"))
        }
    }

    @Test("a refused port fails promptly with connectionFailed")
    func connect_refusedPort_throwsConnectionFailed() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let error = try await #require(throws: RedisError.self) {
            try await RedisConnection.connect(
                url: "redis://:hunter2-secret@127.0.0.1:1/0",
                logger: IntegrationEnvironment.logger(label: "weft.test.redis")
            )
        }
        #expect(error.code == .connectionFailed)
        #expect(!error.description.contains("hunter2-secret"))
        // Promptly, as opposed to hanging: generous, since on a loaded 2-core machine this task's
        // resumption may wait behind other suites.
        #expect(clock.now - start < .seconds(60))

        let invalid = try await #require(throws: RedisError.self) {
            try await RedisConnection.connect(
                url: "redis://:hunter2-secret@127.0.0.1:notaport",
                logger: IntegrationEnvironment.logger(label: "weft.test.redis")
            )
        }
        #expect(invalid.code == .connectionFailed)
        #expect(!invalid.description.contains("hunter2-secret"))
    }

    @Test("a wrong password fails the connection with the server's AUTH error")
    func connect_wrongPassword_throwsConnectionFailed() async throws {
        let url = try #require(try IntegrationEnvironment.redisURL())
        guard url.hasPrefix("redis://"), !url.contains("@") else { return }  // only for password-less test servers
        let withPassword = url.replacing("redis://", with: "redis://:hunter2-secret@")
        let error = try await #require(throws: RedisError.self) {
            try await RedisConnection.connect(url: withPassword, logger: IntegrationEnvironment.logger(label: "weft.test.redis"))
        }
        #expect(error.code == .connectionFailed)
        #expect(error.command == "AUTH")
        #expect(!error.description.contains("hunter2-secret"))
    }

    @Test("SELECT from the URL path picks the database")
    func connect_databaseInURL_selectsDatabase() async throws {
        let url = try #require(try IntegrationEnvironment.redisURL())
        guard url.hasPrefix("redis://"), url.dropFirst("redis://".count).firstIndex(of: "/") == nil else { return }
        let connection = try await RedisConnection.connect(url: url + "/3", logger: IntegrationEnvironment.logger(label: "weft.test.redis"))
        let info = try #require(try await connection.command(["CLIENT", "INFO"]).string)
        #expect(info.contains(" db=3 "))
        await connection.close()
    }

    @Test("a connection killed by the server reconnects on the next command")
    func command_afterServerKilledConnection_reconnectsOnce() async throws {
        let victim = try await TestKeys.connect()
        let killer = try await TestKeys.connect()
        let id = try #require(try await victim.command(["CLIENT", "ID"]).int)
        #expect(try await killer.command(["CLIENT", "KILL", "ID", String(id)]) == .integer(1))
        let error = try await #require(throws: RedisError.self) { try await victim.command(["PING"]) }
        #expect(error.code == .connectionLost)
        #expect(try await victim.command(["PING"]) == .status("PONG"))
        #expect(try await victim.command(["CLIENT", "ID"]).int != id)
        await victim.close()
        await killer.close()
    }
}
