import Foundation
import Testing
import Weft
import WeftPostgres
import _WeftTestKit

extension ProcessTests {
    /// Cron schedules with real processes (issue 11 item 3).
    @Suite("Cron schedules", .serialized, .enabled(if: IntegrationEnvironment.postgresConfigured))
    struct ScheduleTests {
        static let hello = #"{"name": "hello", "tasks": [{"name": "greet", "type": "echo"}]}"#

        /// The ticks fired so far, from the idempotency keys of the schedule's starts.
        static func firedTicks(_ cluster: ProcessCluster) async throws -> [Int64] {
            try await cluster.query("SELECT key FROM idempotency_keys WHERE key LIKE 'schedule/%' ORDER BY key")
                .map { row in Int64(try row.string("key")?.split(separator: "/").last ?? "") ?? 0 }.sorted()
        }

        static func runCount(_ cluster: ProcessCluster, workflow: String) async throws -> Int {
            try await cluster.query("SELECT count(*) AS n FROM runs WHERE workflow = '\(workflow)'")[0].int("n") ?? 0
        }

        @Test("create, fire every second, pause, resume, trigger, backfill and delete, from the SDK and weftctl; clear errors")
        func lifecycle() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(Self.hello.utf8))
                let created = try await client.createSchedule(try Schedule("tick", workflow: "hello", cron: "* * * * * *", input: ["k": 1]))
                #expect(created.nextFires.count == 5 && created.spec.overlap == "skip" && created.spec.timezone == "UTC", "\(created)")
                #expect(zip(created.nextFires, created.nextFires.dropFirst()).allSatisfy { $1.atMilliseconds - $0.atMilliseconds == 1000 })
                #expect(try await eventually(within: .seconds(30)) { try await Self.firedTicks(cluster).count >= 3 })
                // Every fired tick started one run, with the schedule's input.
                let runs = try await cluster.query("SELECT input FROM runs WHERE workflow = 'hello'")
                #expect(try runs.allSatisfy { try String(decoding: $0.bytes("input") ?? [], as: UTF8.self) == #"{"k":1}"# })
                let info = try await client.schedule(named: "tick")
                #expect(!info.lastRun.isEmpty && info.lastTickMilliseconds > 0)

                // Paused: nothing fires (what was in flight when the pause landed may still finish).
                let paused = try await cluster.weftctl(["schedule", "pause", "tick"])
                #expect(paused.status == 0 && paused.stdout.contains("paused"), "\(paused.stdout)\(paused.stderr)")
                try await Task.sleep(for: .milliseconds(1500))
                let atPause = try await Self.runCount(cluster, workflow: "hello")
                try await Task.sleep(for: .milliseconds(2500))
                #expect(try await Self.runCount(cluster, workflow: "hello") == atPause, "a paused schedule fired")
                let listed = try await cluster.weftctl(["schedule", "list"])
                #expect(listed.stdout.contains("tick") && listed.stdout.contains("paused"), "\(listed.stdout)")

                // Resumed: fires again, from the next tick after now.
                _ = try await client.resumeSchedule("tick")
                #expect(try await eventually(within: .seconds(30)) { try await Self.runCount(cluster, workflow: "hello") >= atPause + 2 })

                // Trigger: one more run, not keyed by a tick.
                let triggered = try await cluster.weftctl(["schedule", "trigger", "tick", "--json"])
                #expect(triggered.status == 0 && triggered.stdout.contains("run_id"), "\(triggered.stderr)")

                // Backfill the last 10 s: ticks fired already keep their run; the paused ones get one.
                let before = try await Self.firedTicks(cluster)
                let backfill = try await cluster.weftctl(["schedule", "backfill", "tick", "--from", "10s", "--json"])
                #expect(backfill.status == 0, "\(backfill.stderr)")
                let answer = try JSONSerialization.jsonObject(with: Data(backfill.stdout.utf8)) as? [String: Any]
                let ticks = answer?["ticks"] as? Int ?? 0
                let createdRuns = answer?["created"] as? Int ?? -1
                #expect(ticks >= 9 && createdRuns >= 1 && createdRuns < ticks, "\(backfill.stdout)")
                #expect(try await cluster.weftctl(["schedule", "backfill", "tick", "--from", "1h", "--to", "50m"]).status == 0)

                _ = try await client.pauseSchedule("tick")
                try await Task.sleep(for: .milliseconds(1500))
                // Exactly one run per tick, whatever fired it, plus the triggered run: no tick twice.
                let ticksNow = try await Self.firedTicks(cluster)
                #expect(Set(ticksNow).count == ticksNow.count && ticksNow.count > before.count)
                #expect(try await Self.runCount(cluster, workflow: "hello") == ticksNow.count + 1)

                // Delete: gone, its runs stay.
                try await client.deleteSchedule("tick")
                let gone = await #expect(throws: WeftError.self) { try await client.schedule(named: "tick") }
                #expect(gone?.code == .notFound)
                #expect(try await Self.runCount(cluster, workflow: "hello") == ticksNow.count + 1)

