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

@Suite("Byte sizes")
struct ByteSizeTests {
    @Test("sizes parse with binary and decimal units; nonsense, zero and more than 1 PiB are refused")
    func parse() throws {
        #expect(try ByteSize.parse("512MiB") == 512 << 20)
        #expect(try ByteSize.parse("2G") == 2 << 30)
        #expect(try ByteSize.parse("1.5 GiB") == 3 << 29)
        #expect(try ByteSize.parse("800000000") == 800_000_000)
        #expect(try ByteSize.parse("3MB") == 3_000_000)
        #expect(try ByteSize.parse(" 10kib ") == 10_240)
        for bad in ["", "MiB", "-1GiB", "12 parsecs", "0", "0.1", "2PiB", "1e9", "nan"] {
            #expect(throws: ByteSize.ParseError.self, "\(bad)") { try ByteSize.parse(bad) }
        }
    }

    @Test("sizes print in the largest binary unit, one decimal")
    func format() {
        #expect(ByteSize.format(80) == "80 B")
        #expect(ByteSize.format(12 << 10) == "12 KiB")
        #expect(ByteSize.format(3 << 29) == "1.5 GiB")
    }
}

@Suite("SHA-256 and HMAC-SHA256")
struct SHA256Tests {
    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    @Test("FIPS 180-4 vectors, and every length around the padding boundary agrees with sha256sum's digests")
    func sha256Vectors() {
        #expect(Self.hex(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Self.hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Fed in pieces, the same digest.
        var hasher = SHA256()
        for piece in ["ab", "c"] { hasher.update(Array(piece.utf8)) }
        #expect(Self.hex(hasher.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // 55, 56 and 64 bytes: one or two padding blocks.
        #expect(Self.hex(SHA256.hash([UInt8](repeating: 0x61, count: 55))) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        #expect(Self.hex(SHA256.hash([UInt8](repeating: 0x61, count: 56))) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        #expect(Self.hex(SHA256.hash([UInt8](repeating: 0x61, count: 64))) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }

    @Test("RFC 4231 HMAC-SHA256 vectors, a key longer than a block included")
    func hmacVectors() {
        let one = HMACSHA256(key: [UInt8](repeating: 0x0b, count: 20)).authenticationCode(for: Array("Hi There".utf8))
        #expect(Self.hex(one) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        let two = HMACSHA256(key: Array("Jefe".utf8)).authenticationCode(for: Array("what do ya want for nothing?".utf8))
        #expect(Self.hex(two) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let long = HMACSHA256(key: [UInt8](repeating: 0xaa, count: 131))
            .authenticationCode(for: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
        #expect(Self.hex(long) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }
}
