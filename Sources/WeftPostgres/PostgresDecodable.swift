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
        var text = postgresText
        let isHex = text.utf8.starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "x")])
        let decoded = isHex ? text.withUTF8 { Self.decodeHex($0) } : Self.unescapeBytea(Array(postgresText.utf8))
        guard let decoded else { return nil }
        self = decoded
    }

    /// `\x…` → bytes, over raw memory with a lookup table (run inputs and outputs are up to a
    /// mebibyte: a byte-at-a-time decode with bounds checks cost tens of milliseconds in debug
    /// builds). nil when malformed.
    private static func decodeHex(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        let count = text.count / 2 - 1
        var valid = true
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            hexDigits.withUnsafeBufferPointer { table in
                var from = 2
                for to in 0..<count {
                    let high = table[Int(text[from])], low = table[Int(text[from + 1])]
                    if high | low == 0xFF { valid = false; break }
                    buffer[to] = high << 4 | low
                    from += 2
                }
            }
            initialized = valid ? count : 0
        }
        return valid ? bytes : nil
    }

    /// The value of each hexadecimal digit byte; 0xFF for any other byte.
    private static let hexDigits: [UInt8] = (0..<256).map { byte -> UInt8 in
        switch UInt8(byte) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt8(byte) - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt8(byte) - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt8(byte) - UInt8(ascii: "A") + 10
        default: 0xFF
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
