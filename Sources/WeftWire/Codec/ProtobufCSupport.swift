import CProtobufC
import Glibc
import CWeftProtos
import WeftCore

// Helpers shared by the codec files. Only `Codec/` sees protobuf-c types (STYLE.md §1).

/// A Swift String from a protobuf-c string field (NULL reads as empty).
@inline(__always)
func swiftString(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    return String(cString: pointer)
}

/// `text` as a protobuf-c `string` field can carry it. Those are C strings, so a NUL would end
/// the field there and drop the rest without a word; instead each NUL travels as U+FFFD, as
/// Postgres text stores it (`PostgresBinaryArray.storableText`). Everything else is unchanged.
@inline(__always)
func wireString(_ text: String) -> String {
    guard text.utf8.contains(0) else { return text }
    return String(String.UnicodeScalarView(text.unicodeScalars.map { $0 == "\u{0}" ? "\u{FFFD}" : $0 }))
}

/// Bytes of a protobuf-c `bytes` field.
@inline(__always)
func swiftBytes(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard data.len > 0, let base = data.data else { return [] }
    return Array(UnsafeBufferPointer(start: base, count: data.len))
}

/// Serialises a protobuf-c message that `msg` describes into a new array.
func packMessage<M>(
    _ msg: inout M,
    size: (UnsafePointer<M>?) -> Int,
    pack: (UnsafePointer<M>?, UnsafeMutablePointer<UInt8>?) -> Int
) -> [UInt8] {
    withUnsafePointer(to: &msg) { pointer in
        let count = size(pointer)
        return [UInt8](unsafeUninitializedCapacity: max(count, 1)) { buffer, initialized in
            initialized = pack(pointer, buffer.baseAddress)
            precondition(initialized == count, "protobuf-c packed \(initialized) bytes, expected \(count)")
        }
    }
}

private let emptyInput: [UInt8] = [0]

/// Unpacks `bytes` with protobuf-c, hands the C message to `convert` and frees it afterwards
/// (`free_unpacked` in a `defer`, C-INTEROP.md). Throws `malformedMessage` when protobuf-c refuses.
func unpackMessage<M, R>(
    _ bytes: UnsafeRawBufferPointer,
    name: StaticString,
    unpack: (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<M>?,
    free: (UnsafeMutablePointer<M>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void,
    convert: (borrowing M) throws(WireError) -> R
) throws(WireError) -> R {
    let message: UnsafeMutablePointer<M>?
    if let base = bytes.baseAddress, bytes.count > 0 {
        message = unpack(nil, bytes.count, base.assumingMemoryBound(to: UInt8.self))
    } else {
        message = emptyInput.withUnsafeBufferPointer { unpack(nil, 0, $0.baseAddress) }
    }
    guard let message else {
        throw WireError(.malformedMessage, "\(name): \(bytes.count) bytes are not a valid protobuf message")
    }
    defer { free(message, nil) }
    return try convert(message.pointee)
}

/// Owns the C memory a message under construction points at (strings, byte buffers, nested
/// messages, pointer arrays) until protobuf-c has packed it; frees everything in `deinit`.
/// Never pass an arena-built message to `free_unpacked` (that would free twice).
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for pointer in allocations { free(pointer) }
    }

    /// A NUL-terminated copy of `string` (see `wireString`).
    func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(wireString(string))!
        allocations.append(UnsafeMutableRawPointer(copy))
        return copy
    }

    /// A copy of `bytes` as a protobuf-c `bytes` field.
    func bytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let memory = malloc(bytes.count)!
        allocations.append(memory)
        bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return ProtobufCBinaryData(len: bytes.count, data: memory.assumingMemoryBound(to: UInt8.self))
    }

    /// A run id as a protobuf-c `bytes` field (none: empty).
    func runID(_ id: RunID?) -> ProtobufCBinaryData {
        guard let id else { return ProtobufCBinaryData(len: 0, data: nil) }
        let memory = malloc(16)!
        allocations.append(memory)
        id.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: 16) }
        return ProtobufCBinaryData(len: 16, data: memory.assumingMemoryBound(to: UInt8.self))
    }

    /// A heap copy of a nested message built by `make`.
    func message<M>(_ make: () -> M) -> UnsafeMutablePointer<M> {
        let memory = malloc(MemoryLayout<M>.stride)!
        allocations.append(memory)
        let typed = memory.bindMemory(to: M.self, capacity: 1)
        typed.initialize(to: make())
        return typed
    }

    /// A repeated message field: the `n_x` count and the `x` pointer array.
    func repeated<Element, M>(_ elements: [Element], _ make: (Element) -> M) -> (count: Int, pointer: UnsafeMutablePointer<UnsafeMutablePointer<M>?>?) {
        guard !elements.isEmpty else { return (0, nil) }
        let memory = malloc(MemoryLayout<UnsafeMutablePointer<M>?>.stride * elements.count)!
        allocations.append(memory)
        let array = memory.bindMemory(to: UnsafeMutablePointer<M>?.self, capacity: elements.count)
        for (i, element) in elements.enumerated() {
            (array + i).initialize(to: message { make(element) })
        }
        return (elements.count, array)
    }

    /// A repeated string field.
    func strings(_ values: [String]) -> (count: Int, pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        guard !values.isEmpty else { return (0, nil) }
        let memory = malloc(MemoryLayout<UnsafeMutablePointer<CChar>?>.stride * values.count)!
        allocations.append(memory)
        let array = memory.bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: values.count)
        for (i, value) in values.enumerated() { (array + i).initialize(to: string(value)) }
        return (values.count, array)
    }
}

