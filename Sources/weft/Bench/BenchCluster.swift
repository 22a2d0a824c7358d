import ArgumentParser
import Foundation
import Logging
import Synchronization
import WeftCLISupport
import WeftCore
import WeftPostgres

/// The cluster `weft bench` starts for itself when it is given no `--address` (ARCHITECTURE.md
/// §10): a fresh database `weft_bench_<pid>` on the given Postgres server, `weft migrate` once,
/// then one scheduler, one coordinator and `workers` workers (built-in task types), each a child
/// process of this very binary, all on 127.0.0.1 port 0.
///
/// Lifecycle: `start()` → `stop()`. `stop()` is idempotent and safe after a failed or partial
/// `start()`: it ends every child that was started (workers first, then coordinator and scheduler;
/// SIGTERM, then SIGKILL after a grace period) and drops the database. Children write their stdout
/// and stderr to `<log directory>/<role>.log`; the directory is removed when asked to.
final class BenchCluster: Sendable {
    struct Configuration: Sendable {
        /// The server to create the bench database on (its own database is left alone).
        var postgresURL: String
        var redisURL: String?
        var cluster: String
        var tokenFile: String?
        var workers = 2
        /// `--concurrency` of each worker: attempts it runs at once (its credits).
        var workerConcurrency = 128
        /// How long each child may take to start (migrate to finish, servers to listen, workers to connect).
        var startTimeout: Duration = .seconds(60)
    }

    private struct State {
        var admin: PostgresConnection?
        var databaseCreated = false
        var processes: [BenchProcess] = []
        var stopped = false
        var scheduler: BenchProcess?
        var schedulerArguments: [String] = []
        var restarts = 0
    }

    let configuration: Configuration
    let databaseName: String
    let logDirectory: String
    private let state = Mutex(State())

    init(configuration: Configuration) {
        self.configuration = configuration
        databaseName = "weft_bench_\(processID())"
        logDirectory = NSTemporaryDirectory().trimmingSuffix("/") + "/weft-bench-\(processID())"
    }

    /// The URL of the bench's database (for reading recorded timestamps at full precision).
    var databaseURL: String? { Self.url(configuration.postgresURL, database: databaseName) }

    /// Creates the database and starts every process; returns the coordinator's address. On a
    /// failure the caller still calls `stop()` (which ends what was started).
    func start(status: (String) -> Void) async throws -> Endpoint {
        do {
            try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        } catch {
            throw CommandFailure("cannot create the log directory \(logDirectory): \(error)")
        }
        let url = try await createDatabase()
        var common = ["--cluster", configuration.cluster, "--log-level", "info", "--log-format", "text"]
        if let tokenFile = configuration.tokenFile { common += ["--token-file", tokenFile] }
        let redis = configuration.redisURL.map { ["--redis", $0] } ?? []

        status("migrating \(databaseName)")
        let migrate = try spawn("migrate", ["migrate", "--postgres", url] + common)
        let migrated = try await migrate.waitForExit(timeout: configuration.startTimeout)
        guard migrated == 0 else {
            throw CommandFailure("weft migrate exited with status \(migrated); its log (\(migrate.logPath)) ends:\n\(migrate.logTail())")
        }

        status("starting the scheduler and the coordinator")
        let schedulerArguments = [
            "scheduler", "--listen", "127.0.0.1:0", "--postgres", url, "--node-id", "bench-scheduler", "--shutdown-grace", "2s",
        ] + redis + common
        let scheduler = try spawn("scheduler", schedulerArguments)
        state.withLock {
            $0.scheduler = scheduler
            $0.schedulerArguments = schedulerArguments
        }
        _ = try await scheduler.listeningEndpoint(timeout: configuration.startTimeout)
        let coordinator = try spawn("coordinator", [
            "coordinator", "--listen", "127.0.0.1:0", "--postgres", url, "--node-id", "bench-coordinator", "--shutdown-grace", "2s",
        ] + redis + common)
        let address = try await coordinator.listeningEndpoint(timeout: configuration.startTimeout)

        status("starting \(configuration.workers) workers (concurrency \(configuration.workerConcurrency) each)")
        for index in 1...configuration.workers {
            _ = try spawn("worker-\(index)", [
                "worker", "--address", address.description, "--concurrency", String(configuration.workerConcurrency),
                "--node-id", "bench-worker-\(index)", "--shutdown-grace", "2s",
            ] + common)
        }
        try await waitForWorkers(scheduler: scheduler)
        return address
    }

