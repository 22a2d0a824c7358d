import ArgumentParser
import Weft
import WeftCLISupport
import WeftCore
import WeftWire
import WeftPostgres
import Logging

// The cluster scenarios of `weft bench` (ARCHITECTURE.md §10). Each drives the cluster through the
// SDK (`WeftClient`: register, start, wait, describe) and reports through `ClusterBench`.

/// `weft bench throughput`: single-noop runs, many in flight; runs (= tasks) completed per second.
struct ThroughputBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput",
        abstract: "Runs completed per second: 20,000 single-noop runs, 512 in flight (start → wait each).")

    @OptionGroup var options: ClusterBenchOptions

    func run() async throws {
        try await ClusterBench.run(scenario: "throughput", options: options, defaultRuns: 20_000, defaultConcurrency: 512) { context in
            let done = BenchCounter()
            let began = ContinuousClock.now
            let runs = context.runs
            let outcomes = try await BenchProgress.reporting({
                let elapsed = (ContinuousClock.now - began).seconds
                return "throughput: \(done.current)/\(runs) runs closed in \(Int(elapsed)) s (\(Int(Double(done.current) / max(elapsed, 0.001))) runs/s)"
            }) {
                await context.driver.runMany(
                    ClusterBench.noopWorkflow, input: ClusterBench.nullInput, count: runs, concurrency: context.concurrency, done: done)
            }
            let wall = (ContinuousClock.now - began).seconds
            let tally = BenchRunTally(outcomes)
            let latencies = BenchSamples(outcomes.compactMap { outcome in
                if case .succeeded(_, let total, _, _) = outcome { return total.milliseconds }
                return nil
            })
            let perSecond = Double(tally.completed) / wall
            var json = BenchJSON()
            json.add("tasks_per_s", perSecond, digits: 1)
            json.add("p50_ms", latencies.p50)
            json.add("p99_ms", latencies.p99)
            json.add("wall_s", wall)
            return BenchScenarioReport(
                headline: "\(runs) single-noop runs, \(context.concurrency) in flight",
                rows: [
                    ["tasks (= runs) completed per second", BenchFormat.rate(perSecond)],
                    ["wall time (first start → last completion)", BenchFormat.seconds(wall)],
                    ["run latency under load p50 (start → completed)", BenchFormat.ms(latencies.p50)],
                    ["run latency under load p99", BenchFormat.ms(latencies.p99)],
                ],
                json: json, tally: tally)
        }
    }
}

/// `weft bench latency`: one single-noop run at a time; start call → completion seen by WaitRun.
struct LatencyBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency",
        abstract: "Single-task latency: 2,000 single-noop runs one at a time, start call → completion observed by WaitRun.")

    @OptionGroup var options: ClusterBenchOptions

    func run() async throws {
        try await ClusterBench.run(scenario: "latency", options: options, defaultRuns: 2_000, defaultConcurrency: 1) { context in
            let done = BenchCounter()
            let began = ContinuousClock.now
            let runs = context.runs
            let outcomes = try await BenchProgress.reporting({ "latency: \(done.current)/\(runs) runs closed" }) {
                await context.driver.runMany(
                    ClusterBench.noopWorkflow, input: ClusterBench.nullInput, count: runs, concurrency: context.concurrency, done: done)
            }
            let wall = (ContinuousClock.now - began).seconds
            let tally = BenchRunTally(outcomes)
            var totals: [Double] = []
            var starts: [Double] = []
            for case .succeeded(_, let total, let start, _) in outcomes {
                totals.append(total.milliseconds)
                starts.append(start.milliseconds)
            }
            let latency = BenchSamples(totals)
            let start = BenchSamples(starts)
            let afterStart = BenchSamples(zip(totals, starts).map { $0 - $1 })
            var json = BenchJSON()
            json.add("p50_ms", latency.p50)
            json.add("p99_ms", latency.p99)
            json.add("p999_ms", latency.percentile(0.999))
            json.add("max_ms", latency.max)
            json.add("start_p50_ms", start.p50)
            json.add("start_p99_ms", start.p99)
            json.add("tasks_per_s", Double(tally.completed) / wall, digits: 1)
            json.add("wall_s", wall)
            return BenchScenarioReport(
                headline: "\(runs) single-noop runs, \(context.concurrency) at a time",
                rows: [
                    ["latency p50 (start call → completed seen by WaitRun)", BenchFormat.ms(latency.p50)],
                    ["latency p99", BenchFormat.ms(latency.p99)],
                    ["latency p99.9", BenchFormat.ms(latency.percentile(0.999))],
                    ["latency max", BenchFormat.ms(latency.max)],
                    ["  of which the start call (durable start) p50 / p99", "\(BenchFormat.ms(start.p50)) / \(BenchFormat.ms(start.p99))"],
                    ["  of which start returned → completed seen p50 / p99", "\(BenchFormat.ms(afterStart.p50)) / \(BenchFormat.ms(afterStart.p99))"],
                    ["wall time", BenchFormat.seconds(wall)],
                ],
                json: json, tally: tally)
        }
    }
}

