// What both libFuzzer executables share: handing the input callback to libFuzzer's driver (built
// with -DFUZZING, scripts/fuzz.sh) and, without it, replaying corpus files (scripts/test.sh).
#if canImport(Glibc)
import Glibc
#endif

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// Runs libFuzzer with this process's arguments, calling `callback` with each input; never returns.
public func runFuzzDriver(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}
#endif

/// Calls `body` with the bytes of `path`, or of every file in it if it is a directory (one
/// level); returns how many inputs it read. A path that cannot be opened counts as none.
public func forEachFuzzInput(_ path: String, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
    if let dir = opendir(path) {
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { count += forEachFuzzInput(path + "/" + name, body) }
        }
        return count
    }
    guard let file = fopen(path, "rb") else { return 0 }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    bytes.withUnsafeBytes { body($0) }
    return 1
}
