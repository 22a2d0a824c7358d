import Testing
import WeftCore
@testable import WeftWire

@Suite("FrameDecoder")
struct FrameDecoderTests {
    private func frame(_ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        FrameHeader.appendFrame(body: body, to: &out)
        return out
    }

    private func sampleFrames() -> [[UInt8]] {
        (0..<20).map { i in (0..<(i * 37 % 300)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) } }
    }

    @Test("frames fed one byte at a time come out whole and in order")
    func feed_byteByByte_reassemblesFrames() throws {
        let bodies = sampleFrames()
        let stream = bodies.flatMap(frame)
        var decoder = FrameDecoder()
        var out: [[UInt8]] = []
        for byte in stream { out += try decoder.feed([byte]) }
        #expect(out == bodies)
        #expect(decoder.bufferedBytes == 0)
    }

    @Test("many frames merged into one read are all returned")
    func feed_mergedChunk_returnsAllFrames() throws {
        let bodies = sampleFrames()
        var decoder = FrameDecoder()
        #expect(try decoder.feed(bodies.flatMap(frame)) == bodies)
    }

    @Test("frames split at every possible boundary reassemble")
    func feed_everySplitPoint_reassembles() throws {
        let bodies = Array(sampleFrames().prefix(4))
        let stream = bodies.flatMap(frame)
        for split in 0...stream.count {
            var decoder = FrameDecoder()
            let out = try decoder.feed(stream[..<split]) + decoder.feed(stream[split...])
            #expect(out == bodies, "split at \(split)")
        }
    }

    @Test("a length header over the limit fails before the body arrives")
    func feed_oversizeHeader_throwsFrameTooLarge() throws {
        var decoder = FrameDecoder(configuration: .init(maxFrameBytes: 1024))
        let header: [UInt8] = [0x00, 0x00, 0x04, 0x01]  // 1025
        #expect(throws: WireError.self) { _ = try decoder.feed(header) }
        do {
            _ = try decoder.feed([1, 2, 3])
            Issue.record("a failed decoder must stay failed")
        } catch {
            #expect(error.code == .frameTooLarge)
            #expect(error.description.contains("1025"))
        }
        #expect(decoder.bufferedBytes == 0)
    }

    @Test("a 4 GiB length header is rejected without allocating")
    func feed_hugeHeader_rejected() {
        var decoder = FrameDecoder()
        #expect(throws: WireError.self) { _ = try decoder.feed([0xFF, 0xFF, 0xFF, 0xFF]) }
    }

    @Test("frames before a bad header are still delivered")
    func decodeFrames_goodThenBad_deliversGoodFirst() {
        var decoder = FrameDecoder(configuration: .init(maxFrameBytes: 16))
        decoder.append(contentsOf: frame([1, 2, 3]) + [0, 0, 1, 0])
        var seen: [[UInt8]] = []
        #expect(throws: WireError.self) { try decoder.decodeFrames { seen.append(Array($0)) } }
        #expect(seen == [[1, 2, 3]])
    }

    @Test("a zero-length frame is a valid empty envelope")
    func feed_zeroLength_returnsEmptyFrame() throws {
        var decoder = FrameDecoder()
        #expect(try decoder.feed([0, 0, 0, 0]) == [[]])
    }
}
