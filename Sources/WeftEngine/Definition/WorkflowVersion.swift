/// A workflow definition's content hash (ARCHITECTURE.md §4): xxHash64 (seed 0) of its canonical
/// encoding, written as 16 lowercase hexadecimal digits. A run pins the version it started with.
public struct WorkflowVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The xxHash64 value.
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Parses the 16-digit hexadecimal form (upper or lower case); `nil` for anything else.
    public init?(parsing text: String) {
        guard text.utf8.count == 16, text.utf8.allSatisfy({ Self.hexValue($0) != nil }),
              let value = UInt64(text, radix: 16)
        else { return nil }
        self.rawValue = value
    }

    /// Exactly 16 lowercase hexadecimal digits, zero-padded.
    public var description: String {
        let digits = String(rawValue, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    public static func < (a: WorkflowVersion, b: WorkflowVersion) -> Bool { a.rawValue < b.rawValue }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