                // Bad input: a clear error, nothing created.
                for (arguments, message) in [
                    (["--cron", "61 * * * *"], "minute field '61': 61 is outside 0-59"),
                    (["--cron", "0 9 * * *", "--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
                    (["--cron", "0 0 30 2 *"], "matches no date"),
                    (["--cron", "@daily", "--input", "{nope"], "--input is not valid JSON"),
                    (["--cron", "@daily", "--overlap", "sometimes"], "--overlap must be skip, buffer_one or allow"),
                ] {
                    let result = try await cluster.weftctl(["schedule", "create", "bad", "--workflow", "hello"] + arguments)
                    #expect(result.status != 0 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
                }
                let unknown = try await cluster.weftctl(["schedule", "create", "bad", "--workflow", "nope", "--cron", "@daily"])
                #expect(unknown.stderr.contains("NOT_FOUND: no workflow 'nope'"), "\(unknown.stderr)")
                _ = try await client.createSchedule(try Schedule("daily", workflow: "hello", cron: "@daily", input: JSONValue.null, timeZone: "Europe/Berlin"))
                let twice = try await cluster.weftctl(["schedule", "create", "daily", "--workflow", "hello", "--cron", "@daily"])
                #expect(twice.stderr.contains("ALREADY_EXISTS"), "\(twice.stderr)")
                let shown = try await cluster.weftctl(["schedule", "get", "daily"])
                #expect(shown.stdout.contains("0 0 * * * (Europe/Berlin)") || shown.stdout.contains("@daily (Europe/Berlin)"), "\(shown.stdout)")
                // From a file (YAML), with every field; unknown fields are refused.
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("weft-schedule-\(UInt32.random(in: 0...UInt32.max))")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: folder) }
                let file = folder.appendingPathComponent("nightly.yaml").path
                try """
                    name: nightly
                    workflow: hello
                    cron: "30 2 * * *"
                    timezone: America/New_York
                    input: {day: yesterday}
                    overlap: buffer_one
                    catchup_window: 1h
                    paused: true
                    """.write(toFile: file, atomically: true, encoding: .utf8)
                let fromFile = try await cluster.weftctl(["schedule", "create", "--file", file, "--json"])
                #expect(fromFile.status == 0, "\(fromFile.stderr)")
                let nightly = try await client.schedule(named: "nightly")
                #expect(nightly.paused && nightly.spec.timezone == "America/New_York" && nightly.spec.overlap == "buffer_one"
                    && nightly.spec.catchupWindowMilliseconds == 3_600_000 && String(decoding: nightly.spec.inputJSON, as: UTF8.self) == #"{"day":"yesterday"}"#,
                    "\(nightly)")
                let strange = folder.appendingPathComponent("strange.yaml").path
                try "name: x\nworkflow: hello\ncron: '@daily'\ncolour: red\n".write(toFile: strange, atomically: true, encoding: .utf8)
                let refused = try await cluster.weftctl(["schedule", "create", "--file", strange])
                #expect(refused.status != 0 && refused.stderr.contains("unknown field(s) colour"), "\(refused.stderr)")
                let schedules = try await cluster.query("SELECT count(*) AS n FROM schedules")
                #expect(try schedules[0].int("n") == 2)
                await client.close()
            }
        }

        @Test("kill -9 of the scheduler as ticks come, twice: after each restart every tick has fired exactly once, none skipped")
        func schedulerKilled_everyTickFiresOnce() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(Self.hello.utf8))
                // Every second, overlap allowed: each tick must fire, catch-up included.
                let made = try await cluster.weftctl(["schedule", "create", "pulse", "--workflow", "hello", "--cron", "* * * * * *", "--overlap", "allow"])
                #expect(made.status == 0, "\(made.stderr)")
                for round in 1...2 {
                    #expect(try await eventually(within: .seconds(30)) { try await Self.firedTicks(cluster).count >= 3 * round })
                    // A tick fires every second: the kill lands on or next to a fire.
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0..<1000)))
                    cluster.killScheduler()
                    try await Task.sleep(for: .seconds(2))  // ticks come while nobody owns the schedule
                    try await cluster.startScheduler()
                }
                let restartedAt = Int64(Date().timeIntervalSince1970 * 1000)
                #expect(try await eventually(within: .seconds(30)) { (try await Self.firedTicks(cluster).last ?? 0) > restartedAt + 1000 })
                _ = try await client.pauseSchedule("pulse")
                try await Task.sleep(for: .milliseconds(1500))
                let ticks = try await Self.firedTicks(cluster)
                // Contiguous: every second from the first tick to the last, the missed ones caught up.
                let missing = (0..<Int((ticks.last! - ticks.first!) / 1000)).map { ticks.first! + Int64($0) * 1000 }.filter { !ticks.contains($0) }
                #expect(missing.isEmpty, "ticks never fired: \(missing)")
                // Once: one key per tick (its primary key) and one run per key, no run without a key.
                #expect(Set(ticks).count == ticks.count)
                #expect(try await Self.runCount(cluster, workflow: "hello") == ticks.count)
                let orphans = try await cluster.query("""
                    SELECT count(*) AS n FROM idempotency_keys k LEFT JOIN runs r ON r.run_id = k.run_id WHERE r.run_id IS NULL
                    """)
                #expect(try orphans[0].int("n") == 0)
                #expect(try await eventually(within: .seconds(30)) {
                    try await cluster.query("SELECT count(*) AS n FROM runs WHERE workflow = 'hello' AND status <> 'succeeded'")[0].int("n") == 0
                }, "every run of the schedule succeeds")
                await client.close()
            }
        }

        @Test("overlap skip: a tick that comes while the previous run is open starts nothing; the runs never overlap")
        func overlapSkip_runsNeverOverlap() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"{"name": "slow", "tasks": [{"name": "nap", "type": "sleep"}]}"#.utf8))
                _ = try await client.createSchedule(try Schedule("slow-every-second", workflow: "slow", cron: "* * * * * *", input: ["ms": 2500]))
                #expect(try await eventually(within: .seconds(40)) { try await Self.runCount(cluster, workflow: "slow") >= 3 })
                _ = try await client.pauseSchedule("slow-every-second")
                let rows = try await cluster.query("""
                    SELECT (extract(epoch FROM created_at) * 1000)::bigint AS c, (extract(epoch FROM coalesce(closed_at, now())) * 1000)::bigint AS e
                    FROM runs WHERE workflow = 'slow' ORDER BY created_at
                    """)
                let spans = try rows.map { (try $0.int64("c") ?? 0, try $0.int64("e") ?? 0) }
                for (earlier, later) in zip(spans, spans.dropFirst()) {
                    #expect(later.0 >= earlier.1, "a run started at \(later.0) while the previous one ran until \(earlier.1)")
                }
                await client.close()
            }
        }
    }
}

