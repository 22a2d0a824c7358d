import Foundation
import WeftCLISupport

/// Latency samples in milliseconds and their percentiles (nearest rank).
struct BenchSamples: Sendable {
    private(set) var sorted: [Double]

    init(_ milliseconds: [Double]) {
        sorted = milliseconds.sorted()
    }

    var count: Int { sorted.count }
    var isEmpty: Bool { sorted.isEmpty }

    /// The nearest-rank percentile `p` (0…1); nil without samples.
    func percentile(_ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[Swift.min(sorted.count - 1, Swift.max(0, rank - 1))]
    }

    var p50: Double? { percentile(0.50) }
    var p99: Double? { percentile(0.99) }
    var max: Double? { sorted.last }
    var min: Double? { sorted.first }
    var mean: Double? { sorted.isEmpty ? nil : sorted.reduce(0, +) / Double(sorted.count) }
}

/// One JSON object with keys in insertion order, printed on one line.
struct BenchJSON {
    private var fields: [(String, String)] = []

    mutating func add(_ key: String, _ value: String) { fields.append((key, jsonString(value))) }
    mutating func add(_ key: String, _ value: Int) { fields.append((key, String(value))) }
    /// A number with `digits` decimals, or `null`.
    mutating func add(_ key: String, _ value: Double?, digits: Int = 3) {
        fields.append((key, value.map { $0.isFinite ? String(format: "%.\(digits)f", $0) : "null" } ?? "null"))
    }

    /// Appends `other`'s fields.
    mutating func append(_ other: BenchJSON) { fields += other.fields }

    var line: String {
        "{" + fields.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }
}

enum BenchFormat {
    /// `1.234 ms`, or `-` without a value.
    /// Microseconds, from a value in milliseconds.
    static func us(_ milliseconds: Double?) -> String {
        milliseconds.map { String(format: "%.0f µs", $0 * 1_000) } ?? "-"
    }

    static func ms(_ value: Double?) -> String {
        value.map { String(format: "%.2f ms", $0) } ?? "-"
    }

    static func seconds(_ value: Double?) -> String {
        value.map { String(format: "%.3f s", $0) } ?? "-"
    }

    static func rate(_ value: Double?) -> String {
        value.map { String(Int($0.rounded())) } ?? "-"
    }
}

extension Duration {
    /// The duration in (fractional) milliseconds.
    var milliseconds: Double { Double(components.seconds) * 1_000 + Double(components.attoseconds) / 1e15 }
    /// The duration in (fractional) seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Writes progress lines to stderr every `interval` while a long scenario runs.
enum BenchProgress {
    /// Runs `body` while a reporter task prints `line()` to stderr every `interval`.
    static func reporting<Result: Sendable>(
        every interval: Duration = .seconds(5), _ line: @escaping @Sendable () -> String,
        _ body: () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask {
                while true {
                    try await Task.sleep(for: interval)  // throws when cancelled: the scenario is over
                    writeToStandardError(line() + "\n")
                }
            }
            defer { group.cancelAll() }
            return try await body()
        }
    }
}
