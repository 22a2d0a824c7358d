import Foundation
import Logging
import Testing
import Weft
import WeftCore
import WeftMembership
import WeftPostgres
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

        /// Starts scheduler `id` in cluster mode; returns the process and its gossip address.
        static func startScheduler(_ id: String, seeds: [String], cluster: ProcessCluster, redis: String) async throws -> (ChildProcess, String) {
            var arguments = [
                "scheduler", "--listen", "127.0.0.1:0", "--node-id", id, "--gossip", "127.0.0.1:0", "--redis", redis,
                "--membership-profile", "local-testing",
            ]
            if !seeds.isEmpty { arguments += ["--seeds", seeds.joined(separator: ",")] }
            let child = try ChildProcess(try WeftBinaries.path("weft"), arguments, environment: cluster.environment)
            let gossip = try await child.waitForLine(prefix: "gossip on ", timeout: .seconds(60))
            _ = try await child.waitForListening(timeout: .seconds(60))
            return (child, gossip)
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
            let redis = try #require(try IntegrationEnvironment.redisURL(), "WEFT_REDIS_URL is needed for the cluster tests")
            let cluster = try await ProcessCluster()
            var extra: [ChildProcess] = []
            do {
                let (first, seed) = try await Self.startScheduler("s1", seeds: [], cluster: cluster, redis: redis)
                extra.append(first)
                // Alone, s1 owns every partition (16 in the test database).
                #expect(try await eventually(within: .seconds(30)) { try await Self.owners(cluster) == ["s1": 16] })
                try await cluster.startCoordinator()
                for i in 0..<2 { try cluster.startWorker(id: "worker-\(i)") }
                let client = try cluster.client(timeout: .seconds(120))
                try await client.register(definitionJSON: Array(Self.pair.utf8))
                var runs: [RunID] = []
                for _ in 0..<100 { runs.append(try await client.start(workflow: "pair", inputJSON: Array(#"{"ms": 50}"#.utf8))) }

                // s2 joins: the ring gives it about half; s1 hands those off (flush, release) and s2
                // takes them (lease, fence, recovery) while runs go on.
                let (second, _) = try await Self.startScheduler("s2", seeds: [seed], cluster: cluster, redis: redis)
                extra.append(second)
                // Exactly the partitions the ring of ARCHITECTURE §2 names (every node computes the same).
                let expected = HashRing(nodes: ["s1", "s2"]).owners(partitionCount: 16)
                let split = try await eventually(within: .seconds(30)) { try await Self.ownerMap(cluster) == expected }
                let afterJoin = try await Self.owners(cluster)
                let map = try await Self.ownerMap(cluster)
                #expect(split, "owners: \(map), the ring says \(expected)")
                let shared = afterJoin
                for _ in 0..<200 { runs.append(try await client.start(workflow: "pair", inputJSON: Array(#"{"ms": 50}"#.utf8))) }

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
                #expect(failover < .seconds(15), "failover took \(failover)")

                for run in runs {
                    let info = try await client.wait(for: run, timeout: .seconds(120))
                    #expect(info.status == .succeeded, "run \(run): \(info.status) \(info.error)")
                }
                let duplicates = try await cluster.query(
                    "SELECT run_id, node, count(*) AS n FROM task_attempts WHERE status = 'succeeded' GROUP BY run_id, node HAVING count(*) <> 1")
                #expect(duplicates.isEmpty, "tasks recorded as succeeded more than once: \(duplicates.count)")
                let succeeded = try await cluster.query("SELECT count(*) AS n FROM task_attempts WHERE status = 'succeeded'")
                #expect(try succeeded[0].int("n") == 600)
                let open = try await cluster.query("SELECT count(*) AS n FROM runs WHERE closed_at IS NULL")
                #expect(try open[0].int("n") == 0)
                await client.close()
            } catch {
                Issue.record("\(error)\n\(cluster.logs)\n--- schedulers\n\(extra.map { $0.outputSoFar.suffix(6000) }.joined(separator: "\n---\n"))")
            }
            for child in extra { await child.terminate(grace: .seconds(5)) }
            await cluster.stop()
        }
    }
}
