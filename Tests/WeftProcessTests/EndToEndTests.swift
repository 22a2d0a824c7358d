import Foundation
import Testing
import Weft
import WeftPostgres
import _WeftTestKit

extension ProcessTests {
    /// The whole engine as real processes against a real Postgres (ARCHITECTURE.md §6 guarantees).
    @Suite("End to end: scheduler, coordinator, workers", .serialized, .enabled(if: IntegrationEnvironment.postgresConfigured))
    struct EndToEndTests {
        struct Rows: Codable, Equatable { var rows: [Int] }

        private let diamond = #"""
            {"name": "diamond", "tasks": [
              {"name": "extract", "type": "echo"},
              {"name": "clean", "type": "echo", "depends_on": ["extract"]},
              {"name": "enrich", "type": "echo", "depends_on": ["extract"]},
              {"name": "load", "type": "echo", "depends_on": ["clean", "enrich"]}
            ]}
            """#

        @Test("a diamond workflow completes with its parents' outputs flowing into each task")
        func diamond_completes_withOutputs() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 2)
                let client = try cluster.client()
                let registered = try await client.register(definitionJSON: Array(diamond.utf8))
                #expect(registered.name == "diamond" && registered.created)
                let run = try await client.start(workflow: "diamond", input: Rows(rows: [1, 2, 3]))
                let info = try await client.wait(for: run, timeout: .seconds(60))
                #expect(info.status == .succeeded, "\(info.error)\n\(cluster.logs)")
                // load got {clean: …, enrich: …}; echo returns it unchanged as the run's output.
                let output = try JSONSerialization.jsonObject(with: Data(info.output)) as? [String: Any]
                #expect((output?["clean"] as? [String: Any])?["rows"] as? [Int] == [1, 2, 3])
                #expect((output?["enrich"] as? [String: Any])?["rows"] as? [Int] == [1, 2, 3])
                #expect(Set(info.tasks.map(\.node)) == ["extract", "clean", "enrich", "load"])
                #expect(info.tasks.allSatisfy { $0.status == .succeeded && $0.attempt == 1 })
                // WaitRun answered from the scheduler's memory; GetRun reads Postgres: the same run.
                #expect(try await client.describe(run) == info)
                #expect(try await client.wait(for: run) == info)  // closed already: the recently-closed ledgers
                // The same idempotency key returns the same run.
                let first = try await client.start(workflow: "diamond", input: Rows(rows: [9]), options: StartOptions(idempotencyKey: "k-1"))
                let second = try await client.start(workflow: "diamond", input: Rows(rows: [9]), options: StartOptions(idempotencyKey: "k-1"))
                #expect(first == second)
                // A task type no worker of its queue runs is refused, and nothing is written.
                let before = try await cluster.query("SELECT count(*) AS n FROM runs")
                try await client.register(definitionJSON: Array(#"{"name":"beam","tasks":[{"name":"a","type":"teleport"}]}"#.utf8))
                do {
                    _ = try await client.start(workflow: "beam", inputJSON: Array("null".utf8))
                    Issue.record("expected FAILED_PRECONDITION for an unknown task type")
                } catch let error as WeftError {
                    #expect(error.code == .failedPrecondition && error.message.contains("teleport"), "\(error)")
                }
                let after = try await cluster.query("SELECT count(*) AS n FROM runs")
                #expect(try before[0].int("n") == after[0].int("n"))
                await client.close()
            }
        }

        @Test("invalid definitions, unknown workflows and oversized inputs are refused and write nothing")
        func badInput_refused_writesNothing() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 0)
                let client = try cluster.client()
                let cyclic = #"{"name":"cyclic","tasks":[{"name":"a","type":"noop","depends_on":["b"]},{"name":"b","type":"noop","depends_on":["a"]}]}"#
                await #expect(throws: WeftError.self) { try await client.register(definitionJSON: Array(cyclic.utf8)) }
                await #expect(throws: WeftError.self) { try await client.register(definitionJSON: Array(#"{"name":"x","tasks":[{"name":"a","type":"noop","colour":"red"}]}"#.utf8)) }
                await #expect(throws: WeftError.self) { try await client.register(definitionJSON: Array("not json".utf8)) }
                // A member named twice (JSON decoders keep one silently); also when spelt with escapes.
                for duplicated in [
                    #"{"name":"d1","name":"d2","tasks":[{"name":"a","type":"noop"}]}"#,
                    #"{"name":"d1","tasks":[{"name":"a","type":"noop","\u0074ype":"echo"}]}"#,
                ] {
                    do {
                        try await client.register(definitionJSON: Array(duplicated.utf8))
                        Issue.record("a duplicate member was accepted: \(duplicated)")
                    } catch let error as WeftError {
                        #expect(error.code == .invalidArgument && error.message.contains("appears twice"), "\(error)")
                    }
                }
                // The reserved single-key fields are refused, not ignored, pointing at what replaced them.
                do {
                    try await client.register(definitionJSON: Array(#"{"name":"k","tasks":[{"name":"a","type":"noop","concurrency_key":"c"}]}"#.utf8))
                    Issue.record("concurrency_key was accepted")
                } catch let error as WeftError {
                    #expect(error.code == .invalidArgument && error.message.contains("concurrency_key is not supported: write concurrency: {key"), "\(error)")
                }
                // A 1 MB name is not echoed whole; a NUL does not cut the message short.
                let huge = String(repeating: "n", count: 1 << 20)
                do {
                    try await client.register(definitionJSON: Array(#"{"name":"\#(huge)","tasks":[{"name":"a","type":"noop"}]}"#.utf8))
                    Issue.record("a 1 MB name was accepted")
                } catch let error as WeftError {
                    #expect(error.code == .invalidArgument && error.message.utf8.count < 2_000, "\(error.message.utf8.count) bytes")
                    #expect(error.message.contains("more characters"))
                }
                do {
                    try await client.register(definitionJSON: Array(#"{"name":"bad\u0000name","tasks":[{"name":"a","type":"noop"}]}"#.utf8))
                    Issue.record("a name with a NUL was accepted")
                } catch let error as WeftError {
                    #expect(error.code == .invalidArgument && error.message.contains(#"bad\u{0}name"#) && error.message.hasSuffix("_ . -"), "\(error)")
                }
                do {
                    _ = try await client.start(workflow: "missing", inputJSON: Array("null".utf8))
                    Issue.record("expected NOT_FOUND")
                } catch let error as WeftError {
                    #expect(error.code == .notFound)
                }
                try await client.register(definitionJSON: Array(diamond.utf8))
                let big = Array(("\"" + String(repeating: "x", count: 2 << 20) + "\"").utf8)
                do {
                    _ = try await client.start(workflow: "diamond", inputJSON: big)
                    Issue.record("expected INVALID_ARGUMENT")
                } catch let error as WeftError {
                    #expect(error.code == .invalidArgument)
                }
                let definitions = try await cluster.query("SELECT count(*) AS n FROM workflow_definitions")
                #expect(try definitions[0].int("n") == 1)
                let runs = try await cluster.query("SELECT count(*) AS n FROM runs")
                #expect(try runs[0].int("n") == 0)
                await client.close()
            }
        }

        @Test("kill -9 of the scheduler in the middle of 500 runs: after a restart every run completes, each task recorded once")
        func schedulerKilled_restart_everyRunCompletesOnce() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 2)
                let client = try cluster.client()
                let chain = #"""
                    {"name": "pair", "tasks": [
                      {"name": "first", "type": "sleep"},
                      {"name": "second", "type": "noop", "depends_on": ["first"]}
                    ]}
                    """#
                try await client.register(definitionJSON: Array(chain.utf8))
                var runs: [RunID] = []
                for _ in 0..<500 {
                    runs.append(try await client.start(workflow: "pair", inputJSON: Array(#"{"ms": 100}"#.utf8)))
                }
                // Some runs are done, some in flight, some waiting: kill the scheduler now.
                cluster.killScheduler()
                let openAtKill = try await cluster.query("SELECT count(*) AS n FROM runs WHERE closed_at IS NULL")
                #expect(try openAtKill[0].int("n") ?? 0 > 0, "the kill must hit open runs for this test to mean anything")
                try await cluster.startScheduler()
                for run in runs {
                    let info = try await client.wait(for: run, timeout: .seconds(120))
                    #expect(info.status == .succeeded, "run \(run): \(info.status) \(info.error)")
                }
                let duplicates = try await cluster.query(
                    "SELECT run_id, node, count(*) AS n FROM task_attempts WHERE status = 'succeeded' GROUP BY run_id, node HAVING count(*) <> 1")
                #expect(duplicates.isEmpty, "tasks recorded as succeeded more than once: \(duplicates.count)")
                let succeeded = try await cluster.query("SELECT count(*) AS n FROM task_attempts WHERE status = 'succeeded'")
                #expect(try succeeded[0].int("n") == 1000)
                let open = try await cluster.query("SELECT count(*) AS n FROM runs WHERE closed_at IS NULL")
                #expect(try open[0].int("n") == 0)
                await client.close()
            }
        }

        @Test("durable timers: kill -9 of the scheduler while 30 runs sleep; the sleeps and start_afters fire once, at their recorded deadlines")
        func schedulerKilled_duringSleep_timersFireOnce() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                let definition = #"""
                    {"name": "timers", "tasks": [
                      {"name": "a", "type": "echo"},
                      {"name": "wait", "sleep": "2s", "depends_on": ["a"]},
                      {"name": "b", "type": "echo", "depends_on": ["wait"]},
                      {"name": "later", "type": "echo", "start_after": "1s", "depends_on": ["b"]}
                    ]}
                    """#
                try await client.register(definitionJSON: Array(definition.utf8))
                var runs: [RunID] = []
                for i in 0..<30 { runs.append(try await client.start(workflow: "timers", inputJSON: Array("{\"n\": \(i)}".utf8))) }
                // Every run asleep (its sleep's row waits), then the scheduler dies, and stays down
                // past the sleeps' deadlines.
                #expect(try await eventually(within: .seconds(30)) {
                    try await cluster.query("SELECT count(*) AS n FROM task_attempts WHERE node = 'wait' AND status = 'retry_wait'")[0].int("n") == 30
                })
                cluster.killScheduler()
                try await Task.sleep(for: .seconds(2.5))
                try await cluster.startScheduler()
                for (i, run) in runs.enumerated() {
                    let info = try await client.wait(for: run, timeout: .seconds(60))
                    #expect(info.status == .succeeded, "run \(run): \(info.status) \(info.error)")
                    #expect(String(decoding: info.output, as: UTF8.self) == "{\"n\": \(i)}")  // through the sleep, unchanged
                    // Never early: a's end + 2 s of sleep + 1 s before later (not a speed claim: a floor).
                    #expect(info.closedAtMilliseconds - info.createdAtMilliseconds >= 3000, "run \(run) closed too early")
                }
                // Fired once: one row per timed node, succeeded, and no worker ever ran the sleep.
                let rows = try await cluster.query("""
                    SELECT node, count(*) AS n, count(*) FILTER (WHERE status = 'succeeded') AS ok, count(worker) AS workers
                    FROM task_attempts GROUP BY node ORDER BY node
                    """)
                var byNode: [String: (Int, Int, Int)] = [:]
                for row in rows { byNode[try row.string("node") ?? ""] = (try row.int("n") ?? 0, try row.int("ok") ?? 0, try row.int("workers") ?? 0) }
                #expect(byNode["wait"].map { $0 == (30, 30, 0) } == true, "\(byNode)")
                #expect(byNode["later"].map { $0.0 == 30 && $0.1 == 30 } == true, "\(byNode)")
                let history = try await client.history(of: runs[0])
                #expect(history.entries.filter { $0.kind == "timer_started" }.map(\.node) == ["wait", "later"], "\(history.entries.map(\.kind))")
                await client.close()
            }
        }

        @Test("signals: one sent while its node waits and one sent early both survive kill -9 of the scheduler; each is consumed once; clear errors")
        func signals_survive_schedulerKill() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"""
                    {"name": "review", "tasks": [
                      {"name": "nap", "type": "sleep"},
                      {"name": "approval", "wait_signal": "approve", "depends_on": ["nap"]},
                      {"name": "publish", "type": "echo", "depends_on": ["approval"]}
                    ]}
                    """#.utf8))
                // Run A reaches its wait; run B gets its signal before its nap is over.
                let a = try await client.start(workflow: "review", inputJSON: Array(#"{"ms": 1}"#.utf8))
                let b = try await client.start(workflow: "review", inputJSON: Array(#"{"duration": "4s"}"#.utf8))
                #expect(try await client.signal(b, "approve", payload: ["by": "early"]) == false)  // kept
                #expect(try await eventually(within: .seconds(30)) {
                    try await cluster.query("SELECT count(*) AS n FROM task_attempts WHERE node = 'approval' AND status = 'awaiting_signal'")[0].int("n") == 1
                })
                cluster.killScheduler()
                try await cluster.startScheduler()
                let sent = try await cluster.weftctl(["run", "signal", a.description, "approve", "--payload", #"{"by": "ann"}"#])
                #expect(sent.status == 0 && sent.stdout.contains("delivered"), "\(sent.stdout)\(sent.stderr)")
                let infoA = try await client.wait(for: a, timeout: .seconds(60))
                #expect(infoA.status == .succeeded && String(decoding: infoA.output, as: UTF8.self) == #"{"by":"ann"}"#, "\(infoA)")
                let infoB = try await client.wait(for: b, timeout: .seconds(60))
                #expect(infoB.status == .succeeded && String(decoding: infoB.output, as: UTF8.self) == #"{"by":"early"}"#, "\(infoB)")
                let rows = try await cluster.query("SELECT count(*) AS n, count(consumed_by) AS taken FROM run_signals")
                #expect(try rows[0].int("n") == 2 && rows[0].int("taken") == 2)
                // Errors: a closed run, a name nobody waits for, an unknown run, a payload that is not JSON.
                let closed = await #expect(throws: WeftError.self) { try await client.signal(a, "approve", payload: JSONValue.null) }
                #expect(closed?.code == .failedPrecondition && closed?.message.contains("closed") == true, "\(String(describing: closed))")
                let c = try await client.start(workflow: "review", inputJSON: Array(#"{"duration": "30s"}"#.utf8))
                let unknownName = await #expect(throws: WeftError.self) { try await client.signal(c, "reject", payload: JSONValue.null) }
                #expect(unknownName?.code == .invalidArgument && unknownName?.message.contains("it waits for 'approve'") == true, "\(String(describing: unknownName))")
                var generator = SystemRandomNumberGenerator()
                let nobody = RunID(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000), using: &generator)
                let unknownRun = await #expect(throws: WeftError.self) { try await client.signal(nobody, "approve", payload: JSONValue.null) }
                #expect(unknownRun?.code == .notFound)
                let badPayload = try await cluster.weftctl(["run", "signal", c.description, "approve", "--payload", "{nope"])
                #expect(badPayload.status != 0 && badPayload.stderr.contains("not JSON"), "\(badPayload.stderr)")
                _ = try await client.cancel(c)
                let history = try await client.history(of: a)
                #expect(history.entries.contains { $0.kind == "signal_received" } && history.entries.contains { $0.kind == "signal_awaited" })
                await client.close()
            }
        }

        @Test("a workflow's timeout fails a run that takes too long, with RunTimeout, and stops its attempt")
        func workflowTimeout_failsRun() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"{"name":"bounded","timeout":"1500ms","tasks":[{"name":"nap","type":"sleep"}]}"#.utf8))
                let run = try await client.start(workflow: "bounded", inputJSON: Array(#"{"duration": "30s"}"#.utf8))
                let info = try await client.wait(for: run, timeout: .seconds(60))
                #expect(info.status == .failed && info.error.contains("RunTimeout") && info.error.contains("1.5s"), "\(info.error)")
                #expect(info.closedAtMilliseconds - info.createdAtMilliseconds >= 1500)
                #expect(try await client.describe(run).tasks.first?.status == .cancelled)
                await client.close()
            }
        }

        @Test("weftctl run retry --from-failed: a new run reuses the nodes that succeeded (no worker runs them) and runs the rest")
        func retryFromFailed_reusesSucceededNodes() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"""
                    {"name": "two-step", "tasks": [
                      {"name": "prepare", "type": "echo"},
                      {"name": "nap", "type": "sleep", "depends_on": ["prepare"]}
                    ]}
                    """#.utf8))
                let first = try await client.start(workflow: "two-step", inputJSON: Array(#"{"duration": "2s"}"#.utf8))
                // prepare succeeds, nap runs: cancel the run then.
                #expect(try await eventually(within: .seconds(30)) {
                    try await client.describe(first).tasks.contains { $0.node == "prepare" && $0.status == .succeeded }
                })
                _ = try await client.cancel(first)
                let retry = try await runProcess(
                    try WeftBinaries.path("weftctl"), ["run", "retry", first.description, "--from-failed", "--json", "--address", cluster.coordinatorAddress],
                    environment: cluster.environment, timeout: .seconds(60))
                #expect(retry.status == 0, "\(retry.stderr)")
                let object = try JSONSerialization.jsonObject(with: Data(retry.stdout.utf8)) as? [String: Any]
                let second = try RunID(parsing: object?["run_id"] as? String ?? "")
                let info = try await client.wait(for: second, timeout: .seconds(60))
                #expect(info.status == .succeeded, "\(info)")
                let prepare = info.tasks.filter { $0.node == "prepare" }
                #expect(prepare.count == 1 && prepare.first?.worker == "" && prepare.first?.status == .succeeded, "\(info.tasks)")
                #expect(info.tasks.contains { $0.node == "nap" && $0.worker == "e2e-worker-0" })
                let history = try await client.history(of: second)
                #expect(history.entries.contains { $0.kind == "output_reused" && $0.node == "prepare" && $0.detail.contains(first.description) })
                // Only a failed or cancelled run is retried from its failed nodes.
                let error = await #expect(throws: WeftError.self) { try await client.retry(second, fromFailed: true) }
                #expect(error?.code == .failedPrecondition, "\(String(describing: error))")
                await client.close()
            }
        }

        @Test("kill -9 of a worker in the middle of a task: the task is retried on another worker")
        func workerKilled_taskRetriedElsewhere() async throws {
            try await ProcessCluster.with { cluster in
                let metrics = try #require(try await cluster.startScheduler(metrics: true))
                try await cluster.startCoordinator()
                let doomed = try cluster.startWorker(id: "doomed")
                let client = try cluster.client()
                let slow = #"{"name": "slow", "tasks": [{"name": "nap", "type": "sleep", "retry": {"max_attempts": 3, "initial_backoff": "100ms"}}]}"#
                try await client.register(definitionJSON: Array(slow.utf8))
                // Give the only worker a long task; kill it once the scheduler has pushed the attempt
                // to it (the scheduler's own counter, not a guess at how long that takes).
                let run = try await client.start(workflow: "slow", inputJSON: Array(#"{"duration": "3s"}"#.utf8))
                #expect(try await eventually(within: .seconds(30)) {
                    MetricsEndpointTests.sample("weft_task_attempts_dispatched_total", in: try httpGet(metrics, "/metrics").body) == 1
                })
                kill(doomed.process.processIdentifier, SIGKILL)
                try cluster.startWorker(id: "survivor")
                let info = try await client.wait(for: run, timeout: .seconds(60))
                #expect(info.status == .succeeded, "\(info.error)\n\(cluster.logs)")
                let attempts = info.tasks.filter { $0.node == "nap" }.sorted { $0.attempt < $1.attempt }
                #expect(attempts.count == 2)
                #expect(attempts.first?.status == .failed && attempts.first?.error.contains("WorkerLost") == true, "\(attempts)")
                #expect(attempts.last?.status == .succeeded && attempts.last?.worker == "survivor", "\(attempts)")
                #expect(try await client.describe(run) == info)  // memory (WaitRun) = Postgres (GetRun), retries included
                await client.close()
            }
        }

        @Test("a task error holding a NUL byte is recorded, not a batch failure that stops the scheduler")
        func nulInTaskError_storedAndSchedulerSurvives() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.startScheduler()
                try await cluster.startCoordinator()
                try cluster.startWorker(id: "exec-worker", extraArguments: ["--allow-exec"])
                let client = try cluster.client()
                let shell = #"{"name": "shell", "tasks": [{"name": "run", "type": "exec", "retry": {"max_attempts": 1}}]}"#
                try await client.register(definitionJSON: Array(shell.utf8))
                try await Task.sleep(for: .seconds(1))  // the worker connects
                let run = try await client.start(
                    workflow: "shell", inputJSON: Array(#"{"command": ["sh", "-c", "printf 'bad\\000byte' >&2; exit 3"]}"#.utf8))
                let info = try await client.wait(for: run, timeout: .seconds(60))
                #expect(info.status == .failed, "\(info)\n\(cluster.logs)")
                // protobuf-c carries `string` fields as C strings, so the encoder sends a NUL as
                // U+FFFD (as storage keeps it): the whole message arrives.
                #expect(info.tasks.first?.error.hasSuffix("exited with 3: bad\u{FFFD}byte") == true, "\(info.tasks)")
                #expect(try await client.describe(run) == info)
                // The scheduler is still serving.
                let echo = #"{"name": "after", "tasks": [{"name": "a", "type": "echo"}]}"#
                try await client.register(definitionJSON: Array(echo.utf8))
                let after = try await client.start(workflow: "after", inputJSON: Array("1".utf8))
                #expect(try await client.wait(for: after, timeout: .seconds(60)).status == .succeeded)
                await client.close()
            }
        }

        @Test("weft dev --listen 127.0.0.1:0 picks a free port, its own worker finds it, a run completes; SIGTERM exits 0")
        func devOnPortZero() async throws {
            try await ProcessCluster.with { cluster in
                let dev = try ChildProcess(
                    try WeftBinaries.path("weft"), ["dev", "--listen", "127.0.0.1:0"], environment: cluster.environment)
                let address = try await dev.waitForListening(timeout: .seconds(60))
                #expect(!address.hasSuffix(":0"))
                var configuration = WeftClient.Configuration(address: try Endpoint(parsing: address))
                configuration.authToken = Array(cluster.token.utf8)
                let client = WeftClient(configuration: configuration)
                try await client.register(Workflow("hello", Step("a", type: "echo")))
                let run = try await client.start(workflow: "hello", inputJSON: Array(#"{"x": 1}"#.utf8))
                #expect(try await client.wait(for: run, timeout: .seconds(60)).status == .succeeded, "\(dev.outputSoFar.suffix(3000))")
                await client.close()
                #expect(await dev.terminate(grace: .seconds(20)) == 0)
            }
        }

        @Test("the Swift DSL twin of examples/ingest.yaml registers as the same canonical definition: same version, not created again")
        func dslAndYAML_sameVersion() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 0)
                let yaml = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/ingest.yaml").path
                let apply = try await runProcess(
                    try WeftBinaries.path("weftctl"), ["workflow", "apply", yaml, "--address", cluster.coordinatorAddress, "--json"],
                    environment: cluster.environment, timeout: .seconds(60))
                #expect(apply.status == 0, "\(apply.stderr)")
                let applied = try JSONSerialization.jsonObject(with: Data(apply.stdout.utf8)) as? [String: Any]
                let extract = Step("extract", type: "echo")
                    .retry(maxAttempts: 5, initialBackoff: .milliseconds(200), maxBackoff: .seconds(30), nonRetryable: ["BadInput"])
                    .timeouts(scheduleToStart: .seconds(60), startToClose: .seconds(300), heartbeat: .seconds(10))
                    .priority(.high).queue("default")
                let clean = Step("clean", type: "echo")
                let enrich = Step("enrich", type: "echo")
                let shard = Step("shard", type: "echo").map()
                let load = Step("load", type: "noop").join(.all)
                let client = try cluster.client()
                let registered = try await client.register(Workflow("ingest", extract >>> ((clean >>> shard) | enrich) >>> load))
                #expect(applied?["created"] as? Bool == true)
                #expect(registered.version == applied?["version"] as? String, "DSL \(registered.version), YAML \(String(describing: applied))")
                #expect(!registered.created)
                await client.close()
            }
        }

        @Test("weftctl workflow versions and get: every version, the latest first; a pinned version; clear NOT_FOUNDs")
        func workflowVersionsAndGet() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 0)
                let client = try cluster.client()
                let first = try await client.register(Workflow("report", Step("a", type: "echo")))
                try await Task.sleep(for: .milliseconds(20))
                let second = try await client.register(Workflow("report", Step("a", type: "echo") >>> Step("b", type: "noop")))
                #expect(first.version != second.version)
                let versions = try await cluster.weftctl(["workflow", "versions", "report", "--json"])
                #expect(versions.status == 0, "\(versions.stderr)")
                let listed = try JSONSerialization.jsonObject(with: Data(versions.stdout.utf8)) as? [[String: Any]] ?? []
                #expect(listed.map { $0["version"] as? String } == [second.version, first.version])
                #expect(listed.map { $0["tasks"] as? Int } == [2, 1])
                #expect(listed.map { $0["latest"] as? Bool } == [true, false])
                let latest = try await cluster.weftctl(["workflow", "get", "report", "--json"])
                let shown = try JSONSerialization.jsonObject(with: Data(latest.stdout.utf8)) as? [String: Any]
                #expect(shown?["version"] as? String == second.version && shown?["latest"] as? Bool == true, "\(latest.stdout)\(latest.stderr)")
                #expect(((shown?["definition"] as? [String: Any])?["tasks"] as? [Any])?.count == 2)
                let pinned = try await client.workflow("report", version: first.version)
                #expect(pinned.version == first.version && pinned.versions.count == 2)
                #expect(String(decoding: pinned.definitionJSON, as: UTF8.self).contains(#""name":"report""#))
                let table = try await cluster.weftctl(["workflow", "get", "report", "--version", first.version])
                #expect(table.status == 0 && table.stdout.contains("version   \(first.version)\n"), "\(table.stdout)")
                let missing = try await cluster.weftctl(["workflow", "get", "report", "--version", "0000000000000000"])
                #expect(missing.status != 0 && missing.stderr.contains("NOT_FOUND") && missing.stderr.contains("has no version"), "\(missing.stderr)")
                let unknown = try await cluster.weftctl(["workflow", "versions", "nope"])
                #expect(unknown.status != 0 && unknown.stderr.contains("no workflow 'nope'"), "\(unknown.stderr)")
                let error = await #expect(throws: WeftError.self) { try await client.workflow("") }
                #expect(error?.code == .invalidArgument)
                await client.close()
            }
        }

        @Test("weftctl run history: attempts with their worker, timeouts, the retry, the failure, in order; --follow until the close")
        func runHistory_andFollow() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"""
                    {"name":"flaky","tasks":[{"name":"nap","type":"sleep","timeouts":{"start_to_close":"300ms"},
                     "retry":{"max_attempts":2,"initial_backoff":"100ms"}}]}
                    """#.utf8))
                let failing = try await client.start(workflow: "flaky", inputJSON: Array(#"{"duration": "5s"}"#.utf8))
                #expect(try await client.wait(for: failing).status == .failed)
                let result = try await cluster.weftctl(["run", "history", failing.description, "--json"])
                #expect(result.status == 0, "\(result.stderr)")
                let entries = result.stdout.split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
                let steps = entries.map { entry -> String in
                    let node = entry["node"] as? String
                    let attempt = entry["attempt"] as? Int
                    return [entry["kind"] as? String ?? "?", node.map { n in attempt.map { "\(n)#\($0)" } ?? n } ?? ""]
                        .filter { !$0.isEmpty }.joined(separator: " ")
                }
                #expect(steps == [
                    "run_started", "attempt_scheduled nap#1", "attempt_started nap#1", "attempt_timed_out nap#1", "retry_scheduled nap#2",
                    "attempt_scheduled nap#2", "attempt_started nap#2", "attempt_timed_out nap#2", "node_failed nap", "run_failed",
                ], "\(result.stdout)")
                #expect(entries.first { $0["kind"] as? String == "attempt_started" }?["detail"] as? String == "on e2e-worker-0")
                #expect((entries.first { $0["kind"] as? String == "attempt_timed_out" }?["detail"] as? String)?.contains("start_to_close") == true)
                // The table form, and the SDK's.
                let table = try await cluster.weftctl(["run", "history", failing.description])
                #expect(table.status == 0 && table.stdout.contains("attempt_timed_out") && table.stdout.contains("nap#2"), "\(table.stdout)")
                #expect(try await client.history(of: failing).entries.count == entries.count)
                // --follow prints as the run goes and returns when it closes.
                try await client.register(definitionJSON: Array(#"{"name":"nap","tasks":[{"name":"a","type":"sleep"},{"name":"b","type":"echo","depends_on":["a"]}]}"#.utf8))
                let napping = try await client.start(workflow: "nap", inputJSON: Array(#"{"duration": "1500ms"}"#.utf8))
                let followed = try await cluster.weftctl(["run", "history", napping.description, "--follow", "--poll-every", "200ms"])
                #expect(followed.status == 0, "\(followed.stderr)")
                let lines = followed.stdout.split(separator: "\n")
                #expect(lines.first?.contains("run_started") == true && lines.last?.contains("run_succeeded") == true, "\(followed.stdout)")
                #expect(lines.filter { $0.contains("attempt_succeeded") }.count == 2, "\(followed.stdout)")
                var generator = SystemRandomNumberGenerator()
                let unknown = try await cluster.weftctl(["run", "history", RunID(unixMilliseconds: 1_767_225_600_000, using: &generator).description])
                #expect(unknown.status != 0 && unknown.stderr.contains("NOT_FOUND"), "\(unknown.stderr)")
                await client.close()
            }
        }

        @Test("weftctl run wait prints the run's progress to stderr while it waits, and the outcome on stdout")
        func weftctlWait_printsProgress() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                let nap = #"{"name": "nap", "tasks": [{"name": "a", "type": "sleep"}]}"#
                try await client.register(definitionJSON: Array(nap.utf8))
                let run = try await client.start(workflow: "nap", inputJSON: Array(#"{"duration": "2s"}"#.utf8))
                let wait = try await runProcess(
                    try WeftBinaries.path("weftctl"),
                    ["run", "wait", run.description, "--address", cluster.coordinatorAddress, "--timeout", "60s", "--progress-every", "300ms"],
                    environment: cluster.environment, timeout: .seconds(90))
                #expect(wait.status == 0, "\(wait.stderr)")
                #expect(wait.stderr.contains("waiting for \(run): RUNNING"), "\(wait.stderr)")
                #expect(wait.stdout.contains("SUCCEEDED"), "\(wait.stdout)")
                await client.close()
            }
        }

        @Test("weftctl run wait waits as long as the run takes unless --timeout is given; --progress-every 0 is silent")
        func weftctlWait_noTimeout_waitsUntilClosed() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"{"name": "nap", "tasks": [{"name": "a", "type": "sleep"}]}"#.utf8))
                // Longer than the 10 s that every other weftctl call defaults to.
                let run = try await client.start(workflow: "nap", inputJSON: Array(#"{"duration": "11s"}"#.utf8))
                let weftctl = try WeftBinaries.path("weftctl")
                let impatient = try await runProcess(
                    weftctl, ["run", "wait", run.description, "--address", cluster.coordinatorAddress, "--timeout", "1s"],
                    environment: cluster.environment)
                #expect(impatient.status == 1)
                #expect(impatient.stderr.contains("still RUNNING after 1s (--timeout)"), "\(impatient.stderr)")
                let patient = try await runProcess(
                    weftctl, ["run", "wait", run.description, "--address", cluster.coordinatorAddress, "--progress-every", "0"],
                    environment: cluster.environment, timeout: .seconds(60))
                #expect(patient.status == 0, "\(patient.stderr)")
                #expect(patient.stderr.isEmpty, "\(patient.stderr)")
                #expect(patient.stdout.contains("SUCCEEDED"))
                await client.close()
            }
        }

        @Test("a run started while the scheduler restarts and recovers waits for it instead of failing")
        func startDuringRecovery_waitsAndSucceeds() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"{"name": "quick", "tasks": [{"name": "a", "type": "echo"}]}"#.utf8))
                cluster.killScheduler()
                let metrics = try await cluster.restartSchedulerWithMetrics(extraArguments: ["--debug-recovery-pause", "3s"])
                // The coordinator meets "still recovering" (or a refused connection) and keeps trying.
                let run = try await client.start(workflow: "quick", inputJSON: Array("5".utf8))
                #expect(try await client.wait(for: run).status == .succeeded)
                let refused = MetricsEndpointTests.sample(
                    #"weft_rpc_server_calls_total{method="weft.api.v1.Client/StartRun",code="UNAVAILABLE"}"#, in: try httpGet(metrics, "/metrics").body)
                #expect((refused ?? 0) >= 1, "the start should have met the recovering scheduler at least once")
                await client.close()
            }
        }

        @Test("an SDK call made while the coordinator restarts waits for it; one that never gets through says why")
        func coordinatorRestart_callsWaitForIt() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"{"name": "quick", "tasks": [{"name": "a", "type": "echo"}]}"#.utf8))
                cluster.killCoordinator()
                // Nobody listens: a call waits for the coordinator and, past its timeout, fails
                // UNAVAILABLE (retryable), naming the cause.
                let impatient = try cluster.client(timeout: .seconds(1))
                do {
                    _ = try await impatient.list(ListRunsRequest())
                    Issue.record("expected the call to fail")
                } catch let error as WeftError {
                    #expect(error.code == .unavailable && error.isRetryable && error.message.contains("could not reach"), "\(error)")
                }
                await impatient.close()
                let started = Task { try await client.start(workflow: "quick", inputJSON: Array("1".utf8)) }
                try await Task.sleep(for: .milliseconds(300))
                try await cluster.startCoordinator()
                let run = try await started.value
                #expect(try await client.wait(for: run).status == .succeeded)
                await client.close()
            }
        }

        @Test("result(of:) is asked again when a coordinator restart cuts the wait, and returns the typed output")
        func coordinatorRestart_resultRetried() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                let workflow = Workflow("nap", Step("nap", type: "sleep") >>> Step("after", type: "echo"))
                try await client.register(workflow)
                let run = try await client.start(workflow, input: ["duration": "3s"])
                let result = Task { try await client.result(of: run, timeout: .seconds(60)) }
                try await Task.sleep(for: .milliseconds(700))  // the WaitRun is in flight
                cluster.killCoordinator()
                try await Task.sleep(for: .milliseconds(300))
                try await cluster.startCoordinator()
                #expect(try await result.value == .null)  // sleep's output, echoed
                #expect(try await client.describe(run.id).status == .succeeded)
                await client.close()
            }
        }
    }
}
