/// A run's id: a UUIDv7 (RFC 9562) — 48-bit Unix milliseconds, version 7, 74 random bits — so ids
/// sort by creation time and a run's `created_at` (hence its table partition) follows from its id
/// (ARCHITECTURE.md §2).
public struct RunID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 16 bytes as two big-endian words. Two words, not an array: a run id is hashed,
    /// compared and copied on every event of the scheduler (an array cost an allocation per id
    /// and a byte-by-byte hash — 6% of the scheduler's CPU under load).
    public let high: UInt64
    public let low: UInt64

    /// The 16 bytes, big-endian as in the UUID's text form.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
    }

    public init(bytes: [UInt8]) throws(IdentifierError) {
        guard bytes.count == 16 else { throw IdentifierError("a run id has 16 bytes, not \(bytes.count)") }
        guard bytes[6] >> 4 == 7 else { throw IdentifierError("not a UUIDv7 run id (version \(bytes[6] >> 4))") }
        high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A new id for `unixMilliseconds`, with randomness from `random` (injected: pure code passes a
    /// seeded generator, production the system one).
    public init(unixMilliseconds: UInt64, using random: inout some RandomNumberGenerator) {
        let r1 = random.next()
        let r2 = random.next()
        // 48 bits of time | version 7 | 12 random bits
        high = (unixMilliseconds & 0xFFFF_FFFF_FFFF) << 16 | 0x7000 | (r1 & 0x0FFF)
        // RFC 9562 variant (10) | 62 random bits
        low = 0x8000_0000_0000_0000 | (r2 & 0x3FFF_FFFF_FFFF_FFFF)
    }

    /// Parses the canonical text form `0190f3c4-…`.
    public init(parsing text: String) throws(IdentifierError) {
        var words: (UInt64, UInt64) = (0, 0)
        var digits = 0
        var valid = text.utf8.count == 36
        if valid {
            for (position, byte) in text.utf8.enumerated() {
                if position == 8 || position == 13 || position == 18 || position == 23 {
                    guard byte == UInt8(ascii: "-") else { valid = false; break }
                    continue
                }
                let value: UInt64
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt64(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): value = UInt64(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): value = UInt64(byte - UInt8(ascii: "A") + 10)
                default:
                    valid = false
                    value = 0
                }
                guard valid else { break }
                if digits < 16 { words.0 = words.0 << 4 | value } else { words.1 = words.1 << 4 | value }
                digits += 1
            }
        }
        guard valid, digits == 32 else { throw IdentifierError("invalid run id \(MessageText.quoted(text)): expected a UUID") }
        guard (words.0 >> 12) & 0xF == 7 else { throw IdentifierError("not a UUIDv7 run id (version \((words.0 >> 12) & 0xF))") }
        high = words.0
        low = words.1
    }

    /// The UUID version (7 for every id this type holds) and whether the RFC 9562 variant bits are set.
    public var version: Int { Int((high >> 12) & 0xF) }
    public var hasStandardVariant: Bool { low >> 62 == 0b10 }

    /// Milliseconds since 1970 when the id was made.
    public var unixMilliseconds: UInt64 { high >> 16 }

    /// A new id made at `unixMilliseconds` that falls in `partition` (of `count`): random ids are
    /// drawn until one does — `count` draws on average, a few microseconds for the default 256.
    /// The runs a schedule starts live in the schedule's own partition, so its owner sees them.
    public static func random(
        in partition: PartitionID, count: Int, unixMilliseconds: UInt64, using generator: inout some RandomNumberGenerator
    ) -> RunID {
        while true {
            let id = RunID(unixMilliseconds: unixMilliseconds, using: &generator)
            if id.partition(count: count) == partition { return id }
        }
    }

    /// The partition that owns this run: `xxh64(16 bytes, seed 0) mod count`.
    public func partition(count: Int) -> PartitionID {
        precondition(count > 0, "partition count must be positive")
        return withUnsafeBytes { PartitionID(Int(StableHash.xxh64($0) % UInt64(count))) }
    }

    public var description: String {
        // Hot: every SQL parameter and log line with a run id. One allocation, no per-byte Strings.
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 36) { buffer in
            digits.withUTF8Buffer { hex in
                var out = 0
                for i in 0..<16 {
                    if i == 4 || i == 6 || i == 8 || i == 10 {
                        buffer[out] = UInt8(ascii: "-")
                        out += 1
                    }
                    let word = i < 8 ? high : low
                    let byte = UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(i % 8)))
                    buffer[out] = hex[Int(byte >> 4)]
                    buffer[out + 1] = hex[Int(byte & 0x0F)]
                    out += 2
                }
            }
            return 36
        }
    }

    /// The 16 bytes, big-endian, without allocating.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: (high.bigEndian, low.bigEndian)) { try body($0) }
    }

    public static func < (a: RunID, b: RunID) -> Bool { (a.high, a.low) < (b.high, b.low) }
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