extension ProcessTests.ClusterTests {
    @Test("cron schedules across a failover: kill -9 of a scheduler that owns schedules; the other fires their missed ticks, every tick exactly once")
    func schedules_failover_everyTickOnce() async throws {
        try await Self.withTwoSchedulers { cluster, client, second, _ in
            // Eight schedules, every second, overlap allowed: about half live in s2's partitions.
            for i in 0..<8 {
                _ = try await client.createSchedule(try Schedule("pulse-\(i)", workflow: "pair", cron: "* * * * * *", input: ["ms": 10], overlap: .allow))
            }
            #expect(try await eventually(within: .seconds(30)) {
                try await cluster.query("SELECT count(DISTINCT split_part(key, '/', 2)) AS n FROM idempotency_keys WHERE key LIKE 'schedule/%'")[0].int("n") == 8
            })
            let onSecond = try await cluster.query("""
                SELECT count(*) AS n FROM schedules s JOIN partition_owners o ON o.partition_id = s.partition WHERE o.owner_node = 's2'
                """)[0].int("n") ?? 0
            #expect(onSecond > 0, "no schedule lives on s2: the kill would test nothing")
            try await Task.sleep(for: .milliseconds(Int.random(in: 500..<1500)))
            kill(second.process.processIdentifier, SIGKILL)
            #expect(try await eventually(within: .seconds(30)) { try await Self.owners(cluster) == ["s1": 16] })
            let tookOverAt = Int64(Date().timeIntervalSince1970 * 1000)
            // s1 fires s2's schedules again, the missed ticks first.
            #expect(try await eventually(within: .seconds(30)) {
                try await cluster.query("""
                    SELECT min(last_tick_ms) AS t FROM schedules
                    """)[0].int64("t") ?? 0 > tookOverAt + 1000
            })
            for i in 0..<8 { _ = try await client.pauseSchedule("pulse-\(i)") }
            try await Task.sleep(for: .milliseconds(1500))
            let rows = try await cluster.query("SELECT key FROM idempotency_keys WHERE key LIKE 'schedule/%'")
            var ticks: [String: [Int64]] = [:]
            for row in rows {
                let parts = (try row.string("key") ?? "").split(separator: "/")
                ticks[String(parts[1]), default: []].append(Int64(parts[2]) ?? 0)
            }
            #expect(ticks.count == 8)
            for (schedule, fired) in ticks {
                let sorted = fired.sorted()
                let missing = (0..<Int((sorted.last! - sorted.first!) / 1000)).map { sorted.first! + Int64($0) * 1000 }.filter { !sorted.contains($0) }
                #expect(missing.isEmpty, "schedule \(schedule): ticks never fired: \(missing)")
            }
            // One run per tick: no run of the workflow without its key, none twice.
            let runs = try await cluster.query("SELECT count(*) AS n FROM runs WHERE workflow = 'pair'")[0].int("n") ?? 0
            #expect(runs == rows.count, "\(runs) runs for \(rows.count) ticks")
            #expect(try await eventually(within: .seconds(60)) {
                try await cluster.query("SELECT count(*) AS n FROM runs WHERE closed_at IS NULL")[0].int("n") == 0
            })
        }
    }
}
