import Dispatch
import Glibc
import Logging
import Synchronization
import WeftCore
import WeftTransport
import WeftWire
import _WeftTestKit

/// Signals between a handler and the test body.
final class Signal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func fire() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.fired = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }
    var fired: Bool { state.withLock { $0.fired } }
    func wait() async {
        await withCheckedContinuation { c in
            let now = state.withLock { s -> Bool in
                if s.fired { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}

/// A server with the test methods, on a free loopback port.
struct TestServer {
    let server: RPCServer
    let address: Endpoint
    let capture = LogCapture()
    let handlerCancelled = Signal()
    let handlerStarted = Signal()
    /// `test.Echo/Hold` handlers running now, the most ever at once, and the gate that lets them end.
    let holding = Locked<(now: Int, most: Int, open: Bool)>((0, 0, false))

    static let token: [UInt8] = Array("s3cret".utf8)

    static func start(configure: (inout RPCServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        try await TestServer(configure: configure)
    }

    private init(configure: (inout RPCServerConfiguration) -> Void) async throws {
        var router = RPCRouter()
        let cancelled = handlerCancelled
        let started = handlerStarted
        router.unary("test.Echo/Echo") { request, _ in request }
        router.unary("test.Echo/Slow") { request, _ in
            started.fire()
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                cancelled.fire()
                throw error
            }
            return request
        }
        router.unary("test.Echo/Big") { request, _ in
            [UInt8](repeating: 0x42, count: Int(String(decoding: request, as: UTF8.self)) ?? 0)
        }
        let holding = self.holding
        router.unary("test.Echo/Hold") { request, _ in
            holding.withLock { state in
                state.now += 1
                state.most = max(state.most, state.now)
            }
            defer { holding.withLock { $0.now -= 1 } }
            while !holding.withLock({ $0.open }) { try await Task.sleep(for: .milliseconds(5)) }
            return request
        }
        router.unary("test.Echo/Deadline") { _, context in
            let ms = context.timeRemaining.map { Int($0 / .milliseconds(1)) } ?? -1
            return Array(String(ms).utf8)
        }
        router.unary("test.Echo/Fail") { _, _ in
            throw RPCError(.failedPrecondition, "not the owner", metadata: ["weft-owner": "10.1.2.3:7400"])
        }
        router.serverStreaming("test.Echo/Count") { request, _, writer in
            let count = Int(String(decoding: request, as: UTF8.self)) ?? 0
            for i in 0..<count {
                var message = withUnsafeBytes(of: UInt32(i).bigEndian) { Array($0) }
                message += [UInt8](repeating: 7, count: 96)
                try await writer.send(message)
            }
        }
        router.clientStreaming("test.Echo/Sum") { stream, _ in
            var total = 0
            for try await message in stream { total += Int(String(decoding: message, as: UTF8.self)) ?? 0 }
            return Array(String(total).utf8)
        }
        router.bidirectionalStreaming("test.Echo/Chat") { stream, _, writer in
            for try await message in stream { try await writer.send(Array("re:".utf8) + message) }
        }
        var configuration = RPCServerConfiguration(cluster: "test", role: .coordinator, nodeID: "srv-1", authToken: Self.token)
        configure(&configuration)
        server = RPCServer(router: router, configuration: configuration, logger: capture.logger(label: "server"))
        let bound = try await server.start(listen: Endpoint(host: "127.0.0.1", port: 0))
        address = bound.endpoint
    }

    func client(cluster: String = "test", token: [UInt8] = TestServer.token, configure: (inout RPCClientConfiguration) -> Void = { _ in }) -> RPCClient {
        var configuration = RPCClientConfiguration(cluster: cluster, role: .client, nodeID: "test-client", authToken: token)
        configure(&configuration)
        return RPCClient(target: address, configuration: configuration, logger: capture.logger(label: "client"))
    }
}

/// A plain blocking socket for sending hand-made bytes.
struct RawSocket {
    let fd: Int32

    init(_ endpoint: Endpoint) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = endpoint.port.bigEndian
        inet_pton(AF_INET, endpoint.host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw RPCError(.unavailable, "connect failed") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// A small receive buffer: replies back up on the server quickly (set before data flows).
    func setReceiveBuffer(bytes: Int) {
        var size = Int32(bytes)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    func setSendTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes as much as the socket takes before the send timeout; returns the bytes written.
    func writeSome(_ bytes: [UInt8]) -> Int {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            offset += n
        }
        return offset
    }

    func write(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until EOF (or the 5 s timeout); true when the server closed the connection. The
    /// blocking reads run on a thread of their own: on the cooperative pool (2 threads here) they
    /// would starve the server under test.
    func readUntilClosed() async -> (bytes: [UInt8], closed: Bool) {
        let fd = self.fd
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: RawSocket.blockingReadUntilClosed(fd)) }
        }
    }

    private static func blockingReadUntilClosed(_ fd: Int32) -> (bytes: [UInt8], closed: Bool) {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { all += buffer[0..<n]; continue }
            return (all, n == 0 || errno == ECONNRESET)
        }
    }

    func close() { Glibc.close(fd) }
}
