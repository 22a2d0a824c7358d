import Foundation
import Testing
@testable import WeftEngine

@Suite("JSONPayload")
struct JSONPayloadTests {
    static func split(_ text: String, maxElements: Int = .max) throws(JSONPayloadError) -> [String] {
        try JSONPayload.splitArray(Array(text.utf8), maxElements: maxElements).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test("arrays split into their elements' exact bytes")
    func splitArray_valid_elements() throws {
        #expect(try Self.split("[]") == [])
        #expect(try Self.split(" \n[ ]\t") == [])
        #expect(try Self.split("[1]") == ["1"])
        #expect(try Self.split(#"[ 1 , -2.5e+3, "a,]\"b\\", true,false, null ,{"k":[1,{"x":"}"}]},[[],{}] ]"#) == [
            "1", "-2.5e+3", #""a,]\"b\\""#, "true", "false", "null", #"{"k":[1,{"x":"}"}]}"#, "[[],{}]",
        ])
        #expect(try Self.split(#"["\u00e9\n", 0, 0.5, 1E9]"#) == [#""\u00e9\n""#, "0", "0.5", "1E9"])
        #expect(try Self.split("[\"é😀\"]") == ["\"é😀\""])
    }

    @Test("anything but one JSON array is rejected with the offset")
    func splitArray_invalid_throws() {
        let bad = [
            "", "   ", "{}", "1", "\"[1]\"", "[", "[1", "[1,]", "[,1]", "[1 2]", "[1] [2]", "[01]", "[1.]", "[.5]", "[-]",
            "[1e]", "[tru]", "[nul]", "[\"a]", "[\"\\x\"]", "[\"\\u12g4\"]", "[\"a\nb\"]", "[{1:2}]", "[{\"a\" 1}]",
            "[{\"a\":1,}]", "[{\"a\":1]", "[[1}]", "[+1]", "[NaN]",
        ]
        for text in bad {
            #expect(throws: JSONPayloadError.self, "\(text.debugDescription)") { try Self.split(text) }
        }
        do {
            _ = try Self.split("[1, 2 x]")
            Issue.record("accepted")
        } catch {
            #expect(error.code == .malformed)
            #expect(error.offset == 6)
            #expect(error.description == "expected ',' or ']' at byte 6")
        }
    }

    @Test("more elements than allowed are rejected without scanning the rest")
    func splitArray_tooMany_throws() throws {
        #expect(try Self.split("[1,2,3]", maxElements: 3).count == 3)
        do {
            _ = try Self.split("[1,2,3,this is not even json", maxElements: 3)
            Issue.record("accepted")
        } catch {
            #expect(error.code == .tooManyElements)
        }
    }

    @Test("deep nesting is handled iteratively")
    func splitArray_deepNesting_noStackOverflow() throws {
        let depth = 200_000
        let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(try Self.split("[\(nested)]").count == 1)
        #expect(throws: JSONPayloadError.self) { try Self.split("[" + String(repeating: "[", count: depth) + "]") }
    }

    @Test("combined payloads are valid JSON, with empty outputs as null")
    func combine_objectAndArray_validJSON() throws {
        let object = JSONPayload.object([(key: "b\"", value: Array("[1]".utf8)), (key: "a", value: [])])
        #expect(String(decoding: object, as: UTF8.self) == #"{"b\"":[1],"a":null}"#)
        #expect(try JSONSerialization.jsonObject(with: Data(object)) is [String: Any])
        #expect(String(decoding: JSONPayload.array([Array("1".utf8), [], Array("{}".utf8)]), as: UTF8.self) == "[1,null,{}]")
        #expect(JSONPayload.array([]) == Array("[]".utf8))
        #expect(JSONPayload.object([]) == Array("{}".utf8))
    }
}
