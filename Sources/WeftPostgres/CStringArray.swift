/// Calls `body` with a NULL-terminated array of C strings (`const char * const *`) made from
/// `strings`; a `nil` element is a NULL pointer (SQL NULL for `PQexecParams`).
///
/// All strings are packed into one buffer with a NUL after each, so there is a single allocation
/// and every pointer stays valid for the duration of `body` (and no longer).
func withCStringArray<Result>(
    _ strings: [String?],
    _ body: (UnsafePointer<UnsafePointer<CChar>?>) throws -> Result
) rethrows -> Result {
    var buffer: [CChar] = []
    var offsets: [Int?] = []
    offsets.reserveCapacity(strings.count)
    for string in strings {
        guard let string else {
            offsets.append(nil)
            continue
        }
        offsets.append(buffer.count)
        buffer.append(contentsOf: string.utf8.map { CChar(bitPattern: $0) })
        buffer.append(0)
    }
    buffer.append(0)  // never empty, so the base address is never nil
    return try buffer.withUnsafeBufferPointer { packed in
        let base = packed.baseAddress!  // non-empty buffer
        var pointers: [UnsafePointer<CChar>?] = offsets.map { offset in offset.map { base + $0 } }
        pointers.append(nil)
        return try pointers.withUnsafeBufferPointer { try body($0.baseAddress!) }  // non-empty
    }
}
