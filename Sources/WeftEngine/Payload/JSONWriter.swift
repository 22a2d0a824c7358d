/// Appends JSON text to a byte buffer, by hand: the engine builds combined inputs and the canonical
/// definition encoding without Foundation.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// Appends already-valid JSON (punctuation, numbers, other documents) as is.
    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// Appends already-valid JSON bytes as is.
    mutating func raw(_ json: some Collection<UInt8>) { bytes.append(contentsOf: json) }

    /// Appends `text` as a JSON string: quotes, backslashes and control characters escaped
    /// (`\"`, `\\`, `\n`, `\u001f`, …); everything else, non-ASCII included, as UTF-8.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20, 0x7F:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0x0F)])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
