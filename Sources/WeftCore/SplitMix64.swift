/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, seedable generator. Pure state machines (a
/// run's, SWIM membership) keep one as part of their value, so their choices (backoff jitter,
/// probe order) are random across instances yet every one is reproducible from its seed — a
/// machine never calls the system's generator.
public struct SplitMix64: RandomNumberGenerator, Hashable, Sendable {
    /// The whole state: the next output is a function of it alone.
    public var state: UInt64

    public init(seed: UInt64) { self.state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)` with 53 random bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}
