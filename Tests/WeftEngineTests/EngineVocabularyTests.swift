import Testing
import WeftCore
@testable import WeftEngine

@Suite("Engine vocabulary")
struct EngineVocabularyTests {
    @Test("node keys print and parse as name or name[index]")
    func nodeKey_textRoundTrip() {
        #expect(NodeKey("shard").description == "shard")
        #expect(NodeKey("shard", index: 12).description == "shard[12]")
        #expect(NodeKey(parsing: "shard[12]") == NodeKey("shard", index: 12))
        #expect(NodeKey(parsing: "shard[0]") == NodeKey("shard", index: 0))
        #expect(NodeKey(parsing: "extract") == NodeKey("extract"))
        for bad in ["", "[1]", "a[]", "a[01]", "a[-1]", "a[x]", "a[1", "a]1[", "a[1][2]", "a[9999999999]"] {
            #expect(NodeKey(parsing: bad) == nil, "\(bad)")
        }
        #expect(NodeKey("a") < NodeKey("a", index: 0) && NodeKey("a", index: 2) < NodeKey("a", index: 10) && NodeKey("a", index: 5) < NodeKey("b"))
    }

    @Test("instants advance by durations rounded up to whole milliseconds, saturating")
    func engineInstant_advanced_roundsUpAndSaturates() {
        let t = EngineInstant(unixMilliseconds: 1_000)
        #expect(t.advanced(by: .seconds(2)) == EngineInstant(unixMilliseconds: 3_000))
        #expect(t.advanced(by: .microseconds(1)) == EngineInstant(unixMilliseconds: 1_001))
        #expect(t.advanced(by: .nanoseconds(1_999_999)) == EngineInstant(unixMilliseconds: 1_002))
        #expect(t.advanced(by: .zero) == t)
        #expect(t.advanced(by: .seconds(-5)) == t)
        #expect(EngineInstant(unixMilliseconds: .max - 1).advanced(by: .seconds(1)) == EngineInstant(unixMilliseconds: .max))
        #expect(t.advanced(by: .seconds(Int64.max)) == EngineInstant(unixMilliseconds: .max))
        #expect(t.duration(to: EngineInstant(unixMilliseconds: 1_250)) == .milliseconds(250))
    }

    @Test("priorities order critical above high above normal above low")
    func taskPriority_ordering() {
        #expect(TaskPriority.allCases.sorted() == [.low, .normal, .high, .critical])
        #expect(TaskPriority.critical > .high && TaskPriority.normal > .low)
    }

    @Test("the generator is deterministic per seed and its unit values stay in [0, 1)")
    func splitMix_deterministicAndInRange() {
        var a = SplitMix64(seed: 3)
        var b = SplitMix64(seed: 3)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        var c = SplitMix64(seed: 0)
        #expect(c.next() == 0xE220_A839_7B1D_CDAF)  // SplitMix64 reference output for seed 0
        for _ in 0..<10_000 {
            let unit = a.nextUnit()
            #expect(unit >= 0 && unit < 1)
        }
    }
}
