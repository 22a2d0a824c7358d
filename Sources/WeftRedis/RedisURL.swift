import WeftCore

/// A parsed `redis://[[username]:password@]host[:port][/db]` URL.
///
/// Invariant: the password is only sent in `AUTH`; it is never logged, printed or put in an error
/// (``description`` masks it, and parse errors do not echo the URL).
struct RedisURL: Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    var username: String?
    var password: String?
    var database: Int

    /// Parses `url`; userinfo is percent-decoded, the port defaults to 6379 and the database to 0.
    /// Throws ``RedisError`` with code `connectionFailed` for anything else (no TLS `rediss://`,
    /// no query options).
    init(parsing url: String) throws(RedisError) {
        let invalid = RedisError(
            code: .connectionFailed,
            message: "invalid Redis URL: expected redis://[[username]:password@]host[:port][/db]"
        )
        guard let scheme = url.firstRange(of: "://"), url[..<scheme.lowerBound].lowercased() == "redis" else {
            throw invalid
        }
        let rest = url[scheme.upperBound...]
        guard !rest.contains("?"), !rest.contains("#") else { throw invalid }
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count).dropFirst()  // after the "/"

        var hostPort = authority[...]
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = PercentEncoding.decode(userinfo[..<colon])
                username = user.isEmpty ? nil : user
                password = PercentEncoding.decode(userinfo[userinfo.index(after: colon)...])
            } else {
                // `redis://secret@host`: the lone userinfo is the password, as in redis-cli.
                password = PercentEncoding.decode(userinfo)
            }
        }

        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw invalid }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw invalid }
                portText = after.dropFirst()
            }
        } else {
            let parts = hostPort.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw invalid }
            host = String(parts[0])
            portText = parts.count == 2 ? parts[1] : nil
        }
        guard !host.isEmpty else { throw invalid }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { throw invalid }
            self.port = port
        } else {
            port = 6379
        }
        if path.isEmpty {
            database = 0
        } else {
            guard let database = Int(path), database >= 0 else { throw invalid }
            self.database = database
        }
    }

    /// `redis://host:port/db`, with `***` for a password.
    var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        let userinfo = password == nil ? "" : "\(username ?? ""):***@"
        return "redis://\(userinfo)\(host):\(port)/\(database)"
    }

}