    /// The scheduler's process id (for its resident memory), if it runs.
    var schedulerPID: Int32? { state.withLock { $0.scheduler?.pid } }

    /// `kill -9` of the scheduler, then, after `down`, a new one (on a new port: the coordinator
    /// finds it through the partition owners); returns once it listens.
    func restartScheduler(down: Duration) async throws {
        let (old, arguments, restart) = state.withLock { state -> (BenchProcess?, [String], Int) in
            state.restarts += 1
            return (state.scheduler, state.schedulerArguments, state.restarts)
        }
        old?.forceKill()
        if let old { _ = try? await old.waitForExit(timeout: .seconds(10)) }
        try await Task.sleep(for: down)
        let scheduler = try spawn("scheduler-\(restart + 1)", arguments)
        state.withLock { $0.scheduler = scheduler }
        _ = try await scheduler.listeningEndpoint(timeout: configuration.startTimeout)
    }

    /// The Postgres server's `fsync` and `synchronous_commit` settings (read on the admin connection).
    func serverSettings() async -> BenchPostgresSettings {
        guard let admin = state.withLock({ $0.admin }) else { return .unknown }
        return await BenchPostgresSettings.read(on: admin)
    }

    /// Ends every child and drops the database. Returns warnings (children that needed SIGKILL,
    /// a database that could not be dropped) for the caller to print.
    func stop(removeLogs: Bool) async -> [String] {
        let (processes, admin, created) = state.withLock { state in
            defer {
                state.processes = []
                state.admin = nil
                state.databaseCreated = false
                state.stopped = true
            }
            return (state.processes, state.admin, state.databaseCreated)
        }
        var warnings: [String] = []
        // Workers first, so that the scheduler is not left with attempts in flight to wait for.
        let workers = processes.filter { $0.name.hasPrefix("worker-") }
        let servers = processes.filter { !$0.name.hasPrefix("worker-") }
        let killed = await BenchProcess.stopAll(workers, grace: .seconds(5)) + BenchProcess.stopAll(servers, grace: .seconds(5))
        if !killed.isEmpty { warnings.append("needed SIGKILL: \(killed.joined(separator: ", "))") }
        if let admin {
            if created {
                do {
                    try await admin.execute("DROP DATABASE IF EXISTS \(databaseName) WITH (FORCE)")
                } catch {
                    warnings.append("could not drop the database \(databaseName): \(error)")
                }
            }
            await admin.close()
        }
        if removeLogs && warnings.isEmpty {
            // Best effort: a left-over temporary directory is harmless.
            try? FileManager.default.removeItem(atPath: logDirectory)
        } else if !processes.isEmpty {
            warnings.append("child process logs are in \(logDirectory)")
        }
        return warnings
    }

    // MARK: Steps

    private func createDatabase() async throws -> String {
        guard let url = Self.url(configuration.postgresURL, database: databaseName) else {
            throw ValidationError("--postgres: cannot derive the URL of a bench database from the given URL")
        }
        let admin: PostgresConnection
        do {
            admin = try await PostgresConnection.connect(url: configuration.postgresURL, logger: Self.quietLogger)
        } catch let error as PostgresError {
            throw CommandFailure("cannot connect to Postgres: \(error.message)")
        }
        let stopped = state.withLock { state -> Bool in
            if !state.stopped { state.admin = admin }
            return state.stopped
        }
        if stopped {
            await admin.close()
            throw CommandFailure("the bench was stopped while starting")
        }
        do {
            // A database of the same name can only be a left-over of an earlier bench with our pid.
            try await admin.execute("DROP DATABASE IF EXISTS \(databaseName) WITH (FORCE)")
            try await admin.execute("CREATE DATABASE \(databaseName)")
        } catch {
            throw CommandFailure("cannot create the bench database \(databaseName) (the role needs CREATEDB): \(error)")
        }
        state.withLock { $0.databaseCreated = true }
        return url
    }

