import Testing
import WeftCore

@Suite("StableHash and RunID")
struct StableHashTests {
    @Test("xxh64 matches the reference vectors")
    func xxh64_referenceVectors() {
        #expect(StableHash.xxh64("") == 0xEF46_DB37_51D8_E999)
        #expect(StableHash.xxh64("a") == 0xD24E_C4F1_A98C_6E5B)
        #expect(StableHash.xxh64("abc") == 0x44BC_2CF5_AD77_0999)
        #expect(StableHash.xxh64("Nobody inspects the spammish repetition") == 0xFBCE_A83C_8A37_8BF1)
        #expect(StableHash.xxh64("xxhash") == 0x32DD_3895_2C4B_C720)
        #expect(StableHash.xxh64("partition-7") == 0x1F5F_569D_F965_9D41)
        #expect(StableHash.xxh64(Array(0..<100) as [UInt8]) == 0x6AC1_E580_3216_6597)  // > 32 bytes: the 4-lane path
        #expect(StableHash.xxh64("abc", seed: 1) == 0xBEA9_CA81_9932_8908)
    }

    @Test("xxh64 of long inputs agrees between byte arrays and strings")
    func xxh64_longInputs_consistent() {
        let text = String(repeating: "weft-partition-", count: 20)
        #expect(StableHash.xxh64(text) == StableHash.xxh64(Array(text.utf8)))
        #expect(StableHash.xxh64(text) != StableHash.xxh64(text + "x"))
    }

    @Test("run ids are UUIDv7: time-ordered, round-trip through text, fixed partition")
    func runID_uuidv7() throws {
        var rng = SplitMix64(seed: 42)
        let a = RunID(unixMilliseconds: 1_700_000_000_000, using: &rng)
        let b = RunID(unixMilliseconds: 1_700_000_000_001, using: &rng)
        #expect(a < b)
        #expect(a.unixMilliseconds == 1_700_000_000_000)
        #expect(a.bytes[6] >> 4 == 7)
        #expect(a.bytes[8] >> 6 == 2)
        #expect(try RunID(parsing: a.description) == a)
        #expect(a.partition(count: 256) == a.partition(count: 256))
        #expect((0..<256).contains(a.partition(count: 256).rawValue))
        #expect(throws: IdentifierError.self) { _ = try RunID(parsing: "not-a-uuid") }
        #expect(throws: IdentifierError.self) { _ = try RunID(parsing: "550e8400-e29b-41d4-a716-446655440000") }  // v4
    }
}

/// A tiny seeded generator for tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
