/// Every error `WeftRedis` throws: a ``Code``, the message (the server's error text for an error
/// reply, hiredis' `errstr` for an I/O failure) and the command's name.
///
/// Invariant: an error never contains argument values (keys, lease values, passwords): only the
/// command name (`SET`, `EVALSHA`), the way WeftPostgres' `PostgresError` redacts parameters.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    /// What failed. A struct rather than an enum so that new codes break no `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connectionFailed
            case connectionLost
            case connectionClosed
            case errorReply
            case protocolError
            case unexpectedReply
            case invalidArgument
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Connecting (or reconnecting, or AUTH/SELECT) failed, or the URL is invalid.
        public static let connectionFailed = Code(.connectionFailed)
        /// An I/O error or timeout while a command was sent or its reply read: whether it took
        /// effect is unknown. The next command reconnects.
        public static let connectionLost = Code(.connectionLost)
        /// The connection was used after ``RedisConnection/close()``.
        public static let connectionClosed = Code(.connectionClosed)
        /// Redis answered with an error reply (`ERR ...`, `WRONGTYPE ...`, `NOSCRIPT ...`).
        public static let errorReply = Code(.errorReply)
        /// hiredis could not parse the server's reply; the connection is dropped.
        public static let protocolError = Code(.protocolError)
        /// The reply has a shape the caller did not expect (for example a lease script that did not
        /// return an integer).
        public static let unexpectedReply = Code(.unexpectedReply)
        /// A command with no arguments, a non-positive TTL, ...
        public static let invalidArgument = Code(.invalidArgument)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The server's error text (`ERR value is not an integer or out of range`) or hiredis' message.
    public var message: String
    /// The command's name (`INCR`), never its arguments.
    public var command: String?

    public init(code: Code, message: String, command: String? = nil) {
        self.code = code
        self.message = message
        self.command = command
    }

    /// The first word of an error reply (`ERR`, `WRONGTYPE`, `NOSCRIPT`), when there is one.
    public var errorPrefix: Substring? {
        guard code == .errorReply else { return nil }
        return message.split(separator: " ", maxSplits: 1).first
    }

    /// `RedisError(errorReply, command: INCR): ERR value is not an integer or out of range`.
    public var description: String {
        var text = "RedisError(\(code)"
        if let command { text += ", command: \(command)" }
        return text + "): \(message)"
    }
}
