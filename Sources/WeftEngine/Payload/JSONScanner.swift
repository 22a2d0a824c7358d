/// A cursor over JSON bytes that checks RFC 8259's grammar while skipping values. Iterative: a
/// deeply nested document cannot overflow the stack.
struct JSONScanner {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    func peek() -> UInt8? { offset < bytes.count ? bytes[offset] : nil }

    mutating func advance() { offset += 1 }

    mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { offset += 1 }
    }

    mutating func expect(_ byte: UInt8, _ message: String) throws(JSONPayloadError) {
        guard peek() == byte else { throw failure(message) }
        offset += 1
    }

    /// Skips exactly one JSON value (with nested values), checking it. With `uniqueMemberNames`,
    /// an object that names a member twice (after unescaping) is an error: RFC 8259 leaves the
    /// meaning of duplicates open, and decoders disagree on which value wins.
    mutating func skipValue(uniqueMemberNames: Bool = false) throws(JSONPayloadError) {
        // Open containers, innermost last: `[` or `{`; and, when checking, each open object's names.
        var open: [UInt8] = []
        var names: [Set<String>] = []
        func member() throws(JSONPayloadError) {
            let start = offset
            let range = try skipMemberName()
            guard uniqueMemberNames else { return }
            let name = decodedString(range)
            guard names[names.count - 1].insert(name).inserted else {
                let shown = name.count > 64 ? String(name.prefix(64)) + "…" : name
                throw JSONPayloadError(.duplicateMember, offset: start, "the member '\(shown)' appears twice in one object")
            }
        }
        while true {
            // A value starts here.
            skipWhitespace()
            guard let byte = peek() else { throw failure("expected a value") }
            switch byte {
            case UInt8(ascii: "{"):
                offset += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "}") {
                    offset += 1
                } else {
                    open.append(byte)
                    if uniqueMemberNames { names.append([]) }
                    try member()
                    continue
                }
            case UInt8(ascii: "["):
                offset += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "]") {
                    offset += 1
                } else {
                    open.append(byte)
                    continue
                }
            case UInt8(ascii: "\""):
                try skipString()
            case UInt8(ascii: "t"):
                try skipLiteral("true")
            case UInt8(ascii: "f"):
                try skipLiteral("false")
            case UInt8(ascii: "n"):
                try skipLiteral("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try skipNumber()
            default:
                throw failure("expected a value")
            }
            // A value ended: close containers or move to the next member or element.
            while let container = open.last {
                skipWhitespace()
                let isObject = container == UInt8(ascii: "{")
                if peek() == UInt8(ascii: ",") {
                    offset += 1
                    if isObject { try member() }
                    break
                }
                try expect(isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"), isObject ? "expected ',' or '}'" : "expected ',' or ']'")
                open.removeLast()
                if isObject && uniqueMemberNames { names.removeLast() }
            }
            if open.isEmpty { return }
        }
    }

    /// `"name" :` inside an object. Returns the range of the name's bytes between the quotes.
    @discardableResult
    mutating func skipMemberName() throws(JSONPayloadError) -> Range<Int> {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { throw failure("expected a member name") }
        let start = offset + 1
        try skipString()
        let end = offset - 1
        skipWhitespace()
        try expect(UInt8(ascii: ":"), "expected ':'")
        return start..<end
    }

    /// The text of a string already checked by `skipString` (its bytes between the quotes), with
    /// escapes resolved; unpaired surrogates become U+FFFD.
    func decodedString(_ range: Range<Int>) -> String {
        let raw = bytes[range]
        guard raw.contains(UInt8(ascii: "\\")) else { return String(decoding: raw, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        func flush() {
            scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
            utf8.removeAll()
        }
        var index = range.lowerBound
        func hex4(_ at: Int) -> UInt32 {
            var value: UInt32 = 0
            for byte in bytes[at..<at + 4] {
                let digit: UInt8 = byte <= UInt8(ascii: "9") ? byte - UInt8(ascii: "0") : (byte | 0x20) - UInt8(ascii: "a") + 10
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while index < range.upperBound {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                index += 1
                continue
            }
            flush()
            let escaped = bytes[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "b"): scalars.append("\u{8}")
            case UInt8(ascii: "f"): scalars.append("\u{C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var value = hex4(index)
                index += 4
                if (0xD800..<0xDC00).contains(value), index + 6 <= range.upperBound, bytes[index] == UInt8(ascii: "\\"),
                   bytes[index + 1] == UInt8(ascii: "u")
                {
                    let low = hex4(index + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    }
                }
                scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            default: scalars.append(Unicode.Scalar(escaped))  // \" \\ \/
            }
        }
        flush()
        return String(scalars)
    }

    private mutating func skipString() throws(JSONPayloadError) {
        offset += 1  // opening quote
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "\""):
                offset += 1
                return
            case UInt8(ascii: "\\"):
                offset += 1
                guard let escaped = peek() else { break }
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    offset += 1
                case UInt8(ascii: "u"):
                    offset += 1
                    for _ in 0..<4 {
                        guard let hex = peek(), Self.isHexDigit(hex) else { throw failure("expected four hexadecimal digits after \\u") }
                        offset += 1
                    }
                default:
                    throw failure("invalid escape in a string")
                }
            case 0x00..<0x20:
                throw failure("control character in a string")
            default:
                offset += 1
            }
        }
        throw failure("unterminated string")
    }

    private mutating func skipLiteral(_ literal: StaticString) throws(JSONPayloadError) {
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for byte in expected {
            guard peek() == byte else { throw failure("expected '\(literal)'") }
            offset += 1
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func skipNumber() throws(JSONPayloadError) {
        if peek() == UInt8(ascii: "-") { offset += 1 }
        guard let first = peek(), Self.isDigit(first) else { throw failure("expected a digit") }
        offset += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        if peek() == UInt8(ascii: ".") {
            offset += 1
            guard let digit = peek(), Self.isDigit(digit) else { throw failure("expected a digit after '.'") }
            skipDigits()
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            offset += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { offset += 1 }
            guard let digit = peek(), Self.isDigit(digit) else { throw failure("expected a digit in the exponent") }
            skipDigits()
        }
    }

    private mutating func skipDigits() {
        while let byte = peek(), Self.isDigit(byte) { offset += 1 }
    }

    private func failure(_ message: String) -> JSONPayloadError {
        JSONPayloadError(.malformed, offset: offset, isAtEnd ? "\(message), found the end" : message)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
    }
}
