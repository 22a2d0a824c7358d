import Foundation
import Logging
import Testing
import Weft
import WeftCore
import WeftPostgres
import WeftWire
import _WeftTestKit

extension ProcessTests {
    /// What a hostile or unlucky client, and an operator's bad day, did to the engine before: each
    /// test here failed on the main branch before the fix it is named after.
    @Suite("Hardening", .serialized, .enabled(if: IntegrationEnvironment.postgresConfigured))
    struct HardeningTests {
        static let quick = #"{"name": "quick", "tasks": [{"name": "a", "type": "echo"}]}"#
        static let other = #"{"name": "other", "tasks": [{"name": "b", "type": "noop"}]}"#

        static func runID(offsetMilliseconds: Int64 = 0) -> RunID {
            var random = SystemRandomNumberGenerator()
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            return RunID(unixMilliseconds: UInt64(now + offsetMilliseconds), using: &random)
        }

        static func client(_ address: String, token: String, timeout: Duration = .seconds(30)) throws -> WeftClient {
            var configuration = WeftClient.Configuration(address: try Endpoint(parsing: address))
            configuration.authToken = Array(token.utf8)
            configuration.defaultTimeout = timeout
            configuration.connectionWait = timeout
            return WeftClient(configuration: configuration)
        }

        @Test("a run id with no table partition (2035, 1990) is refused; good starts beside it succeed; the scheduler never stops")
        func poisonRunID_refused_schedulerServes() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(Self.quick.utf8))
                let pid = cluster.scheduler!.process.processIdentifier
                let direct = try Self.client(cluster.schedulerAddress, token: cluster.token)
                let year = Int64(365 * 86_400_000)
                let future = Self.runID(offsetMilliseconds: 9 * year)
                let past = Self.runID(offsetMilliseconds: -36 * year)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for i in 0..<40 {
                        group.addTask {
                            let run = try await client.start(workflow: "quick", inputJSON: Array("\(i)".utf8))
                            #expect(try await client.wait(for: run).status == .succeeded)
                        }
                    }
                    for (through, id) in [(client, future), (client, past), (direct, future), (direct, past)] {
                        group.addTask {
                            do {
                                _ = try await through.start(workflow: "quick", inputJSON: Array("1".utf8), options: StartOptions(runID: id))
                                Issue.record("run id \(id) was accepted")
                            } catch let error as WeftError {
                                #expect(error.code == .invalidArgument && error.message.contains("client-chosen run ids") || error.message.contains("in the future"), "\(error)")
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(cluster.scheduler!.process.isRunning && cluster.scheduler!.process.processIdentifier == pid)
                let rows = try await cluster.query("SELECT count(*) AS n FROM runs WHERE created_at < now() - interval '1 day' OR created_at > now() + interval '1 day'")
                #expect(try rows[0].int("n") == 0)
                let total = try await cluster.query("SELECT count(*) AS n FROM runs")
                #expect(try total[0].int("n") == 40)
                await direct.close()
                await client.close()
            }
        }

        @Test("after a restart, a start that reuses a finished run's id returns it and runs nothing; another workflow's name is refused")
        func finishedRunID_afterRestart_notRunAgain() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(Self.quick.utf8))
                try await client.register(definitionJSON: Array(Self.other.utf8))
                let id = Self.runID()
                #expect(try await client.start(workflow: "quick", inputJSON: Array("7".utf8), options: StartOptions(runID: id)) == id)
                #expect(try await client.wait(for: id).status == .succeeded)
                func counts() async throws -> (attempts: Int?, history: Int?) {
                    let attempts = try await cluster.query("SELECT count(*) AS n FROM task_attempts WHERE run_id = '\(id)'")
                    let history = try await cluster.query("SELECT count(*) AS n FROM history_events WHERE run_id = '\(id)'")
                    return (try attempts[0].int("n"), try history[0].int("n"))
                }
                let before = try await counts()
                cluster.killScheduler()
                try await cluster.startScheduler()
                // The same start again: the run, not a second execution.
                #expect(try await client.start(workflow: "quick", inputJSON: Array("7".utf8), options: StartOptions(runID: id)) == id)
                do {
                    _ = try await client.start(workflow: "other", inputJSON: Array("7".utf8), options: StartOptions(runID: id))
                    Issue.record("a start naming another workflow was accepted for an existing run id")
                } catch let error as WeftError {
                    #expect(error.code == .alreadyExists, "\(error)")
                }
                // A later run goes through (the scheduler is serving), and the old one is untouched.
                let fresh = try await client.start(workflow: "quick", inputJSON: Array("8".utf8))
                #expect(try await client.wait(for: fresh).status == .succeeded)
                let after = try await counts()
                #expect(after.attempts == before.attempts && after.history == before.history, "before \(before), after \(after)")
                #expect(try await client.describe(id).status == .succeeded)
                await client.close()
            }
        }

        @Test("SIGTERM stops a scheduler that has served runs gracefully, with exit 0")
        func schedulerSIGTERM_exitsZero() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(Self.quick.utf8))
                let run = try await client.start(workflow: "quick", inputJSON: Array("1".utf8))
                #expect(try await client.wait(for: run).status == .succeeded)
                let scheduler = try #require(cluster.scheduler)
                #expect(await scheduler.terminate(grace: .seconds(20)) == 0, "\(scheduler.outputSoFar.suffix(2000))")
                #expect(scheduler.outputSoFar.contains("scheduler shutting down"))
                await client.close()
            }
        }

        @Test("past --memory-limit new runs get RESOURCE_EXHAUSTED, counted, and nothing is stored; a repeat of a known start is still answered")
        func memoryLimit_refusesNewRuns() async throws {
            try await ProcessCluster.with { cluster in
                // No limit first: one run that a repeat will name later.
                try await cluster.startScheduler(extraArguments: ["--memory-limit", "off"])
                try await cluster.startCoordinator()
                try cluster.startWorker(id: "builtin")
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(Self.quick.utf8))
                let first = try await client.start(workflow: "quick", inputJSON: Array("1".utf8), options: StartOptions(idempotencyKey: "kept"))
                #expect(try await client.wait(for: first).status == .succeeded)
                cluster.killScheduler()
                // 1 MiB: below any scheduler's resident memory.
                let metrics = try #require(try await cluster.startScheduler(metrics: true, extraArguments: ["--memory-limit", "1MiB"]))
                func sample(_ series: String) throws -> Double? { MetricsEndpointTests.sample(series, in: try httpGet(metrics, "/metrics").body) }
                for i in 0..<3 {
                    do {
                        _ = try await client.start(workflow: "quick", inputJSON: Array("\(i)".utf8))
                        Issue.record("expected RESOURCE_EXHAUSTED")
                    } catch let error as WeftError {
                        #expect(error.code == .resourceExhausted && error.message.contains("memory limit"), "\(error)")
                    }
                }
                #expect(try await client.start(workflow: "quick", inputJSON: Array("1".utf8), options: StartOptions(idempotencyKey: "kept")) == first)
                #expect(try await eventually { try sample(#"weft_starts_refused_total{reason="memory"}"#) == 3 })
                #expect(try await eventually { try sample("weft_memory_limit_bytes") == 1_048_576 })
                #expect(try await eventually { (try sample("weft_process_resident_bytes") ?? 0) > 1_048_576 })
                let rows = try await cluster.query("SELECT count(*)::text FROM runs")
                #expect(rows.first?[0] == "1", "only the first run is stored")
                await client.close()
                // Nonsense is a usage error before anything starts.
                let bad = try await runProcess(
                    try WeftBinaries.path("weft"), ["scheduler", "--memory-limit", "lots"], environment: cluster.environment, timeout: .seconds(30))
                #expect(bad.status != 0 && bad.stderr.contains("--memory-limit"), "\(bad.stderr)")
            }
        }

        @Test("a request's own FAILED_PRECONDITION is not retried by the coordinator (only NOT_OWNER is)")
        func userFailedPrecondition_notRetried() async throws {
            try await ProcessCluster.with { cluster in
                let metrics = try #require(try await cluster.startScheduler(metrics: true))
                try await cluster.startCoordinator()
                try cluster.startWorker(id: "builtin")
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"{"name":"beam","tasks":[{"name":"a","type":"teleport"}]}"#.utf8))
                let series = #"weft_rpc_server_calls_total{method="weft.api.v1.Client/StartRun",code="FAILED_PRECONDITION"}"#
                // The worker connects (a queue with no worker at all is not judged).
                #expect(try await eventually { (MetricsEndpointTests.sample("weft_workers_connected", in: try httpGet(metrics, "/metrics").body) ?? 0) == 1 })
                do {
                    _ = try await client.start(workflow: "beam", inputJSON: Array("1".utf8))
                    Issue.record("expected FAILED_PRECONDITION")
                } catch let error as WeftError {
                    #expect(error.code == .failedPrecondition && error.metadata[RPCError.ownerMetadataKey] == nil, "\(error)")
                }
                #expect(MetricsEndpointTests.sample(series, in: try httpGet(metrics, "/metrics").body) == 1)
                await client.close()
            }
        }

        @Test("kill -9 of the scheduler and a restart on another port: starts the coordinator had forwarded are re-forwarded, none times out")
        func schedulerRestartedOnNewPort_callsReforwarded() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 2)
                let client = try cluster.client(timeout: .seconds(40))
                try await client.register(definitionJSON: Array(Self.quick.utf8))
                let started = Locked(0)
                let failures = Locked<[String]>([])
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for i in 0..<300 {
                        group.addTask {
                            do {
                                let run = try await client.start(workflow: "quick", inputJSON: Array("\(i)".utf8))
                                started.withLock { $0 += 1 }
                                #expect(try await client.wait(for: run, timeout: .seconds(60)).status == .succeeded)
                            } catch {
                                failures.withLock { $0.append("\(error)") }
                            }
                        }
                    }
                    #expect(try await eventually { started.withLock { $0 } >= 30 })
                    cluster.killScheduler()
                    try await cluster.startScheduler(newPort: true)
                    try await group.waitForAll()
                }
                #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(3) })")
                #expect(started.withLock { $0 } == 300)
                await client.close()
            }
        }

        @Test("a task type only some workers of a queue run goes only to them; without them it waits, visible in metrics")
        func taskType_dispatchedOnlyToItsWorkers() async throws {
            try await ProcessCluster.with { cluster in
                let metrics = try #require(try await cluster.startScheduler(metrics: true))
                try await cluster.startCoordinator()
                try cluster.startWorker(id: "builtin")  // noop, echo, sleep, on the same queue: not 'custom'
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(
                    #"{"name":"picky","tasks":[{"name":"a","type":"custom","retry":{"max_attempts":3,"initial_backoff":"10ms"}}]}"#.utf8))
                func gauge(_ name: String) throws -> Double { MetricsEndpointTests.sample(name, in: try httpGet(metrics, "/metrics").body) ?? 0 }
                #expect(try await eventually { try gauge("weft_workers_connected") == 1 })
                func customWorker(_ id: String, delay: Duration) throws -> WeftWorker {
                    var registry = TaskRegistry()
                    registry.register("custom") { input, _ in
                        try await Task.sleep(for: delay)
                        return input
                    }
                    var configuration = WeftWorker.Configuration(coordinator: try Endpoint(parsing: cluster.coordinatorAddress), workerID: id)
                    configuration.authToken = Array(cluster.token.utf8)
                    configuration.concurrency = 4
                    configuration.shutdownGracePeriod = .milliseconds(100)
                    return WeftWorker(configuration: configuration, registry: registry, logger: Logger(label: id) { _ in SwiftLogNoOpLogHandler() })
                }
                // A slow 'custom' worker takes the first attempts, then leaves in the middle of them.
                let first = try customWorker("custom-1", delay: .seconds(30))
                let firstRunning = Task { await first.run() }
                #expect(try await eventually { try gauge("weft_workers_connected") == 2 })
                var runs: [RunID] = []
                for i in 0..<8 { runs.append(try await client.start(workflow: "picky", inputJSON: Array("\(i)".utf8))) }
                #expect(try await eventually { try gauge("weft_task_attempts_dispatched_total") >= 4 })
                firstRunning.cancel()
                await firstRunning.value
                // Their retries wait: the built-in worker of the same queue is never sent a 'custom' task.
                #expect(try await eventually { try gauge("weft_ready_tasks_unserved") == 8 })
                // The autoscaling signal, per queue: 8 ready, and the built-in worker's 16 slots.
                #expect(try await eventually { try gauge(#"weft_ready_tasks{queue="default"}"#) == 8 })
                #expect(try await eventually { try gauge(#"weft_worker_slots{queue="default"}"#) == 16 })
                let second = try customWorker("custom-2", delay: .milliseconds(1))
                let secondRunning = Task { await second.run() }
                for run in runs {
                    let info = try await client.wait(for: run)
                    #expect(info.status == .succeeded, "\(info.error)")
                    #expect(!info.tasks.contains { $0.worker == "builtin" || $0.error.contains("UnknownTaskType") }, "\(info.tasks)")
                }
                #expect(try await eventually { try gauge("weft_ready_tasks_unserved") == 0 })
                secondRunning.cancel()
                await secondRunning.value
                await client.close()
            }
        }
    }

    /// Postgres going away and coming back (ARCHITECTURE.md §6), on a Postgres server of the test's
    /// own: before, a restart turned into `UNKNOWN` errors and an outage of 6 s stopped the scheduler.
    @Suite("Postgres outages", .serialized, .enabled(if: IntegrationEnvironment.postgresConfigured))
    struct PostgresOutageTests {
        @Test("Postgres down: the scheduler stays up, /readyz turns false, starts get UNAVAILABLE; when it is back every acknowledged run finishes")
        func outage_riddenThrough() async throws {
            let postgres = try await PrivatePostgres()
            do {
                let cluster = try await ProcessCluster(postgresURL: postgres.url)
                do {
                    try await Self.ride(cluster, postgres)
                } catch {
                    Issue.record("\(error)\n\(cluster.logs)")
                }
                await cluster.stop()
            } catch {
                Issue.record("\(error)")
            }
            await postgres.destroy()
        }

        static func ride(_ cluster: ProcessCluster, _ postgres: PrivatePostgres) async throws {
            let metrics = try #require(try await cluster.startScheduler(metrics: true))
            try await cluster.startCoordinator()
            try cluster.startWorker(id: "outage-worker", concurrency: 64)
            let client = try cluster.client(timeout: .seconds(60))
            try await client.register(definitionJSON: Array(#"{"name": "nap", "tasks": [{"name": "a", "type": "sleep"}, {"name": "b", "type": "echo", "depends_on": ["a"]}]}"#.utf8))
            #expect(try await eventually { try httpGet(metrics, "/readyz").status == 200 })
            // Runs acknowledged before the outage, whose tasks end during it.
            var acknowledged: [RunID] = []
            for _ in 0..<30 { acknowledged.append(try await client.start(workflow: "nap", inputJSON: Array(#"{"duration": "1500ms"}"#.utf8))) }
            let scheduler = cluster.scheduler!.process
            try await postgres.stop()
            #expect(try await eventually(within: .seconds(20)) { try httpGet(metrics, "/readyz").status == 503 })
            #expect(try httpGet(metrics, "/readyz").body.contains("Postgres is unavailable"))
            // New work is refused with a retryable status, not UNKNOWN.
            let impatient = try cluster.client(timeout: .seconds(3))
            do {
                _ = try await impatient.start(workflow: "nap", inputJSON: Array(#"{"duration": "1ms"}"#.utf8))
                Issue.record("a start succeeded while Postgres was down")
            } catch let error as WeftError {
                #expect(error.code == .unavailable, "\(error)")
            }
            do {
                _ = try await impatient.describe(acknowledged[0])
                Issue.record("a read succeeded while Postgres was down")
            } catch let error as WeftError {
                #expect(error.code == .unavailable, "\(error)")
            }
            try await Task.sleep(for: .seconds(5))  // an outage longer than the one that used to stop the scheduler
            #expect(scheduler.isRunning, "the scheduler stopped during the outage")
            try await postgres.start()
            #expect(try await eventually(within: .seconds(30)) { try httpGet(metrics, "/readyz").status == 200 })
            for run in acknowledged {
                let info = try await client.wait(for: run)
                #expect(info.status == .succeeded, "\(run): \(info.status) \(info.error)")
            }
            let fresh = try await client.start(workflow: "nap", inputJSON: Array(#"{"duration": "1ms"}"#.utf8))
            #expect(try await client.wait(for: fresh).status == .succeeded)
            #expect(scheduler.isRunning)
            await impatient.close()
            await client.close()
        }
    }
}
