import ArgumentParser
import Foundation
import UnixSignals
import Weft
import WeftCLISupport
import WeftCore

/// What a cluster scenario measured, for the report `ClusterBench` prints.
struct BenchScenarioReport {
    /// `20000 single-noop runs, 512 in flight`.
    var headline: String
    /// METRIC / VALUE rows of the table.
    var rows: [[String]]
    /// The scenario's own JSON fields (`tasks_per_s`, `p50_ms`, …); the shared ones are added.
    var json: BenchJSON
    var tally: BenchRunTally
    var notes: [String] = []
}

/// What a scenario gets to measure with.
struct BenchContext: Sendable {
    let client: WeftClient
    let driver: BenchRunDriver
    let runs: Int
    let concurrency: Int
    /// The cluster's database, when the bench knows it (its own cluster, or `--postgres`).
    let databaseURL: String?
    /// The bench's own cluster (nil with `--address`): its scheduler's pid, a restart.
    var cluster: BenchCluster? = nil
}

/// The frame shared by the cluster scenarios (`throughput`, `latency`, `chain`, `fanout`):
/// start the bench's own cluster (or use `--address`), connect one SDK client, warm up, measure,
/// stop the cluster, print the table and (with `--json`) one JSON object on the last line.
///
/// Exit status: 2 for bad flags (`ValidationError`), 1 when the cluster cannot be started or any
/// measured run failed, was lost or could not be started (the report is printed first).
enum ClusterBench {
    static let noopWorkflow = "bench-noop"
    static let noopDefinition = #"{"name":"bench-noop","tasks":[{"name":"noop","type":"noop"}]}"#
    static let nullInput = Array("null".utf8)

    static func run(
        scenario: String, options: ClusterBenchOptions, defaultRuns: Int, defaultConcurrency: Int,
        measure: @escaping @Sendable (BenchContext) async throws -> BenchScenarioReport
    ) async throws {
        let runs = options.runs ?? defaultRuns
        let concurrency = options.concurrency ?? defaultConcurrency
        let timeout = try options.runTimeout()
        let token = try options.common.resolvedToken()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var json = BenchJSON()
        json.add("scenario", scenario)
        let report: BenchScenarioReport
        var setup: [String]
        var shared = BenchJSON()

        if let addressText = options.resolvedAddress {
            let address = try parseEndpoint(addressText, flag: "address")
            let settings: BenchPostgresSettings = if let url = options.resolvedPostgres { await BenchPostgresSettings.read(url: url) } else { .unknown }
            setup = [
                "cluster: the running cluster at \(address) (its processes and worker concurrency are its own)",
                "postgres: fsync=\(settings.fsync), synchronous_commit=\(settings.synchronousCommit)"
                    + (options.resolvedPostgres == nil ? " (no --postgres given to read them from)" : ""),
            ]
            shared.add("cluster", "address")
            shared.add("fsync", settings.fsync)
            shared.add("synchronous_commit", settings.synchronousCommit)
            report = try await drive(
                address: address, options: options, token: token, runs: runs, concurrency: concurrency, timeout: timeout,
                databaseURL: options.resolvedPostgres, cluster: nil, measure: measure)
        } else {
            let cluster = BenchCluster(configuration: BenchCluster.Configuration(
                postgresURL: options.resolvedPostgres!,  // validate() requires it without --address
                redisURL: options.resolvedRedis, cluster: options.common.resolvedCluster,
                tokenFile: WeftEnvironment.resolve(options.common.tokenFile, flag: "token-file"),
                workers: options.workers, workerConcurrency: options.workerConcurrency))
            let outcome: Result<(BenchScenarioReport, BenchPostgresSettings, Endpoint), any Error>
            do {
                outcome = .success(try await stoppingOnSignals(cluster) {
                    let address = try await cluster.start { writeToStandardError("weft bench \(scenario): \($0)\n") }
                    let settings = await cluster.serverSettings()
                    let report = try await drive(
                        address: address, options: options, token: token, runs: runs, concurrency: concurrency,
                        timeout: timeout, databaseURL: cluster.databaseURL, cluster: cluster, measure: measure)
                    return (report, settings, address)
                })
            } catch {
                outcome = .failure(error)
            }
            var clean = false
            if case .success(let (report, _, _)) = outcome { clean = report.tally.isClean }
            writeToStandardError("weft bench \(scenario): stopping the cluster\n")
            for warning in await cluster.stop(removeLogs: clean && !options.keepLogs) {
                writeToStandardError("weft bench \(scenario): \(warning)\n")
            }
            let (measured, settings, address) = try outcome.get()
            report = measured
            setup = [
                "cluster: own child processes of this binary on 127.0.0.1: weft migrate, 1 scheduler, 1 coordinator (\(address)), "
                    + "\(options.workers) workers × --concurrency \(options.workerConcurrency) (built-in noop/echo)",
                "postgres: fsync=\(settings.fsync), synchronous_commit=\(settings.synchronousCommit); "
                    + "fresh database \(cluster.databaseName), dropped afterwards",
            ]
            shared.add("cluster", "own")
            shared.add("workers", options.workers)
            shared.add("worker_concurrency", options.workerConcurrency)
            shared.add("fsync", settings.fsync)
            shared.add("synchronous_commit", settings.synchronousCommit)
        }
        setup.append(
            "client: this process, one WeftClient connection; \(runs) runs, \(concurrency) in flight; "
                + "warm-up \(options.warmup) noop runs; run timeout \(options.timeout); \(cores) cores shared by all processes")

        print("weft bench \(scenario) — \(report.headline)")
        print(setup.enumerated().map { ($0.offset == 0 ? "setup: " : "       ") + $0.element }.joined(separator: "\n"))
        print("")
        let tally = report.tally
        print(Table(headers: ["METRIC", "VALUE"], rows: report.rows + [
            ["runs started", "\(tally.started)"],
            ["runs completed (succeeded)", "\(tally.completed)"],
            ["runs failed (closed failed/cancelled)", "\(tally.failed)"],
            ["runs lost (not closed within \(options.timeout))", "\(tally.lost)"],
            ["start calls that failed", "\(tally.startErrors)"],
        ] + (tally.started + tally.startErrors < runs
            ? [["runs not attempted (stopped after a lost run or an interrupt)", "\(runs - tally.started - tally.startErrors)"]] : [])
        ).render())
        for note in report.notes { print("note: \(note)") }
        if let problem = tally.firstProblem { print("first problem: \(problem)") }
        if options.json {
            var line = json
            line.append(report.json)
            line.add("runs_started", tally.started)
            line.add("runs_completed", tally.completed)
            line.add("runs_failed", tally.failed)
            line.add("runs_lost", tally.lost)
            line.add("start_errors", tally.startErrors)
            line.add("runs", runs)
            line.add("concurrency", concurrency)
            line.append(shared)
            line.add("warmup_runs", options.warmup)
            line.add("cores", cores)
            print(line.line)
        }
        flushStandardOutput()
        guard tally.isClean && tally.started + tally.startErrors == runs else {
            throw CommandFailure(
                "not every run succeeded (of \(runs): \(tally.completed) succeeded, \(tally.failed) failed, \(tally.lost) lost, "
                    + "\(tally.startErrors) not started, \(runs - tally.started - tally.startErrors) not attempted): "
                    + (tally.firstProblem ?? "interrupted"))
        }
    }

