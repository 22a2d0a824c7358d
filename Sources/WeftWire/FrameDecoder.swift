/// Splits a byte stream into frames: a 4-byte big-endian length, then that many bytes of body
/// (ARCHITECTURE.md §3). Pure: no sockets, no clocks, so it is tested byte-by-byte and fuzzed.
///
/// States: `reading` → `failed` (terminal). A length header above `maxFrameBytes` fails the decoder
/// as soon as the 4 header bytes are in, before any buffer is sized for the body, so a peer cannot
/// make us allocate what it announces. Frames split across reads are reassembled; several frames in
/// one read are all returned. The buffer only ever holds bytes actually received.
public struct FrameDecoder: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// The largest frame body accepted, in bytes. Default 4 MiB (ARCHITECTURE.md §3). Larger
        /// payloads belong in Postgres or object storage, not in one RPC message.
        public var maxFrameBytes: Int

        public init(maxFrameBytes: Int = 4 * 1024 * 1024) {
            precondition(maxFrameBytes >= 0 && maxFrameBytes <= Int(UInt32.max), "maxFrameBytes out of range")
            self.maxFrameBytes = maxFrameBytes
        }
    }

    public let configuration: Configuration
    private var buffer: [UInt8] = []
    /// Index in `buffer` of the first byte not yet consumed.
    private var readIndex = 0
    private var failure: WireError?

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Bytes received but not yet returned as a frame.
    public var bufferedBytes: Int { buffer.count - readIndex }

    /// Appends bytes read from the peer. Ignored once the decoder failed.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, !bytes.isEmpty else { return }
        compactIfUseful()
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        compactIfUseful()
        buffer.append(contentsOf: bytes)
    }

    /// Calls `body` with each complete frame's body, in order, and consumes them. The pointer is
    /// valid only inside `body`. Throws (and stays failed) on an oversized length header; frames
    /// before the bad header are still delivered.
    public mutating func decodeFrames(_ body: (UnsafeRawBufferPointer) -> Void) throws(WireError) {
        if let failure { throw failure }
        while let range = try nextFrameRange() {
            buffer.withUnsafeBytes { raw in
                body(UnsafeRawBufferPointer(rebasing: raw[range]))
            }
        }
    }

    /// The next complete frame's body, or nil when more bytes are needed.
    public mutating func nextFrame() throws(WireError) -> [UInt8]? {
        if let failure { throw failure }
        guard let range = try nextFrameRange() else { return nil }
        return Array(buffer[range])
    }

    /// Convenience for tests and tools: append, then return every complete frame.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(WireError) -> [[UInt8]] {
        append(contentsOf: bytes)
        var frames: [[UInt8]] = []
        while let frame = try nextFrame() { frames.append(frame) }
        return frames
    }

    private mutating func nextFrameRange() throws(WireError) -> Range<Int>? {
        let available = buffer.count - readIndex
        guard available >= 4 else { return nil }
        let length = buffer.withUnsafeBytes { raw in
            UInt32(raw[readIndex]) << 24 | UInt32(raw[readIndex + 1]) << 16
                | UInt32(raw[readIndex + 2]) << 8 | UInt32(raw[readIndex + 3])
        }
        guard Int(length) <= configuration.maxFrameBytes else {
            let error = WireError.frameTooLarge(length: length, max: configuration.maxFrameBytes)
            failure = error
            buffer = []
            readIndex = 0
            throw error
        }
        guard available - 4 >= Int(length) else { return nil }
        let start = readIndex + 4
        readIndex = start + Int(length)
        return start..<readIndex
    }

    /// Drops consumed bytes when that moves little data or frees a lot, keeping appends amortised O(1).
    private mutating func compactIfUseful() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            readIndex = 0
        } else if readIndex > 0 && readIndex >= buffer.count / 2 {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }
}

/// Writes the 4-byte big-endian length header of a frame.
public enum FrameHeader {
    public static let size = 4

    @inlinable
    public static func write(length: Int, to pointer: UnsafeMutableRawPointer) {
        let value = UInt32(truncatingIfNeeded: length).bigEndian
        withUnsafeBytes(of: value) { pointer.copyMemory(from: $0.baseAddress!, byteCount: 4) }
    }

    /// Appends a whole frame (header + `body`) to `out`.
    public static func appendFrame(body: some Collection<UInt8>, to out: inout [UInt8]) {
        let length = UInt32(body.count)
        out.append(UInt8(truncatingIfNeeded: length >> 24))
        out.append(UInt8(truncatingIfNeeded: length >> 16))
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
        out.append(contentsOf: body)
    }
}
