import Testing
import WeftRedis
import _WeftTestKit

@Suite("CircuitBreakers (state in Redis)", .enabled(if: IntegrationEnvironment.redisConfigured))
struct CircuitBreakersTests {
    static let settings = CircuitBreakers.Settings(failureRate: 0.5, minRequests: 4, window: .seconds(10), openFor: .milliseconds(300))

    static func breakers() throws -> CircuitBreakers {
        let url = try #require(try IntegrationEnvironment.redisURL())
        return CircuitBreakers(url: url, cluster: IntegrationEnvironment.uniqueName(prefix: "cb"), logger: IntegrationEnvironment.logger(label: "weft.test.cb"))
    }

    @Test("closed until the window holds min_requests with failure_rate failed; open refuses; after open_for one probe; its success closes")
    func openProbeClose() async throws {
        let breakers = try Self.breakers()
        #expect(try await breakers.admit(taskType: "t", settings: Self.settings) == .pass)
        #expect(try await breakers.record(taskType: "t", failed: false, settings: Self.settings) == nil)
        #expect(try await breakers.record(taskType: "t", failed: true, settings: Self.settings) == nil)
        #expect(try await breakers.record(taskType: "t", failed: false, settings: Self.settings) == nil, "3 outcomes: below min_requests")
        #expect(try await breakers.record(taskType: "t", failed: true, settings: Self.settings) == .opened, "2 of 4 failed")
        guard case .wait(let delay) = try await breakers.admit(taskType: "t", settings: Self.settings) else {
            Issue.record("an open breaker passed an attempt")
            return
        }
        #expect(delay > .zero && delay <= .milliseconds(300))
        let status = try await breakers.statuses()
        #expect(status.count == 1 && status[0].state == "open" && status[0].taskType == "t")
        try await Task.sleep(for: delay + .milliseconds(20))
        #expect(try await breakers.admit(taskType: "t", settings: Self.settings) == .probe)
        if case .wait = try await breakers.admit(taskType: "t", settings: Self.settings) {} else { Issue.record("a second probe passed") }
        #expect(try await breakers.statuses().first?.state == "half_open")
        #expect(try await breakers.record(taskType: "t", failed: false, settings: Self.settings) == .closed)
        #expect(try await breakers.admit(taskType: "t", settings: Self.settings) == .pass)
        #expect(try await breakers.statuses().first?.requests == 0, "a closed breaker starts with an empty window")
    }

    @Test("a failed probe opens the breaker again; a probe that never reports lets another through after open_for")
    func failedAndLostProbes() async throws {
        let breakers = try Self.breakers()
        for _ in 0..<4 { _ = try await breakers.record(taskType: "t", failed: true, settings: Self.settings) }
        try await Task.sleep(for: .milliseconds(320))
        #expect(try await breakers.admit(taskType: "t", settings: Self.settings) == .probe)
        #expect(try await breakers.record(taskType: "t", failed: true, settings: Self.settings) == .opened)
        if case .wait = try await breakers.admit(taskType: "t", settings: Self.settings) {} else { Issue.record("open again, yet passed") }
        try await Task.sleep(for: .milliseconds(320))
        #expect(try await breakers.admit(taskType: "t", settings: Self.settings) == .probe)
        try await Task.sleep(for: .milliseconds(320))  // the probe's scheduler died: no outcome
        #expect(try await breakers.admit(taskType: "t", settings: Self.settings) == .probe)
    }

    @Test("successes keep it closed: failures below the rate do not open it")
    func belowRate() async throws {
        let breakers = try Self.breakers()
        for i in 0..<20 {
            #expect(try await breakers.record(taskType: "t", failed: i % 3 == 2, settings: Self.settings) == nil)
        }
        #expect(try await breakers.admit(taskType: "t", settings: Self.settings) == .pass)
    }
}
