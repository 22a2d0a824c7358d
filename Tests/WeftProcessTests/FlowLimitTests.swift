import Foundation
import Logging
import Testing
import Weft
import WeftCore
import WeftPostgres
import _WeftTestKit

extension ProcessTests {
    /// Flow limits (issue 12) with real processes and a real Redis.
    @Suite("Flow limits", .serialized, .enabled(if: IntegrationEnvironment.postgresConfigured))
    struct FlowLimitTests {
        static func redisURL() throws -> String {
            try #require(try IntegrationEnvironment.redisURL(), "WEFT_REDIS_URL is needed for the flow-limit tests")
        }

        /// A workflow whose map node calls `echo` once per element under `rate_limit`.
        static func limited(_ name: String, key: String, limit: Int, burst: Int) -> String {
            #"{"name":"\#(name)","tasks":[{"name":"list","type":"echo"},"#
                + #"{"name":"call","type":"echo","depends_on":["list"],"map":true,"#
                + #""rate_limit":{"key":"\#(key)","limit":\#(limit),"per":"1s","burst":\#(burst)}}]}"#
        }

        /// When each attempt of `node`'s elements started (seconds, ascending).
        static func startTimes(_ cluster: ProcessCluster, run: RunID, node: String) async throws -> [Double] {
            let rows = try await cluster.query("""
                SELECT extract(epoch FROM started_at)::text FROM task_attempts
                WHERE run_id = '\(run)' AND node LIKE '\(node)[%' AND started_at IS NOT NULL ORDER BY started_at
                """)
            return rows.compactMap { $0[0].flatMap(Double.init) }
        }

