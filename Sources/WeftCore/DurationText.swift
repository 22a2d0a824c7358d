/// Durations as operators write them: `250ms`, `30s`, `5m`, `1h`, `1m30s`, `1.5s`, `750us`, `0`
/// (ARCHITECTURE.md §4: definition files; §10: command-line flags).
public enum DurationText {
    /// Parses a duration; throws with the offending text and the accepted units.
    public static func parse(_ text: String) throws(DurationTextError) -> Duration {
        let trimmed = text.trimmingWhitespace
        guard !trimmed.isEmpty else { throw DurationTextError(text: text) }
        if trimmed == "0" { return .zero }  // zero needs no unit
        var total: Duration = .zero
        var rest = trimmed[...]
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number), value.isFinite else { throw DurationTextError(text: text) }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter || $0 == "µ" }
            rest = rest.dropFirst(unit.count)
            let seconds: Double
            switch unit {
            case "ns": seconds = 1e-9
            case "us", "µs": seconds = 1e-6
            case "ms": seconds = 1e-3
            case "s": seconds = 1
            case "m": seconds = 60
            case "h": seconds = 3600
            case "d": seconds = 86400
            default: throw DurationTextError(text: text)
            }
            let nanoseconds = (value * seconds * 1e9).rounded()
            // Beyond ~292 years an Int64 of nanoseconds overflows: refuse rather than trap.
            guard nanoseconds < 9.2e18 else {
                throw DurationTextError(text: text, reason: "is too large (the longest is about 292 years)")
            }
            total += .nanoseconds(Int64(nanoseconds))
        }
        return total
    }

    /// The shortest exact spelling in the largest fitting unit (`1.5s`, `250ms`, `2m`).
    public static func format(_ duration: Duration) -> String {
        let ns = Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
        func trim(_ v: Double) -> String {
            let s = String(format: v)
            return s
        }
        if ns >= 3_600e9 && ns.truncatingRemainder(dividingBy: 3_600e9) == 0 { return "\(Int(ns / 3_600e9))h" }
        if ns >= 60e9 && ns.truncatingRemainder(dividingBy: 60e9) == 0 { return "\(Int(ns / 60e9))m" }
        if ns >= 1e9 { return trim(ns / 1e9) + "s" }
        if ns >= 1e6 { return trim(ns / 1e6) + "ms" }
        if ns >= 1e3 { return trim(ns / 1e3) + "us" }
        return "\(Int(ns))ns"
    }
}

private extension String {
    init(format value: Double) {
        if value == value.rounded() {
            self = String(Int64(value))
        } else {
            var s = String((value * 1000).rounded() / 1000)
            if s.hasSuffix(".0") { s.removeLast(2) }
            self = s
        }
    }
}

public struct DurationTextError: Error, Hashable, Sendable, CustomStringConvertible {
    public var text: String
    public var reason: String

    public init(text: String, reason: String = "use a number with a unit, e.g. 500ms, 30s, 5m, 1h (units: ns, us, ms, s, m, h, d)") {
        self.text = text
        self.reason = reason
    }

    public var description: String { "invalid duration '\(text)': \(reason)" }
}