/// `weft bench chain`: runs of a chain of noop tasks; the step latency from the recorded
/// `finished_at` of task i to that of task i+1.
struct ChainBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chain",
        abstract: "Step latency of a chain: 20 runs (one at a time) of a 50-noop chain; a step is task i's recorded finish → task i+1's.")

    @OptionGroup var options: ClusterBenchOptions

    @Option(help: "Tasks in the chain.")
    var steps = 50

    func validate() throws {
        guard (2...1_000).contains(steps) else { throw ValidationError("--steps must be from 2 to 1000") }
    }

    /// `s1 → s2 → … → sN`, all noop.
    static func definition(steps: Int) -> String {
        let tasks = (1...steps).map { index in
            index == 1
                ? #"{"name":"s1","type":"noop"}"#
                : #"{"name":"s\#(index)","type":"noop","depends_on":["s\#(index - 1)"]}"#
        }
        return #"{"name":"bench-chain-\#(steps)","tasks":["# + tasks.joined(separator: ",") + "]}"
    }

    func run() async throws {
        let steps = self.steps
        try await ClusterBench.run(scenario: "chain", options: options, defaultRuns: 20, defaultConcurrency: 1) { context in
            try await context.client.register(definitionJSON: Array(Self.definition(steps: steps).utf8))
            let done = BenchCounter()
            let runs = context.runs
            let outcomes = try await BenchProgress.reporting({ "chain: \(done.current)/\(runs) runs closed" }) {
                await context.driver.runMany(
                    "bench-chain-\(steps)", input: ClusterBench.nullInput, count: runs, concurrency: context.concurrency, done: done)
            }
            let tally = BenchRunTally(outcomes)
            var stepSamples: [Double] = []
            var walls: [Double] = []
            var spans: [Double] = []
            var notes: [String] = []
            // The recorded timestamps (task_attempts.finished_at): in microseconds from Postgres when
            // the bench knows the database, else in milliseconds through GetRun.
            let database: PostgresConnection? = if let url = context.databaseURL {
                try? await PostgresConnection.connect(url: url, logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
            } else {
                nil
            }
            let unit: Double = database == nil ? 1 : 1_000  // per millisecond
            for case .succeeded(let runID, let total, _, _) in outcomes {
                walls.append(total.milliseconds)
                var finished = [Int64?](repeating: nil, count: steps + 1)
                func record(_ node: String, _ at: Int64) {
                    guard node.hasPrefix("s"), let index = Int(node.dropFirst()), (1...steps).contains(index), at > 0 else { return }
                    finished[index] = max(finished[index] ?? 0, at)
                }
                if let database {
                    let rows = try await database.query(
                        """
                        SELECT node, (extract(epoch FROM finished_at) * 1000000)::bigint AS us FROM task_attempts
                        WHERE run_id = $1::uuid AND status = 'succeeded'
                        """, [PostgresValue(text: runID.description)])
                    for row in rows { record(try row.string("node") ?? "", try row.int64("us") ?? 0) }
                } else {
                    let info = try await context.client.describe(runID)
                    for task in info.tasks where task.status == .succeeded { record(task.node, task.finishedAtMilliseconds) }
                }
                let recorded = finished.compactMap { $0 }
                guard recorded.count == steps else {
                    notes.append("run \(runID): only \(recorded.count) of \(steps) tasks have a recorded finish; its steps are left out")
                    continue
                }
                for index in 2...steps { stepSamples.append(Double(finished[index]! - finished[index - 1]!) / unit) }
                spans.append(Double(finished[steps]! - finished[1]!) / unit)
            }
            await database?.close()
            let stepStats = BenchSamples(stepSamples)
            let wall = BenchSamples(walls)
            // The mean step over whole chains is exact to 1 ms / (steps - 1); single steps are whole milliseconds.
            let meanStep = spans.isEmpty ? nil : spans.reduce(0, +) / Double(spans.count * (steps - 1))
            let wallPerStep = wall.p50.map { $0 / Double(steps) }
            var json = BenchJSON()
            json.add("p50_ms", stepStats.p50)
            json.add("p99_ms", stepStats.p99)
            json.add("mean_step_ms", meanStep)
            json.add("max_step_ms", stepStats.max)
            json.add("wall_per_step_ms", wallPerStep)
            json.add("wall_s", wall.p50.map { $0 / 1_000 })
            json.add("p50_us", stepStats.p50.map { $0 * 1_000 }, digits: 0)
            json.add("p99_us", stepStats.p99.map { $0 * 1_000 }, digits: 0)
            json.add("steps", steps)
            json.add("step_samples", stepStats.count)
            notes.append(database == nil
                ? "steps read through GetRun, in whole milliseconds (give --postgres for microseconds)"
                : "steps from task_attempts.finished_at, recorded in microseconds")
            return BenchScenarioReport(
                headline: "\(runs) runs of a \(steps)-noop chain, \(context.concurrency) at a time",
                rows: [
                    ["step p50 (task i finished → task i+1 finished)", BenchFormat.us(stepStats.p50)],
                    ["step p99", BenchFormat.us(stepStats.p99)],
                    ["step max", BenchFormat.us(stepStats.max)],
                    ["step mean (first → last finish / \(steps - 1))", BenchFormat.us(meanStep)],
                    ["run wall p50 (start → completed)", BenchFormat.ms(wall.p50)],
                    ["run wall p50 / \(steps) (as Celery's per_step_ms)", BenchFormat.ms(wallPerStep)],
                    ["step samples", "\(stepStats.count)"],
                ],
                json: json, tally: tally, notes: notes)
        }
    }
}

