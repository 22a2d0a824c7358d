import Foundation
import Logging
import Testing
import Weft
import WeftPostgres
import _WeftTestKit

/// Every suite of real processes, one at a time: each starts a cluster of its own (scheduler,
/// coordinator, workers, sometimes a Postgres), and several at once on two cores starve each other
/// and the in-process tests beside them.
@Suite(.serialized) enum ProcessTests {}

/// A Weft cluster of real processes on loopback, on a database of its own: `weft migrate`, one
/// scheduler, one coordinator, and workers — started and stopped by the test.
final class ProcessCluster: @unchecked Sendable {
    // @unchecked Sendable: used from one test task at a time; the children are thread-safe.
    let databaseURL: String
    let adminURL: String
    let database: String
    let token = "e2e-token"
    private(set) var scheduler: ChildProcess?
    private(set) var coordinator: ChildProcess?
    private(set) var workers: [ChildProcess] = []
    private(set) var coordinatorAddress = ""
    private var schedulerListen = "127.0.0.1:0"
    /// The scheduler's address once it listens (for calls that bypass the coordinator).
    var schedulerAddress: String { schedulerListen }

    static let logger = Logger(label: "e2e") { _ in SwiftLogNoOpLogHandler() }

    /// A cluster on a fresh database of the shared test server, or of `postgresURL`'s server.
    init(postgresURL: String? = nil) async throws {
        let url: String
        if let postgresURL {
            url = postgresURL
        } else {
            url = try #require(try IntegrationEnvironment.postgresURL(), "WEFT_POSTGRES_URL is needed for the end-to-end tests")
        }
        adminURL = url
        database = "weft_e2e_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try await PostgresConnection.connect(url: url, logger: Self.logger)
        try await admin.execute("CREATE DATABASE \(database)")
        await admin.close()
        databaseURL = Self.replacingDatabase(in: url, with: database)
        let migrate = try await runProcess(
            try WeftBinaries.path("weft"), ["migrate", "--postgres", databaseURL, "--partitions", "16"], timeout: .seconds(60))
        try #require(migrate.status == 0, "weft migrate failed: \(migrate.stderr)")
    }

    /// Runs `body` against a fresh cluster and stops the cluster afterwards; an error `body`
    /// throws is recorded together with what the processes printed.
    static func with(_ body: (ProcessCluster) async throws -> Void) async throws {
        let cluster = try await ProcessCluster()
        do {
            try await body(cluster)
        } catch {
            Issue.record("\(error)\n\(cluster.logs)")
        }
        await cluster.stop()
    }

    static func replacingDatabase(in url: String, with name: String) -> String {
        // postgresql://user@host:port/db?params → …/name?params
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let query = rest.firstIndex(of: "?").map { String(rest[$0...]) } ?? ""
        let path = rest.firstIndex(of: "?").map { rest[..<$0] } ?? rest[...]
        let authority = path.firstIndex(of: "/").map { path[..<$0] } ?? path
        return String(url[..<schemeEnd.upperBound]) + authority + "/" + name + query
    }

    var environment: [String: String] { ["WEFT_AUTH_TOKEN": token, "WEFT_POSTGRES_URL": databaseURL, "WEFT_LOG_LEVEL": "info"] }

    /// Starts the scheduler; with `metrics`, also its metrics endpoint, whose address it returns.
    /// `newPort`: on a port of its own rather than the one it had (a rescheduled pod).
    @discardableResult
    func startScheduler(metrics: Bool = false, newPort: Bool = false, extraArguments: [String] = []) async throws -> String? {
        if newPort { schedulerListen = "127.0.0.1:0" }
        let arguments = ["scheduler", "--listen", schedulerListen, "--node-id", "e2e-scheduler"] + (metrics ? ["--metrics", "127.0.0.1:0"] : [])
            + extraArguments
        let child = try ChildProcess(try WeftBinaries.path("weft"), arguments, environment: environment)
        let metricsAddress = metrics ? try await child.waitForLine(prefix: "metrics on ", timeout: .seconds(60)) : nil
        let address = try await child.waitForListening(timeout: .seconds(60))
        schedulerListen = address  // a restart binds the same port, as a StatefulSet pod would keep its address
        scheduler = child
        return metricsAddress
    }

