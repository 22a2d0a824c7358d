import Testing
@testable import WeftServer

@Suite("Result cache entries")
struct CachedOutputTests {
    @Test("outputs round-trip; repetitive ones are stored compressed, tiny ones raw")
    func roundTrip() throws {
        let repetitive = Array(String(repeating: #"{"page":"hello world"},"#, count: 500).utf8)
        let entry = try #require(CachedOutput.encode(repetitive, limit: 1 << 20))
        #expect(entry.first == 1 && entry.count < repetitive.count / 10, "\(entry.count) bytes for \(repetitive.count)")
        #expect(CachedOutput.decode(entry) == repetitive)
        let tiny = Array(#"{"ok":true}"#.utf8)
        let raw = try #require(CachedOutput.encode(tiny, limit: 100))
        #expect(raw == [0] + tiny)
        #expect(CachedOutput.decode(raw) == tiny)
        #expect(CachedOutput.decode(try #require(CachedOutput.encode([], limit: 10))) == [])
    }

    @Test("an output over the entry limit even compressed is not cached")
    func tooLarge() {
        var random = SystemRandomNumberGenerator()
        let noise = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) }
        #expect(CachedOutput.encode(noise, limit: 1024) == nil)
        #expect(CachedOutput.encode(Array(repeating: 7, count: 4096), limit: 1024) != nil, "compressible: fits")
    }

    @Test("whatever Redis holds that is not an entry decodes to nothing: no crash, no huge allocation")
    func hostileEntries() {
        #expect(CachedOutput.decode([]) == nil)
        #expect(CachedOutput.decode([7, 1, 2]) == nil)
        #expect(CachedOutput.decode([1, 0, 0]) == nil)
        #expect(CachedOutput.decode([1, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]) == nil, "claims 4 GiB")
        #expect(CachedOutput.decode([1, 0, 0, 0, 10, 1, 2, 3]) == nil, "not a deflate stream")
        var entry = CachedOutput.encode(Array(repeating: 65, count: 1000), limit: 1 << 20)!
        entry[4] &+= 1  // the length no longer matches
        #expect(CachedOutput.decode(entry) == nil)
    }
}
