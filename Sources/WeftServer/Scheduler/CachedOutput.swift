import CZlib

/// How the result cache stores an output (issue 12): compressed with zlib when that makes it
/// smaller, and refused when even compressed it is larger than the entry limit (the cache is
/// size-bounded per entry; Redis's `maxmemory` bounds the whole).
///
/// Format: one byte — `0` raw (the output follows), `1` zlib (a 4-byte big-endian length of the
/// output, then the deflate stream). Decoding checks everything: what Redis holds is not trusted
/// (a wrong entry is a miss, never a crash or a huge allocation).
enum CachedOutput {
    /// The largest output a decoded entry may claim (the scheduler's inputs and outputs are
    /// bounded far below).
    static let maxOutputBytes = 16 << 20

    /// The entry for `output`; nil when it is larger than `limit` bytes even compressed.
    static func encode(_ output: [UInt8], limit: Int) -> [UInt8]? {
        if output.count >= 64, output.count <= maxOutputBytes, let compressed = deflate(output), compressed.count + 5 < output.count + 1 {
            let count = UInt32(output.count)
            let entry = [1, UInt8(count >> 24), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)] + compressed
            return entry.count <= limit ? entry : nil
        }
        return output.count + 1 <= limit ? [0] + output : nil
    }

    /// The output an entry holds; nil when it is not a well-formed entry.
    static func decode(_ entry: [UInt8]) -> [UInt8]? {
        guard let format = entry.first else { return nil }
        switch format {
        case 0:
            return Array(entry.dropFirst())
        case 1:
            guard entry.count > 5 else { return nil }
            let count = Int(entry[1]) << 24 | Int(entry[2]) << 16 | Int(entry[3]) << 8 | Int(entry[4])
            guard count <= maxOutputBytes else { return nil }
            return inflate(Array(entry[5...]), count: count)
        default:
            return nil
        }
    }

    private static func deflate(_ input: [UInt8]) -> [UInt8]? {
        var size = compressBound(uLong(input.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = out.withUnsafeMutableBufferPointer { target in
            input.withUnsafeBufferPointer { source in
                compress2(target.baseAddress, &size, source.baseAddress, uLong(source.count), 1)  // level 1: fast, most of the gain
            }
        }
        guard status == Z_OK else { return nil }
        out.removeSubrange(Int(size)...)
        return out
    }

    private static func inflate(_ input: [UInt8], count: Int) -> [UInt8]? {
        var size = uLongf(count)
        var out = [UInt8](repeating: 0, count: max(1, count))
        let status = out.withUnsafeMutableBufferPointer { target in
            input.withUnsafeBufferPointer { source in
                uncompress(target.baseAddress, &size, source.baseAddress, uLong(source.count))
            }
        }
        guard status == Z_OK, Int(size) == count else { return nil }
        return count == 0 ? [] : out
    }
}
