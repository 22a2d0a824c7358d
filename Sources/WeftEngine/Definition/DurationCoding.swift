import WeftCore

/// Durations in definition files: parsed with `DurationText` (`500ms`, `30s`, `5m`, `1m30s`) and
/// written in one exact spelling.
enum DurationCoding {
    /// The largest duration accepted from text, in seconds: well below `Int64.max` nanoseconds
    /// (≈ 9.22e9 s), because `DurationText.parse` traps when a number overflows `Int64`
    /// nanoseconds; text is checked here before it gets there.
    static let maxParsableSeconds = 9e9

    /// Why a duration string was rejected, for humans.
    struct Failure: Error {
        var message: String
    }

    /// Parses `text`, rejecting values too large for `DurationText` to represent.
    static func parse(_ text: String) throws(Failure) -> Duration {
        if let tooLarge = overflowMessage(text) { throw Failure(message: tooLarge) }
        do {
            return try DurationText.parse(text)
        } catch {
            throw Failure(message: error.description)
        }
    }

    /// Decodes the optional duration under `key`, with errors that name the field.
    static func decode<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, forKey key: Key) throws -> Duration? {
        guard container.contains(key) else { return nil }
        if try container.decodeNil(forKey: key) { return nil }
        let text: String
        do {
            text = try container.decode(String.self, forKey: key)
        } catch DecodingError.typeMismatch {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container,
                debugDescription: "\(key.stringValue) must be a duration string with a unit, such as \"500ms\", \"30s\" or \"5m\""
            )
        }
        do {
            return try parse(text)
        } catch {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "\(key.stringValue): \(error.message)")
        }
    }

    /// The exact spelling in the largest unit that divides the duration: `2h`, `5m`, `90s`, `250ms`,
    /// `1500us`, `7ns`, `0s`. Unlike `DurationText.format`, which rounds to three decimals, this
    /// never loses precision (down to nanoseconds), so encoding then decoding gives the same value
    /// and equal durations always print alike (the canonical encoding depends on it).
    static func format(_ duration: Duration) -> String {
        if duration < .zero { return "-" + format(.zero - duration) }
        let (seconds, attoseconds) = duration.components
        let nanoseconds = attoseconds / 1_000_000_000
        if nanoseconds == 0 {
            if seconds == 0 { return "0s" }
            if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
            if seconds % 60 == 0 { return "\(seconds / 60)m" }
            return "\(seconds)s"
        }
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return "\(seconds)s" }
        let total = scaled + nanoseconds
        if total % 1_000_000 == 0 { return "\(total / 1_000_000)ms" }
        if total % 1_000 == 0 { return "\(total / 1_000)us" }
        return "\(total)ns"
    }

    /// Mirrors `DurationText.parse`'s tokens to add up the value in seconds; a message when it is too
    /// large, `nil` otherwise (including malformed text, which `DurationText` then reports).
    private static func overflowMessage(_ text: String) -> String? {
        var rest = text.drop { $0.isWhitespace }
        while let last = rest.last, last.isWhitespace { rest = rest.dropLast() }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter || $0 == "µ" }
            rest = rest.dropFirst(unit.count)
            let factor: Double
            switch unit {
            case "ns": factor = 1e-9
            case "us", "µs": factor = 1e-6
            case "ms": factor = 1e-3
            case "s": factor = 1
            case "m": factor = 60
            case "h": factor = 3600
            case "d": factor = 86_400
            default: return nil
            }
            total += value * factor
            if !(total <= maxParsableSeconds) {
                return "duration '\(text)' is too large (the longest is about 285 years; definitions allow far less)"
            }
        }
        return nil
    }
}
