import Glibc
import Testing
import WeftCore
import WeftTransport
import _WeftTestKit

@Suite("HTTP probe server")
struct HTTPProbeServerTests {
    @Test("request lines parse; nonsense is refused with a reason")
    func parseRequestLine_cases() throws {
        func parse(_ text: String) -> Result<HTTPProbeServer.RequestLine, HTTPProbeServer.ParseError> {
            HTTPProbeServer.parseRequestLine(Array(text.utf8))
        }
        #expect(try parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").get() == .init(method: "GET", path: "/metrics"))
        #expect(try parse("HEAD /readyz?verbose=1 HTTP/1.0\r\n\r\n").get() == .init(method: "HEAD", path: "/readyz"))
        for bad in ["GET /metrics\r\n\r\n", "get / HTTP/1.1\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n", "GET / HTTP/2\r\n\r\n", "\r\n\r\n", "GET / HTTP/1.1"] {
            guard case .failure = parse(bad) else {
                Issue.record("accepted \(bad.debugDescription)")
                continue
            }
        }
    }

    @Test("serves the handler's answers; bad, oversized and non-GET requests get errors and the server keeps serving")
    func serve_goodAndBadRequests() async throws {
        let server = HTTPProbeServer(logger: LogCapture().logger(label: "probe")) { path in
            path == "/hello" ? HTTPProbeServer.Response(status: 200, text: "hi\n") : HTTPProbeServer.Response(status: 404, text: "no\n")
        }
        let bound = try await server.start(listen: Endpoint(host: "127.0.0.1", port: 0))
        defer { server.stop() }
        let port = bound.port
        #expect(try httpGet("127.0.0.1:\(port)", "/hello") == (200, "hi\n"))
        #expect(try httpGet("127.0.0.1:\(port)", "/other").status == 404)
        #expect(try httpExchange(port: port, request: Array("BLAH\r\n\r\n".utf8)).status == 400)
        #expect(try httpExchange(port: port, request: Array("POST /hello HTTP/1.1\r\n\r\n".utf8)).status == 405)
        let huge = Array("GET /hello HTTP/1.1\r\nX-Pad: ".utf8) + [UInt8](repeating: 97, count: 10_000)
        #expect(try httpExchange(port: port, request: huge).status == 431)
        let head = try httpExchange(port: port, request: Array("HEAD /hello HTTP/1.1\r\n\r\n".utf8))
        #expect(head.status == 200 && head.body.isEmpty)
        #expect(try httpGet("127.0.0.1:\(port)", "/hello") == (200, "hi\n"))
    }

    @Test("a client that sends nothing is dropped after the timeout and the next one is served")
    func silentClient_droppedThenNextServed() async throws {
        let server = HTTPProbeServer(timeout: .milliseconds(300), logger: LogCapture().logger(label: "probe")) { _ in
            HTTPProbeServer.Response(status: 200, text: "ok\n")
        }
        let bound = try await server.start(listen: Endpoint(host: "127.0.0.1", port: 0))
        defer { server.stop() }
        let silent = try RawSocket(Endpoint(host: "127.0.0.1", port: bound.port))
        defer { close(silent.fd) }
        #expect(try httpGet("127.0.0.1:\(bound.port)", "/") == (200, "ok\n"))
    }
}
