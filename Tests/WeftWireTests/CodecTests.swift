import Testing
import WeftCore
@testable import WeftWire

@Suite("Codec")
struct CodecTests {
    @Test("an envelope survives a round trip through a frame")
    func envelope_roundTrip_preservesEveryField() throws {
        let envelope = Envelope(
            callID: 1 << 40, kind: .response, method: "weft.api.v1.Health/Check", deadlineMilliseconds: 1500,
            status: .failedPrecondition, statusMessage: "not the owner — ünïcode", metadata: ["weft-owner": "10.0.0.1:7400", "b": ""],
            payload: Array(0...255))
        var frame: [UInt8] = []
        envelope.appendFrame(to: &frame)
        var decoder = FrameDecoder()
        let bodies = try decoder.feed(frame)
        #expect(bodies.count == 1)
        #expect(try Envelope(serializedBytes: bodies[0]) == envelope)
        #expect(try Envelope(serializedBytes: envelope.serializedBytes()) == envelope)
    }

    @Test("garbage bytes are a malformed message, not a crash")
    func envelope_garbage_throwsMalformed() {
        #expect(throws: WireError.self) { _ = try Envelope(serializedBytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) }
    }

    @Test("an unknown envelope kind is rejected")
    func envelope_unknownKind_throwsInvalidField() throws {
        // field 2 (kind), varint 9
        do {
            _ = try Envelope(serializedBytes: [0x10, 0x09])
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidField)
        }
    }

    @Test("hello and its ack round trip")
    func hello_roundTrip() throws {
        let hello = Hello(protocolVersions: 1...3, cluster: "prod", role: .worker, nodeID: "w-1", authToken: [0, 1, 2, 0])
        #expect(try Hello(serializedBytes: hello.serializedBytes()) == hello)
        let ack = HelloAck(protocolVersion: 1, cluster: "prod", role: .coordinator, nodeID: "c-1")
        #expect(try HelloAck(serializedBytes: ack.serializedBytes()) == ack)
    }

    @Test("a hello with an inverted version range is rejected")
    func hello_invertedRange_rejected() throws {
        // protocol_version_min = 3, protocol_version_max = 1, role = client
        #expect(throws: WireError.self) { _ = try Hello(serializedBytes: [0x08, 0x03, 0x10, 0x01, 0x20, 0x01]) }
    }

    @Test("health messages round trip")
    func health_roundTrip() throws {
        let response = HealthCheckResponse(status: .notServing, role: .coordinator, nodeID: "c", version: "0.1.0", uptimeMilliseconds: 42, message: "draining")
        #expect(try HealthCheckResponse(serializedBytes: response.serializedBytes()) == response)
        #expect(try HealthCheckRequest(serializedBytes: HealthCheckRequest(service: "x").serializedBytes()).service == "x")
    }
}
