/// xxHash64 (seed 0 unless given): the one hash that processes must agree on — a run's partition,
/// ring points (ARCHITECTURE.md §2). Never use Swift's `Hasher`/`hashValue` for these: they are
/// seeded randomly per process. Tested against the reference vectors (`xxh64("") = 0xEF46DB3751D8E999`).
public enum StableHash {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    public static func xxh64(_ bytes: some Collection<UInt8>, seed: UInt64 = 0) -> UInt64 {
        if let fast = bytes.withContiguousStorageIfAvailable({ xxh64(UnsafeRawBufferPointer($0), seed: seed) }) {
            return fast
        }
        return Array(bytes).withUnsafeBytes { xxh64($0, seed: seed) }
    }

    public static func xxh64(_ string: String, seed: UInt64 = 0) -> UInt64 {
        var copy = string
        return copy.withUTF8 { xxh64(UnsafeRawBufferPointer($0), seed: seed) }
    }

    public static func xxh64(_ input: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let length = input.count
        var index = 0
        var hash: UInt64
        if length >= 32 {
            var v1 = seed &+ prime1 &+ prime2
            var v2 = seed &+ prime2
            var v3 = seed
            var v4 = seed &- prime1
            while index + 32 <= length {
                v1 = round(v1, read64(input, index))
                v2 = round(v2, read64(input, index + 8))
                v3 = round(v3, read64(input, index + 16))
                v4 = round(v4, read64(input, index + 24))
                index += 32
            }
            hash = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            hash = mergeRound(hash, v1)
            hash = mergeRound(hash, v2)
            hash = mergeRound(hash, v3)
            hash = mergeRound(hash, v4)
        } else {
            hash = seed &+ prime5
        }
        hash = hash &+ UInt64(length)
        while index + 8 <= length {
            hash ^= round(0, read64(input, index))
            hash = rotl(hash, 27) &* prime1 &+ prime4
            index += 8
        }
        if index + 4 <= length {
            hash ^= UInt64(read32(input, index)) &* prime1
            hash = rotl(hash, 23) &* prime2 &+ prime3
            index += 4
        }
        while index < length {
            hash ^= UInt64(input[index]) &* prime5
            hash = rotl(hash, 11) &* prime1
            index += 1
        }
        hash ^= hash >> 33
        hash = hash &* prime2
        hash ^= hash >> 29
        hash = hash &* prime3
        hash ^= hash >> 32
        return hash
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always) private static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* prime2, 31) &* prime1
    }

    @inline(__always) private static func mergeRound(_ acc: UInt64, _ value: UInt64) -> UInt64 {
        (acc ^ round(0, value)) &* prime1 &+ prime4
    }

    @inline(__always) private static func read64(_ p: UnsafeRawBufferPointer, _ i: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
    }

    @inline(__always) private static func read32(_ p: UnsafeRawBufferPointer, _ i: Int) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self))
    }
}
