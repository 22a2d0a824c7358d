import ArgumentParser
import Glibc
import Logging
import WeftCLISupport
import WeftCore
import WeftTransport

/// The server side of `weft bench rpc`, run as a child process so that client and server do not
/// share a Swift runtime (as in production). Prints `listening on HOST:PORT` once ready.
struct BenchServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-server", shouldDisplay: false)

    static let echoMethod = "weft.bench.v1.Bench/Echo"

    @Option var listen: String = "127.0.0.1:0"
    @Flag(help: "Serve a blocking length-prefixed echo with no RPC layer.") var raw = false

    func run() async throws {
        let endpoint = try parseEndpoint(listen, flag: "listen")
        if raw {
            try RawEchoServer.run(on: endpoint)
            return
        }
        var router = RPCRouter()
        router.unary(Self.echoMethod) { request, _ in request }
        let server = RPCServer(
            router: router,
            configuration: RPCServerConfiguration(cluster: "bench", role: .coordinator, nodeID: "bench-server"),
            logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
        let bound = try await server.start(listen: endpoint)
        print("listening on \(bound)")
        flushStandardOutput()
        // Until the parent stops us (SIGTERM/SIGKILL) or closes our stdin.
        var byte: UInt8 = 0
        while read(0, &byte, 1) > 0 {}
        await server.shutdown(gracePeriod: .milliseconds(100))
    }
}

/// The `--raw` baseline: blocking sockets, one thread per connection, echoing whole frames.
enum RawEchoServer {
    static func run(on endpoint: Endpoint) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = endpoint.port.bigEndian
        inet_pton(AF_INET, endpoint.host, &addr.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Int32 in
                guard bind(fd, sa, length) == 0, Glibc.listen(fd, 16) == 0 else { return -1 }
                return getsockname(fd, sa, &length)
            }
        }
        guard bound == 0 else { throw CommandFailure("raw bench server cannot listen on \(endpoint)") }
        print("listening on \(endpoint.host):\(UInt16(bigEndian: addr.sin_port))")
        flushStandardOutput()
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { continue }
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var thread = pthread_t()
            pthread_create(&thread, nil, rawEchoConnection, UnsafeMutableRawPointer(bitPattern: Int(client) + 1))
            pthread_detach(thread)
        }
    }
}

private func rawEchoConnection(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let fd = Int32(Int(bitPattern: argument) - 1)
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        guard RawIO.readExactly(fd, &buffer, count: 4) else { break }
        let length = Int(buffer[0]) << 24 | Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3])
        guard length <= buffer.count - 4, RawIO.readExactly(fd, &buffer, count: length, offset: 4) else { break }
        guard RawIO.writeAll(fd, buffer, count: 4 + length) else { break }
    }
    close(fd)
    return nil
}

/// Blocking helpers for the raw baseline.
enum RawIO {
    static func readExactly(_ fd: Int32, _ buffer: inout [UInt8], count: Int, offset: Int = 0) -> Bool {
        var got = 0
        while got < count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset + got, count - got) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                return false
            }
            got += n
        }
        return true
    }

    static func writeAll(_ fd: Int32, _ buffer: [UInt8], count: Int) -> Bool {
        var sent = 0
        while sent < count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + sent, count - sent) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                return false
            }
            sent += n
        }
        return true
    }
}
