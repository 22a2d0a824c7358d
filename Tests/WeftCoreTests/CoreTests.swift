import Testing
import WeftCore

@Suite("Core vocabulary")
struct CoreTests {
    @Test("status codes carry gRPC's numbers and names")
    func statusCode_numbersMatchGRPC() {
        #expect(StatusCode.ok.rawValue == 0)
        #expect(StatusCode.deadlineExceeded.rawValue == 4)
        #expect(StatusCode.failedPrecondition.rawValue == 9)
        #expect(StatusCode.unimplemented.rawValue == 12)
        #expect(StatusCode.unauthenticated.rawValue == 16)
        #expect(StatusCode.unauthenticated.name == "UNAUTHENTICATED")
        #expect(StatusCode(rawValue: 99).name == "CODE(99)")
    }

    @Test("endpoints parse host:port, bracketed IPv6 and reject nonsense")
    func endpoint_parsing() throws {
        #expect(try Endpoint(parsing: "127.0.0.1:7400") == Endpoint(host: "127.0.0.1", port: 7400))
        #expect(try Endpoint(parsing: "[::1]:80") == Endpoint(host: "::1", port: 80))
        #expect(try Endpoint(parsing: "weft-coordinator:7400").host == "weft-coordinator")
        for bad in ["", "host", ":80", "host:99999", "host:x", "::1:80", "[::1]80"] {
            #expect(throws: EndpointError.self, "\(bad)") { _ = try Endpoint(parsing: bad) }
        }
    }

    @Test("constant-time comparison agrees with equality")
    func constantTime_equals() {
        #expect(ConstantTime.equals(Array("secret".utf8), Array("secret".utf8)))
        #expect(!ConstantTime.equals(Array("secret".utf8), Array("secreT".utf8)))
        #expect(!ConstantTime.equals(Array("secret".utf8), Array("secret2".utf8)))
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
        #expect(!ConstantTime.equals([UInt8](), [0]))
    }
}

@Suite("DurationText")
struct DurationTextTests {
    @Test("durations parse in every unit and in combinations")
    func parse_units() throws {
        #expect(try DurationText.parse("500ms") == .milliseconds(500))
        #expect(try DurationText.parse("30s") == .seconds(30))
        #expect(try DurationText.parse("5m") == .seconds(300))
        #expect(try DurationText.parse("1h") == .seconds(3600))
        #expect(try DurationText.parse("1m30s") == .seconds(90))
        #expect(try DurationText.parse("1.5s") == .milliseconds(1500))
        #expect(try DurationText.parse("750us") == .microseconds(750))
    }

    @Test("nonsense durations are rejected with the accepted units")
    func parse_invalid_throws() {
        for bad in ["", "5", "ms", "5 parsecs", "-1s", "1.2.3s", "99999999999999999999d"] {
            #expect(throws: DurationTextError.self, "\(bad)") { _ = try DurationText.parse(bad) }
        }
    }

    @Test("formatting picks the largest fitting unit")
    func format_units() {
        #expect(DurationText.format(.milliseconds(1500)) == "1.5s")
        #expect(DurationText.format(.milliseconds(250)) == "250ms")
        #expect(DurationText.format(.seconds(120)) == "2m")
    }
}

@Suite("MessageText")
struct MessageTextTests {
    @Test("control characters are escaped; ordinary text is kept")
    func quoted_escapesControls() {
        #expect(MessageText.quoted("a\nb\u{0}c\td\u{1b}") == #"'a\nb\u{0}c\td\u{1b}'"#)
        #expect(MessageText.quoted("héllo ✓") == "'héllo ✓'")
    }

    @Test("long values are cut, saying how much was left out")
    func quoted_cutsLongValues() {
        let quoted = MessageText.quoted(String(repeating: "x", count: 1_000), limit: 10)
        #expect(quoted == "'xxxxxxxxxx… (990 more characters)'")
    }

    @Test("one character with ten thousand combining marks is still cut (found by fuzzing)")
    func quoted_boundsGraphemeClusters() {
        let zalgo = "a" + String(repeating: "\u{301}", count: 10_000)
        #expect(zalgo.count == 1)
        #expect(MessageText.quoted(zalgo).unicodeScalars.count < 200)
        let escapes = String(repeating: "\u{1b}", count: 10_000)
        #expect(MessageText.quoted(escapes).unicodeScalars.count <= 6 * 80 + 48)
    }

    @Test("status messages lose their NULs and are cut on a character boundary")
    func statusMessage_isWireSafe() {
        #expect(MessageText.statusMessage("a\u{0}b") == #"a\u{0}b"#)
        let cut = MessageText.statusMessage(String(repeating: "é", count: 100), limit: 11)
        #expect(cut.hasPrefix("ééééé…"))
        #expect(cut.hasSuffix("(190 more bytes)"))
    }
}
