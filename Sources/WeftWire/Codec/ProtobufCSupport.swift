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

/// Keeps C strings alive while protobuf-c packs a message that points at them.
final class CStringArena {
    private var allocations: [UnsafeMutablePointer<CChar>] = []

    func duplicate(_ string: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(string)!
        allocations.append(copy)
        return copy
    }

    deinit {
        for pointer in allocations { free(pointer) }
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
