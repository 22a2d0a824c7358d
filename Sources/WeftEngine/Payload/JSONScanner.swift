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

    /// Skips exactly one JSON value (with nested values), checking it.
    mutating func skipValue() throws(JSONPayloadError) {
        // Open containers, innermost last: `[` or `{`.
        var open: [UInt8] = []
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
                    try skipMemberName()
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
                    if isObject { try skipMemberName() }
                    break
                }
                try expect(isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"), isObject ? "expected ',' or '}'" : "expected ',' or ']'")
                open.removeLast()
            }
            if open.isEmpty { return }
        }
    }

    /// `"name" :` inside an object.
    private mutating func skipMemberName() throws(JSONPayloadError) {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { throw failure("expected a member name") }
        try skipString()
        skipWhitespace()
        try expect(UInt8(ascii: ":"), "expected ':'")
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
