import Foundation

/// A Redis server of a test's own, for tests that kill and restart it (the shared one of
/// `scripts/test.sh` serves other tests at the same time). No persistence: a restart comes back
/// empty, as a Redis without AOF does after a crash.
public final class PrivateRedis: @unchecked Sendable {
    // @unchecked Sendable: used from one test task at a time.
    public let port: Int
    private var server: ChildProcess?

    public var url: String { "redis://127.0.0.1:\(port)" }

    public init() async throws {
        port = PrivatePostgres.freePort()
        try await start()
    }

    /// Starts the server (again, on the same port) and waits until it accepts connections.
    public func start() async throws {
        let candidates = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ProcessTestError("redis-server not found (apt-get install redis-server)")
        }
        let child = try ChildProcess(binary, ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        server = child
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if child.outputSoFar.contains("Ready to accept connections") { return }
            guard child.process.isRunning else { throw ProcessTestError("redis-server exited: \(child.outputSoFar)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ProcessTestError("redis-server did not start within 20 s: \(child.outputSoFar)")
    }

    /// Kills the server at once (SIGKILL: no shutdown save, connections cut).
    public func kill() {
        guard let server else { return }
        Foundation.kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        self.server = nil
    }

    public func destroy() { kill() }
}
