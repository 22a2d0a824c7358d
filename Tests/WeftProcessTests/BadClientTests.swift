import Foundation
import Logging
import Testing
import Weft
import WeftCore
import WeftPostgres
import WeftTransport
import WeftWire
import _WeftTestKit

/// Protobuf by hand, to say what no encoder would: invalid UTF-8 in strings, out-of-range enums,
/// run ids of the wrong length or version.
struct RawProto {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func field(_ number: Int, varint value: UInt64) {
        varint(UInt64(number << 3))
        varint(value)
    }

    mutating func field(_ number: Int, bytes value: [UInt8]) {
        varint(UInt64(number << 3 | 2))
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func field(_ number: Int, string value: String) { field(number, bytes: Array(value.utf8)) }

    static func build(_ body: (inout RawProto) -> Void) -> [UInt8] {
        var proto = RawProto()
        body(&proto)
        return proto.bytes
    }
}

extension ProcessTests {
    /// A hostile client against a live cluster, through the coordinator and straight to the
    /// scheduler: every request kind with hostile values. Each call gets a clear status (never
    /// `UNKNOWN` or `INTERNAL`, never a dropped connection), the cluster then serves normal runs,
    /// and Postgres holds nothing from the refused calls.
    @Suite("A bad client", .serialized, .enabled(if: IntegrationEnvironment.postgresConfigured))
    struct BadClientTests {
        static let invalidUTF8: [UInt8] = [0x66, 0xFF, 0xFE, 0xC3, 0x28, 0x00, 0x61]
        static let huge = String(repeating: "h", count: 1 << 20)

        /// Run ids of every wrong shape: short, long, version 4, v7 of 1990 and 2035, v7 without
        /// the variant bits.
        static func hostileRunIDs() -> [[UInt8]] {
            var random = SystemRandomNumberGenerator()
            let now = UInt64(Date().timeIntervalSince1970 * 1000)
            var v4 = RunID(unixMilliseconds: now, using: &random).bytes
            v4[6] = 0x40 | (v4[6] & 0x0F)
            var variant = RunID(unixMilliseconds: now, using: &random).bytes
            variant[8] &= 0x3F
            return [
                [], [1, 2, 3], [UInt8](repeating: 7, count: 17), v4, variant,
                RunID(unixMilliseconds: 631_152_000_000, using: &random).bytes,  // 1990
                RunID(unixMilliseconds: 2_051_222_400_000, using: &random).bytes,  // 2035
                RunID(unixMilliseconds: 0, using: &random).bytes,
                RunID(unixMilliseconds: (1 << 48) - 1, using: &random).bytes,
            ]
        }