    /// Connects, registers the noop workflow, warms up, then measures.
    private static func drive(
        address: Endpoint, options: ClusterBenchOptions, token: [UInt8]?, runs: Int, concurrency: Int, timeout: Duration,
        databaseURL: String?, cluster: BenchCluster?, measure: @Sendable (BenchContext) async throws -> BenchScenarioReport
    ) async throws -> BenchScenarioReport {
        var configuration = WeftClient.Configuration(address: address)
        configuration.cluster = options.common.resolvedCluster
        configuration.authToken = token ?? []
        configuration.nodeID = "weft-bench-\(processID())"
        configuration.connectionWait = configuration.defaultTimeout
        let client = WeftClient(configuration: configuration)
        // One connection per 64 runs in flight (see BenchRunDriver).
        let extra = (1..<max(1, (concurrency + 63) / 64)).map { _ in WeftClient(configuration: configuration) }
        do {
            let health = try await client.health(timeout: .seconds(10))
            guard health.isServing else {
                throw CommandFailure("the coordinator at \(address) is not serving: \(health.status.rawValue) \(health.message)")
            }
            try await client.register(definitionJSON: Array(noopDefinition.utf8))
            let driver = BenchRunDriver(clients: [client] + extra, timeout: timeout)
            if options.warmup > 0 {
                let warm = BenchRunTally(await driver.runMany(noopWorkflow, input: nullInput, count: options.warmup, concurrency: 16, stop: .afterAnyProblem))
                guard warm.isClean else {
                    throw CommandFailure("the warm-up runs did not all succeed: \(warm.firstProblem ?? "no details")")
                }
            }
            let report = try await measure(BenchContext(
                client: client, driver: driver, runs: runs, concurrency: concurrency, databaseURL: databaseURL, cluster: cluster))
            for connection in [client] + extra { await connection.close() }
            return report
        } catch {
            for connection in [client] + extra { await connection.close() }
            throw error
        }
    }

    /// Runs `body` in a child task; on SIGINT, SIGTERM or SIGHUP stops the cluster at once (so
    /// that no child process outlives us and the client's calls fail fast), cancels `body` and
    /// fails with an error.
    private static func stoppingOnSignals<Value: Sendable>(
        _ cluster: BenchCluster, _ body: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm, .sighup)
        return try await withThrowingTaskGroup(of: Value?.self, returning: Value.self) { group in
            group.addTask { try await body() }
            group.addTask {
                for await signal in signals {
                    writeToStandardError("weft bench: \(signal): stopping the cluster\n")
                    for warning in await cluster.stop(removeLogs: false) { writeToStandardError("weft bench: \(warning)\n") }
                    throw CommandFailure("interrupted by \(signal)")
                }
                return nil  // cancelled: the body finished
            }
            defer { group.cancelAll() }
            while let finished = try await group.next() {
                if let value = finished { return value }
            }
            throw CancellationError()  // unreachable: the body either returns a value or throws
        }
    }
}
