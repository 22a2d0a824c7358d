import CWeftSystem
import Glibc
import Logging
import WeftCore

/// A deliberately small HTTP/1.1 server for Prometheus scrapes and Kubernetes probes
/// (`--metrics HOST:PORT`: `/metrics`, `/healthz`, `/readyz`).
///
/// It runs on a thread of its own, apart from the event loop, so a scrape never delays RPC work and
/// a stuck RPC loop still answers `/healthz` truthfully about the process. One request per
/// connection (`Connection: close`), one connection at a time: requests are a few a minute. Each
/// connection has `timeout` to send its request head (at most `maxRequestBytes`); a slow or
/// malformed client gets a 400 or is dropped, and the next one is served.
public final class HTTPProbeServer: Sendable {
    public struct Response: Sendable, Equatable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]

        public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }

        public init(status: Int, text: String) {
            self.init(status: status, body: Array(text.utf8))
        }
    }

    /// Answers a `GET` (or `HEAD`) of `path` (the query string removed).
    public typealias Handler = @Sendable (_ path: String) -> Response

    public static let maxRequestBytes = 8192
    private let handler: Handler
    private let logger: Logger
    private let timeout: Duration
    private let state = Locked<(fd: Int32, stopping: Bool)>((-1, false))

    public init(timeout: Duration = .seconds(2), logger: Logger, handler: @escaping Handler) {
        self.handler = handler
        self.logger = logger
        self.timeout = timeout
    }

    /// Binds `listen` and starts serving on a new thread; returns the bound address (port 0 picks one).
    public func start(listen: Endpoint) async throws -> SocketAddress {
        guard let address = try await SocketAddress.resolve(listen).first else {
            throw TransportError(.addressResolution, "cannot resolve \(listen)")
        }
        let fd = try Socket.listen(on: address, backlog: 64)
        guard let bound = Socket.localAddress(of: fd) else {
            close(fd)
            throw TransportError(.ioError, "getsockname failed for the metrics listener")
        }
        state.withLock { $0.fd = fd }
        let box = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { box in
            let server = Unmanaged<HTTPProbeServer>.fromOpaque(box!).takeRetainedValue()
            server.serve()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<HTTPProbeServer>.fromOpaque(box).release()
            close(fd)
            throw TransportError(.ioError, "cannot start the metrics thread (pthread_create: \(rc))")
        }
        pthread_detach(thread)
        return bound
    }

    /// Stops accepting; the thread ends within a quarter second and closes the listener.
    public func stop() {
        state.withLock { $0.stopping = true }
    }

    private func serve() {
        cweft_set_thread_name("weft-metrics")
        let fd = state.withLock { $0.fd }
        defer { close(fd) }
        while !state.withLock({ $0.stopping }) {
            var pending = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pending, 1, 250) > 0 else { continue }
            let client = cweft_accept4(fd, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            guard client >= 0 else {
                // Out of descriptors (EMFILE) leaves the listener readable: pause instead of spinning.
                if errno != EAGAIN && errno != EINTR && errno != ECONNABORTED { usleep(100_000) }
                continue
            }
            handle(client)
            lingeringClose(client)
        }
    }

    /// Closes after the peer read the answer: closing with unread request bytes would reset the
    /// connection, and the client could lose the answer (a 431 or 400) to the reset.
    private func lingeringClose(_ client: Int32) {
        shutdown(client, Int32(SHUT_WR))
        let deadline = ContinuousClock.now + .milliseconds(200)
        var scratch = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            var pending = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            guard poll(&pending, 1, 50) > 0 else { continue }
            let n = scratch.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }  // the peer closed
        }
        close(client)
    }

    private func handle(_ client: Int32) {
        let deadline = ContinuousClock.now + timeout
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while Self.headEnd(in: received) == nil {
            guard received.count < Self.maxRequestBytes else {
                return send(Response(status: 431, text: "request head over \(Self.maxRequestBytes) bytes\n"), to: client, head: false)
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return }  // too slow: dropped
            var pending = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            guard poll(&pending, 1, Int32(max(1, left / .milliseconds(1)))) > 0 else { return }
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return }
            received += chunk[0..<n]
        }
        let response: Response
        var head = false
        switch Self.parseRequestLine(received) {
        case .success(let request):
            head = request.method == "HEAD"
            response = request.method == "GET" || head
                ? handler(request.path) : Response(status: 405, text: "only GET and HEAD are served here\n")
        case .failure(let problem):
            response = Response(status: 400, text: "bad request: \(problem.message)\n")
            logger.debug("bad metrics request", metadata: ["error": "\(problem.message)"])
        }
        send(response, to: client, head: head)
    }

    private func send(_ response: Response, to client: Int32, head: Bool) {
        var bytes = Array(
            ("HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\nContent-Type: \(response.contentType)\r\n"
                + "Content-Length: \(response.body.count)\r\nConnection: close\r\n\r\n").utf8)
        if !head { bytes += response.body }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }

    // MARK: Parsing (pure)

    public struct RequestLine: Equatable, Sendable {
        public var method: String
        public var path: String

        public init(method: String, path: String) {
            self.method = method
            self.path = path
        }
    }

    public struct ParseError: Error, Equatable, Sendable {
        public var message: String
    }

    /// The offset just past `\r\n\r\n`, if the head is complete.
    static func headEnd(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i + 4
        }
        return nil
    }

    /// `GET /path?query HTTP/1.1` → method and path (without the query).
    public static func parseRequestLine(_ head: [UInt8]) -> Result<RequestLine, ParseError> {
        guard let end = head.firstIndex(of: 13), end + 1 < head.count, head[end + 1] == 10 else {
            return .failure(ParseError(message: "no request line"))
        }
        guard let line = String(validating: head[..<end], as: UTF8.self) else {
            return .failure(ParseError(message: "the request line is not UTF-8"))
        }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isUppercase }) else {
            return .failure(ParseError(message: "expected 'METHOD /path HTTP/1.x'"))
        }
        guard parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0" else {
            return .failure(ParseError(message: "unsupported version '\(parts[2])'"))
        }
        guard parts[1].hasPrefix("/") else { return .failure(ParseError(message: "the target must be a path")) }
        let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        return .success(RequestLine(method: String(parts[0]), path: String(path)))
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 431: "Request Header Fields Too Large"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
