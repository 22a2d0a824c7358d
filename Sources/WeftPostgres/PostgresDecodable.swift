/// A Swift type that can be read from a cell in Postgres' text output format.
public protocol PostgresDecodable {
    /// `nil` when `postgresText` is not a valid value of this type.
    init?(postgresText: String)
}

extension String: PostgresDecodable {
    public init?(postgresText: String) { self = postgresText }
}

extension Int: PostgresDecodable {
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Int64: PostgresDecodable {
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Int32: PostgresDecodable {
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Bool: PostgresDecodable {
    /// Postgres prints booleans as `t`/`f`; the input spellings are accepted too.
    public init?(postgresText: String) {
        switch postgresText {
        case "t", "true", "TRUE", "1", "on", "yes", "y": self = true
        case "f", "false", "FALSE", "0", "off", "no", "n": self = false
        default: return nil
        }
    }
}

extension Double: PostgresDecodable {
    /// Includes Postgres' `Infinity`, `-Infinity` and `NaN`.
    public init?(postgresText: String) {
        switch postgresText {
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        case "NaN": self = .nan
        default: self.init(postgresText)
        }
    }
}

extension Array: PostgresDecodable where Element == UInt8 {
    /// A `bytea` in hex output format (`\x0aff`, the default) or escape format (`a\000\\`).
    public init?(postgresText: String) {
        let text = Array(postgresText.utf8)
        if text.starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "x")]) {
            guard text.count % 2 == 0 else { return nil }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(text.count / 2 - 1)
            var index = 2
            while index < text.count {
                guard let high = Self.hexValue(text[index]), let low = Self.hexValue(text[index + 1]) else {
                    return nil
                }
                bytes.append(high << 4 | low)
                index += 2
            }
            self = bytes
        } else {
            guard let bytes = Self.unescapeBytea(text) else { return nil }
            self = bytes
        }
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Escape format: `\\` is a backslash, `\ooo` an octal byte, anything else itself.
    private static func unescapeBytea(_ text: [UInt8]) -> [UInt8]? {
        var bytes: [UInt8] = []
        var index = 0
        while index < text.count {
            let byte = text[index]
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                index += 1
                continue
            }
            if index + 1 < text.count, text[index + 1] == UInt8(ascii: "\\") {
                bytes.append(byte)
                index += 2
                continue
            }
            guard index + 3 < text.count else { return nil }
            var value = 0
            for digit in text[(index + 1)...(index + 3)] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(digit) else { return nil }
                value = value * 8 + Int(digit - UInt8(ascii: "0"))
            }
            guard value <= 255 else { return nil }
            bytes.append(UInt8(value))
            index += 4
        }
        return bytes
    }
}
