import ArgumentParser
import Foundation
import Logging
import Synchronization
import WeftCLISupport
import WeftCore
import WeftTransport

/// `weft bench rpc`: unary round-trip latency (sequential calls on one connection) and throughput
/// (concurrent calls on one connection) against a server in a child process. `--raw` runs the same
/// exchange as a blocking TCP ping-pong without the RPC layer: the baseline.
struct RPCBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc", abstract: "RPC round-trip latency and throughput on one connection.")

    @Flag(help: "Blocking TCP ping-pong of the same frames, no RPC layer (the baseline).") var raw = false
    @Flag(help: "Print one JSON object on the last line.") var json = false
    @Option(help: "Sequential calls for the latency phase.") var calls = 20_000
    @Option(help: "Calls in flight for the throughput phase.") var concurrency = 64
    @Option(name: .customLong("throughput-calls"), help: "Calls in the throughput phase.") var throughputCalls = 300_000
    @Option(name: .customLong("payload-bytes"), help: "Request and response payload size.") var payloadBytes = 100

    func validate() throws {
        guard calls > 0, concurrency > 0, throughputCalls > 0, payloadBytes >= 0, payloadBytes <= 60_000 else {
            throw ValidationError("--calls, --concurrency and --throughput-calls must be positive; --payload-bytes 0...60000")
        }
    }

    func run() async throws {
        let child = try BenchChild.start(arguments: ["internal", "bench-server", "--listen", "127.0.0.1:0"] + (raw ? ["--raw"] : []))
        defer { child.stop() }
        let payload = [UInt8](repeating: 0x5A, count: payloadBytes)
        let result: BenchResult
        if raw {
            result = try RawClient.run(endpoint: child.endpoint, payload: payload, calls: calls, window: concurrency, throughputCalls: throughputCalls)
        } else {
            result = try await rpcRun(endpoint: child.endpoint, payload: payload)
        }
        let mode = raw ? "raw TCP ping-pong (baseline)" : "Weft RPC (epoll + protobuf-c envelopes)"
        print("""
            weft bench rpc — \(mode)
            setup: server in a child process on \(child.endpoint), one TCP connection, \(payloadBytes)-byte payloads, \(ProcessInfo.processInfo.activeProcessorCount) cores

            """)
        print(Table(headers: ["PHASE", "CALLS", "P50", "P99", "P999", "CALLS/S"], rows: [
            ["latency (sequential)", "\(calls)", us(result.p50), us(result.p99), us(result.p999), format(Double(calls) / result.latencyWall)],
            ["throughput (\(concurrency) in flight)", "\(throughputCalls)", "-", "-", "-", format(result.callsPerSecond)],
        ]).render())
        if json {
            print(#"{"scenario":"rpc","mode":"\#(raw ? "raw" : "rpc")","payload_bytes":\#(payloadBytes),"calls":\#(calls),"concurrency":\#(concurrency),"p50_us":\#(r(result.p50)),"p99_us":\#(r(result.p99)),"p999_us":\#(r(result.p999)),"calls_per_s":\#(Int(result.callsPerSecond))}"#)
        }
    }

    private func rpcRun(endpoint: Endpoint, payload: [UInt8]) async throws -> BenchResult {
        var configuration = RPCClientConfiguration(cluster: "bench", role: .client, nodeID: "bench")
        configuration.connectTimeout = .seconds(10)
        let client = RPCClient(target: endpoint, configuration: configuration, logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
        try await client.connect()
        let loop = client.loop
        let method = BenchServerCommand.echoMethod
        let calls = self.calls
        // Latency: sequential calls from a task that prefers the loop (no thread hops).
        let (samples, latencyWall) = try await withTaskExecutorPreference(loop) {
            for _ in 0..<min(2_000, calls) { _ = try await client.unary(method, request: payload) }
            var samples = [UInt64](repeating: 0, count: calls)
            let start = ContinuousClock.now
            for i in 0..<calls {
                let t0 = ContinuousClock.now
                _ = try await client.unary(method, request: payload)
                samples[i] = UInt64((ContinuousClock.now - t0) / .nanoseconds(1))
            }
            return (samples, (ContinuousClock.now - start) / .seconds(1))
        }
        // Throughput: `concurrency` tasks share the work, all on one connection.
        let remaining = WorkCounter(throughputCalls)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask(executorPreference: loop) {
                    while remaining.take() {
                        _ = try await client.unary(method, request: payload)
                    }
                }
            }
            try await group.waitForAll()
        }
        let wall = (ContinuousClock.now - start) / .seconds(1)
        await client.close()
        return BenchResult(samples: samples, latencyWall: latencyWall, callsPerSecond: Double(throughputCalls) / wall)
    }

    private func us(_ ns: Double) -> String { String(format: "%.1f µs", ns / 1000) }
    private func r(_ ns: Double) -> String { String(format: "%.1f", ns / 1000) }
    private func format(_ value: Double) -> String { String(Int(value.rounded())) }
}