/// `weft bench fanout`: one map node fanning out to N noop tasks, then a join.
struct FanoutBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Fan-out: a node maps over a 1,000-element list (1,000 noop tasks), then a join; start → run completed.")

    @OptionGroup var options: ClusterBenchOptions

    @Option(help: "Tasks the map node fans out to.")
    var width = 1_000

    func validate() throws {
        guard (1...10_000).contains(width) else { throw ValidationError("--width must be from 1 to 10000") }
    }

    /// `split` (echo: outputs the run input, the list) → `fan` (map: one noop per element) → `join`.
    static let definition = #"""
        {"name":"bench-fanout","tasks":[{"name":"split","type":"echo"},\#
        {"name":"fan","type":"noop","map":true,"depends_on":["split"]},\#
        {"name":"join","type":"noop","depends_on":["fan"]}]}
        """#

    func run() async throws {
        let width = self.width
        try await ClusterBench.run(scenario: "fanout", options: options, defaultRuns: 1, defaultConcurrency: 1) { context in
            try await context.client.register(definitionJSON: Array(Self.definition.utf8))
            let input = Array(("[" + (1...width).map(String.init).joined(separator: ",") + "]").utf8)
            let done = BenchCounter()
            let runs = context.runs
            let began = ContinuousClock.now
            let outcomes = try await BenchProgress.reporting({
                "fanout: \(done.current)/\(runs) runs closed after \(Int((ContinuousClock.now - began).seconds)) s"
            }) {
                await context.driver.runMany("bench-fanout", input: input, count: runs, concurrency: context.concurrency, done: done)
            }
            let tally = BenchRunTally(outcomes)
            var walls: [Double] = []
            var taskRows: [Int] = []
            var phases: [FanoutPhases] = []
            for case .succeeded(_, let total, _, let info) in outcomes {
                walls.append(total.seconds)
                taskRows.append(info.tasks.filter { $0.status == .succeeded }.count)
                if let phase = FanoutPhases(info) { phases.append(phase) }
            }
            let wall = BenchSamples(walls)
            // The phases of the run with the median wall time, from its recorded timestamps.
            let median = phases.sorted { $0.closed < $1.closed }.dropFirst(phases.count / 2).first
            let tasks = width + 2
            var json = BenchJSON()
            json.add("wall_s", wall.p50)
            json.add("wall_min_s", wall.min)
            json.add("wall_max_s", wall.max)
            json.add("tasks_per_s", wall.p50.map { Double(tasks) / $0 }, digits: 1)
            json.add("width", width)
            var rows: [[String]] = [
                ["wall p50 (start call → run completed seen by WaitRun)", BenchFormat.seconds(wall.p50)],
                ["tasks per second within the run (\(tasks) tasks / wall)", BenchFormat.rate(wall.p50.map { Double(tasks) / $0 })],
                ["succeeded task rows per run (split, map node, \(width) elements, join)", taskRows.map(String.init).joined(separator: ", ")],
            ]
            if let median {
                rows += [
                    ["phases (recorded, ms after the run was created):", ""],
                    ["  split finished (map list known)", "\(median.splitFinished)"],
                    ["  elements scheduled (first … last)", "\(median.firstScheduled) … \(median.lastScheduled)"],
                    ["  elements finished (first … last)", "\(median.firstFinished) … \(median.lastFinished)"],
                    ["  join finished / run closed", "\(median.joinFinished) / \(median.closed)"],
                ]
                json.add("elements_finished_first_ms", Double(median.firstFinished), digits: 0)
                json.add("elements_finished_last_ms", Double(median.lastFinished), digits: 0)
                json.add("run_closed_ms", Double(median.closed), digits: 0)
            }
            if wall.count > 1 { rows.insert(["wall min / max", "\(BenchFormat.seconds(wall.min)) / \(BenchFormat.seconds(wall.max))"], at: 1) }
            return BenchScenarioReport(
                headline: "\(runs) run(s) of split → map over \(width) noop tasks → join, \(context.concurrency) at a time",
                rows: rows, json: json, tally: tally)
        }
    }
}

/// When the parts of one fan-out run happened, in milliseconds after the run was created, from the
/// timestamps recorded in task_attempts and runs.
struct FanoutPhases {
    var splitFinished: Int64
    var firstScheduled: Int64
    var lastScheduled: Int64
    var firstFinished: Int64
    var lastFinished: Int64
    var joinFinished: Int64
    var closed: Int64

    init?(_ info: RunInfo) {
        let created = info.createdAtMilliseconds
        let elements = info.tasks.filter { $0.node.hasPrefix("fan[") }
        guard let split = info.tasks.first(where: { $0.node == "split" }), let join = info.tasks.first(where: { $0.node == "join" }),
              !elements.isEmpty, created > 0
        else { return nil }
        splitFinished = split.finishedAtMilliseconds - created
        firstScheduled = (elements.map(\.scheduledAtMilliseconds).min() ?? created) - created
        lastScheduled = (elements.map(\.scheduledAtMilliseconds).max() ?? created) - created
        firstFinished = (elements.map(\.finishedAtMilliseconds).min() ?? created) - created
        lastFinished = (elements.map(\.finishedAtMilliseconds).max() ?? created) - created
        joinFinished = join.finishedAtMilliseconds - created
        closed = info.closedAtMilliseconds - created
    }
}
