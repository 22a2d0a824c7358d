/// Calls `body` with hiredis' `argc`, `argv` and `argvlen` for `arguments` (binary safe: lengths
/// are explicit, NUL bytes allowed).
///
/// All arguments are packed into one buffer, so every pointer stays valid for the duration of
/// `body` (and no longer).
func withRedisArgv<Result>(
    _ arguments: [[UInt8]],
    _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) throws -> Result
) rethrows -> Result {
    var buffer: [UInt8] = []
    buffer.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
    var offsets: [Int] = []
    var lengths: [Int] = []
    for argument in arguments {
        offsets.append(buffer.count)
        lengths.append(argument.count)
        buffer.append(contentsOf: argument)
    }
    buffer.append(0)  // never empty, so the base address is never nil
    return try buffer.withUnsafeBufferPointer { packed in
        let base = UnsafeRawPointer(packed.baseAddress!).assumingMemoryBound(to: CChar.self)  // non-empty
        var pointers: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
        pointers.append(nil)  // keeps the array non-empty for a command with no arguments
        lengths.append(0)
        return try pointers.withUnsafeMutableBufferPointer { argv in
            try lengths.withUnsafeBufferPointer { argvlen in
                try body(Int32(arguments.count), argv.baseAddress!, argvlen.baseAddress!)  // non-empty
            }
        }
    }
}