    private func spawn(_ name: String, _ arguments: [String]) throws -> BenchProcess {
        let process = try BenchProcess.spawn(name: name, arguments: arguments, logDirectory: logDirectory)
        let stopped = state.withLock { state -> Bool in
            state.processes.append(process)  // stop() ends it, even if that already ran
            return state.stopped
        }
        if stopped {
            process.forceKill()
            throw CommandFailure("the bench was stopped while starting")
        }
        return process
    }

    /// Waits until the scheduler logged a `worker connected` line for every worker: only then do
    /// runs started by the bench spread over all of them from the first one.
    private func waitForWorkers(scheduler: BenchProcess) async throws {
        let deadline = ContinuousClock.now + configuration.startTimeout
        while true {
            let connected = scheduler.log().components(separatedBy: "worker connected").count - 1
            if connected >= configuration.workers { return }
            let workers = state.withLock { $0.processes.filter { $0.name.hasPrefix("worker-") } }
            if let dead = workers.first(where: { !$0.isRunning }) {
                throw CommandFailure("\(dead.name) exited with status \(dead.exitStatus ?? -1); its log (\(dead.logPath)) ends:\n\(dead.logTail())")
            }
            if !scheduler.isRunning {
                throw CommandFailure("the scheduler exited with status \(scheduler.exitStatus ?? -1); its log (\(scheduler.logPath)) ends:\n\(scheduler.logTail())")
            }
            guard ContinuousClock.now < deadline else {
                throw CommandFailure("only \(connected) of \(configuration.workers) workers connected to the scheduler within \(configuration.startTimeout); logs are in \(logDirectory)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    // MARK: Helpers

    static let quietLogger = Logger(label: "weft.bench") { _ in SwiftLogNoOpLogHandler() }

    /// `url` with its database replaced by `database`: the path of a `postgres://` or
    /// `postgresql://` URI (its query string kept), or a `dbname=` appended to a key/value string
    /// (libpq takes the last of repeated keywords). Nil when `url` is neither.
    static func url(_ url: String, database: String) -> String? {
        if let scheme = url.range(of: "://") {
            guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else { return nil }
            let afterScheme = url[scheme.upperBound...]
            let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" } ?? url.endIndex
            let rest = url[authorityEnd...]
            let query = rest.firstIndex(of: "?").map { String(rest[$0...]) } ?? ""
            return String(url[..<authorityEnd]) + "/" + database + query
        }
        guard url.contains("=") else { return nil }
        return url + " dbname=" + database
    }
}

/// Settings of the Postgres server a bench runs against, for the report.
struct BenchPostgresSettings: Sendable {
    var fsync: String
    var synchronousCommit: String

    static let unknown = BenchPostgresSettings(fsync: "unknown", synchronousCommit: "unknown")

    static func read(on connection: PostgresConnection) async -> BenchPostgresSettings {
        do {
            let fsync = try await connection.query("SHOW fsync").first?["fsync"] ?? "unknown"
            let synchronousCommit = try await connection.query("SHOW synchronous_commit").first?["synchronous_commit"] ?? "unknown"
            return BenchPostgresSettings(fsync: fsync, synchronousCommit: synchronousCommit)
        } catch {
            return .unknown  // only the report's setup line suffers
        }
    }

    /// Connects to `url` just to read the settings (bench against a running cluster).
    static func read(url: String) async -> BenchPostgresSettings {
        guard let connection = try? await PostgresConnection.connect(url: url, connectTimeout: .seconds(5), logger: BenchCluster.quietLogger) else {
            return .unknown  // unreachable: reported as unknown rather than failing the bench
        }
        let settings = await read(on: connection)
        await connection.close()
        return settings
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
