// libFuzzer target for the frame decoder and envelope decoding (C-INTEROP.md "Fuzzing").
//
//   scripts/fuzz.sh 600          # build with -sanitize=fuzzer and fuzz for 10 minutes
//   weft-fuzz-frames FILE...     # without FUZZING: replay corpus files (scripts/test.sh does this)
//
// Every input is split into reads at positions taken from its first byte, fed to a FrameDecoder
// with a small limit, and every frame is decoded as an Envelope and as each API message. The whole
// input is also read as a gossip datagram (UDP: no framing), which must survive a round trip.
// Any crash, trap or sanitizer report is a bug; errors thrown for bad bytes are the expected outcome.
import WeftFuzzSupport
import WeftWire

#if canImport(Glibc)
import Glibc
#endif

@inline(never)
func fuzzOne(_ data: UnsafeRawBufferPointer) {
    guard !data.isEmpty else { return }
    if let packet = try? GossipPacket(serializedBytes: UnsafeRawBufferPointer(rebasing: data.dropFirst())) {
        let again = packet.serializedBytes().withUnsafeBytes { try? GossipPacket(serializedBytes: $0) }
        guard again == packet else { fatalError("gossip packet did not survive a round trip: \(packet)") }
    }
    let chunk = Int(data[0] % 17) + 1
    var decoder = FrameDecoder(configuration: .init(maxFrameBytes: 1 << 16))
    var offset = 1
    while offset < data.count {
        let end = min(offset + chunk, data.count)
        decoder.append(UnsafeRawBufferPointer(rebasing: data[offset..<end]))
        offset = end
        do {
            try decoder.decodeFrames { body in
                if let envelope = try? Envelope(serializedBytes: body) {
                    // Re-encoding what we decoded must give something that decodes to the same value.
                    var frame: [UInt8] = []
                    envelope.appendFrame(to: &frame)
                    var again = FrameDecoder()
                    guard let bodies = try? again.feed(frame), bodies.count == 1,
                          let decoded = try? Envelope(serializedBytes: bodies[0]), decoded == envelope
                    else { fatalError("envelope did not survive a round trip: \(envelope)") }
                }
                _ = try? Hello(serializedBytes: body)
                _ = try? HealthCheckRequest(serializedBytes: body)
                _ = try? HealthCheckResponse(serializedBytes: body)
                _ = try? WorkerMessage(serializedBytes: body)
                _ = try? SchedulerMessage(serializedBytes: body)
                _ = try? StartRunRequest(serializedBytes: body)
                _ = try? RunInfo(serializedBytes: body)
                _ = try? ListRunsResponse(serializedBytes: body)
            }
        } catch {
            return  // a rejected stream (oversized frame) ends the input, as it ends a connection
        }
    }
}

#if FUZZING
runFuzzDriver { data, size in
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
// Replay mode: each argument is a corpus file or a directory of them.
let replayed = CommandLine.arguments.dropFirst().reduce(0) { $0 + forEachFuzzInput($1, fuzzOne) }
print("replayed \(replayed) inputs without a crash")
#endif
