import WeftCore

/// Durations in definition files: parsed with `DurationText` (`500ms`, `30s`, `5m`, `1m30s`) and
/// written in one exact spelling.
enum DurationCoding {
    /// The largest duration accepted from text, in seconds: well below `Int64.max` nanoseconds
    /// (≈ 9.22e9 s), because `DurationText.parse` traps when a number overflows `Int64`
    /// nanoseconds; text is checked here before it gets there.
    /// Why a duration string was rejected, for humans.
    struct Failure: Error {
        var message: String
    }

    /// Parses `text`, rejecting values too large for `DurationText` to represent.
    static func parse(_ text: String) throws(Failure) -> Duration {
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
}