/// Swift values of a repeated message field of an unpacked message.
func swiftArray<M, T>(_ count: Int, _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<M>?>?, _ convert: (M) throws(WireError) -> T) throws(WireError) -> [T] {
    guard count > 0, let pointer else { return [] }
    var out: [T] = []
    out.reserveCapacity(count)
    for i in 0..<count {
        guard let element = pointer[i] else { continue }
        out.append(try convert(element.pointee))
    }
    return out
}

/// Swift strings of a repeated string field.
func swiftStrings(_ count: Int, _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
    guard count > 0, let pointer else { return [] }
    return (0..<count).map { swiftString(pointer[$0]) }
}

/// A Swift enum from a protobuf enum field; a number this version does not know is an invalid field.
func wireEnum<E: RawRepresentable<UInt32>>(_ type: E.Type, _ raw: UInt32, field: StaticString) throws(WireError) -> E {
    guard let value = E(rawValue: raw) else { throw WireError(.invalidField, "\(field): unknown value \(raw)") }
    return value
}

/// A nested message that must be present.
func requiredMessage<M, T>(_ pointer: UnsafeMutablePointer<M>?, field: StaticString, _ convert: (M) throws(WireError) -> T) throws(WireError) -> T {
    guard let pointer else { throw WireError(.invalidField, "\(field) is missing") }
    return try convert(pointer.pointee)
}

/// A run id from a `bytes` field; a wrong length or version is an invalid field.
func decodeRunID(_ data: ProtobufCBinaryData, field: StaticString) throws(WireError) -> RunID {
    do {
        return try RunID(bytes: swiftBytes(data))
    } catch {
        throw WireError(.invalidField, "\(field): \(error)")
    }
}

extension NodeRole {
    var wire: Weft__Wire__V1__Role {
        switch self {
        case .client: WEFT__WIRE__V1__ROLE__ROLE_CLIENT
        case .coordinator: WEFT__WIRE__V1__ROLE__ROLE_COORDINATOR
        case .scheduler: WEFT__WIRE__V1__ROLE__ROLE_SCHEDULER
        case .worker: WEFT__WIRE__V1__ROLE__ROLE_WORKER
        }
    }

    init?(wire: Weft__Wire__V1__Role) {
        switch wire {
        case WEFT__WIRE__V1__ROLE__ROLE_CLIENT: self = .client
        case WEFT__WIRE__V1__ROLE__ROLE_COORDINATOR: self = .coordinator
        case WEFT__WIRE__V1__ROLE__ROLE_SCHEDULER: self = .scheduler
        case WEFT__WIRE__V1__ROLE__ROLE_WORKER: self = .worker
        default: return nil
        }
    }
}
