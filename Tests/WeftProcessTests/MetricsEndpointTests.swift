import Foundation
import Testing
import Weft
import _WeftTestKit

extension ProcessTests {
    /// `--metrics`: Prometheus text and probes from a real scheduler process.
    @Suite("Metrics endpoint", .serialized, .enabled(if: IntegrationEnvironment.postgresConfigured))
    struct MetricsEndpointTests {
        /// The value of the sample `name` (with its labels, as printed) in Prometheus text.
        static func sample(_ name: String, in text: String) -> Double? {
            for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
                return Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces))
            }
            return nil
        }

        @Test("a scheduler serves probes and run counters; a WaitRun the caller gives up on leaves no waiter behind")
        func scheduler_probesCountersAndWaiters() async throws {
            try await ProcessCluster.with { cluster in
                let metrics = try #require(try await cluster.startScheduler(metrics: true))
                try await cluster.startCoordinator()
                try cluster.startWorker(id: "metrics-worker")
                func value(_ name: String) throws -> Double? { Self.sample(name, in: try httpGet(metrics, "/metrics").body) }

                #expect(try httpGet(metrics, "/healthz").status == 200)
                #expect(try await eventually { try httpGet(metrics, "/readyz").status == 200 })
                #expect(try httpGet(metrics, "/nope").status == 404)

                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"{"name": "quick", "tasks": [{"name": "a", "type": "echo"}]}"#.utf8))
                try await client.register(definitionJSON: Array(#"{"name": "nap", "tasks": [{"name": "a", "type": "sleep"}]}"#.utf8))
                try await Task.sleep(for: .seconds(1))  // the worker connects
                let quick = try await client.start(workflow: "quick", inputJSON: Array("1".utf8))
                #expect(try await client.wait(for: quick).status == .succeeded)
                #expect(try await eventually { try value("weft_runs_closed_total{status=\"succeeded\"}") == 1 })
                #expect(try value("weft_runs_started_total") == 1)
                #expect(try value("weft_task_attempts_dispatched_total") == 1)
                #expect(try (value("weft_writer_batches_total") ?? 0) >= 2)
                // RPC metrics: the coordinator forwarded StartRun here; a Connect stream is open.
                #expect(try value(#"weft_rpc_server_calls_total{method="weft.api.v1.Client/StartRun",code="OK"}"#) == 1)
                #expect(try (value(#"weft_rpc_server_call_seconds_count{method="weft.api.v1.Client/StartRun"}"#) ?? 0) == 1)

                // A wait on a long run, then the caller gives up: the scheduler forgets the waiter.
                let nap = try await client.start(workflow: "nap", inputJSON: Array(#"{"duration": "60s"}"#.utf8))
                let waiting = Task { try await client.wait(for: nap, timeout: .seconds(120)) }
                #expect(try await eventually { try value("weft_run_waiters") == 1 })
                waiting.cancel()
                #expect(try await eventually { try value("weft_run_waiters") == 0 })
                #expect(try value("weft_runs_open") == 1)
                #expect(try await client.cancel(nap) == .cancelled)
                #expect(try await eventually { try value("weft_runs_closed_total{status=\"cancelled\"}") == 1 })
                #expect(try await eventually { try value("weft_runs_open") == 0 })
                await client.close()
            }
        }
    }
}
