/// A `HOST:PORT` pair as operators write it on the command line (`127.0.0.1:7400`, `[::1]:7400`,
/// `weft-coordinator:7400`). Parsing only: resolution happens in the transport.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; IPv6 hosts go in brackets. Port 0 means "any free port" (listeners only).
    public init(parsing text: String) throws(EndpointError) {
        let trimmed = text.trimmingWhitespace
        guard !trimmed.isEmpty else { throw EndpointError(text: text, reason: "empty address") }
        let hostPart: Substring
        let portPart: Substring
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else {
                throw EndpointError(text: text, reason: "missing ']' after an IPv6 host")
            }
            hostPart = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.hasPrefix(":") else { throw EndpointError(text: text, reason: "expected HOST:PORT") }
            portPart = rest.dropFirst()
        } else {
            guard let colon = trimmed.lastIndex(of: ":") else {
                throw EndpointError(text: text, reason: "expected HOST:PORT (the port is missing)")
            }
            hostPart = trimmed[..<colon]
            portPart = trimmed[trimmed.index(after: colon)...]
            if hostPart.contains(":") {
                throw EndpointError(text: text, reason: "put an IPv6 host in brackets: [::1]:PORT")
            }
        }
        guard !hostPart.isEmpty else { throw EndpointError(text: text, reason: "the host is missing") }
        guard let port = UInt16(portPart) else {
            throw EndpointError(text: text, reason: "the port must be a number from 0 to 65535")
        }
        self.host = String(hostPart)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

public struct EndpointError: Error, Hashable, Sendable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "invalid address '\(text)': \(reason)" }
}

extension String {
    var trimmingWhitespace: Substring {
        var s = self[...]
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}
