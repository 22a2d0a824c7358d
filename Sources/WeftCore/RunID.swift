/// A run's id: a UUIDv7 (RFC 9562) — 48-bit Unix milliseconds, version 7, 74 random bits — so ids
/// sort by creation time and a run's `created_at` (hence its table partition) follows from its id
/// (ARCHITECTURE.md §2).
public struct RunID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 16 bytes, big-endian as in the UUID's text form.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(IdentifierError) {
        guard bytes.count == 16 else { throw IdentifierError("a run id has 16 bytes, not \(bytes.count)") }
        guard bytes[6] >> 4 == 7 else { throw IdentifierError("not a UUIDv7 run id (version \(bytes[6] >> 4))") }
        self.bytes = bytes
    }

    /// A new id for `unixMilliseconds`, with randomness from `random` (injected: pure code passes a
    /// seeded generator, production the system one).
    public init(unixMilliseconds: UInt64, using random: inout some RandomNumberGenerator) {
        var b = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { b[i] = UInt8(truncatingIfNeeded: unixMilliseconds >> (40 - 8 * UInt64(i))) }
        let r1 = random.next()
        let r2 = random.next()
        for i in 6..<8 { b[i] = UInt8(truncatingIfNeeded: r1 >> (8 * UInt64(i))) }
        for i in 8..<16 { b[i] = UInt8(truncatingIfNeeded: r2 >> (8 * UInt64(i - 8))) }
        b[6] = 0x70 | (b[6] & 0x0F)  // version 7
        b[8] = 0x80 | (b[8] & 0x3F)  // RFC 9562 variant
        self.bytes = b
    }

    /// Parses the canonical text form `0190f3c4-…`.
    public init(parsing text: String) throws(IdentifierError) {
        let hex = text.filter { $0 != "-" }
        guard text.count == 36, hex.count == 32 else { throw IdentifierError("invalid run id '\(text)': expected a UUID") }
        var out: [UInt8] = []
        out.reserveCapacity(16)
        var iterator = hex.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let value = UInt8(String([high, low]), radix: 16) else {
                throw IdentifierError("invalid run id '\(text)': not hexadecimal")
            }
            out.append(value)
        }
        try self.init(bytes: out)
    }

    /// Milliseconds since 1970 when the id was made.
    public var unixMilliseconds: UInt64 {
        bytes[0..<6].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The partition that owns this run: `xxh64(16 bytes, seed 0) mod count`.
    public func partition(count: Int) -> PartitionID {
        precondition(count > 0, "partition count must be positive")
        return PartitionID(Int(StableHash.xxh64(bytes) % UInt64(count)))
    }

    public var description: String {
        // Hot: every SQL parameter and log line with a run id. One allocation, no per-byte Strings.
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 36) { buffer in
            digits.withUTF8Buffer { hex in
                var out = 0
                for (i, byte) in bytes.enumerated() {
                    if i == 4 || i == 6 || i == 8 || i == 10 {
                        buffer[out] = UInt8(ascii: "-")
                        out += 1
                    }
                    buffer[out] = hex[Int(byte >> 4)]
                    buffer[out + 1] = hex[Int(byte & 0x0F)]
                    out += 2
                }
            }
            return 36
        }
    }

    public static func < (a: RunID, b: RunID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

/// A unit of run ownership (ARCHITECTURE.md §2), `0 ..< P`.
public struct PartitionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
    public static func < (a: PartitionID, b: PartitionID) -> Bool { a.rawValue < b.rawValue }
}

/// A partition's ownership generation: `partition_owners.range_id` (ARCHITECTURE.md §2).
public struct Fence: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
    public static func < (a: Fence, b: Fence) -> Bool { a.rawValue < b.rawValue }
}

public struct IdentifierError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
