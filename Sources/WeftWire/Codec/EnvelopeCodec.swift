import CProtobufC
import CWeftProtos
import WeftCore

extension Envelope {
    /// Appends this envelope as one frame (4-byte big-endian length + protobuf body) to `out`,
    /// packing straight into `out`'s storage: no intermediate buffer.
    public func appendFrame(to out: inout [UInt8]) {
        withCMessage { msg in
            withUnsafePointer(to: &msg) { pointer in
                let size = weft__wire__v1__envelope__get_packed_size(pointer)
                let start = out.count
                out.append(contentsOf: repeatElement(0, count: FrameHeader.size + size))
                out.withUnsafeMutableBytes { raw in
                    FrameHeader.write(length: size, to: raw.baseAddress! + start)
                    let packed = weft__wire__v1__envelope__pack(
                        pointer, raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + start + FrameHeader.size)
                    precondition(packed == size, "protobuf-c packed \(packed) bytes, expected \(size)")
                }
            }
        }
    }

    /// The protobuf body alone (no length header).
    public func serializedBytes() -> [UInt8] {
        withCMessage { msg in
            packMessage(&msg, size: weft__wire__v1__envelope__get_packed_size, pack: weft__wire__v1__envelope__pack)
        }
    }

    /// Decodes one frame body. Throws on bytes protobuf-c rejects and on an unknown `kind`.
    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "Envelope",
            unpack: weft__wire__v1__envelope__unpack,
            free: weft__wire__v1__envelope__free_unpacked
        ) { (msg: borrowing Weft__Wire__V1__Envelope) throws(WireError) -> Envelope in
            guard let kind = Envelope.Kind(rawValue: msg.kind.rawValue) else {
                throw WireError(.invalidField, "Envelope.kind \(msg.kind.rawValue) is not a known kind")
            }
            var metadata: [String: String] = [:]
            if msg.n_metadata > 0, let entries = msg.metadata {
                metadata.reserveCapacity(msg.n_metadata)
                for i in 0..<msg.n_metadata {
                    guard let entry = entries[i] else { continue }
                    metadata[swiftString(entry.pointee.key)] = swiftString(entry.pointee.value)
                }
            }
            return Envelope(
                callID: msg.call_id,
                kind: kind,
                method: swiftString(msg.method),
                deadlineMilliseconds: msg.deadline_ms,
                status: StatusCode(rawValue: msg.status_code),
                statusMessage: swiftString(msg.status_message),
                metadata: metadata,
                payload: swiftBytes(msg.payload)
            )
        }
    }

    public init(serializedBytes bytes: [UInt8]) throws(WireError) {
        let result: Result<Envelope, WireError> = bytes.withUnsafeBytes { raw in
            do throws(WireError) { return .success(try Envelope(serializedBytes: raw)) } catch { return .failure(error) }
        }
        self = try result.get()
    }

    /// Builds the C message pointing into this envelope's storage, valid only inside `body`.
    private func withCMessage<R>(_ body: (inout Weft__Wire__V1__Envelope) -> R) -> R {
        wireString(method).withCString { methodPointer in
            wireString(statusMessage).withCString { statusPointer in
                payload.withUnsafeBufferPointer { payloadBuffer in
                    var msg = Weft__Wire__V1__Envelope()
                    weft__wire__v1__envelope__init(&msg)
                    msg.call_id = callID
                    msg.kind = Weft__Wire__V1__Kind(rawValue: kind.rawValue)
                    msg.method = UnsafeMutablePointer(mutating: methodPointer)
                    msg.deadline_ms = deadlineMilliseconds
                    msg.status_code = status.rawValue
                    msg.status_message = UnsafeMutablePointer(mutating: statusPointer)
                    msg.payload = ProtobufCBinaryData(
                        len: payloadBuffer.count, data: UnsafeMutablePointer(mutating: payloadBuffer.baseAddress))
                    if metadata.isEmpty {
                        return body(&msg)
                    }
                    // Metadata is rare and small: strdup its strings into an arena freed after packing.
                    let arena = CArena()
                    let entries = UnsafeMutablePointer<Weft__Wire__V1__MetadataEntry>.allocate(capacity: metadata.count)
                    let entryPointers = UnsafeMutablePointer<UnsafeMutablePointer<Weft__Wire__V1__MetadataEntry>?>
                        .allocate(capacity: metadata.count)
                    defer {
                        entries.deallocate()
                        entryPointers.deallocate()
                    }
                    for (i, (key, value)) in metadata.sorted(by: { $0.key < $1.key }).enumerated() {
                        var entry = Weft__Wire__V1__MetadataEntry()
                        weft__wire__v1__metadata_entry__init(&entry)
                        entry.key = arena.string(key)
                        entry.value = arena.string(value)
                        (entries + i).initialize(to: entry)
                        entryPointers[i] = entries + i
                    }
                    msg.n_metadata = metadata.count
                    msg.metadata = entryPointers
                    return withExtendedLifetime(arena) { body(&msg) }
                }
            }
        }
    }
}
