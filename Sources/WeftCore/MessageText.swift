/// Text that came from a peer, made safe to put in an error message or a log line: control
/// characters are escaped (a NUL would end the message early in every C string on the way; a
/// newline would forge a log line) and long values are cut, saying how much was left out — a
/// 1 MB workflow name must not come back as a 1 MB error.
public enum MessageText {
    /// `'text'` with control characters escaped (`\n`, `\u{0}`) and at most `limit` characters
    /// of `text` kept.
    public static func quoted(_ text: String, limit: Int = 80) -> String {
        "'\(escaped(text, limit: limit))'"
    }

    /// `text` with control characters escaped and at most `limit` Unicode scalars kept (the rest
    /// is replaced by `… (N more characters)`). Counted in scalars, not `Character`s: one
    /// grapheme cluster may carry any number of combining scalars, so a character limit would not
    /// bound the output. The result is at most `6 × limit` characters plus the suffix.
    public static func escaped(_ text: String, limit: Int = 80) -> String {
        var out = ""
        var kept = 0
        var total = 0
        for scalar in text.unicodeScalars {
            total += 1
            guard kept < limit else { continue }
            kept += 1
            switch scalar.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x00..<0x20, 0x7F: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        if total > kept { out += "… (\(total - kept) more characters)" }
        return out
    }

    /// A whole status message made safe for the wire: NUL escaped (protobuf-c strings end at a
    /// NUL) and at most `limit` UTF-8 bytes kept. Other characters are left as they are: the
    /// message is the server's own text, with peer values already quoted.
    public static func statusMessage(_ message: String, limit: Int = 16 << 10) -> String {
        var text = message
        if text.utf8.contains(0) { text = text.replacingAll("\u{0}", with: "\\u{0}") }
        guard text.utf8.count > limit else { return text }
        var cut = text.utf8.prefix(limit)
        while let last = cut.last, last & 0xC0 == 0x80 { cut = cut.dropLast() }  // whole characters only
        if let last = cut.last, last >= 0xC0 { cut = cut.dropLast() }
        return String(decoding: cut, as: UTF8.self) + "… (\(text.utf8.count - cut.count) more bytes)"
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for character in self {
            if character == target { out += replacement } else { out.append(character) }
        }
        return out
    }
}