struct BenchResult {
    var p50: Double
    var p99: Double
    var p999: Double
    var latencyWall: Double
    var callsPerSecond: Double

    init(samples: [UInt64], latencyWall: Double, callsPerSecond: Double) {
        let sorted = samples.sorted()
        func pct(_ p: Double) -> Double { Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) }
        p50 = pct(0.50)
        p99 = pct(0.99)
        p999 = pct(0.999)
        self.latencyWall = latencyWall
        self.callsPerSecond = callsPerSecond
    }
}

/// The blocking baseline client.
enum RawClient {
    static func run(endpoint: Endpoint, payload: [UInt8], calls: Int, window: Int, throughputCalls: Int) throws -> BenchResult {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = endpoint.port.bigEndian
        inet_pton(AF_INET, endpoint.host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw CommandFailure("cannot connect to the raw bench server at \(endpoint)") }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var frame: [UInt8] = []
        // The RPC bench's frames carry an envelope (~12 bytes of header fields) around the payload;
        // the raw frame carries the payload alone, which favours the baseline slightly.
        let length = UInt32(payload.count)
        frame += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        frame += payload
        var buffer = [UInt8](repeating: 0, count: frame.count)
        func roundTrip() throws {
            guard RawIO.writeAll(fd, frame, count: frame.count), RawIO.readExactly(fd, &buffer, count: frame.count) else {
                throw CommandFailure("raw bench connection broke")
            }
        }
        for _ in 0..<min(2_000, calls) { try roundTrip() }
        var samples = [UInt64](repeating: 0, count: calls)
        let start = ContinuousClock.now
        for i in 0..<calls {
            let t0 = ContinuousClock.now
            try roundTrip()
            samples[i] = UInt64((ContinuousClock.now - t0) / .nanoseconds(1))
        }
        let latencyWall = (ContinuousClock.now - start) / .seconds(1)
        // Throughput: keep `window` frames in flight, refilling one for each answer.
        let throughputStart = ContinuousClock.now
        var sent = 0
        var received = 0
        while sent < min(window, throughputCalls) {
            guard RawIO.writeAll(fd, frame, count: frame.count) else { throw CommandFailure("raw bench connection broke") }
            sent += 1
        }
        while received < throughputCalls {
            guard RawIO.readExactly(fd, &buffer, count: frame.count) else { throw CommandFailure("raw bench connection broke") }
            received += 1
            if sent < throughputCalls {
                guard RawIO.writeAll(fd, frame, count: frame.count) else { throw CommandFailure("raw bench connection broke") }
                sent += 1
            }
        }
        let wall = (ContinuousClock.now - throughputStart) / .seconds(1)
        return BenchResult(samples: samples, latencyWall: latencyWall, callsPerSecond: Double(throughputCalls) / wall)
    }
}

/// A `weft` child process that prints `listening on HOST:PORT` when ready.
final class BenchChild {
    let process: Process
    let endpoint: Endpoint
    private let stdin: Pipe

    private init(process: Process, endpoint: Endpoint, stdin: Pipe) {
        self.process = process
        self.endpoint = endpoint
        self.stdin = stdin
    }

    static func start(arguments: [String]) throws -> BenchChild {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: currentExecutablePath())
        process.arguments = arguments
        let output = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardInput = input
        try process.run()
        // Read the first line: "listening on HOST:PORT".
        var line: [UInt8] = []
        let handle = output.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            guard let first = byte.first else { break }
            if first == 10 { break }
            line.append(first)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening on "), let endpoint = try? Endpoint(parsing: String(text.dropFirst(13))) else {
            process.terminate()
            throw CommandFailure("the bench server did not start (said: '\(text)')")
        }
        return BenchChild(process: process, endpoint: endpoint, stdin: input)
    }

    func stop() {
        // Closing stdin asks the RPC server to exit; the raw server only stops on a signal.
        try? stdin.fileHandleForWriting.close()  // already closed is fine
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

/// Hands out `total` units of work to concurrent tasks.
final class WorkCounter: Sendable {
    private let remaining: Atomic<Int>
    init(_ total: Int) { remaining = Atomic(total) }
    /// True while there was work left to take.
    func take() -> Bool { remaining.subtract(1, ordering: .relaxed).newValue >= 0 }
}
