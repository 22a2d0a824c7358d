/// A Redis reply (RESP2), copied out of hiredis' `redisReply`. Error replies are not values:
/// they are thrown as ``RedisError`` with code ``RedisError/Code/errorReply``.
public enum RedisValue: Hashable, Sendable {
    /// A nil bulk string or nil array (`GET` of a missing key, `SET ... NX` that did not set).
    case null
    /// A simple string (`+OK`, `+PONG`).
    case status(String)
    /// An integer reply (`INCR`, `DEL`, `PEXPIRE`, ...).
    case integer(Int64)
    /// A bulk string: binary safe, may contain NUL bytes.
    case bulk([UInt8])
    /// A multi-bulk reply.
    case array([RedisValue])

    /// The text of a status, or of a bulk string that is valid UTF-8; otherwise `nil`.
    public var string: String? {
        switch self {
        case .status(let text): text
        case .bulk(let bytes): String(validating: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// An integer reply, or a status or bulk string holding a decimal integer (`GET` of a counter).
    public var int: Int64? {
        switch self {
        case .integer(let value): value
        case .status, .bulk: string.flatMap { Int64($0) }
        default: nil
        }
    }

    /// The bytes of a bulk string or status; otherwise `nil`.
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let bytes): bytes
        case .status(let text): Array(text.utf8)
        default: nil
        }
    }

    /// The elements of an array reply; otherwise `nil`.
    public var array: [RedisValue]? {
        if case .array(let elements) = self { elements } else { nil }
    }

    public var isNull: Bool { self == .null }
}