        /// Every request kind, with hostile values: (method, payload).
        static func hostileRequests(knownRun: RunID) -> [(String, [UInt8])] {
            var calls: [(String, [UInt8])] = []
            // StartRun.
            let start = ClientMethods.startRun
            calls.append((start, RawProto.build { $0.field(1, string: "") }))
            calls.append((start, RawProto.build { $0.field(1, string: huge) }))
            calls.append((start, RawProto.build { $0.field(1, bytes: invalidUTF8) }))
            // A NUL ends a protobuf-c string (C strings): "v1\0…" is version "v1", which does not exist.
            calls.append((start, RawProto.build { $0.field(1, string: "quick"); $0.field(2, string: "v1\u{0}evil") }))
            calls.append((start, RawProto.build { $0.field(1, string: "quick"); $0.field(2, string: "0123456789abcdef") }))  // unknown version
            calls.append((start, RawProto.build { $0.field(1, string: "quick"); $0.field(2, string: huge) }))
            calls.append((start, RawProto.build { $0.field(1, string: "quick"); $0.field(3, bytes: [UInt8](repeating: 0x31, count: (1 << 20) + 1)) }))
            calls.append((start, RawProto.build { $0.field(1, string: "quick"); $0.field(4, string: String(repeating: "k", count: 3000)) }))
            calls.append((start, RawProto.build { $0.field(1, string: "quick"); $0.field(5, varint: 99) }))  // priority out of range
            calls.append((start, RawProto.build { $0.field(1, string: "quick"); $0.field(5, varint: UInt64.max) }))
            // (An empty run id is no run id in proto3: the server picks one. Not hostile.)
            for id in hostileRunIDs() where !id.isEmpty {
                calls.append((start, RawProto.build { $0.field(1, string: "quick"); $0.field(6, bytes: id) }))
            }
            calls.append((start, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]))  // not protobuf
            calls.append((start, RawProto.build { $0.field(1, varint: 7) }))  // wrong wire type
            // Run reads and changes: bad ids, unknown runs, huge reasons.
            for method in [ClientMethods.getRun, ClientMethods.waitRun, ClientMethods.cancelRun, ClientMethods.retryRun] {
                for id in hostileRunIDs() { calls.append((method, RawProto.build { $0.field(1, bytes: id) })) }
            }
            var random = SystemRandomNumberGenerator()
            let unknown = RunID(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000), using: &random)
            calls.append((ClientMethods.getRun, RawProto.build { $0.field(1, bytes: unknown.bytes); $0.field(2, varint: 1) }))
            calls.append((ClientMethods.waitRun, RawProto.build { $0.field(1, bytes: unknown.bytes) }))
            calls.append((ClientMethods.cancelRun, RawProto.build { $0.field(1, bytes: unknown.bytes); $0.field(2, string: "bye") }))
            calls.append((ClientMethods.cancelRun, RawProto.build { $0.field(1, bytes: knownRun.bytes); $0.field(2, string: huge) }))
            calls.append((ClientMethods.retryRun, RawProto.build { $0.field(1, bytes: unknown.bytes) }))
            // Listing: out-of-range status, negative and huge times, a huge limit, garbage tokens.
            let list = ClientMethods.listRuns
            calls.append((list, RawProto.build { $0.field(2, varint: 77) }))
            calls.append((list, RawProto.build { $0.field(3, varint: UInt64(bitPattern: -5)) }))
            calls.append((list, RawProto.build { $0.field(3, varint: UInt64(Int64.max)) }))
            calls.append((list, RawProto.build { $0.field(4, varint: UInt64(bitPattern: Int64.min)) }))
            calls.append((list, RawProto.build { $0.field(5, varint: UInt64(UInt32.max)) }))
            calls.append((list, RawProto.build { $0.field(6, string: "not-a-token") }))
            calls.append((list, RawProto.build { $0.field(6, bytes: invalidUTF8) }))
            calls.append((list, RawProto.build { $0.field(1, string: huge) }))
            // Definitions: garbage, duplicates, cycles, deep nesting, reserved fields, huge.
            let register = ClientMethods.registerWorkflow
            for definition in [
                "", "null", "[]", "{", String(repeating: "[", count: 100_000), String(repeating: "{\"a\":", count: 50_000),
                #"{"name":"x","name":"y","tasks":[{"name":"a","type":"noop"}]}"#,
                #"{"name":"c","tasks":[{"name":"a","type":"noop","depends_on":["a"]}]}"#,
                #"{"name":"k","tasks":[{"name":"a","type":"noop","cache_key":"k"}]}"#,
                #"{"name":"d","tasks":[{"name":"a","type":"noop","timeouts":{"heartbeat":"-5s"}}]}"#,
                #"{"name":"d","tasks":[{"name":"a","type":"noop","retry":{"max_attempts":-1}}]}"#,
                #"{"name":"d","tasks":[{"name":"a","type":"noop","timeouts":{"heartbeat":"99999999999h"}}]}"#,
                #"{"name":"\#(huge)","tasks":[]}"#,
            ] {
                calls.append((register, RawProto.build { $0.field(1, string: definition) }))
            }
            calls.append((register, RawProto.build { $0.field(1, bytes: invalidUTF8) }))
            calls.append((ClientMethods.listWorkflows, RawProto.build { $0.field(9, string: "unknown field") }))
            // Worker discovery with hostile queue names; an unknown method; an empty method.
            calls.append((WorkerMethods.discover, RawProto.build { $0.field(1, bytes: invalidUTF8); $0.field(1, string: huge) }))
            calls.append(("weft.api.v1.Client/DropEverything", []))
            calls.append(("", []))
            return calls
        }

