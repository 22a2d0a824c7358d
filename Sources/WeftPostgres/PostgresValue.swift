/// A statement parameter in Postgres' text format; `nil` (as `PostgresValue?`) is SQL NULL.
///
/// Postgres parses the text with the parameter's inferred type, so `PostgresValue(42)` binds to an
/// `integer` or `bigint` column alike. Literals work directly:
/// `try conn.query("SELECT $1::int, $2, $3", [42, "héllo", nil])`.
///
/// Invariant: ``text`` is what goes on the wire. Text parameters cannot contain NUL bytes (the
/// connection rejects them with ``PostgresError/Code/invalidParameter``); send binary data as
/// ``bytea(_:)``.
public struct PostgresValue: Hashable, Sendable, CustomStringConvertible {
    /// The parameter's text representation.
    public var text: String

    /// A value whose text representation you already have (`'2024-01-01'`, a JSON document, ...).
    public init(text: String) { self.text = text }

    public init(_ value: String) { text = value }
    public init(_ value: Int) { text = String(value) }
    public init(_ value: Int64) { text = String(value) }
    public init(_ value: Int32) { text = String(value) }
    public init(_ value: Bool) { text = value ? "true" : "false" }

    /// Postgres' spellings for the special values (`Infinity`, `-Infinity`, `NaN`); Swift's
    /// shortest round-tripping decimal otherwise.
    public init(_ value: Double) {
        if value.isNaN {
            text = "NaN"
        } else if value.isInfinite {
            text = value < 0 ? "-Infinity" : "Infinity"
        } else {
            text = "\(value)"
        }
    }

    /// `bytea` in hex format: `\x` followed by two lowercase hex digits per byte.
    public static func bytea(_ bytes: some Sequence<UInt8>) -> PostgresValue {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var text: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return PostgresValue(text: String(decoding: text, as: UTF8.self))
    }

    public static func string(_ value: String) -> PostgresValue { PostgresValue(value) }
    public static func int(_ value: Int) -> PostgresValue { PostgresValue(value) }
    public static func int64(_ value: Int64) -> PostgresValue { PostgresValue(value) }
    public static func bool(_ value: Bool) -> PostgresValue { PostgresValue(value) }
    public static func double(_ value: Double) -> PostgresValue { PostgresValue(value) }

    /// Not the value: parameters are never printed (see ``PostgresError``).
    public var description: String { "PostgresValue(<redacted>)" }
}

extension PostgresValue: ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
    public init(stringLiteral value: String) { text = value }
}

extension PostgresValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self.init(value) }
}

extension PostgresValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self.init(value) }
}

extension PostgresValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self.init(value) }
}
