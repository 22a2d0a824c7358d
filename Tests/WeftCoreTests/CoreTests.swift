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
