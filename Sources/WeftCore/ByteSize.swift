/// Sizes as people write them in flags: `512MiB`, `2GiB`, `1.5G`, `800000000` (bytes). Binary
/// suffixes (`KiB` `MiB` `GiB` `TiB`, and `K` `M` `G` `T` taken as the same) multiply by 1024ⁿ;
/// decimal ones (`kB` `MB` `GB` `TB`) by 1000ⁿ; a `B` suffix or none means bytes.
public enum ByteSize {
    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The most a size may be: 1 PiB (far beyond any machine, far from overflow).
    public static let max = 1 << 50

    public static func parse(_ text: String) throws(ParseError) -> Int {
        let trimmed = text[...].trimmingWhitespace
        guard !trimmed.isEmpty else { throw ParseError(description: "an empty size: write e.g. 512MiB or 2GiB") }
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        let suffix = trimmed.dropFirst(digits.count).trimmingWhitespace
        guard let number = Double(digits), number.isFinite, number >= 0 else {
            throw ParseError(description: "\(MessageText.quoted(text)) is not a size: write e.g. 512MiB or 2GiB")
        }
        let multiplier: Double
        switch suffix.lowercased() {
        case "", "b": multiplier = 1
        case "k", "ki", "kib": multiplier = 1024
        case "m", "mi", "mib": multiplier = 1024 * 1024
        case "g", "gi", "gib": multiplier = 1024 * 1024 * 1024
        case "t", "ti", "tib": multiplier = 1024 * 1024 * 1024 * 1024
        case "kb": multiplier = 1e3
        case "mb": multiplier = 1e6
        case "gb": multiplier = 1e9
        case "tb": multiplier = 1e12
        default:
            throw ParseError(description: "\(MessageText.quoted(text)) has an unknown unit \(MessageText.quoted(String(suffix))): use B, KiB, MiB, GiB or TiB")
        }
        let bytes = number * multiplier
        guard bytes <= Double(Self.max) else { throw ParseError(description: "\(MessageText.quoted(text)) is more than 1 PiB") }
        guard bytes >= 1 else { throw ParseError(description: "\(MessageText.quoted(text)) is less than one byte") }
        return Int(bytes)
    }

    /// `1.5 GiB`, `300 MiB`, `12 KiB`, `80 B`.
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let rounded = (value * 10).rounded() / 10
        let text = rounded == rounded.rounded() ? "\(Int(rounded))" : "\(rounded)"
        return "\(text) \(units[unit])"
    }
}

extension Substring {
    fileprivate var trimmingWhitespace: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? start
        return self[start..<end]
    }
}
