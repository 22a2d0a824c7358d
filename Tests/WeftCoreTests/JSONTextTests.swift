import Foundation
import Testing
import WeftCore

@Suite("JSONText")
struct JSONTextTests {
    @Test("quoted strings are valid JSON that reads back as the same text")
    func quoted_roundTrips() throws {
        for text in ["", "plain", "quote \" backslash \\ slash /", "line\nreturn\rtab\t", "\u{0}\u{1}\u{1f}", "é ✓ 🧵", "\u{7f}"] {
            let quoted = JSONText.quoted(text)
            let back = try JSONDecoder().decode(String.self, from: Data(quoted.utf8))
            #expect(back == text, "\(quoted)")
        }
        #expect(JSONText.quoted("a\u{1}b") == #""a\u0001b""#)
    }
}
