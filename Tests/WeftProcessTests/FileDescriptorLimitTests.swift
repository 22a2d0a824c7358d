import Foundation
import Testing
import _WeftTestKit

extension ProcessTests {
    /// A server at its file-descriptor limit backs off accepting instead of spinning (issue: `accept`
    /// failing with EMFILE made the loop spin at 94% CPU logging millions of lines while nobody was
    /// served).
    @Suite("At the file-descriptor limit", .serialized)
    struct FileDescriptorLimitTests {
        @Test("EMFILE: accepting backs off, one log line, counted; once descriptors free up, clients are served")
        func emfile_backsOffAndRecovers() async throws {
            let weft = try WeftBinaries.path("weft")
            // A hard limit of 40 descriptors: the coordinator needs ~20 for itself, the rest fill fast.
            let coordinator = try ChildProcess(
                "/bin/sh", ["-c", "ulimit -n 40 && exec \"$0\" \"$@\"", weft, "coordinator", "--listen", "127.0.0.1:0",
                            "--metrics", "127.0.0.1:0", "--cluster", "fdtest"],
                environment: ["WEFT_AUTH_TOKEN": "t"])
            let metrics = try await coordinator.waitForLine(prefix: "metrics on ")
            let address = try await coordinator.waitForListening()
            let parts = address.split(separator: ":")
            let port = UInt16(parts.last!)!
            // Far more connections than descriptors left; they never say Hello.
            var sockets: [Int32] = []
            for _ in 0..<60 {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = port.bigEndian
                inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
                _ = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                sockets.append(fd)
            }
            // Out of descriptors, the metrics endpoint cannot accept either: watch the log instead.
            #expect(try await eventually(within: .seconds(10)) { coordinator.outputSoFar.contains("accept failed") })
            let cpuBefore = try Self.cpuSeconds(coordinator.process.processIdentifier)
            try await Task.sleep(for: .seconds(2))
            let cpuAfter = try Self.cpuSeconds(coordinator.process.processIdentifier)
            #expect(cpuAfter - cpuBefore < 1.0, "the coordinator used \(cpuAfter - cpuBefore) s of CPU in 2 s while at its limit")
            let warnings = coordinator.outputSoFar.components(separatedBy: "accept failed").count - 1
            #expect(warnings <= 2, "\(warnings) log lines about accept")
            for fd in sockets { close(fd) }
            // Descriptors are free again. Backing off (50 ms doubling to 1 s) tried a handful of times;
            // a spinning loop tries millions of times.
            #expect(try await eventually(within: .seconds(15)) {
                (try? Self.counter(metrics, "weft_rpc_server_events_total{event=\"connection_shed\"}")) ?? 0 >= 1
            })
            let failures = try Self.counter(metrics, "weft_rpc_server_events_total{event=\"accept_failed\"}")
            #expect(failures >= 1 && failures < 100, "accept failed \(failures) times")
            // Descriptors are free again (once the coordinator has read the closed sockets' EOFs and
            // drained its backlog): a real client is served.
            var lastError = ""
            let served = try await eventually(within: .seconds(30), pollEvery: .milliseconds(200)) {
                let health = try await runProcess(
                    try WeftBinaries.path("weftctl"), ["--address", address, "--cluster", "fdtest", "--timeout", "5s", "health"],
                    environment: ["WEFT_AUTH_TOKEN": "t"])
                lastError = health.stderr
                return health.status == 0
            }
            #expect(served, "stderr: \(lastError)")
            #expect(await coordinator.terminate() == 0)
        }

        /// utime + stime of a process, in seconds.
        static func cpuSeconds(_ pid: Int32) throws -> Double {
            let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            // Fields after the command name (which is in parentheses and may contain spaces).
            let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            return (Double(fields[11])! + Double(fields[12])!) / ticks
        }

        static func counter(_ metrics: String, _ series: String) throws -> Int {
            for line in try httpGet(metrics, "/metrics").body.split(separator: "\n") where line.hasPrefix(series + " ") {
                return Int(Double(line.split(separator: " ").last!) ?? 0)
            }
            return 0
        }
    }
}
