import Logging
import Testing
import WeftPostgres
import _WeftTestKit

@Suite("PostgresNoticeSink", .enabled(if: IntegrationEnvironment.postgresConfigured))
struct PostgresNoticeTests {
    @Test("server notices go to the connection's logger at debug, not to standard error")
    func notice_raisedByServer_isLoggedAtDebug() async throws {
        let url = try #require(try IntegrationEnvironment.postgresURL())
        let capture = LogCapture()
        let connection = try await PostgresConnection.connect(url: url, logger: capture.logger(label: "weft.test.notice"))
        try await connection.executeScript("DO $$ BEGIN RAISE NOTICE 'weft-notice-7731'; END $$")
        let notices = capture.records.filter { $0.message == "postgres notice" }
        #expect(notices.count == 1)
        #expect(notices.first?.level == .debug)
        #expect(notices.first?.metadata["postgres.notice"] == "NOTICE:  weft-notice-7731")
        await connection.close()
    }
}
