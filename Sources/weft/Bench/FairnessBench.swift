import ArgumentParser
import Foundation
import Logging
import Weft
import WeftCLISupport
import WeftCore
import WeftPostgres

/// `weft bench fairness`: how long small keys wait behind one busy key (issue 12). One key queues
/// `--big` tasks, then `--small-keys` keys queue `--small` each; every task is one run of a node
/// that sleeps `--task-ms` on a worker. Measured twice on the same cluster:
///
/// - **fifo**: no concurrency limit — every task is ready at once and workers take them in order,
///   so the small keys' tasks wait for the whole backlog queued before them;
/// - **per-key**: `concurrency: {key: $.customer, limit: --limit}` — each key waits in a queue of
///   its own (`FlowGate`), at most `limit` of a key hold a slot, so the busy key cannot hold up
///   the others.
///
/// Reported per mode: the small keys' and the busy key's time from start call to close (p50, p99,
/// max, from the rows' `created_at`/`closed_at`), and the whole drain. Worker slots must be the
/// scarce resource for the question to arise: run it with few (`--workers 1 --worker-concurrency 16`).
struct FairnessBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fairness",
        abstract: "One busy key and many small ones: how long the small keys wait, without and with per-key concurrency limits (needs --redis).")

    @OptionGroup var options: ClusterBenchOptions

    @Option(help: "Tasks of the busy key, queued first.")
    var big = 10_000

    @Option(name: .customLong("small-keys"), help: "Small keys, queued after the busy one.")
    var smallKeys = 10

    @Option(help: "Tasks of each small key.")
    var small = 100

    @Option(help: "The per-key concurrency limit of the per-key mode.")
    var limit = 4

    @Option(name: .customLong("task-ms"), help: "How long each task sleeps on its worker.")
    var taskMilliseconds = 5

    func validate() throws {
        guard options.runs == nil else { throw ValidationError("the fairness bench sets its runs from --big, --small-keys and --small") }
        guard big >= 1, smallKeys >= 1, small >= 1, big + smallKeys * small <= 200_000 else {
            throw ValidationError("--big, --small-keys and --small must be at least 1, and at most 200,000 tasks in all")
        }
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 10000") }
        guard (0...60_000).contains(taskMilliseconds) else { throw ValidationError("--task-ms must be from 0 to 60000") }
        guard options.resolvedAddress != nil || options.resolvedRedis != nil else {
            throw ValidationError("the per-key mode needs Redis: give --redis URL (or WEFT_REDIS_URL)")
        }
    }

    func run() async throws {
        let (big, smallKeys, small, limit, taskMilliseconds) = (big, smallKeys, small, limit, taskMilliseconds)
        let perMode = big + smallKeys * small
        try await ClusterBench.run(scenario: "fairness", options: options, defaultRuns: 2 * perMode, defaultConcurrency: 256) { context in
            guard let databaseURL = context.databaseURL else {
                throw CommandFailure("the fairness bench reads the runs' times from Postgres: give --postgres URL")
            }
            let postgres = try await PostgresConnection.connect(url: databaseURL, logger: .init(label: "bench") { _ in SwiftLogNoOpLogHandler() })
            defer { Task { await postgres.close() } }
            var rows: [[String]] = []
            var json = BenchJSON()
            var tally = BenchRunTally()
            for (mode, concurrency) in [("fifo", ""), ("per-key", #","concurrency":{"key":"$.customer","limit":\#(limit)}"#)] {
                let workflow = "bench-fair-\(mode)"
                try await context.client.register(definitionJSON: Array(
                    #"{"name":"\#(workflow)","tasks":[{"name":"work","type":"sleep"\#(concurrency)}]}"#.utf8))
                // One run first, not measured: connections open, and a fresh Redis's warm-up of the
                // concurrency limits (no slot for 5 s after Redis first sees them) has passed.
                let warm = try await context.client.start(workflow: workflow, inputJSON: Array(#"{"customer":"warm-up","ms":0}"#.utf8))
                _ = try await context.client.wait(for: warm, timeout: .seconds(60))
                let inputs = Array(repeating: "big", count: big) + (0..<smallKeys).flatMap { key in Array(repeating: "small-\(key)", count: small) }
                let began = ContinuousClock.now
                let started = try await Self.startAll(context, workflow: workflow, customers: inputs, taskMilliseconds: taskMilliseconds)
                tally.started += started.ids
                tally.startErrors += started.errors
                if tally.firstProblem == nil { tally.firstProblem = started.firstError }
                let closed = try await Self.waitUntilClosed(postgres, workflow: workflow, within: .seconds(1800))
                let drain = (ContinuousClock.now - began).seconds
                tally.completed += closed.succeeded
                tally.failed += closed.failed
                let smallWaits = try await Self.latencies(postgres, workflow: workflow, big: false)
                let bigWaits = try await Self.latencies(postgres, workflow: workflow, big: true)
                let label = mode == "fifo" ? "fifo (no limit)" : "per-key (limit \(limit))"
                rows += [
                    ["\(label): small keys' start → close p50 / p99 / max",
                     "\(BenchFormat.ms(smallWaits.p50)) / \(BenchFormat.ms(smallWaits.p99)) / \(BenchFormat.ms(smallWaits.max))"],
                    ["\(label): busy key's start → close p50 / max", "\(BenchFormat.ms(bigWaits.p50)) / \(BenchFormat.ms(bigWaits.max))"],
                    ["\(label): everything drained in", BenchFormat.seconds(drain)],
                ]
                let prefix = mode == "fifo" ? "fifo" : "per_key"
                json.add("\(prefix)_small_p50_ms", smallWaits.p50)
                json.add("\(prefix)_small_p99_ms", smallWaits.p99)
                json.add("\(prefix)_small_max_ms", smallWaits.max)
                json.add("\(prefix)_big_p50_ms", bigWaits.p50)
                json.add("\(prefix)_drain_s", drain)
            }
            return BenchScenarioReport(
                headline: "one key with \(big) tasks queued first, then \(smallKeys) keys with \(small) each; tasks sleep \(taskMilliseconds) ms",
                rows: rows, json: json, tally: tally,
                notes: ["small keys wait for the busy key's backlog without a limit; with per-key limits each key waits only for its own"])
        }
    }

    /// Starts one run per customer, in order, `context.concurrency` calls at a time.
    private static func startAll(
        _ context: BenchContext, workflow: String, customers: [String], taskMilliseconds: Int
    ) async throws -> (ids: Int, errors: Int, firstError: String?) {
        try await withThrowingTaskGroup(of: String?.self) { group in
            var next = 0
            var ids = 0
            var errors = 0
            var firstError: String?
            func add() {
                let input = Array(#"{"customer":"\#(customers[next])","ms":\#(taskMilliseconds)}"#.utf8)
                next += 1
                group.addTask {
                    do {
                        _ = try await context.client.start(workflow: workflow, inputJSON: input)
                        return nil
                    } catch {
                        return "\(error)"
                    }
                }
            }
            while next < min(context.concurrency, customers.count) { add() }
            while let outcome = try await group.next() {
                if let outcome {
                    errors += 1
                    firstError = firstError ?? outcome
                } else {
                    ids += 1
                }
                if next < customers.count { add() }
            }
            return (ids, errors, firstError)
        }
    }

    private static func waitUntilClosed(
        _ postgres: PostgresConnection, workflow: String, within limit: Duration
    ) async throws -> (succeeded: Int, failed: Int) {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let rows = try await postgres.query(
                """
                SELECT count(*) FILTER (WHERE closed_at IS NULL) AS open, count(*) FILTER (WHERE status = 'succeeded') AS ok,
                       count(*) FILTER (WHERE closed_at IS NOT NULL AND status <> 'succeeded') AS bad
                FROM runs WHERE workflow = $1::text AND convert_from(input, 'UTF8')::jsonb->>'customer' <> 'warm-up'
                """, [PostgresValue(workflow)])
            if try rows[0].int("open") == 0 { return (try rows[0].int("ok") ?? 0, try rows[0].int("bad") ?? 0) }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw CommandFailure("runs of \(workflow) still open after \(DurationText.format(limit))")
    }

    /// Start → close of the busy key's runs or the small keys', in milliseconds.
    private static func latencies(_ postgres: PostgresConnection, workflow: String, big: Bool) async throws -> (p50: Double?, p99: Double?, max: Double?) {
        let rows = try await postgres.query(
            """
            SELECT (percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::float8 AS p50,
                   (percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))::float8 AS p99, max(ms)::float8 AS top
            FROM (SELECT extract(epoch FROM closed_at - created_at) * 1000 AS ms FROM runs
                  WHERE workflow = $1::text AND convert_from(input, 'UTF8')::jsonb->>'customer' LIKE $2::text) t
            """, [PostgresValue(workflow), PostgresValue(big ? "big" : "small-%")])
        return (try rows[0].double("p50"), try rows[0].double("p99"), try rows[0].double("top"))
    }
}
