import Foundation
import Testing
import _WeftTestKit

extension ProcessTests {
    /// `weft coordinator` and `weftctl health` as real processes on loopback.
    @Suite("weft coordinator + weftctl health", .serialized)
    struct CoordinatorHealthTests {
        private func startCoordinator(token: String = "t0ken", extra: [String] = []) async throws -> (ChildProcess, String) {
            let coordinator = try ChildProcess(
                try WeftBinaries.path("weft"),
                ["coordinator", "--listen", "127.0.0.1:0", "--node-id", "coord-test", "--cluster", "ptest"] + extra,
                environment: ["WEFT_AUTH_TOKEN": token])
            let address = try await coordinator.waitForListening()
            return (coordinator, address)
        }

        @Test("weftctl health reports a serving coordinator and exits 0")
        func health_servingCoordinator_exitsZero() async throws {
            let (coordinator, address) = try await startCoordinator()
            let result = try await runProcess(
                try WeftBinaries.path("weftctl"), ["--address", address, "--cluster", "ptest", "health"],
                environment: ["WEFT_AUTH_TOKEN": "t0ken"])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.stdout.contains("SERVING"))
            #expect(result.stdout.contains("coord-test"))
            let json = try await runProcess(
                try WeftBinaries.path("weftctl"), ["health", "--json"],
                environment: ["WEFT_AUTH_TOKEN": "t0ken", "WEFT_ADDRESS": address, "WEFT_CLUSTER": "ptest"])
            #expect(json.status == 0, "stderr: \(json.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect(object?["status"] as? String == "SERVING")
            #expect(object?["role"] as? String == "coordinator")
            #expect(await coordinator.terminate() == 0)
        }

        @Test("a wrong token makes weftctl exit 1 with UNAUTHENTICATED")
        func health_wrongToken_exitsOne() async throws {
            let (coordinator, address) = try await startCoordinator()
            let result = try await runProcess(
                try WeftBinaries.path("weftctl"), ["--address", address, "--cluster", "ptest", "health"],
                environment: ["WEFT_AUTH_TOKEN": "wrong"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("UNAUTHENTICATED"))
            // The coordinator keeps serving the right clients.
            let ok = try await runProcess(
                try WeftBinaries.path("weftctl"), ["--address", address, "--cluster", "ptest", "health"],
                environment: ["WEFT_AUTH_TOKEN": "t0ken"])
            #expect(ok.status == 0)
            #expect(coordinator.outputSoFar.contains("refusing connection"))
            await coordinator.terminate()
        }

        @Test("an unreachable address makes weftctl exit 1 with a clear error")
        func health_unreachable_exitsOne() async throws {
            // Bind and close a port so that nothing listens there.
            let result = try await runProcess(try WeftBinaries.path("weftctl"), ["--address", "127.0.0.1:1", "--timeout", "2s", "health"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("UNAVAILABLE"))
            #expect(result.stderr.contains("refused"))
        }

        @Test("bad flags are usage errors: exit 2")
        func usage_badFlags_exitTwo() async throws {
            let weftctl = try WeftBinaries.path("weftctl")
            for arguments in [["--address", "nonsense", "health"], ["health", "--timeout", "soon"], ["bogus"], ["health", "--nope"]] {
                let result = try await runProcess(weftctl, arguments)
                #expect(result.status == 2, "\(arguments): \(result.stderr)")
                #expect(!result.stderr.isEmpty)
            }
            for arguments in [["--help"], ["run", "--help"]] {
                let help = try await runProcess(weftctl, arguments)
                #expect(help.status == 0 && help.stdout.contains("USAGE"), "\(arguments): \(help.stdout)")
            }
            let weftHelp = try await runProcess(try WeftBinaries.path("weft"), ["--help"])
            #expect(weftHelp.status == 0 && weftHelp.stdout.contains("scheduler"))
            let weft = try await runProcess(try WeftBinaries.path("weft"), ["coordinator", "--listen", "no-port"])
            #expect(weft.status == 2)
            #expect(weft.stderr.contains("--listen"))
        }

        @Test("SIGTERM shuts the coordinator down gracefully with exit 0")
        func coordinator_sigterm_exitsCleanly() async throws {
            let (coordinator, _) = try await startCoordinator(extra: ["--log-format", "json"])
            #expect(await coordinator.terminate() == 0)
            #expect(coordinator.outputSoFar.contains(#""msg":"coordinator shutting down""#))
        }
    }

    /// `weftctl workflow apply` reads definition files with bounded work, before any server is asked.
    @Suite("weftctl definition files")
    struct DefinitionFileTests {
        func apply(_ contents: String) async throws -> ProcessResult {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("weft-def-\(UInt32.random(in: 0...UInt32.max)).yaml").path
            try contents.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            // Nothing listens on port 1: a file that got past the checks would fail with UNAVAILABLE.
            return try await runProcess(try WeftBinaries.path("weftctl"), ["--address", "127.0.0.1:1", "workflow", "apply", path])
        }

        @Test("a billion-laughs YAML is refused within a bounded budget")
        func yaml_billionLaughs_refused() async throws {
            var text = #"a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]"# + "\n"
            for level in 1...9 {
                text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ",") + "]\n"
            }
            text += "name: x\ntasks: [{name: a, type: noop}]\n"
            let result = try await apply(text)
            #expect(result.status == 1)
            #expect(result.stderr.contains("expands to more than"), "\(result.stderr)")
        }

        @Test("deeply nested brackets, duplicate keys and non-string keys are refused with clear errors")
        func yaml_hostileShapes_refused() async throws {
            let deep = try await apply(String(repeating: "[", count: 100_000))
            #expect(deep.status == 1 && deep.stderr.contains("nests brackets"), "\(deep.stderr)")
            let duplicate = try await apply("name: x\nname: y\ntasks: [{name: a, type: noop}]\n")
            #expect(duplicate.status == 1 && duplicate.stderr.contains("duplicated key"), "\(duplicate.stderr)")
            let complexKey = try await apply("? [a, b]\n: 1\n")
            #expect(complexKey.status == 1 && complexKey.stderr.contains("not a plain string"), "\(complexKey.stderr)")
            let fine = try await apply("name: x\ntasks: [{name: a, type: noop}]\n")
            #expect(fine.status == 1 && fine.stderr.contains("UNAVAILABLE"), "\(fine.stderr)")
        }
    }
}
