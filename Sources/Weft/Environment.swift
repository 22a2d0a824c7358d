#if canImport(Glibc)
import Glibc
#endif
import WeftCore

/// Flag ↔ environment variable resolution shared by `weft` and `weftctl` (ARCHITECTURE.md §10):
/// every flag `--some-flag` also reads `WEFT_SOME_FLAG`, except `--postgres` ↔ `WEFT_POSTGRES_URL`
/// and `--redis` ↔ `WEFT_REDIS_URL`; a flag given on the command line wins.
public enum WeftEnvironment {
    /// The environment variable that backs `flag` (given without the dashes).
    public static func variable(for flag: String) -> String {
        switch flag {
        case "postgres": "WEFT_POSTGRES_URL"
        case "redis": "WEFT_REDIS_URL"
        default: "WEFT_" + flag.uppercased().replacingDashes
        }
    }

    /// The flag's value, else its environment variable's (empty counts as unset), else nil.
    public static func resolve(_ value: String?, flag: String) -> String? {
        if let value { return value }
        guard let raw = getenv(variable(for: flag)) else { return nil }
        let text = String(cString: raw)
        return text.isEmpty ? nil : text
    }

    /// The auth token: the file named by `--token-file`/`WEFT_TOKEN_FILE` (trailing newline
    /// ignored), else `WEFT_AUTH_TOKEN`, else none.
    public static func authToken(tokenFile: String?) throws -> [UInt8]? {
        if let path = resolve(tokenFile, flag: "token-file") {
            guard let file = fopen(path, "rb") else {
                throw ConfigurationError("cannot read the token file '\(path)': \(String(cString: strerror(errno)))")
            }
            defer { fclose(file) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = fread(&buffer, 1, buffer.count, file)
                if n <= 0 { break }
                bytes += buffer[0..<n]
                if bytes.count > 64 * 1024 { throw ConfigurationError("the token file '\(path)' is larger than 64 KiB") }
            }
            while let last = bytes.last, last == 10 || last == 13 || last == 32 { bytes.removeLast() }
            guard !bytes.isEmpty else { throw ConfigurationError("the token file '\(path)' is empty") }
            return bytes
        }
        if let raw = getenv("WEFT_AUTH_TOKEN") {
            let token = Array(String(cString: raw).utf8)
            return token.isEmpty ? nil : token
        }
        return nil
    }
}

/// A configuration problem found at start-up (bad flag value, unreadable file).
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, for people.
    public var description: String
    /// A configuration problem described by `description`.
    public init(_ description: String) { self.description = description }
}

extension String {
    fileprivate var replacingDashes: String { String(map { $0 == "-" ? "_" : $0 }) }
}
