/// Task inputs and outputs are opaque bytes to the engine — JSON by contract (the SDK encodes them
/// with `JSONEncoder`). The engine looks inside only where the model requires it, with these
/// helpers:
///
/// - ``object(_:)`` combines the outputs of several parents into one input, keyed by parent name;
/// - ``array(_:)`` combines a map node's element outputs into its output;
/// - ``splitArray(_:maxElements:)`` splits a map node's input into its elements.
///
/// In combined payloads an empty output stands for `null` (a task that returns nothing). Element
/// and member bytes are copied verbatim, never re-encoded.
public enum JSONPayload {
    /// The JSON value `null`.
    public static let null: [UInt8] = Array("null".utf8)

    /// `{"key1":value1,"key2":value2}` in the given order; empty values become `null`.
    public static func object(_ members: [(key: String, value: [UInt8])]) -> [UInt8] {
        var out = JSONWriter(capacity: members.reduce(2) { $0 + $1.key.utf8.count + $1.value.count + 4 })
        out.raw("{")
        for (position, member) in members.enumerated() {
            if position > 0 { out.raw(",") }
            out.string(member.key)
            out.raw(":")
            out.raw(member.value.isEmpty ? null : member.value)
        }
        out.raw("}")
        return out.bytes
    }

    /// `[element0,element1,…]`; empty elements become `null`.
    public static func array(_ elements: [[UInt8]]) -> [UInt8] {
        var out = JSONWriter(capacity: elements.reduce(2) { $0 + $1.count + 1 })
        out.raw("[")
        for (position, element) in elements.enumerated() {
            if position > 0 { out.raw(",") }
            out.raw(element.isEmpty ? null : element)
        }
        out.raw("]")
        return out.bytes
    }

    /// The elements of the JSON array `bytes`, each as its exact bytes (surrounding whitespace
    /// excluded). The whole document is checked against RFC 8259's grammar (strings, escapes,
    /// numbers, literals, nesting at any depth, without recursion); string contents are not checked
    /// for valid UTF-8. Throws when `bytes` is not a single JSON array, or when it has more than
    /// `maxElements` elements (detected without scanning past the limit).
    public static func splitArray(_ bytes: [UInt8], maxElements: Int = .max) throws(JSONPayloadError) -> [[UInt8]] {
        var scanner = JSONScanner(bytes)
        scanner.skipWhitespace()
        try scanner.expect(UInt8(ascii: "["), "expected '[' (a JSON array)")
        var elements: [[UInt8]] = []
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "]") {
            scanner.advance()
        } else {
            while true {
                guard elements.count < maxElements else {
                    throw JSONPayloadError(.tooManyElements, offset: scanner.offset, "more than \(maxElements) elements")
                }
                scanner.skipWhitespace()
                let start = scanner.offset
                try scanner.skipValue()
                elements.append(Array(bytes[start..<scanner.offset]))
                scanner.skipWhitespace()
                if scanner.peek() == UInt8(ascii: ",") {
                    scanner.advance()
                    continue
                }
                try scanner.expect(UInt8(ascii: "]"), "expected ',' or ']'")
                break
            }
        }
        scanner.skipWhitespace()
        guard scanner.isAtEnd else {
            throw JSONPayloadError(.malformed, offset: scanner.offset, "unexpected bytes after the array")
        }
        return elements
    }

    /// Checks that `bytes` is one JSON value (RFC 8259 grammar, any depth, without recursion) in
    /// which no object names a member twice (names compared after unescaping).
    public static func checkUniqueMemberNames(_ bytes: [UInt8]) throws(JSONPayloadError) {
        var scanner = JSONScanner(bytes)
        try scanner.skipValue(uniqueMemberNames: true)
        scanner.skipWhitespace()
        guard scanner.isAtEnd else {
            throw JSONPayloadError(.malformed, offset: scanner.offset, "unexpected bytes after the value")
        }
    }
}
