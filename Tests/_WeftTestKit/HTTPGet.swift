import Foundation
import Glibc

/// A blocking HTTP/1.1 exchange on loopback for tests of the metrics endpoint: sends `request`
/// (raw bytes, so tests can send nonsense too) and returns the status and body of the answer.
public func httpExchange(host: String = "127.0.0.1", port: UInt16, request: [UInt8]) throws -> (status: Int, body: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ProcessTestError("socket() failed") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    inet_pton(AF_INET, host, &address.sin_addr)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw ProcessTestError("cannot connect to \(host):\(port)") }
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { break }
        response += chunk[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let statusLine = text.split(separator: "\r\n").first, statusLine.hasPrefix("HTTP/1.1 "),
        let status = Int(statusLine.dropFirst(9).prefix(3))
    else { throw ProcessTestError("not an HTTP response: \(text.prefix(200))") }
    let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
    return (status, body)
}

/// `GET path` against `HOST:PORT`.
public func httpGet(_ address: String, _ path: String) throws -> (status: Int, body: String) {
    guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
        throw ProcessTestError("not HOST:PORT: \(address)")
    }
    return try httpExchange(
        host: String(address[..<colon]), port: port, request: Array("GET \(path) HTTP/1.1\r\nHost: test\r\n\r\n".utf8))
}