    /// Starts the scheduler again on its address (after `killScheduler`) with `extraArguments`,
    /// returning its metrics address as soon as that is up — before it recovers and serves.
    func restartSchedulerWithMetrics(extraArguments: [String]) async throws -> String {
        let arguments = ["scheduler", "--listen", schedulerListen, "--node-id", "e2e-scheduler", "--metrics", "127.0.0.1:0"] + extraArguments
        let child = try ChildProcess(try WeftBinaries.path("weft"), arguments, environment: environment)
        scheduler = child
        return try await child.waitForLine(prefix: "metrics on ", timeout: .seconds(60))
    }

    /// Starts the coordinator; again on the same address after `killCoordinator`.
    func startCoordinator(extraArguments: [String] = []) async throws {
        let listen = coordinatorAddress.isEmpty ? "127.0.0.1:0" : coordinatorAddress
        let child = try ChildProcess(
            try WeftBinaries.path("weft"), ["coordinator", "--listen", listen, "--node-id", "e2e-coordinator"] + extraArguments,
            environment: environment)
        coordinatorAddress = try await child.waitForListening(timeout: .seconds(60))
        coordinator = child
    }

    @discardableResult
    func startWorker(id: String, concurrency: Int = 16, extraArguments: [String] = []) throws -> ChildProcess {
        let child = try ChildProcess(
            try WeftBinaries.path("weft"),
            ["worker", "--address", coordinatorAddress, "--node-id", id, "--concurrency", "\(concurrency)"] + extraArguments,
            environment: environment)
        workers.append(child)
        return child
    }

    func start(workers count: Int = 1) async throws {
        try await startScheduler()
        try await startCoordinator()
        for i in 0..<count { try startWorker(id: "e2e-worker-\(i)") }
    }

    func client(timeout: Duration = .seconds(60)) throws -> WeftClient {
        var configuration = WeftClient.Configuration(address: try Endpoint(parsing: coordinatorAddress))
        configuration.authToken = Array(token.utf8)
        configuration.defaultTimeout = timeout
        // Under these tests' loads (a slow reader, restarts) a debug-build coordinator can take
        // longer than the default 10 s to accept: wait as long as the call may.
        configuration.connectionWait = timeout
        return WeftClient(configuration: configuration)
    }

    func killCoordinator() {
        guard let coordinator else { return }
        kill(coordinator.process.processIdentifier, SIGKILL)
        coordinator.process.waitUntilExit()
        self.coordinator = nil
    }

    func killScheduler() {
        guard let scheduler else { return }
        kill(scheduler.process.processIdentifier, SIGKILL)
        scheduler.process.waitUntilExit()
        self.scheduler = nil
    }

    /// `weftctl ARGUMENTS --address <the coordinator>`, with the cluster's environment (token).
    func weftctl(_ arguments: [String]) async throws -> ProcessResult {
        try await runProcess(
            try WeftBinaries.path("weftctl"), arguments + ["--address", coordinatorAddress], environment: environment, timeout: .seconds(60))
    }

    /// A query against the cluster's database.
    func query(_ sql: String) async throws -> PostgresRows {
        let connection = try await PostgresConnection.connect(url: databaseURL, logger: Self.logger)
        defer { Task { await connection.close() } }
        return try await connection.query(sql)
    }

    /// Everything the processes printed, for failure messages.
    var logs: String {
        var out = ""
        if let scheduler { out += "--- scheduler\n" + scheduler.outputSoFar.suffix(4000) }
        if let coordinator { out += "--- coordinator\n" + coordinator.outputSoFar.suffix(2000) }
        for (i, worker) in workers.enumerated() { out += "--- worker \(i)\n" + worker.outputSoFar.suffix(2000) }
        return out
    }

    func stop() async {
        for worker in workers { await worker.terminate(grace: .seconds(5)) }
        if let coordinator { await coordinator.terminate(grace: .seconds(5)) }
        if let scheduler { await scheduler.terminate(grace: .seconds(5)) }
        workers = []
        coordinator = nil
        scheduler = nil
        do {
            let admin = try await PostgresConnection.connect(url: adminURL, logger: Self.logger)
            try await admin.execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
            await admin.close()
        } catch {
            print("could not drop the test database \(database): \(error)")
        }
    }
}
