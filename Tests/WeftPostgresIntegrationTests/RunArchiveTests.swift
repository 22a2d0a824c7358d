import Testing
@testable import WeftPostgres

@Suite("Run archive format")
struct RunArchiveTests {
    @Test("months are YYYY-MM, December rolls into January; anything else is refused")
    func monthBounds() throws {
        let december = try RunArchive.monthBounds("2026-12")
        #expect(december.from == "2026-12-01 00:00:00+00" && december.to == "2027-01-01 00:00:00+00")
        let march = try RunArchive.monthBounds("2026-03")
        #expect(march.from == "2026-03-01 00:00:00+00" && march.to == "2026-04-01 00:00:00+00")
        for bad in ["2026-13", "2026-00", "26-11", "2026-1", "2026/11", "2026-11-01", "'; DROP TABLE runs; --", ""] {
            #expect(throws: StoreError.self, "\(bad)") { try RunArchive.monthBounds(bad) }
        }
    }

    @Test("COPY text escaping round-trips backslashes, newlines, tabs and carriage returns")
    func escaping() {
        let value = Array(#"{"a":"x\\y\"z"}"#.utf8) + [0x0A, 0x09, 0x0D, 0x5C]
        #expect(RunArchive.unescaped(RunArchive.escaped(value)) == value)
        #expect(RunArchive.unescaped(Array(#"{"a":"b\\\\c"}"#.utf8) + [0x0A]) == Array(#"{"a":"b\\c"}"#.utf8))
    }
}