        @Test("a rate limit spreads a map's 20 tasks at 10/s (burst 2): they wait without failing, visible in queues and metrics")
        func rateLimit_spreadsAttempts() async throws {
            let redis = try Self.redisURL()
            try await ProcessCluster.with { cluster in
                let metrics = try #require(try await cluster.startScheduler(metrics: true, extraArguments: ["--redis", redis]))
                try await cluster.startCoordinator()
                try cluster.startWorker(id: "builtin", concurrency: 32)
                let client = try cluster.client()
                let key = "e2e-api-\(UInt32.random(in: 0...UInt32.max))"
                try await client.register(definitionJSON: Array(Self.limited("limited", key: key, limit: 10, burst: 2).utf8))
                let input = "[" + (0..<20).map(String.init).joined(separator: ",") + "]"
                let run = try await client.start(workflow: "limited", inputJSON: Array(input.utf8))
                // While it runs, the waiting tasks show in `weftctl queues` and in the gauge.
                var seenInQueues = false
                #expect(try await eventually(within: .seconds(10), pollEvery: .milliseconds(50)) {
                    let result = try await cluster.weftctl(["queues", "--json"])
                    let queues = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]] ?? []
                    seenInQueues = queues.contains { ($0["rate_limited"] as? Int ?? 0) > 0 }
                    return seenInQueues
                })
                let table = try await cluster.weftctl(["queues"])
                #expect(table.stdout.contains("RATE LIMITED"), "\(table.stdout)")
                #expect(try await eventually {
                    (MetricsEndpointTests.sample("weft_rate_limited_tasks", in: try httpGet(metrics, "/metrics").body) ?? 0) > 0
                })
                let info = try await client.wait(for: run, timeout: .seconds(60))
                #expect(info.status == .succeeded)
                let starts = try await Self.startTimes(cluster, run: run, node: "call")
                #expect(starts.count == 20, "one attempt per element, none failed: \(starts.count)")
                // GCRA: any k consecutive starts span at least (k - burst) intervals. The slack of
                // one interval is for the scheduler's dispatch after the grant (a grant's task can
                // start a little late, which bunches it with the next, never early).
                for i in starts.indices {
                    for j in starts.indices where j > i {
                        let count = j - i + 1
                        let allowed = 2 + Int((starts[j] - starts[i]) / 0.1) + 1
                        #expect(count <= allowed + 1, "\(count) starts within \(starts[j] - starts[i]) s")
                    }
                }
                #expect((starts.last ?? 0) - (starts.first ?? 0) >= 1.5, "20 tasks at 10/s after a burst of 2 take at least 1.7 s")
                #expect((MetricsEndpointTests.sample("weft_rate_limit_waits_total", in: try httpGet(metrics, "/metrics").body) ?? 0) > 0)
                await client.close()
            }
        }

        @Test("a key from the input limits each value apart: two customers' tasks do not wait for each other")
        func rateLimit_perInputKey() async throws {
            let redis = try Self.redisURL()
            try await ProcessCluster.with { cluster in
                try await cluster.startScheduler(extraArguments: ["--redis", redis])
                try await cluster.startCoordinator()
                try cluster.startWorker(id: "builtin", concurrency: 32)
                let client = try cluster.client()
                let tag = UInt32.random(in: 0...UInt32.max)
                // limit 1 per 10 s: a key's second task would wait 10 s.
                try await client.register(definitionJSON: Array(#"""
                    {"name":"per_customer","tasks":[{"name":"call","type":"echo","rate_limit":{"key":"$.customer","limit":1,"per":"10s","burst":1}}]}
                    """#.utf8))
                // A key's first use after Redis forgot it starts empty: spend that wait first.
                var runs: [RunID] = []
                for customer in ["a-\(tag)", "b-\(tag)"] {
                    runs.append(try await client.start(workflow: "per_customer", inputJSON: Array(#"{"customer":"\#(customer)"}"#.utf8)))
                }
                for run in runs { #expect(try await client.wait(for: run, timeout: .seconds(60)).status == .succeeded) }
                let started = ContinuousClock.now
                let second = try await client.start(workflow: "per_customer", inputJSON: Array(#"{"customer":"c-\#(tag)"}"#.utf8))
                let again = try await client.start(workflow: "per_customer", inputJSON: Array(#"{"customer":"a-\#(tag)"}"#.utf8))
                #expect(try await client.wait(for: second, timeout: .seconds(60)).status == .succeeded)
                let otherDone = ContinuousClock.now - started
                let waitingInfo = try await client.describe(again, includeTasks: false)
                #expect(waitingInfo.status == .running, "customer a's second task waits for its limit")
                #expect(otherDone < .seconds(9), "customer c did not wait for customer a: \(otherDone)")
                await client.close()
            }
        }

        /// Counts, per key, the attempts running at once in a worker of this process, and the most
        /// ever seen. An attempt is (run, node, attempt): a copy pushed again after a recovery is
        /// the same attempt, not a second one.
        final class ConcurrencyProbe: Sendable {
            private let state = Locked<(running: [String: [String: Int]], peak: [String: Int], done: Set<String>)>(([:], [:], []))

            func enter(key: String, attempt: String) {
                state.withLock { state in
                    state.running[key, default: [:]][attempt, default: 0] += 1
                    state.peak[key] = max(state.peak[key] ?? 0, state.running[key]!.count)
                }
            }

            func leave(key: String, attempt: String) {
                state.withLock { state in
                    state.running[key]![attempt]! -= 1
                    if state.running[key]![attempt] == 0 { state.running[key]![attempt] = nil }
                    state.done.insert(attempt)
                }
            }

            var peaks: [String: Int] { state.withLock { $0.peak } }
            var finished: Int { state.withLock { $0.done.count } }
        }

        static func probeWorker(_ cluster: ProcessCluster, probe: ConcurrencyProbe, hold: Duration) throws -> WeftWorker {
            struct Item: Codable, Sendable { var customer: String; var i: Int }
            var registry = TaskRegistry()
            registry.register(TaskType<Item, Item>("work")) { item, context in
                let attempt = "\(context.runID)/\(context.node)#\(context.attempt)"
                probe.enter(key: item.customer, attempt: attempt)
                defer { probe.leave(key: item.customer, attempt: attempt) }
                try? await Task.sleep(for: hold)
                return item
            }
            BuiltinTasks.register(into: &registry, allowExec: false)
            var configuration = WeftWorker.Configuration(coordinator: try Endpoint(parsing: cluster.coordinatorAddress), workerID: "probe")
            configuration.authToken = Array(cluster.token.utf8)
            configuration.concurrency = 32
            configuration.shutdownGracePeriod = .milliseconds(100)
            return WeftWorker(configuration: configuration, registry: registry, logger: Logger(label: "probe") { _ in SwiftLogNoOpLogHandler() })
        }

        @Test("a concurrency limit holds across a scheduler kill -9 and a Redis restart: never more than 2 per key at once, every run succeeds")
        func concurrency_neverOverAdmits() async throws {
            let redis = try await PrivateRedis()
            defer { redis.destroy() }
            try await ProcessCluster.with { cluster in
                let metrics = try #require(try await cluster.startScheduler(metrics: true, extraArguments: ["--redis", redis.url]))
                try await cluster.startCoordinator()
                let probe = ConcurrencyProbe()
                let worker = try Self.probeWorker(cluster, probe: probe, hold: .milliseconds(150))
                let workerTask = Task { await worker.run() }
                defer { workerTask.cancel() }
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"""
                    {"name":"fair","tasks":[{"name":"list","type":"echo"},
                     {"name":"work","type":"work","depends_on":["list"],"map":true,"retry":{"max_attempts":10,"initial_backoff":"50ms"},
                      "concurrency":{"key":"$.customer","limit":2}}]}
                    """#.utf8))
                // 3 runs × 40 elements over 4 customers: 30 tasks per customer, 2 at a time.
                var runs: [RunID] = []
                for r in 0..<3 {
                    let items = (0..<40).map { #"{"customer":"c\#($0 % 4)","i":\#(r * 100 + $0)}"# }
                    runs.append(try await client.start(workflow: "fair", inputJSON: Array(("[" + items.joined(separator: ",") + "]").utf8)))
                }
                func gauge(_ name: String) throws -> Double { MetricsEndpointTests.sample(name, in: try httpGet(metrics, "/metrics").body) ?? 0 }
                // Tasks wait at the limit, visible in the gauge and in `weftctl queues`.
                #expect(try await eventually(within: .seconds(20)) { try gauge("weft_concurrency_limited_tasks") > 0 })
                #expect(try await eventually(within: .seconds(20)) {
                    let result = try await cluster.weftctl(["queues", "--json"])
                    let queues = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]] ?? []
                    return queues.contains { ($0["concurrency_limited"] as? Int ?? 0) > 0 }
                })
                #expect(try await eventually(within: .seconds(30)) { probe.finished >= 20 })
                cluster.killScheduler()
                try await cluster.startScheduler(extraArguments: ["--redis", redis.url])
                #expect(try await eventually(within: .seconds(30)) { probe.finished >= 60 }, "work goes on after the restart")
                redis.kill()  // forgets every slot
                try await Task.sleep(for: .milliseconds(300))
                try await redis.start()
                for run in runs {
                    let info = try await client.wait(for: run, timeout: .seconds(120))
                    #expect(info.status == .succeeded, "\(info)")
                }
                #expect(probe.peaks.count == 4)
                for (key, peak) in probe.peaks {
                    #expect(peak <= 2, "customer \(key): \(peak) attempts ran at once against a limit of 2")
                }
                #expect(probe.peaks.values.contains(2), "the limit was reached, not just respected: \(probe.peaks)")
                await client.close()
            }
        }

        @Test("the result cache: a second run with the same key completes from the cache without a worker; purge makes it run again")
        func resultCache_hitMissPurge() async throws {
            let redis = try Self.redisURL()
            try await ProcessCluster.with { cluster in
                let metrics = try #require(try await cluster.startScheduler(metrics: true, extraArguments: ["--redis", redis]))
                try await cluster.startCoordinator(extraArguments: ["--redis", redis])
                try cluster.startWorker(id: "builtin")
                let client = try cluster.client()
                // A type of its own per test run, so that entries of earlier runs on this Redis do not hit.
                let tag = UInt32.random(in: 0...UInt32.max)
                try await client.register(definitionJSON: Array(#"""
                    {"name":"cached","tasks":[{"name":"fetch","type":"echo","cache":{"key":"$.url","ttl":"1h"}},
                                             {"name":"after","type":"echo","depends_on":["fetch"]}]}
                    """#.utf8))
                func worker(of run: RunID) async throws -> String? {
                    try await client.describe(run).tasks.first { $0.node == "fetch" }?.worker
                }
                func sample(_ series: String) throws -> Double { MetricsEndpointTests.sample(series, in: try httpGet(metrics, "/metrics").body) ?? 0 }
                let input = Array(#"{"url":"https://example.com/\#(tag)","body":"\#(String(repeating: "x", count: 2000))"}"#.utf8)
                let first = try await client.start(workflow: "cached", inputJSON: input)
                #expect(try await client.wait(for: first).status == .succeeded)
                #expect(try await worker(of: first) == "builtin")
                #expect(try await eventually { try sample(#"weft_cache_stores_total{outcome="stored"}"#) == 1 })
                let second = try await client.start(workflow: "cached", inputJSON: input)
                let info = try await client.wait(for: second)
                #expect(info.status == .succeeded)
                #expect(try await worker(of: second) == "cache", "a hit runs nothing on a worker")
                let firstOutput = try await client.describe(first).tasks.first { $0.node == "after" }?.output
                #expect(info.tasks.first { $0.node == "after" }?.output == firstOutput, "the cached output flows on")
                let history = try await cluster.weftctl(["run", "history", "\(second)"])
                #expect(history.stdout.contains("cache_hit") && history.stdout.contains("on cache"), "\(history.stdout)")
                #expect(try sample(#"weft_cache_lookups_total{outcome="hit"}"#) == 1)
                #expect(try sample(#"weft_cache_lookups_total{outcome="miss"}"#) == 1)
                // Another key misses.
                let other = try await client.start(workflow: "cached", inputJSON: Array(#"{"url":"https://example.com/other-\#(tag)"}"#.utf8))
                #expect(try await client.wait(for: other).status == .succeeded)
                #expect(try await worker(of: other) == "builtin")
                // Purge the key: the next run runs on a worker again.
                let purge = try await cluster.weftctl(["cache", "purge", "--type", "echo", "--key", "https://example.com/\(tag)"])
                #expect(purge.status == 0 && purge.stdout.contains("purged 1 cached output"), "\(purge.stdout)\(purge.stderr)")
                let third = try await client.start(workflow: "cached", inputJSON: input)
                #expect(try await client.wait(for: third).status == .succeeded)
                #expect(try await worker(of: third) == "builtin")
                // Inputs the key path finds nothing in are never cached: both run on the worker.
                for _ in 0..<2 {
                    let keyless = try await client.start(workflow: "cached", inputJSON: Array(#"{"body":"no url \#(tag)"}"#.utf8))
                    #expect(try await client.wait(for: keyless).status == .succeeded)
                    #expect(try await worker(of: keyless) == "builtin")
                }
                #expect(try sample(#"weft_cache_lookups_total{outcome="skipped"}"#) == 2)
                // Hostile purges get INVALID_ARGUMENT from the coordinator and delete nothing.
                for (type, key, all) in [(String(repeating: "t", count: 1000), "", false), ("a\u{1}b", "", false), ("echo", "", true), ("", "", false)] {
                    do {
                        _ = try await client.purgeCache(taskType: type.isEmpty ? nil : type, key: key.isEmpty ? nil : key, all: all)
                        Issue.record("a purge of (\(type.prefix(10)), \(all)) was accepted")
                    } catch let error as WeftError {
                        #expect(error.code == .invalidArgument, "\(error)")
                    }
                }
                // Bad purges are usage errors.
                let bad = try await cluster.weftctl(["cache", "purge"])
                #expect(bad.status == 2 && bad.stderr.contains("--all"), "\(bad.stderr)")
                await client.close()
            }
        }

        @Test("a circuit breaker opens on failures, holds the next attempt (no worker slot), lets a probe through after open_for, closes on its success; when_open: fail fails at once")
        func circuitBreaker_opensHoldsProbesCloses() async throws {
            let redis = try Self.redisURL()
            try await ProcessCluster.with { cluster in
                let metrics = try #require(try await cluster.startScheduler(metrics: true, extraArguments: ["--redis", redis]))
                try await cluster.startCoordinator(extraArguments: ["--redis", redis])
                let failing = Locked(true)
                let calls = Locked(0)
                let tag = UInt32.random(in: 0...UInt32.max)
                let (held, fast) = ("flaky-\(tag)", "brittle-\(tag)")
                var registry = TaskRegistry()
                for type in [held, fast] {
                    registry.register(type) { input, _ in
                        calls.withLock { $0 += 1 }
                        if failing.withLock({ $0 }) { throw TaskError(kind: "Down", message: "the downstream is down", retryable: false) }
                        return input
                    }
                }
                var configuration = WeftWorker.Configuration(coordinator: try Endpoint(parsing: cluster.coordinatorAddress), workerID: "flaky")
                configuration.authToken = Array(cluster.token.utf8)
                configuration.shutdownGracePeriod = .milliseconds(100)
                let worker = WeftWorker(configuration: configuration, registry: registry, logger: Logger(label: "flaky") { _ in SwiftLogNoOpLogHandler() })
                let workerTask = Task { await worker.run() }
                defer { workerTask.cancel() }
                let client = try cluster.client()
                for (name, type, mode) in [("guarded", held, "hold"), ("brittle", fast, "fail")] {
                    try await client.register(definitionJSON: Array(#"""
                        {"name":"\#(name)","tasks":[{"name":"call","type":"\#(type)",
                         "circuit_breaker":{"failure_rate":0.5,"min_requests":3,"window":"30s","open_for":"2s","when_open":"\#(mode)"}}]}
                        """#.utf8))
                }
                func sample(_ series: String) throws -> Double { MetricsEndpointTests.sample(series, in: try httpGet(metrics, "/metrics").body) ?? 0 }
                // Three failures open the breaker of each type.
                for workflow in ["guarded", "brittle"] {
                    for _ in 0..<3 {
                        let run = try await client.start(workflow: workflow, inputJSON: Array("1".utf8))
                        #expect(try await client.wait(for: run).status == .failed)
                    }
                }
                #expect(try await eventually { try sample(#"weft_breaker_transitions_total{to="open"}"#) == 2 })
                let listed = try await cluster.weftctl(["breakers"])
                #expect(listed.stdout.contains(held) && listed.stdout.contains("OPEN"), "\(listed.stdout)")
                // when_open: fail — the next attempt fails at once, on no worker.
                failing.withLock { $0 = false }
                let before = calls.withLock { $0 }
                let refused = try await client.start(workflow: "brittle", inputJSON: Array("2".utf8))
                let refusedInfo = try await client.wait(for: refused)
                #expect(refusedInfo.status == .failed && refusedInfo.error.contains("CircuitOpen"), "\(refusedInfo)")
                // when_open: hold — the attempt waits, then goes as the probe, succeeds and closes the breaker.
                let waiting = try await client.start(workflow: "guarded", inputJSON: Array("3".utf8))
                #expect(try await eventually { try sample("weft_breaker_held_tasks") == 1 })
                #expect(try await client.describe(waiting, includeTasks: false).status == .running)
                #expect(try await client.wait(for: waiting, timeout: .seconds(30)).status == .succeeded)
                #expect(calls.withLock { $0 } == before + 1, "only the probe ran; the fail-fast attempt ran nowhere")
                let history = try await cluster.weftctl(["run", "history", "\(waiting)"]).stdout
                for change in ["breaker_held", "breaker_probe"] { #expect(history.contains(change), "\(change): \(history)") }
                #expect(try await eventually { try sample(#"weft_breaker_transitions_total{to="closed"}"#) == 1 })
                let closed = try await cluster.weftctl(["breakers"])
                #expect(closed.stdout.split(separator: "\n").contains { $0.hasPrefix(held) && $0.contains("CLOSED") }, "\(closed.stdout)")
                await client.close()
            }
        }

        @Test("a batched map runs one task per batch, at most max_concurrency at once, and returns one output per element in order")
        func batchedMap() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start()
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"""
                    {"name":"batched","tasks":[{"name":"list","type":"echo"},
                     {"name":"each","type":"echo","depends_on":["list"],"map":{"batch_size":3,"max_concurrency":2}}]}
                    """#.utf8))
                let run = try await client.start(workflow: "batched", inputJSON: Array("[1,2,3,4,5,6,7,8,9,10]".utf8))
                let info = try await client.wait(for: run)
                #expect(info.status == .succeeded)
                #expect(String(decoding: info.output, as: UTF8.self) == "[1,2,3,4,5,6,7,8,9,10]")
                let batches = info.tasks.filter { $0.node.hasPrefix("each[") }
                #expect(batches.count == 4, "\(batches.map(\.node))")
                #expect(batches.first { $0.node == "each[3]" }.map { String(decoding: $0.output, as: UTF8.self) } == "[10]")
                await client.close()
            }
        }

        @Test("weftctl archive export streams a month to gzip JSON Lines; import loads it into archive_rows; a damaged file loads nothing")
        func archive_exportImport() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start()
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"{"name":"pair","tasks":[{"name":"a","type":"echo"},{"name":"b","type":"echo","depends_on":["a"]}]}"#.utf8))
                for i in 0..<5 {
                    // Inputs with backslashes, quotes and newlines survive the trip.
                    let run = try await client.start(workflow: "pair", inputJSON: Array(#"{"i":\#(i),"text":"a\\b \"q\"\nline"}"#.utf8))
                    #expect(try await client.wait(for: run).status == .succeeded)
                }
                let month = try #require(try await cluster.query("SELECT to_char(min(created_at) AT TIME ZONE 'UTC', 'YYYY-MM') AS m FROM runs").first?.string("m"))
                let file = NSTemporaryDirectory() + "weft-archive-\(UInt32.random(in: 0...UInt32.max)).jsonl.gz"
                defer { unlink(file) }
                let exported = try await runProcess(
                    try WeftBinaries.path("weftctl"), ["archive", "export", "--month", month, "--to", file, "--postgres", cluster.databaseURL],
                    environment: cluster.environment, timeout: .seconds(60))
                #expect(exported.status == 0 && exported.stdout.contains("exported 5 runs and 10 task attempts"), "\(exported.stdout)\(exported.stderr)")
                let gzipMagic = try Data(contentsOf: URL(fileURLWithPath: file)).prefix(2)
                #expect(Array(gzipMagic) == [0x1F, 0x8B])
                let imported = try await runProcess(
                    try WeftBinaries.path("weftctl"), ["archive", "import", "--from", file, "--name", "nov", "--postgres", cluster.databaseURL],
                    environment: cluster.environment, timeout: .seconds(60))
                #expect(imported.status == 0 && imported.stdout.contains("loaded 5 runs and 10 task attempts"), "\(imported.stdout)\(imported.stderr)")
                let texts = try await cluster.query("""
                    SELECT convert_from(decode(substr(row->>'input', 3), 'hex'), 'UTF8')::jsonb->>'text' AS t
                    FROM archive_rows WHERE archive = 'nov' AND table_name = 'runs'
                    """)
                #expect(texts.count == 5 && texts.allSatisfy { (try? $0.string("t")) == "a\\b \"q\"\nline" }, "\(texts.map { try? $0.string("t") })")
                // A damaged file: clear error, nothing loaded.
                let damaged = NSTemporaryDirectory() + "weft-archive-bad-\(UInt32.random(in: 0...UInt32.max)).jsonl"
                defer { unlink(damaged) }
                try Data("{\"table\":\"runs\",\"row\":{}}\nnot json at all\n".utf8).write(to: URL(fileURLWithPath: damaged))
                let bad = try await runProcess(
                    try WeftBinaries.path("weftctl"), ["archive", "import", "--from", damaged, "--postgres", cluster.databaseURL],
                    environment: cluster.environment, timeout: .seconds(60))
                #expect(bad.status == 1 && bad.stderr.contains("nothing was loaded"), "\(bad.stderr)")
                #expect(try await cluster.query("SELECT count(*)::int AS n FROM archive_rows")[0].int("n") == 15)
                let badMonth = try await runProcess(
                    try WeftBinaries.path("weftctl"), ["archive", "export", "--month", "2026-13", "--to", file, "--postgres", cluster.databaseURL],
                    environment: cluster.environment, timeout: .seconds(60))
                #expect(badMonth.status == 2 && badMonth.stderr.contains("YYYY-MM"), "\(badMonth.stderr)")
                await client.close()
            }
        }

        @Test("attempts that run past start_to_close count as failures for their type's circuit breaker")
        func circuitBreaker_countsTimeouts() async throws {
            let redis = try Self.redisURL()
            try await ProcessCluster.with { cluster in
                let metrics = try #require(try await cluster.startScheduler(metrics: true, extraArguments: ["--redis", redis]))
                try await cluster.startCoordinator(extraArguments: ["--redis", redis])
                // A type of its own: breakers are per type and cluster-wide (other runs of this test
                // share the Redis).
                let type = "slow-\(UInt32.random(in: 0...UInt32.max))"
                var registry = TaskRegistry()
                registry.register(type) { input, _ in
                    try? await Task.sleep(for: .seconds(3))
                    return input
                }
                var configuration = WeftWorker.Configuration(coordinator: try Endpoint(parsing: cluster.coordinatorAddress), workerID: "slow")
                configuration.authToken = Array(cluster.token.utf8)
                configuration.shutdownGracePeriod = .milliseconds(100)
                let worker = WeftWorker(configuration: configuration, registry: registry, logger: Logger(label: "slow") { _ in SwiftLogNoOpLogHandler() })
                let workerTask = Task { await worker.run() }
                defer { workerTask.cancel() }
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"""
                    {"name":"slow","tasks":[{"name":"wait","type":"\#(type)","timeouts":{"start_to_close":"200ms"},"retry":{"max_attempts":1},
                     "circuit_breaker":{"min_requests":2,"failure_rate":1,"open_for":"1m"}}]}
                    """#.utf8))
                for _ in 0..<2 {
                    let run = try await client.start(workflow: "slow", inputJSON: Array("1".utf8))
                    let info = try await client.wait(for: run)
                    #expect(info.status == .failed && info.error.contains("Timeout"), "\(info.error)")
                }
                #expect(try await eventually {
                    (MetricsEndpointTests.sample(#"weft_breaker_transitions_total{to="open"}"#, in: try httpGet(metrics, "/metrics").body) ?? 0) == 1
                })
                let breakers = try await cluster.weftctl(["breakers"])
                #expect(breakers.stdout.split(separator: "\n").contains { $0.hasPrefix(type) && $0.contains("OPEN") }, "\(breakers.stdout)")
                await client.close()
            }
        }

        @Test("without Redis, a workflow with a rate limit is refused at start with a clear error")
        func rateLimit_needsRedis() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start()
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(Self.limited("limited", key: "k", limit: 1, burst: 1).utf8))
                do {
                    _ = try await client.start(workflow: "limited", inputJSON: Array("[1]".utf8))
                    Issue.record("expected FAILED_PRECONDITION")
                } catch let error as WeftError {
                    #expect(error.code == .failedPrecondition && error.message.contains("--redis"), "\(error)")
                }
                await client.close()
            }
        }
    }
}
