import Foundation
import Logging
import Testing
import Weft
import WeftCore
import WeftMembership
import WeftPostgres
import WeftRedis
import _WeftTestKit

extension ProcessTests {
    /// Scheduler shards (ARCHITECTURE §2) as real processes: gossip on loopback UDP with the
    /// `local-testing` membership profile, leases in the test Redis, fences in Postgres.
    @Suite("Cluster", .serialized, .enabled(if: IntegrationEnvironment.postgresConfigured && IntegrationEnvironment.redisConfigured))
    struct ClusterTests {
        static let pair = #"""
            {"name": "pair", "tasks": [
              {"name": "first", "type": "sleep"},
              {"name": "second", "type": "noop", "depends_on": ["first"]}
            ]}
            """#

        /// The scheduler processes of one test: the first one started is everyone's seed.
        final class Schedulers: @unchecked Sendable {
            // @unchecked Sendable: used from one test task at a time.
            let cluster: ProcessCluster
            let redis: String
            private(set) var children: [(id: String, process: ChildProcess)] = []
            private(set) var seed: String?
            /// Each scheduler's gossip address.
            private(set) var gossip: [String: String] = [:]
            /// Each scheduler's RPC address.
            private(set) var rpc: [String: String] = [:]

            init(cluster: ProcessCluster, redis: String) {
                self.cluster = cluster
                self.redis = redis
            }

            /// Starts scheduler `id` in cluster mode and waits until it serves.
            @discardableResult
            func start(_ id: String, extraArguments: [String] = [], seeds: [String]? = nil) async throws -> ChildProcess {
                var arguments = [
                    "scheduler", "--listen", "127.0.0.1:0", "--node-id", id, "--gossip", "127.0.0.1:0", "--redis", redis,
                    "--membership-profile", "local-testing",
                ] + extraArguments
                if let seeds, !seeds.isEmpty {
                    arguments += ["--seeds", seeds.joined(separator: ",")]
                } else if let seed {
                    arguments += ["--seeds", seed]
                }
                let child = try ChildProcess(try WeftBinaries.path("weft"), arguments, environment: cluster.environment)
                children.removeAll { $0.id == id }  // a restart replaces the stopped one
                children.append((id, child))
                let address = try await child.waitForLine(prefix: "gossip on ", timeout: .seconds(60))
                rpc[id] = try await child.waitForListening(timeout: .seconds(60))
                gossip[id] = address
                if seed == nil { seed = address }
                return child
            }

            subscript(id: String) -> ChildProcess { children.first { $0.id == id }!.process }

            var output: String {
                children.map { "--- \($0.id)\n" + $0.process.outputSoFar.suffix(6000) }.joined(separator: "\n")
            }
        }

        /// Steady load: four loops start runs of `pair` one after another, spread over `clients`,
        /// until stopped; only acknowledged starts are counted.
        final class SteadyLoad: Sendable {
            private let acknowledged = Locked<[RunID]>([])
            private let stopping = Locked(false)
            private let loops: Task<Void, Never>

            init(clients: [WeftClient]) {
                let acknowledged = acknowledged, stopping = stopping
                loops = Task {
                    await withTaskGroup(of: Void.self) { group in
                        for loop in 0..<4 {
                            group.addTask {
                                while !stopping.withLock({ $0 }) {
                                    if let run = try? await clients[loop % clients.count].start(workflow: "pair", inputJSON: Array(#"{"ms": 20}"#.utf8)) {
                                        acknowledged.withLock { $0.append(run) }
                                    }
                                }
                            }
                        }
                    }
                }
            }

            /// Whether 20 more runs are acknowledged within 60 s.
            func progressed() async throws -> Bool {
                let before = acknowledged.withLock { $0.count }
                return try await eventually(within: .seconds(60)) { acknowledged.withLock { $0.count } >= before + 20 }
            }

            /// Stops the loops; the runs acknowledged.
            func stop() async -> [RunID] {
                stopping.withLock { $0 = true }
                await loops.value
                return acknowledged.withLock { $0 }
            }
        }

        /// Runs `body` on a fresh database with scheduler shards it starts; records an error with
        /// every process's output, and stops everything afterwards.
        static func withCluster(
            postgresURL: String? = nil, redisURL: String? = nil, _ body: (ProcessCluster, Schedulers) async throws -> Void
        ) async throws {
            let shared = try #require(try IntegrationEnvironment.redisURL(), "WEFT_REDIS_URL is needed for the cluster tests")
            let redis = redisURL ?? shared
            let cluster = try await ProcessCluster(postgresURL: postgresURL)
            let schedulers = Schedulers(cluster: cluster, redis: redis)
            do {
                try await body(cluster, schedulers)
            } catch {
                Issue.record("\(error)\n\(cluster.logs)\n\(schedulers.output)")
            }
            for child in schedulers.children { await child.process.terminate(grace: .seconds(5)) }
            await cluster.stop()
        }

        /// Starts `count` runs of `pair` (a sleep of `ms`, then a noop).
        static func startRuns(_ count: Int, ms: Int = 50, client: WeftClient) async throws -> [RunID] {
            var runs: [RunID] = []
            for _ in 0..<count { runs.append(try await client.start(workflow: "pair", inputJSON: Array(#"{"ms": \#(ms)}"#.utf8))) }
            return runs
        }

        static func owners(_ cluster: ProcessCluster) async throws -> [String: Int] {
            let rows = try await cluster.query("SELECT owner_node, count(*) AS n FROM partition_owners GROUP BY owner_node")
            var out: [String: Int] = [:]
            for row in rows { out[try row.string("owner_node") ?? ""] = try row.int("n") ?? 0 }
            return out
        }

        /// partition → owner node, from `partition_owners`.
        static func ownerMap(_ cluster: ProcessCluster) async throws -> [String] {
            let rows = try await cluster.query("SELECT partition_id, owner_node FROM partition_owners ORDER BY partition_id")
            return try rows.map { try $0.string("owner_node") ?? "" }
        }

        @Test("a second scheduler takes about half the partitions by handoff; kill -9 of it under load: the first takes them over in seconds and every run completes once")
        func joinHandoffThenFailover() async throws {
            try await Self.withCluster { cluster, schedulers in
                try await schedulers.start("s1")
                // Alone, s1 owns every partition (16 in the test database).
                #expect(try await eventually(within: .seconds(30)) { try await Self.owners(cluster) == ["s1": 16] })
                try await cluster.startCoordinator()
                for i in 0..<2 { try cluster.startWorker(id: "worker-\(i)") }
                let client = try cluster.client(timeout: .seconds(120))
                try await client.register(definitionJSON: Array(Self.pair.utf8))
                var runs = try await Self.startRuns(100, client: client)

                // s2 joins: the ring gives it about half; s1 hands those off (flush, release) and s2
                // takes them (lease, fence, recovery) while runs go on.
                let second = try await schedulers.start("s2")
                // Exactly the partitions the ring of ARCHITECTURE §2 names (every node computes the same).
                let expected = HashRing(nodes: ["s1", "s2"]).owners(partitionCount: 16)
                let split = try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == expected }
                let shared = try await Self.owners(cluster)
                let map = try await Self.ownerMap(cluster)
                #expect(split, "owners: \(map), the ring says \(expected)")
                runs += try await Self.startRuns(200, client: client)
                // Runs that are surely still open when s2 dies (2 s each; about 5 of 16 partitions on s2).
                runs += try await Self.startRuns(60, ms: 2000, client: client)

                // kill -9 of s2 with runs in flight: SWIM confirms it dead, s1 takes its leases over
                // at once, advances the fences and recovers its open runs.
                kill(second.process.processIdentifier, SIGKILL)
                let killed = ContinuousClock.now
                let orphaned = try await cluster.query(
                    "SELECT count(*) AS n FROM runs r JOIN partition_owners o ON o.partition_id = r.partition WHERE r.closed_at IS NULL AND o.owner_node = 's2'")
                #expect(try orphaned[0].int("n") ?? 0 > 0, "the kill must hit open runs of s2 for this test to mean anything")
                let tookOver = try await eventually(within: .seconds(30)) { try await Self.owners(cluster) == ["s1": 16] }
                let failover = ContinuousClock.now - killed
                let afterKill = try await Self.owners(cluster)
                #expect(tookOver, "owners: \(afterKill)")
                print("cluster test: partitions after the join \(shared); failover of \(shared["s2"] ?? 0) partitions took \(failover)")
                try await Self.verify(runs, client: client, cluster: cluster)
                await client.close()
            }
        }

        /// What every test below checks at the end: each run succeeded, no task recorded twice,
        /// nothing open.
        /// With `exact`, also that no other run exists (a start whose answer was lost — possible
        /// only when a fault hits the call itself — leaves a run the caller never heard of).
        static func verify(_ runs: [RunID], tasksPerRun: Int = 2, exact: Bool = true, client: WeftClient, cluster: ProcessCluster) async throws {
            for run in runs {
                let info = try await client.wait(for: run, timeout: .seconds(120))
                #expect(info.status == .succeeded, "run \(run): \(info.status) \(info.error)")
            }
            let duplicates = try await cluster.query(
                "SELECT run_id, node, count(*) AS n FROM task_attempts WHERE status = 'succeeded' GROUP BY run_id, node HAVING count(*) <> 1")
            #expect(duplicates.isEmpty, "tasks recorded as succeeded more than once: \(duplicates.count)")
            if exact {
                let succeeded = try await cluster.query("SELECT count(*) AS n FROM task_attempts WHERE status = 'succeeded'")
                #expect(try succeeded[0].int("n") == runs.count * tasksPerRun)
            }
            // Every run the engine has, acknowledged or not, finishes.
            let open = try await eventually(within: .seconds(60)) {
                try await cluster.query("SELECT count(*) AS n FROM runs WHERE closed_at IS NULL")[0].int("n") == 0
            }
            #expect(open, "runs are still open")
        }

        /// Two schedulers (s1, s2) sharing the partitions as the ring says, a coordinator, two
        /// workers; `body` gets the client and both scheduler processes.
        static func withTwoSchedulers(
            redisURL: String? = nil, _ body: (ProcessCluster, WeftClient, ChildProcess, String) async throws -> Void
        ) async throws {
            try await withCluster(redisURL: redisURL) { cluster, schedulers in
                try await schedulers.start("s1")
                let second = try await schedulers.start("s2")
                let expected = HashRing(nodes: ["s1", "s2"]).owners(partitionCount: 16)
                let settled = try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == expected }
                try #require(settled, "the partitions never settled on the ring's owners")
                try await cluster.startCoordinator()
                for i in 0..<2 { try cluster.startWorker(id: "worker-\(i)") }
                let client = try cluster.client(timeout: .seconds(120))
                try await client.register(definitionJSON: Array(Self.pair.utf8))
                try await body(cluster, client, second, schedulers.redis)
                await client.close()
            }
        }

        static func fences(_ cluster: ProcessCluster) async throws -> [Int64] {
            let rows = try await cluster.query("SELECT range_id FROM partition_owners ORDER BY partition_id")
            return try rows.map { Int64(try $0.int("range_id") ?? -1) }
        }

        @Test("a concurrency limit holds across two schedulers, and through kill -9 of one under load: never more than 2 per key at once")
        func concurrencyLimit_acrossSchedulers() async throws {
            try await Self.withCluster { cluster, schedulers in
                try await schedulers.start("s1")
                let second = try await schedulers.start("s2")
                let expected = HashRing(nodes: ["s1", "s2"]).owners(partitionCount: 16)
                try #require(try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == expected })
                try await cluster.startCoordinator()
                let probe = FlowLimitTests.ConcurrencyProbe()
                let worker = try FlowLimitTests.probeWorker(cluster, probe: probe, hold: .milliseconds(100))
                let workerTask = Task { await worker.run() }
                defer { workerTask.cancel() }
                let client = try cluster.client(timeout: .seconds(120))
                try await client.register(definitionJSON: Array(#"""
                    {"name":"limited","tasks":[{"name":"work","type":"work","retry":{"max_attempts":10,"initial_backoff":"50ms"},
                      "concurrency":{"key":"$.customer","limit":2}}]}
                    """#.utf8))
                // 120 runs of one task each over 3 customers: their ids fall in every partition, so
                // both schedulers admit tasks of every key.
                var runs: [RunID] = []
                for i in 0..<120 {
                    runs.append(try await client.start(workflow: "limited", inputJSON: Array(#"{"customer":"c\#(i % 3)","i":\#(i)}"#.utf8)))
                }
                let owners = Set(try await cluster.query("SELECT DISTINCT partition FROM runs").compactMap { try $0.int("partition") })
                #expect(owners.count > 4, "the runs spread over partitions")
                #expect(try await eventually(within: .seconds(60)) { probe.finished >= 30 })
                kill(second.process.processIdentifier, SIGKILL)
                second.process.waitUntilExit()
                for run in runs {
                    #expect(try await client.wait(for: run, timeout: .seconds(120)).status == .succeeded)
                }
                for (key, peak) in probe.peaks { #expect(peak <= 2, "customer \(key): \(peak) at once against a limit of 2") }
                #expect(probe.peaks.values.contains(2), "\(probe.peaks)")
                await client.close()
            }
        }

        @Test("SIGSTOP of a scheduler past its lease: the other takes over; after SIGCONT its stale fences write nothing, and it rejoins as a normal member")
        func pausedScheduler_fencedOut_rejoins() async throws {
            try await Self.withTwoSchedulers { cluster, client, second, _ in
                var runs = try await Self.startRuns(150, client: client)
                kill(second.process.processIdentifier, SIGSTOP)
                let tookOver = try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == Array(repeating: "s1", count: 16) }
                #expect(tookOver)
                // Runs started while s2 is frozen go to s1.
                runs += try await Self.startRuns(50, client: client)
                kill(second.process.processIdentifier, SIGCONT)
                // s2 finds its fences stale (its writes are refused), refutes its death and gets its
                // share back through handoffs.
                let expected = HashRing(nodes: ["s1", "s2"]).owners(partitionCount: 16)
                let rejoined = try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == expected }
                let map = try await Self.ownerMap(cluster)
                let detail = try await cluster.query(
                    "SELECT partition_id, owner_node, range_id, to_char(updated_at, 'HH24:MI:SS.MS') AS at FROM partition_owners ORDER BY partition_id")
                let rows = try detail.map { "\(try $0.int("partition_id") ?? -1):\(try $0.string("owner_node") ?? "")#\(try $0.int("range_id") ?? -1)@\(try $0.string("at") ?? "")" }
                try #require(rejoined, "owners: \(map), the ring says \(expected); \(rows)")
                runs += try await Self.startRuns(50, client: client)
                try await Self.verify(runs, client: client, cluster: cluster)
            }
        }

        @Test("Redis killed and restarted empty under load, then flushed: leases are taken again, no fence moves, no engine stops, nothing is lost")
        func redisRestartedAndFlushed_leasesReestablished() async throws {
            let redisServer = try await PrivateRedis()
            defer { redisServer.destroy() }
            try await Self.withTwoSchedulers(redisURL: redisServer.url) { cluster, client, _, redisURL in
                var runs = try await Self.startRuns(100, client: client)
                let before = try await Self.fences(cluster)
                func leasesBack(_ what: String) async throws {
                    // Every partition's lease is back (16 keys), held by the same owners.
                    let back = try await eventually(within: .seconds(20)) {
                        let redis = try await RedisConnection.connect(url: redisURL, logger: ProcessCluster.logger)
                        defer { Task { await redis.close() } }
                        return try await redis.command(["KEYS", "weft:*:lease:*"]).array?.count == 16
                    }
                    #expect(back, "the leases did not come back after \(what)")
                }
                // Killed: connections cut, renewals fail for a while; back empty.
                redisServer.kill()
                runs += try await Self.startRuns(50, client: client)
                try await Task.sleep(for: .seconds(3))
                try await redisServer.start()
                try await leasesBack("a restart")
                runs += try await Self.startRuns(50, client: client)
                // Flushed while it runs.
                let redis = try await RedisConnection.connect(url: redisURL, logger: ProcessCluster.logger)
                try await redis.command(["FLUSHALL"])
                await redis.close()
                runs += try await Self.startRuns(100, client: client)
                try await leasesBack("a flush")
                try await Self.verify(runs, client: client, cluster: cluster)
                let after = try await Self.fences(cluster)
                #expect(after == before, "the fences moved: Redis losing its leases must not change ownership")
            }
        }

        static func weftctl(_ arguments: [String], cluster: ProcessCluster) async throws -> ProcessResult {
            try await runProcess(
                try WeftBinaries.path("weftctl"), arguments + ["--address", cluster.coordinatorAddress, "--json"],
                environment: cluster.environment, timeout: .seconds(30))
        }

        static func json(_ result: ProcessResult) throws -> Any {
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        }

        @Test("weftctl workers and queues: who is connected, what runs, what waits (by priority, unserved, oldest wait)")
        func workersAndQueues_views() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                try cluster.startWorker(id: "e2e-reports", concurrency: 4, extraArguments: ["--queues", "reports"])
                let client = try cluster.client()
                // A queue no worker takes: its tasks wait, unserved (a type no connected worker of a
                // queue runs is refused at start instead).
                try await client.register(definitionJSON: Array(#"{"name":"beam","tasks":[{"name":"a","type":"teleport","priority":"high","queue":"nobody"}]}"#.utf8))
                try await client.register(definitionJSON: Array(#"{"name":"nap","tasks":[{"name":"a","type":"sleep"}]}"#.utf8))
                for _ in 0..<3 { _ = try await client.start(workflow: "beam", inputJSON: Array("1".utf8)) }
                let nap = try await client.start(workflow: "nap", inputJSON: Array(#"{"duration": "20s"}"#.utf8))
                #expect(try await eventually(within: .seconds(30)) {
                    let workers = try Self.json(try await Self.weftctl(["workers"], cluster: cluster)) as? [[String: Any]] ?? []
                    return workers.contains { $0["worker"] as? String == "e2e-worker-0" && $0["in_flight"] as? Int == 1 }
                })
                let workers = try Self.json(try await Self.weftctl(["workers"], cluster: cluster)) as? [[String: Any]] ?? []
                #expect(Set(workers.compactMap { $0["worker"] as? String }) == ["e2e-worker-0", "e2e-reports"], "\(workers)")
                let main = workers.first { $0["worker"] as? String == "e2e-worker-0" }
                #expect(main?["queues"] as? [String] == ["default"])
                #expect(main?["task_types"] as? [String] == ["echo", "noop", "sleep"])
                #expect(main?["scheduler"] as? String == "e2e-scheduler")
                #expect((main?["free_slots"] as? Int ?? 0) >= 1 && (main?["free_slots"] as? Int ?? 99) <= 15)
                try await Task.sleep(for: .milliseconds(300))  // the beams have waited a while
                let queues = try Self.json(try await Self.weftctl(["queues"], cluster: cluster)) as? [[String: Any]] ?? []
                let byName = Dictionary(uniqueKeysWithValues: queues.map { ($0["queue"] as? String ?? "", $0) })
                #expect(Set(byName.keys) == ["default", "reports", "nobody"], "\(queues)")
                let waiting = byName["nobody"]
                #expect(waiting?["ready"] as? Int == 3 && waiting?["unserved"] as? Int == 3, "\(queues)")
                #expect((waiting?["ready_by_priority"] as? [String: Int]) == ["critical": 0, "high": 3, "normal": 0, "low": 0])
                #expect((waiting?["oldest_wait_ms"] as? Int ?? 0) >= 300, "\(queues)")
                #expect(waiting?["workers"] as? Int == 0)
                #expect(byName["default"]?["ready"] as? Int == 0 && byName["default"]?["workers"] as? Int == 1, "\(queues)")
                #expect(byName["reports"]?["ready"] as? Int == 0 && byName["reports"]?["workers"] as? Int == 1)
                // The table form names the same.
                let table = try await runProcess(
                    try WeftBinaries.path("weftctl"), ["queues", "--address", cluster.coordinatorAddress],
                    environment: cluster.environment, timeout: .seconds(30))
                #expect(table.status == 0 && table.stdout.contains("UNSERVED") && table.stdout.contains("nobody"), "\(table.stdout)\(table.stderr)")
                _ = try await client.cancel(nap)
                await client.close()
            }
        }

        @Test("three schedulers and a coordinator in gossip: weftctl members, ring and partitions agree; drain of one under load hands its partitions off and it exits 0; nothing is lost")
        func adminViews_andDrainUnderLoad() async throws {
            try await Self.withCluster { cluster, schedulers in
                for id in ["s1", "s2", "s3"] { try await schedulers.start(id) }
                try await cluster.startCoordinator(
                    extraArguments: ["--gossip", "127.0.0.1:0", "--seeds", schedulers.seed!, "--membership-profile", "local-testing"])
                let expected = HashRing(nodes: ["s1", "s2", "s3"]).owners(partitionCount: 16)
                let settled = try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == expected }
                try #require(settled, "the partitions never settled on the ring's owners")
                // 20 runs and no worker yet: each has its first task ready, waiting.
                let client = try cluster.client(timeout: .seconds(120))
                try await client.register(definitionJSON: Array(Self.pair.utf8))
                var runs = try await Self.startRuns(20, client: client)

                // The admin views.
                let seen = try await eventually(within: .seconds(10)) {
                    let members = try await Self.weftctl(["members"], cluster: cluster)
                    let list = try Self.json(members) as? [[String: Any]] ?? []
                    return Set(list.compactMap { $0["id"] as? String }) == ["s1", "s2", "s3", "e2e-coordinator"]
                        && list.allSatisfy { $0["status"] as? String == "alive" }
                }
                #expect(seen, "weftctl members never showed the four members alive")
                let ring = try Self.json(try await Self.weftctl(["ring"], cluster: cluster)) as? [String: Any]
                #expect(ring?["nodes"] as? [String] == ["s1", "s2", "s3"])
                let ringOwners = (ring?["owners"] as? [[String: Any]] ?? []).compactMap { $0["node"] as? String }
                #expect(ringOwners == expected)
                let partitions = try Self.json(try await Self.weftctl(["partitions"], cluster: cluster)) as? [[String: Any]] ?? []
                #expect(partitions.count == 16)
                #expect(partitions.allSatisfy { $0["owner"] as? String == $0["ring_owner"] as? String }, "\(partitions)")
                // Each owner's memory: every engine serving, the ready depth and open runs add up.
                #expect(partitions.allSatisfy { $0["state"] as? String == "serving" }, "\(partitions)")
                #expect(partitions.reduce(0) { $0 + ($1["ready_tasks"] as? Int ?? 0) } == 20, "\(partitions)")
                #expect(partitions.reduce(0) { $0 + ($1["open_runs"] as? Int ?? 0) } == 20, "\(partitions)")
                let table = try await runProcess(
                    try WeftBinaries.path("weftctl"), ["partitions", "--address", cluster.coordinatorAddress],
                    environment: cluster.environment, timeout: .seconds(30))
                #expect(table.stdout.contains("READY") && table.stdout.contains("serving"), "\(table.stdout)")

                // Drain s3 while runs go on.
                for i in 0..<2 { try cluster.startWorker(id: "worker-\(i)") }
                runs += try await Self.startRuns(150, client: client)
                let drain = try await Self.weftctl(["drain", "s3"], cluster: cluster)
                #expect(drain.status == 0, "\(drain.stderr)")
                runs += try await Self.startRuns(150, client: client)
                let drained = schedulers["s3"]
                let exited = try await eventually(within: .seconds(30)) { !drained.process.isRunning }
                #expect(exited, "s3 did not exit after the drain")
                if exited { #expect(drained.process.terminationStatus == 0) }
                let remaining = HashRing(nodes: ["s1", "s2"]).owners(partitionCount: 16)
                let moved = try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == remaining }
                #expect(moved)
                try await Self.verify(runs, client: client, cluster: cluster)
                // A drain of a node that is not there is a clear error.
                let unknown = try await Self.weftctl(["drain", "nobody"], cluster: cluster)
                #expect(unknown.status == 1 && unknown.stderr.contains("NOT_FOUND"), "\(unknown.stderr)")
                await client.close()
            }
        }

        @Test("a coordinator in gossip routes by the ring, not by partition_owners; a worker that never rediscovers opens a stream to a scheduler that joins, because the schedulers tell it")
        func ringRouting_andWorkersFollowMembership() async throws {
            try await Self.withCluster { cluster, schedulers in
                try await schedulers.start("s1")
                try await cluster.startCoordinator(
                    extraArguments: ["--gossip", "127.0.0.1:0", "--seeds", schedulers.seed!, "--membership-profile", "local-testing"])
                // Discover once, at start (s1 only), then not for an hour.
                try cluster.startWorker(id: "worker-0", extraArguments: ["--rediscover-interval", "1h"])
                let client = try cluster.client(timeout: .seconds(60))
                try await client.register(definitionJSON: Array(Self.pair.utf8))
                var runs = try await Self.startRuns(20, client: client)

                try await schedulers.start("s2")
                let expected = HashRing(nodes: ["s1", "s2"]).owners(partitionCount: 16)
                let split = try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == expected }
                try #require(split, "the partitions never settled on the ring's owners")
                // Every recorded address now points nowhere: only the ring can find the owners.
                _ = try await cluster.query("UPDATE partition_owners SET owner_address = '127.0.0.1:9'")
                runs += try await Self.startRuns(100, client: client)
                // Half of these live on s2; the worker only learnt of s2 from s1's push.
                try await Self.verify(runs, client: client, cluster: cluster)
                let onS2 = try await cluster.query(
                    "SELECT count(*) AS n FROM runs r JOIN partition_owners o ON o.partition_id = r.partition WHERE o.owner_node = 's2'")
                #expect(try onS2.first?.int("n") ?? 0 > 0, "no run landed on s2")
                await client.close()
            }
        }

        @Test("Postgres stopped under load in cluster mode, and a scheduler killed while it is down: the other takes its partitions once Postgres is back; every acknowledged run completes, none twice")
        func postgresRestart_withFailoverDuringTheOutage() async throws {
            let postgres = try await PrivatePostgres()
            try await Self.withCluster(postgresURL: postgres.url) { cluster, schedulers in
                try await schedulers.start("s1")
                let second = try await schedulers.start("s2")
                let expected = HashRing(nodes: ["s1", "s2"]).owners(partitionCount: 16)
                let split = try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == expected }
                try #require(split, "the partitions never settled on the ring's owners")
                try await cluster.startCoordinator(
                    extraArguments: ["--gossip", "127.0.0.1:0", "--seeds", schedulers.seed!, "--membership-profile", "local-testing"])
                for i in 0..<2 { try cluster.startWorker(id: "worker-\(i)") }
                let client = try cluster.client(timeout: .seconds(120))
                try await client.register(definitionJSON: Array(Self.pair.utf8))
                var runs = try await Self.startRuns(150, client: client)

                // Postgres goes away; s2 dies while it is away. s1 sees s2 dead at once (gossip needs no
                // Postgres) but can advance the fences only when Postgres is back.
                try await postgres.stop()
                try await Task.sleep(for: .seconds(2))
                kill(second.process.processIdentifier, SIGKILL)
                try await Task.sleep(for: .seconds(4))
                #expect(schedulers["s1"].process.isRunning, "s1 stopped during the outage")
                try await postgres.start()
                let takenOver = try await eventually(within: .seconds(60)) { try await Self.owners(cluster) == ["s1": 16] }
                let owners = try await Self.owners(cluster)
                #expect(takenOver, "s1 never took s2's partitions over: \(owners)")
                runs += try await Self.startRuns(100, client: client)
                try await Self.verify(runs, client: client, cluster: cluster)
                await client.close()
            }
            await postgres.destroy()
        }

        /// `/readyz` of `address`, sampled every few milliseconds until `stop` says so; consecutive
        /// repeats are dropped, and "down" stands for no answer (not listening yet, or gone).
        static func watchReadiness(_ address: String, until stop: @escaping @Sendable (String) -> Bool) -> Task<[String], Never> {
            Task.detached {
                var seen: [String] = []
                let deadline = ContinuousClock.now + .seconds(60)
                while ContinuousClock.now < deadline {
                    let state = (try? httpGet(address, "/readyz")).map { "\($0.status)" } ?? "down"
                    if seen.last != state { seen.append(state) }
                    if stop(state) { break }
                    try? await Task.sleep(for: .milliseconds(2))
                }
                return seen
            }
        }

        @Test("rolling restart of every scheduler, one at a time, under steady load: /readyz is 503 until a scheduler serves its share and 503 from SIGTERM on; each exits 0; runs keep being acknowledged; every one completes, none twice")
        func rollingRestart_underLoad() async throws {
            try await Self.withCluster { cluster, schedulers in
                var metrics: [String: String] = [:]
                func start(_ id: String) async throws {
                    let address = "127.0.0.1:\(PrivatePostgres.freePort())"
                    metrics[id] = address
                    let others = schedulers.gossip.filter { $0.key != id && schedulers[$0.key].process.isRunning }.map(\.value)
                    let startup = Self.watchReadiness(address) { $0 == "200" }
                    try await schedulers.start(id, extraArguments: ["--metrics", address], seeds: others)
                    let seen = await startup.value
                    // Not ready until it serves the partitions the ring gives it (503), then ready.
                    #expect(seen.last == "200" && seen.contains("503"), "\(id) readiness at startup: \(seen)")
                }
                for id in ["s1", "s2", "s3"] { try await start(id) }
                let expected = HashRing(nodes: ["s1", "s2", "s3"]).owners(partitionCount: 16)
                try #require(try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == expected })
                try await cluster.startCoordinator(
                    extraArguments: ["--gossip", "127.0.0.1:0", "--seeds", schedulers.gossip.values.sorted().joined(separator: ","),
                                     "--membership-profile", "local-testing"])
                for i in 0..<2 { try cluster.startWorker(id: "worker-\(i)") }
                let client = try cluster.client(timeout: .seconds(120))
                try await client.register(definitionJSON: Array(Self.pair.utf8))
                let load = SteadyLoad(clients: [client])
                func progressed(_ phase: String) async throws {
                    if !(try await load.progressed()) {
                        let members = try await Self.weftctl(["members"], cluster: cluster).stdout
                        Issue.record("no run was acknowledged \(phase)\nmembers: \(members)\n\(cluster.logs.suffix(8000))\n\(schedulers.output)")
                    }
                }
                try await progressed("before the restarts")
                for id in ["s1", "s2", "s3"] {
                    // SIGTERM: readiness off at once, partitions handed off, gossip left, exit 0.
                    let child = schedulers[id]
                    let shutdown = Self.watchReadiness(metrics[id]!) { $0 == "down" }
                    try await Task.sleep(for: .milliseconds(20))  // the watcher has seen it ready
                    kill(child.process.processIdentifier, SIGTERM)
                    let exited = try await eventually(within: .seconds(30)) { !child.process.isRunning }
                    #expect(exited, "\(id) did not exit after SIGTERM")
                    if exited { #expect(child.process.terminationStatus == 0, "\(id) exit status") }
                    let seen = await shutdown.value
                    #expect(seen.first == "200" && seen.dropFirst().first == "503" && !seen.dropFirst().contains("200"),
                            "\(id) readiness across SIGTERM: \(seen)")
                    #expect(try await eventually(within: .seconds(30)) {
                        try await Self.ownerMap(cluster) == HashRing(nodes: Set(["s1", "s2", "s3"]).subtracting([id])).owners(partitionCount: 16)
                    }, "\(id)'s partitions did not move to the others")
                    try await progressed("while \(id) was down")
                    try await start(id)
                    #expect(try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == expected }, "after \(id) came back")
                    try await progressed("after \(id) came back")
                }
                // The coordinator knows every restarted scheduler alive at its new addresses.
                let current = try await eventually(within: .seconds(10)) {
                    let list = try Self.json(try await Self.weftctl(["members"], cluster: cluster)) as? [[String: Any]] ?? []
                    return ["s1", "s2", "s3"].allSatisfy { id in
                        list.contains { $0["id"] as? String == id && $0["rpc_address"] as? String == schedulers.rpc[id] && $0["status"] as? String == "alive" }
                    }
                }
                let members = try await Self.weftctl(["members"], cluster: cluster).stdout
                #expect(current, "the coordinator's members: \(members), the schedulers: \(schedulers.rpc)")
                let runs = await load.stop()
                print("rolling-restart test: \(runs.count) runs acknowledged")
                try await Self.verify(runs, client: client, cluster: cluster)
                await client.close()
            }
        }

        @Test("gossip cut between two schedulers under load: each declares the other dead and takes its partitions, the fences let only one write at a time; healed, the ring is restored; nothing lost, nothing recorded twice")
        func gossipCut_noSplitBrainWrites() async throws {
            try await Self.withCluster { cluster, schedulers in
                let cuts = ["s1", "s2"].map { FileManager.default.temporaryDirectory.appendingPathComponent("weft-cut-\($0)-\(UInt32.random(in: 0 ... .max))").path }
                for path in cuts { _ = FileManager.default.createFile(atPath: path, contents: Data()) }
                defer { for path in cuts { try? FileManager.default.removeItem(atPath: path) } }
                try await schedulers.start("s1", extraArguments: ["--debug-gossip-cut-file", cuts[0]])
                try await schedulers.start("s2", extraArguments: ["--debug-gossip-cut-file", cuts[1]])
                let expected = HashRing(nodes: ["s1", "s2"]).owners(partitionCount: 16)
                let settled = try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == expected }
                try #require(settled, "the partitions never settled on the ring's owners")
                try await cluster.startCoordinator()
                for i in 0..<2 { try cluster.startWorker(id: "worker-\(i)") }
                let client = try cluster.client(timeout: .seconds(120))
                try await client.register(definitionJSON: Array(Self.pair.utf8))
                var runs = try await Self.startRuns(100, client: client)

                // Cut: neither hears the other. Each declares the other dead and takes its partitions
                // over; every partition's fence moves, so at most one of them can write to it.
                let before = try await Self.fences(cluster)
                try Data((schedulers.gossip["s2"]! + "\n").utf8).write(to: URL(fileURLWithPath: cuts[0]))
                try Data((schedulers.gossip["s1"]! + "\n").utf8).write(to: URL(fileURLWithPath: cuts[1]))
                let swapped = try await eventually(within: .seconds(30)) {
                    zip(try await Self.fences(cluster), before).allSatisfy { $0 > $1 }
                }
                #expect(swapped, "not every partition was taken over during the cut")
                runs += try await Self.startRuns(100, client: client)

                // Heal: they merge back and the partitions return to the ring's owners.
                for path in cuts { try Data().write(to: URL(fileURLWithPath: path)) }
                let healed = try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == expected }
                let map = try await Self.ownerMap(cluster)
                #expect(healed, "owners: \(map), the ring says \(expected)")
                runs += try await Self.startRuns(100, client: client)
                try await Self.verify(runs, client: client, cluster: cluster)
                await client.close()
            }
        }

        @Test("chaos under steady load through two coordinators in gossip: kill -9 of a scheduler, a fourth joins, one is drained, one is paused past its lease, Redis is killed and restarted empty, gossip is cut between the last two — every acknowledged run completes, none twice")
        func chaos_faultsInSequenceUnderLoad() async throws {
            let redisServer = try await PrivateRedis()
            defer { redisServer.destroy() }
            let cuts = Dictionary(uniqueKeysWithValues: ["s1", "s2", "s3", "s4"].map {
                ($0, FileManager.default.temporaryDirectory.appendingPathComponent("weft-chaos-cut-\($0)-\(UInt32.random(in: 0 ... .max))").path)
            })
            for path in cuts.values { _ = FileManager.default.createFile(atPath: path, contents: Data()) }
            defer { for path in cuts.values { try? FileManager.default.removeItem(atPath: path) } }
            try await Self.withCluster(redisURL: redisServer.url) { cluster, schedulers in
                for id in ["s1", "s2", "s3"] { try await schedulers.start(id, extraArguments: ["--debug-gossip-cut-file", cuts[id]!]) }
                func settled(on nodes: [String]) async throws -> Bool {
                    let expected = HashRing(nodes: nodes).owners(partitionCount: 16)
                    return try await eventually(within: .seconds(45)) { try await Self.ownerMap(cluster) == expected }
                }
                try #require(try await settled(on: ["s1", "s2", "s3"]))
                let gossip = ["--gossip", "127.0.0.1:0", "--seeds", schedulers.seed!, "--membership-profile", "local-testing"]
                try await cluster.startCoordinator(extraArguments: gossip)
                let second = try ChildProcess(
                    try WeftBinaries.path("weft"), ["coordinator", "--listen", "127.0.0.1:0", "--node-id", "c2"] + gossip,
                    environment: cluster.environment)
                defer { Task { await second.terminate(grace: .seconds(5)) } }
                var configuration = WeftClient.Configuration(address: try Endpoint(parsing: try await second.waitForListening(timeout: .seconds(60))))
                configuration.authToken = Array(cluster.token.utf8)
                configuration.defaultTimeout = .seconds(120)
                configuration.connectionWait = .seconds(120)
                let clients = [try cluster.client(timeout: .seconds(120)), WeftClient(configuration: configuration)]
                for i in 0..<2 { try cluster.startWorker(id: "worker-\(i)") }
                try await clients[0].register(definitionJSON: Array(Self.pair.utf8))

                // Steady load through both coordinators. After each fault the cluster must settle and
                // runs must keep being acknowledged (nothing stalls), before the next fault.
                let load = SteadyLoad(clients: clients)
                func progressed(_ phase: String) async throws {
                    #expect(try await load.progressed(), "no run was acknowledged \(phase)")
                }
                try await progressed("before the faults")
                kill(schedulers["s3"].process.processIdentifier, SIGKILL)
                #expect(try await settled(on: ["s1", "s2"]), "after kill -9 of s3")
                try await progressed("after kill -9 of s3")
                try await schedulers.start("s4", extraArguments: ["--debug-gossip-cut-file", cuts["s4"]!])
                #expect(try await settled(on: ["s1", "s2", "s4"]), "after s4 joined")
                try await progressed("after s4 joined")
                let drain = try await Self.weftctl(["drain", "s1"], cluster: cluster)
                #expect(drain.status == 0, "\(drain.stderr)")
                #expect(try await settled(on: ["s2", "s4"]), "after the drain of s1")
                try await progressed("after the drain of s1")
                let paused = schedulers["s2"].process.processIdentifier
                kill(paused, SIGSTOP)
                #expect(try await settled(on: ["s4"]), "while s2 was paused")
                try await progressed("while s2 was paused")
                kill(paused, SIGCONT)
                #expect(try await settled(on: ["s2", "s4"]), "after s2 resumed")
                try await progressed("after s2 resumed")
                redisServer.kill()
                try await progressed("while Redis was down")
                try await redisServer.start()
                try await progressed("after Redis restarted empty")
                // s2 and s4 stop hearing each other (the coordinators still hear both): each takes the
                // other's partitions over, the fences decide who writes; healed, the ring is restored.
                try Data((schedulers.gossip["s4"]! + "\n").utf8).write(to: URL(fileURLWithPath: cuts["s2"]!))
                try Data((schedulers.gossip["s2"]! + "\n").utf8).write(to: URL(fileURLWithPath: cuts["s4"]!))
                try await Task.sleep(for: .seconds(2))
                try await progressed("during the gossip cut")
                for id in ["s2", "s4"] { try Data().write(to: URL(fileURLWithPath: cuts[id]!)) }
                #expect(try await settled(on: ["s2", "s4"]), "after the gossip cut healed")
                try await progressed("after the gossip cut healed")

                let runs = await load.stop()
                print("chaos test: \(runs.count) runs acknowledged")
                try await Self.verify(runs, exact: false, client: clients[0], cluster: cluster)
                for client in clients { await client.close() }
            }
        }
    }
}
