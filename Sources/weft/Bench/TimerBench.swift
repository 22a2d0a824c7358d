import ArgumentParser
import Foundation
import Logging
import Weft
import WeftCLISupport
import WeftCore
import WeftPostgres

/// `weft bench timers`: what waiting costs a scheduler, and how fast it ends waits.
///
/// - `--kind sleep`: N runs of one `sleep` node. Once they all sleep, the scheduler's resident
///   memory per sleeping run is read (`/proc/PID/status`), then the scheduler is killed (`kill -9`)
///   and restarted after every deadline has passed, so that all N timers are due at once: the rate
///   at which it fires them (each a committed completion) is N over the spread of the recorded
///   `closed_at`, with the recovery (loading the N runs) before it.
/// - `--kind signal`: N runs of one `wait_signal` node: memory per waiting run, then N signals sent
///   (`SignalRun`, each committed before it is answered) and the rate they are taken.
struct TimersBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timers",
        abstract: "Durable timers and signals: scheduler memory per waiting run, and timers fired (or signals taken) per second.")

    @OptionGroup var options: ClusterBenchOptions

    @Option(help: "sleep (durable timers) or signal (wait_signal nodes).")
    var kind = "sleep"

    @Option(help: "With --kind sleep: each run's sleep. It must outlast starting every run.")
    var delay = "20s"

    func validate() throws {
        guard ["sleep", "signal"].contains(kind) else { throw ValidationError("--kind must be sleep or signal") }
        guard (try? DurationText.parse(delay)) != nil else { throw ValidationError("--delay: not a duration: \(delay)") }
        guard options.resolvedAddress == nil else { throw ValidationError("the timers bench needs its own cluster (it restarts the scheduler): leave out --address") }
    }

    func run() async throws {
        let kind = self.kind
        let delay = try DurationText.parse(delay)
        try await ClusterBench.run(scenario: "timers", options: options, defaultRuns: 20_000, defaultConcurrency: 256) { context in
            guard let cluster = context.cluster, let pid = cluster.schedulerPID, let databaseURL = context.databaseURL else {
                throw CommandFailure("the timers bench needs its own cluster")
            }
            let workflow = kind == "sleep" ? "bench-timers" : "bench-signals"
            let node = kind == "sleep" ? #"{"name":"wait","sleep":"\#(DurationText.format(delay))"}"# : #"{"name":"wait","wait_signal":"go"}"#
            try await context.client.register(definitionJSON: Array(#"{"name":"\#(workflow)","tasks":[\#(node)]}"#.utf8))
            let before = residentBytes(pid)
            let began = ContinuousClock.now
            let ids = try await startMany(context, workflow: workflow)
            let startSeconds = (ContinuousClock.now - began).seconds
            try await Task.sleep(for: .seconds(1))  // let the last commits settle
            let after = residentBytes(pid)
            let perRun = ids.isEmpty ? 0 : Double(max(0, after - before)) / Double(ids.count)
            var rows: [[String]] = [
                ["runs started (\(context.concurrency) start calls in flight)", "\(ids.count) in \(BenchFormat.seconds(startSeconds))"],
                ["scheduler resident memory before / with every run waiting", "\(before / 1_048_576) MiB / \(after / 1_048_576) MiB"],
                ["resident memory per waiting run", "\(Int(perRun)) bytes"],
                ["waiting runs 1 GiB of scheduler memory holds", perRun > 0 ? "\(Int(Double(1 << 30) / perRun))" : "-"],
            ]
            var json = BenchJSON()
            json.add("bytes_per_waiting_run", perRun, digits: 0)
            json.add("waiting_runs_per_gib", perRun > 0 ? Double(1 << 30) / perRun : nil, digits: 0)
            json.add("start_s", startSeconds)
            let postgres = try await PostgresConnection.connect(url: databaseURL, logger: .init(label: "bench") { _ in SwiftLogNoOpLogHandler() })
            defer { Task { await postgres.close() } }
            if kind == "sleep" {
                // Every deadline passes while the scheduler is down: on restart all N are due at once.
                let untilDue = delay - (ContinuousClock.now - began) + .seconds(1)
                let restarted = ContinuousClock.now
                try await cluster.restartScheduler(down: max(untilDue, .seconds(1)))
                try await waitUntilClosed(postgres, workflow: workflow, within: .seconds(600))
                let spread = try await closeSpread(postgres, workflow: workflow)
                let rate = spread > 0 ? Double(ids.count) / spread : nil
                rows += [
                    ["scheduler down past every deadline, then restarted; all closed after", BenchFormat.seconds((ContinuousClock.now - restarted).seconds)],
                    ["timers fired per second (N / spread of recorded closes)", BenchFormat.rate(rate)],
                ]
                json.add("timers_per_s", rate, digits: 1)
            } else {
                let sent = ContinuousClock.now
                try await signalMany(context, ids)
                let sendSeconds = (ContinuousClock.now - sent).seconds
                try await waitUntilClosed(postgres, workflow: workflow, within: .seconds(600))
                rows.append(["signals taken per second (each committed before its answer)", BenchFormat.rate(Double(ids.count) / sendSeconds)])
                json.add("signals_per_s", Double(ids.count) / sendSeconds, digits: 1)
            }
            var tally = BenchRunTally()
            let closed = try await postgres.query(
                "SELECT count(*) FILTER (WHERE status = 'succeeded') AS ok, count(*) AS n FROM runs WHERE workflow = $1::text",
                [PostgresValue(workflow)])
            tally.started = ids.count
            tally.completed = try closed[0].int("ok") ?? 0
            tally.failed = (try closed[0].int("n") ?? 0) - tally.completed
            return BenchScenarioReport(
                headline: "\(ids.count) runs of one \(kind == "sleep" ? "sleep (\(DurationText.format(delay)))" : "wait_signal") node",
                rows: rows, json: json, tally: tally)
        }
    }

    /// Starts `context.runs` runs, `context.concurrency` calls at a time; returns their ids.
    private func startMany(_ context: BenchContext, workflow: String) async throws -> [RunID] {
        try await withThrowingTaskGroup(of: RunID.self) { group in
            var ids: [RunID] = []
            ids.reserveCapacity(context.runs)
            var next = 0
            while next < min(context.concurrency, context.runs) {
                group.addTask { try await context.client.start(workflow: workflow, inputJSON: Array("null".utf8)) }
                next += 1
            }
            while let id = try await group.next() {
                ids.append(id)
                if next < context.runs {
                    group.addTask { try await context.client.start(workflow: workflow, inputJSON: Array("null".utf8)) }
                    next += 1
                }
            }
            return ids
        }
    }

    /// Signals every run once (`go`), `context.concurrency` calls at a time.
    private func signalMany(_ context: BenchContext, _ ids: [RunID]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                let id = ids[next]
                next += 1
                group.addTask { _ = try await context.client.signal(id, "go", payload: JSONValue.null) }
            }
            while next < min(context.concurrency, ids.count) { add() }
            while try await group.next() != nil {
                if next < ids.count { add() }
            }
        }
    }

    private func waitUntilClosed(_ postgres: PostgresConnection, workflow: String, within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let open = try await postgres.query(
                "SELECT count(*) AS n FROM runs WHERE workflow = $1::text AND closed_at IS NULL", [PostgresValue(workflow)])
            if try open[0].int("n") == 0 { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw CommandFailure("runs of \(workflow) still open after \(DurationText.format(limit))")
    }

    /// Seconds between the first and the last recorded close.
    private func closeSpread(_ postgres: PostgresConnection, workflow: String) async throws -> Double {
        let rows = try await postgres.query(
            "SELECT (extract(epoch FROM max(closed_at) - min(closed_at)) * 1000000)::bigint AS us FROM runs WHERE workflow = $1::text",
            [PostgresValue(workflow)])
        return Double(try rows[0].int64("us") ?? 0) / 1_000_000
    }
}

/// The resident memory of process `pid` (`VmRSS` of `/proc/PID/status`), in bytes; 0 if unknown.
func residentBytes(_ pid: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return digits * 1024
    }
    return 0
}