        /// Statuses a refused call may end with: clear, and the caller's to act on.
        static let clear: Set<StatusCode> = [.invalidArgument, .notFound, .failedPrecondition, .alreadyExists, .unimplemented, .ok]

        static func rpcClient(_ address: String, token: String) throws -> RPCClient {
            var configuration = RPCClientConfiguration(cluster: "weft", role: .client, nodeID: "bad-client", authToken: Array(token.utf8))
            configuration.connectTimeout = .seconds(10)
            return RPCClient(target: try Endpoint(parsing: address), configuration: configuration, logger: Logger(label: "bad") { _ in SwiftLogNoOpLogHandler() })
        }

        @Test("every request kind with hostile values gets a clear status, through the coordinator and straight to the scheduler; nothing is stored")
        func hostileRequests_clearStatuses_nothingStored() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"{"name": "quick", "tasks": [{"name": "a", "type": "echo"}]}"#.utf8))
                let known = try await client.start(workflow: "quick", inputJSON: Array("1".utf8))
                #expect(try await client.wait(for: known).status == .succeeded)
                let schedulerPID = cluster.scheduler!.process.processIdentifier
                let coordinatorPID = cluster.coordinator!.process.processIdentifier
                for (target, address) in [("coordinator", cluster.coordinatorAddress), ("scheduler", cluster.schedulerAddress)] {
                    let raw = try Self.rpcClient(address, token: cluster.token)
                    for (method, payload) in Self.hostileRequests(knownRun: known) {
                        do {
                            _ = try await raw.unary(method, request: payload, options: CallOptions(timeout: .seconds(30)))
                        } catch let error as RPCError {
                            let text = String(error.message.prefix(200))
                            #expect(Self.clear.contains(error.code), "\(target) \(method): \(error.code) \(text)")
                            #expect(!error.message.isEmpty, "\(target) \(method): \(error.code) without a message")
                            #expect(error.message.utf8.count < 20_000, "\(target) \(method): a \(error.message.utf8.count)-byte message")
                        }
                    }
                    await raw.close()
                }
                // Duplicate starts racing for one id, through both doors: one run, created once.
                var random = SystemRandomNumberGenerator()
                let racing = RunID(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000), using: &random)
                let viaCoordinator = try Self.rpcClient(cluster.coordinatorAddress, token: cluster.token)
                let direct = try Self.rpcClient(cluster.schedulerAddress, token: cluster.token)
                let created = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for i in 0..<20 {
                        let through = i % 2 == 0 ? viaCoordinator : direct
                        group.addTask {
                            let request = StartRunRequest(workflow: "quick", input: Array("2".utf8), runID: racing)
                            let response: StartRunResponse = try await through.unary(
                                ClientMethods.startRun, request: request, response: StartRunResponse.self, options: CallOptions(timeout: .seconds(30)))
                            #expect(response.runID == racing)
                            return response.created
                        }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(created == 1)
                #expect(try await client.wait(for: racing).status == .succeeded)
                // Both servers are the same processes, and serve normal runs.
                #expect(cluster.scheduler!.process.processIdentifier == schedulerPID && cluster.scheduler!.process.isRunning)
                #expect(cluster.coordinator!.process.processIdentifier == coordinatorPID && cluster.coordinator!.process.isRunning)
                let after = try await client.start(workflow: "quick", inputJSON: Array("3".utf8))
                #expect(try await client.wait(for: after).status == .succeeded)
                // Nothing from the refused calls reached Postgres: three runs, one definition.
                let runs = try await cluster.query("SELECT run_id, workflow, status, length(input) AS size FROM runs ORDER BY created_at")
                let described = try runs.map { "\(try $0.string("workflow") ?? "") \(try $0.string("status") ?? "") \(try $0.int("size") ?? -1)" }
                #expect(runs.count == 3, "\(described)")
                #expect(try await cluster.query("SELECT count(*) AS n FROM workflow_definitions")[0].int("n") == 1)
                #expect(try await cluster.query("SELECT count(*) AS n FROM idempotency_keys")[0].int("n") == 0)
                #expect(try await cluster.query("SELECT count(*) AS n FROM runs WHERE status = 'cancelled'")[0].int("n") == 0)
                await direct.close()
                await viaCoordinator.close()
                await client.close()
            }
        }

        @Test("pipelined reads of a 512 KiB run, replies never read: the coordinator's memory stays bounded and others are served")
        func slowReader_coordinatorMemoryBounded() async throws {
            try await ProcessCluster.with { cluster in
                try await cluster.start(workers: 1)
                let client = try cluster.client()
                try await client.register(definitionJSON: Array(#"{"name": "quick", "tasks": [{"name": "a", "type": "noop"}]}"#.utf8))
                let big = "\"" + String(repeating: "x", count: 512 << 10) + "\""
                let run = try await client.start(workflow: "quick", inputJSON: Array(big.utf8))
                #expect(try await client.wait(for: run).status == .succeeded)
                let pid = cluster.coordinator!.process.processIdentifier
                let before = try Self.residentMegabytes(pid)

                // 1,000 GetRun requests (about 30 KB), each answered with 512 KiB, and not one reply read.
                let parts = cluster.coordinatorAddress.split(separator: ":")
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var small: Int32 = 4096
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = UInt16(parts[1])!.bigEndian
                inet_pton(AF_INET, String(parts[0]), &address.sin_addr)
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                try #require(connected == 0)
                var frames: [UInt8] = []
                Envelope(
                    callID: 0, kind: .request, method: "weft.wire.v1/Hello",
                    payload: Hello(protocolVersions: 1...1, cluster: "weft", role: .client, nodeID: "slow", authToken: Array(cluster.token.utf8)).serializedBytes()
                ).appendFrame(to: &frames)
                let request = GetRunRequest(runID: run, includeTasks: false).serializedBytes()
                for id in 1...1_000 { Envelope(callID: UInt64(id), kind: .request, method: ClientMethods.getRun, payload: request).appendFrame(to: &frames) }
                _ = frames.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                try await Task.sleep(for: .seconds(4))  // whatever the coordinator will buffer, it buffers now
                let during = try Self.residentMegabytes(pid)
                // 128 calls in flight at most (the per-connection limit), each a 512 KiB reply,
                // plus the high-water mark: well under what 1,000 replies would take (> 500 MB).
                #expect(during - before < 250, "the coordinator grew from \(before) MB to \(during) MB")
                // Served in its turn: the coordinator's read sessions are shared round-robin between
                // callers (`FairPool`), so the slow reader's 128 admitted reads of 512 KiB delay this
                // one by a turn, not by all 128 (which took 10–25 s on one shared session). The
                // timeout only bounds the test; the time taken is printed.
                let other = try cluster.client(timeout: .seconds(30))
                let asked = ContinuousClock.now
                #expect(try await other.describe(run, includeTasks: false).status == .succeeded)
                print("bad-client test: another client's read took \(ContinuousClock.now - asked) beside a slow reader's 128 reads")
                close(fd)
                await other.close()
                await client.close()
            }
        }

        /// VmRSS of a process, in megabytes.
        static func residentMegabytes(_ pid: Int32) throws -> Int {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                  let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
            else { throw ProcessTestError("no VmRSS for \(pid)") }
            return kilobytes / 1024
        }
    }
}
