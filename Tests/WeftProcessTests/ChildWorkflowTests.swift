import Foundation
import Testing
import Weft
import WeftPostgres
import WeftRedis
import _WeftTestKit

/// Child workflows (issue 11 item 4) with real processes.
enum ChildWorkflowFixtures {
    /// The children: one sleep task (its input says how long), and one echo.
    static let nap = #"{"name": "nap", "tasks": [{"name": "z", "type": "sleep"}]}"#
    static let hello = #"{"name": "hello", "tasks": [{"name": "greet", "type": "echo"}]}"#
    /// The parent: `list` (echo of the run's input, a list) >> `each` (a child nap per element)
    /// and `one` (a single child hello of the list) >> `done`.
    static let parent = #"""
        {"name": "parent", "tasks": [
          {"name": "list", "type": "echo"},
          {"name": "one", "workflow": "hello", "depends_on": ["list"]},
          {"name": "each", "workflow": "nap", "map": true, "depends_on": ["list"], "retry": {"max_attempts": 1}},
          {"name": "done", "type": "echo", "depends_on": ["one", "each"]}
        ]}
        """#

    /// `count` elements that each sleep `ms`.
    static func input(_ count: Int, ms: Int) -> [UInt8] {
        Array(("[" + (0..<count).map { _ in "{\"ms\": \(ms)}" }.joined(separator: ",") + "]").utf8)
    }

    /// Registers the two children and the parent.
    static func registerAll(_ client: WeftClient) async throws {
        for definition in [nap, hello, parent] { try await client.register(definitionJSON: Array(definition.utf8)) }
    }

    static func count(_ cluster: ProcessCluster, _ sql: String) async throws -> Int {
        try await cluster.query(sql)[0].int("n") ?? -1
    }
}

extension ProcessTests {
    @Suite("Child workflows", .serialized, .enabled(if: IntegrationEnvironment.postgresConfigured))
    struct ChildWorkflowTests {
        typealias F = ChildWorkflowFixtures

        @Test("a child node and a map of children: outputs flow back, each attempt names its child run; failures, cancels and unknown workflows")
        func childrenEndToEnd() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await F.registerAll(client)
                let run = try await client.start(workflow: "parent", inputJSON: F.input(3, ms: 10))
                let info = try await client.wait(for: run, timeout: .seconds(60))
                #expect(info.status == .succeeded, "\(info)")
                // done echoes its input {each: [each child's output], one: one's output}: a sleep's is
                // null, hello's (an echo) the list it was given.
                #expect(String(decoding: info.output, as: UTF8.self) == #"{"each":[null,null,null],"one":[{"ms": 10},{"ms": 10},{"ms": 10}]}"#)
                let childAttempts = info.tasks.filter { $0.node.hasPrefix("each[") || $0.node == "one" }
                #expect(childAttempts.count == 4 && childAttempts.allSatisfy { $0.worker.hasPrefix("run ") }, "\(childAttempts.map(\.worker))")
                #expect(try await F.count(cluster, "SELECT count(*) AS n FROM runs WHERE workflow IN ('nap', 'hello') AND status = 'succeeded'") == 4)
                #expect(try await F.count(cluster, "SELECT count(*) AS n FROM child_runs WHERE parent_run_id = '\(run)'") == 4)

                // A child that fails fails its node (no retry here): the parent fails with the child's error.
                let failing = try await client.start(workflow: "parent", inputJSON: Array(#"[{"duration": "bogus"}]"#.utf8))
                let failed = try await client.wait(for: failing, timeout: .seconds(60))
                #expect(failed.status == .failed && failed.error.contains("ChildFailed") && failed.error.contains("invalid duration 'bogus'"), "\(failed.error)")

                // Cancelling the parent cancels its children still running (its two naps; hello is done).
                let long = try await client.start(workflow: "parent", inputJSON: F.input(2, ms: 60_000))
                #expect(try await eventually(within: .seconds(30)) {
                    try await F.count(cluster, "SELECT count(*) AS n FROM child_runs WHERE parent_run_id = '\(long)'") == 3
                })
                _ = try await client.cancel(long)
                #expect(try await eventually(within: .seconds(30)) {
                    try await F.count(cluster, """
                        SELECT count(*) AS n FROM child_runs c JOIN runs r ON r.run_id = c.child_run_id
                        WHERE c.parent_run_id = '\(long)' AND r.status = 'cancelled'
                        """) == 2
                })

                // A child workflow nobody registered: the node fails at once, clearly.
                try await client.register(definitionJSON: Array(#"{"name": "orphan", "tasks": [{"name": "x", "workflow": "nobody"}]}"#.utf8))
                let orphan = try await client.wait(for: try await client.start(workflow: "orphan", inputJSON: Array("null".utf8)), timeout: .seconds(60))
                #expect(orphan.status == .failed && orphan.error.contains("ChildStartFailed") && orphan.error.contains("nobody"), "\(orphan.error)")

                // A workflow that starts itself stops 32 levels down: 33 runs, each failed, no retries.
                try await client.register(definitionJSON: Array(#"{"name": "ouroboros", "tasks": [{"name": "again", "workflow": "ouroboros"}]}"#.utf8))
                let snake = try await client.wait(for: try await client.start(workflow: "ouroboros", inputJSON: Array("null".utf8)), timeout: .seconds(60))
                #expect(snake.status == .failed && snake.error.contains("would nest deeper than 32 levels"), "\(snake.error)")
                #expect(try await F.count(cluster, "SELECT count(*) AS n FROM runs WHERE workflow = 'ouroboros'") == 33)
                await client.close()
            }
        }

        @Test("kill -9 of the scheduler while 10 children run: after the restart the parent completes, each child ran once")
        func schedulerKilled_whileChildrenRun() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await F.registerAll(client)
                let run = try await client.start(workflow: "parent", inputJSON: F.input(10, ms: 1500))
                #expect(try await eventually(within: .seconds(30)) {
                    try await F.count(cluster, "SELECT count(*) AS n FROM child_runs WHERE parent_run_id = '\(run)'") == 11
                })
                cluster.killScheduler()
                try await Task.sleep(for: .seconds(2))
                try await cluster.startScheduler()
                let info = try await client.wait(for: run, timeout: .seconds(60))
                #expect(info.status == .succeeded, "\(info)")
                // Started once each (the restart's repeats found them by their keys), each closed once.
                #expect(try await F.count(cluster, "SELECT count(*) AS n FROM runs WHERE workflow IN ('nap', 'hello')") == 11)
                #expect(try await F.count(cluster, "SELECT count(*) AS n FROM runs WHERE workflow IN ('nap', 'hello') AND status = 'succeeded'") == 11)
                await client.close()
            }
        }
    }
}

extension ProcessTests.ClusterTests {
    typealias F = ChildWorkflowFixtures

    @Test("children on both shards: kill -9 of the parent's scheduler while its children close elsewhere, then a Redis flush mid-barrier; every parent completes, every child once")
    func childWorkflows_acrossShards_failoverAndRedisLoss() async throws {
        let redisServer = try await PrivateRedis()
        defer { redisServer.destroy() }
        try await Self.withTwoSchedulers(redisURL: redisServer.url) { cluster, client, second, redisURL in
            try await F.registerAll(client)
            // Parents on s2's partitions (their owner is killed below); 12 children each, on both shards.
            var parents: [RunID] = []
            while parents.count < 2 {
                let run = try await client.start(workflow: "parent", inputJSON: F.input(12, ms: 2000))
                let owner = try await cluster.query("SELECT owner_node FROM partition_owners WHERE partition_id = (SELECT partition FROM runs WHERE run_id = '\(run)')")
                if try owner[0].string("owner_node") == "s2" { parents.append(run) } else { _ = try await client.cancel(run) }
            }
            #expect(try await eventually(within: .seconds(30)) {
                try await F.count(cluster, "SELECT count(*) AS n FROM child_runs WHERE parent_run_id IN ('\(parents[0])', '\(parents[1])')") == 26
            })
            let childrenOnS1 = try await F.count(cluster, """
                SELECT count(*) AS n FROM child_runs c JOIN runs r ON r.run_id = c.child_run_id JOIN partition_owners o ON o.partition_id = r.partition
                WHERE o.owner_node = 's1' AND c.parent_run_id IN ('\(parents[0])', '\(parents[1])')
                """)
            #expect(childrenOnS1 > 0, "no child on the other shard: the test would not cross shards")
            // The parents' scheduler dies; their children on s1 close while it is down.
            kill(second.process.processIdentifier, SIGKILL)
            #expect(try await eventually(within: .seconds(30)) { try await Self.owners(cluster) == ["s1": 16] })
            for parent in parents {
                let info = try await client.wait(for: parent, timeout: .seconds(90))
                #expect(info.status == .succeeded, "\(parent): \(info.status) \(info.error)")
            }
            // A third parent; Redis forgets its barrier while its children run: the sweep finishes it.
            let third = try await client.start(workflow: "parent", inputJSON: F.input(12, ms: 1500))
            #expect(try await eventually(within: .seconds(30)) {
                try await F.count(cluster, "SELECT count(*) AS n FROM child_runs WHERE parent_run_id = '\(third)'") == 13
            })
            let redis = try await RedisConnection.connect(url: redisURL, logger: ProcessCluster.logger)
            // The barrier is in use (children that succeeded are counted in Redis) — then forgotten.
            #expect(try await eventually(within: .seconds(30)) {
                try await redis.command(["KEYS", "weft:*:barrier:\(third):each"]).array?.count == 1
            })
            _ = try await redis.command(["FLUSHALL"])
            await redis.close()
            let info = try await client.wait(for: third, timeout: .seconds(90))
            #expect(info.status == .succeeded, "\(info.status) \(info.error)")
            // Every child started once and succeeded once: 3 parents × 13.
            let all = (parents + [third]).map { "'\($0)'" }.joined(separator: ", ")
            #expect(try await F.count(cluster, "SELECT count(*) AS n FROM child_runs WHERE parent_run_id IN (\(all))") == 39)
            #expect(try await F.count(cluster, """
                SELECT count(*) AS n FROM child_runs c JOIN runs r ON r.run_id = c.child_run_id
                WHERE c.parent_run_id IN (\(all)) AND r.status = 'succeeded'
                """) == 39)
        }
    }
}
