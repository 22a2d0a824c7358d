import Foundation
import Testing
import Weft
import WeftPostgres
import _WeftTestKit

extension ProcessTests {
    /// Cancel of a node or a subtree, and terminate (issue 11 item 5), with real processes.
    @Suite("Cancel a node, a subtree; terminate", .serialized, .enabled(if: IntegrationEnvironment.postgresConfigured))
    struct CancelTests {
        /// `slow` (the sleep task) >> `after`; `quick` (a 3 s durable sleep) >> `last`: two
        /// branches, two leaves.
        static let branches = #"""
            {"name": "branches", "tasks": [
              {"name": "slow", "type": "sleep"},
              {"name": "after", "type": "echo", "depends_on": ["slow"]},
              {"name": "quick", "sleep": "3s"},
              {"name": "last", "type": "echo", "depends_on": ["quick"]}
            ]}
            """#

        static func rows(_ cluster: ProcessCluster, _ run: RunID) async throws -> [String: [String]] {
            let rows = try await cluster.query("SELECT node, status FROM task_attempts WHERE run_id = '\(run)' ORDER BY node, attempt")
            var byNode: [String: [String]] = [:]
            for row in rows { byNode[try row.string("node") ?? "", default: []].append(try row.string("status") ?? "") }
            return byNode
        }

        @Test("weftctl run cancel --node: the node's attempt stops, its dependant is cancelled, the other branch finishes; kill -9 in between changes nothing")
        func cancelNode_survivesSchedulerKill() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(Self.branches.utf8))
                // slow sleeps 60 s (it will be cancelled); quick 3 s (the run outlives the kill).
                let run = try await client.start(workflow: "branches", inputJSON: Array(#"{"duration": "60s"}"#.utf8))
                // Rows show an attempt as started only once it ends: give the worker a moment to take it.
                #expect(try await eventually(within: .seconds(30)) {
                    try await client.describe(run).tasks.contains { $0.node == "slow" }
                })
                try await Task.sleep(for: .milliseconds(500))
                let cancelled = try await cluster.weftctl(["run", "cancel", run.description, "--node", "slow", "--reason", "not needed"])
                #expect(cancelled.status == 0 && cancelled.stdout.contains("node slow cancelled; the run is RUNNING"), "\(cancelled.stdout)\(cancelled.stderr)")
                cluster.killScheduler()
                try await cluster.startScheduler()
                let info = try await client.wait(for: run, timeout: .seconds(60))
                #expect(info.status == .succeeded, "\(info)")
                let rows = try await Self.rows(cluster, run)
                // One attempt of slow, cancelled (never dispatched again after the restart); after
                // cancelled without running; the other branch succeeded.
                #expect(rows["slow"] == ["cancelled"] && rows["after"] == ["cancelled"], "\(rows)")
                #expect(rows["quick"]?.last == "succeeded" && rows["last"]?.last == "succeeded", "\(rows)")
                let history = try await client.history(of: run)
                #expect(history.entries.filter { $0.kind == "node_cancelled" }.map(\.node).sorted() == ["after", "slow"], "\(history.entries.map(\.kind))")

                // Errors: a finished node, an unknown node, a closed run, --subtree without --node.
                let finished = try await cluster.weftctl(["run", "cancel", run.description, "--node", "quick"])
                #expect(finished.status != 0 && finished.stderr.contains("FAILED_PRECONDITION"), "\(finished.stderr)")
                let other = try await client.start(workflow: "branches", inputJSON: Array(#"{"duration": "30s"}"#.utf8))
                let unknown = await #expect(throws: WeftError.self) { try await client.cancel(other, node: "nope") }
                #expect(unknown?.code == .invalidArgument && unknown?.message.contains("has no node 'nope'") == true, "\(String(describing: unknown))")
                let usage = try await cluster.weftctl(["run", "cancel", other.description, "--subtree"])
                #expect(usage.status != 0 && usage.stderr.contains("--subtree needs --node"))
                // --subtree on both roots: every leaf is cancelled, so the run closes as cancelled.
                _ = try await client.cancel(other, node: "slow", subtree: true)
                #expect(try await client.cancel(other, node: "quick", subtree: true) == .cancelled)
                let closed = try await client.describe(other)
                #expect(closed.status == .cancelled && closed.error.contains("every leaf node was cancelled"), "\(closed.error)")
                await client.close()
            }
        }

        @Test("cancel lets an exec child clean up (SIGTERM); terminate kills it at once (SIGKILL): no cleanup, run_terminated in the history")
        func cancelIsCooperative_terminateIsNot() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.startScheduler()
                try await cluster.startCoordinator()
                try cluster.startWorker(id: "exec-worker", extraArguments: ["--allow-exec"])
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"{"name": "job", "tasks": [{"name": "work", "type": "exec"}]}"#.utf8))
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("weft-cancel-\(UInt32.random(in: 0...UInt32.max))")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: folder) }
                func start(_ name: String) async throws -> RunID {
                    // The child records that it started, and on SIGTERM that it cleaned up.
                    let script = "trap 'touch \(folder.path)/\(name).cleaned; exit 0' TERM; touch \(folder.path)/\(name).started; sleep 60 & wait"
                    let input = try JSONEncoder().encode(["command": ["sh", "-c", script]])
                    let run = try await client.start(workflow: "job", inputJSON: Array(input))
                    #expect(try await eventually(within: .seconds(30)) { FileManager.default.fileExists(atPath: "\(folder.path)/\(name).started") })
                    return run
                }
                let cancelled = try await start("cancelled")
                #expect(try await client.cancel(cancelled) == .cancelled)
                let terminated = try await start("terminated")
                let answer = try await cluster.weftctl(["run", "cancel", terminated.description, "--terminate", "--reason", "stuck"])
                #expect(answer.status == 0 && answer.stdout.contains("CANCELLED"), "\(answer.stdout)\(answer.stderr)")
                // The cancelled child ran its trap; the terminated one never got the chance.
                #expect(try await eventually(within: .seconds(30)) { FileManager.default.fileExists(atPath: "\(folder.path)/cancelled.cleaned") })
                try await Task.sleep(for: .seconds(3))  // longer than a cancel's grace: had it been SIGTERM, the trap would have run
                #expect(!FileManager.default.fileExists(atPath: "\(folder.path)/terminated.cleaned"))
                let history = try await client.history(of: terminated)
                #expect(history.entries.contains { $0.kind == "run_terminated" && $0.detail.contains("stuck") }, "\(history.entries.map(\.kind))")
                await client.close()
            }
        }
    }
}
