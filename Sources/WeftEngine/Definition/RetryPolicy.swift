/// What happens when an attempt of a task fails (ARCHITECTURE.md §4): how many attempts in all,
/// how long to wait between them, and which failures are never retried. File field `retry:
/// {max_attempts, initial_backoff, max_backoff, backoff_multiplier, non_retryable}`, every field
/// optional.
///
/// An attempt that failed is retried when all of these hold: the failure says it is retryable,
/// its kind is not in ``nonRetryable``, and fewer than ``maxAttempts`` attempts were made. The wait
/// before attempt `n + 1` is ``backoff(afterAttempt:randomUnit:)``.
public struct RetryPolicy: Hashable, Sendable {
    /// Attempts in all, the first included: 1 means never retry. Valid range 1…1000. Default 3.
    public var maxAttempts: Int
    /// The wait after the first failed attempt, before jitter. Must be positive. Default 1 s.
    public var initialBackoff: Duration
    /// The longest wait before jitter; at least ``initialBackoff``. Default 1 min.
    public var maxBackoff: Duration
    /// The factor by which the wait grows after each failed attempt; at least 1. Default 2.
    public var backoffMultiplier: Double
    /// Failure kinds (``TaskFailure/kind``) that are never retried, such as `BadInput`.
    public var nonRetryable: [String]

    /// The jitter applied to every wait: ±20 %, so that tasks that failed together do not retry
    /// together. A constant rather than a field: definition files have no place for it.
    public static let jitter = 0.2

    public init(
        maxAttempts: Int = 3,
        initialBackoff: Duration = .seconds(1),
        maxBackoff: Duration = .seconds(60),
        backoffMultiplier: Double = 2,
        nonRetryable: [String] = []
    ) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.backoffMultiplier = backoffMultiplier
        self.nonRetryable = nonRetryable
    }

    /// Whether attempt number `attempt` (1-based), which failed with `failure`, gets another try.
    public func allowsRetry(after failure: TaskFailure, attempt: Int) -> Bool {
        failure.retryable && attempt < maxAttempts && !nonRetryable.contains(failure.kind)
    }

    /// The wait before attempt `attempt + 1`, after attempt `attempt` (1-based) failed:
    /// `min(maxBackoff, initialBackoff × backoffMultiplier^(attempt − 1))`, then scaled by a factor in
    /// `[1 − jitter, 1 + jitter)` chosen by `randomUnit` (a uniform value in `[0, 1)`, injected so
    /// the machine stays deterministic). The jitter may take the wait up to 20 % past
    /// ``maxBackoff``. Never shorter than one nanosecond.
    public func backoff(afterAttempt attempt: Int, randomUnit: Double) -> Duration {
        precondition(attempt >= 1, "attempts are numbered from 1, got \(attempt)")
        precondition(randomUnit >= 0 && randomUnit < 1, "randomUnit must lie in [0, 1), got \(randomUnit)")
        let initial = Self.nanoseconds(initialBackoff)
        let ceiling = Self.nanoseconds(maxBackoff)
        // Grows to +infinity rather than overflowing for large attempt numbers; `min` then clamps.
        let grown = initial * pow(backoffMultiplier, attempt - 1)
        let base = min(ceiling, grown)
        let factor = 1 + Self.jitter * (2 * randomUnit - 1)
        let jittered = (base * factor).rounded()
        let clamped = min(max(jittered, 1), Double(Int64.max))
        return .nanoseconds(Int64(clamped))
    }

    static func nanoseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    }

    /// `base^exponent` by squaring; `exponent ≥ 0`. Foundation-free.
    private func pow(_ base: Double, _ exponent: Int) -> Double {
        var result = 1.0
        var factor = base
        var remaining = exponent
        while remaining > 0 {
            if remaining & 1 == 1 { result *= factor }
            factor *= factor
            remaining >>= 1
            if result.isInfinite { break }
        }
        return result
    }
}
