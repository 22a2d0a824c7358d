import WeftCore

/// A one-dimensional array parameter in Postgres's binary format (`array_send`), built element by
/// element — the input of `unnest($1::uuid[], $2::text[], …)` batch statements.
///
/// Why: the group-commit writer sends thousands of values per batch. As text, each value was
/// formatted here and parsed again by the server (`uuid_in`, `timestamptz_in`, hex `bytea`),
/// and every row needed its own `$n` placeholders, so every batch was a new statement to parse and
/// plan. As binary arrays a batch is one fixed statement per table with one parameter per column,
/// and values cross as their bytes.
///
/// Layout: `ndim` (1), `has-null` flag, element type OID, then the dimension's length and lower
/// bound (1), then each element as a 4-byte length (-1 for NULL) and its binary form. Integers are
/// big-endian; `timestamptz` is microseconds since 2000-01-01 UTC.
public struct PostgresBinaryArray: Sendable {
    /// The element types the writer uses, by their type OID (`pg_type.oid`).
    public enum Element: UInt32, Sendable {
        case bool = 16
        case bytea = 17
        case int8 = 20
        case int2 = 21
        case int4 = 23
        case text = 25
        case timestamptz = 1184
        case uuid = 2950

        /// The OID of the array type (`_uuid`, …), the parameter's type.
        public var arrayOID: UInt32 {
            switch self {
            case .bool: 1000
            case .bytea: 1001
            case .int8: 1016
            case .int2: 1005
            case .int4: 1007
            case .text: 1009
            case .timestamptz: 1185
            case .uuid: 2951
            }
        }
    }

    public let element: Element
    public private(set) var count = 0
    private var elements: [UInt8] = []
    private var hasNull = false

    public init(_ element: Element, reservingElements capacity: Int = 0) {
        self.element = element
        elements.reserveCapacity(capacity * 12)
    }

    /// The parameter's bytes: header and elements.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(20 + elements.count)
        Self.append(Int32(1), to: &out)  // ndim
        Self.append(Int32(hasNull ? 1 : 0), to: &out)
        Self.append(element.rawValue, to: &out)
        Self.append(Int32(count), to: &out)  // length of the dimension
        Self.append(Int32(1), to: &out)  // lower bound
        out += elements
        return out
    }

    public mutating func appendNull() {
        Self.append(Int32(-1), to: &elements)
        hasNull = true
        count += 1
    }

    /// A text value. Postgres text cannot hold NUL, so a NUL becomes U+FFFD: the writer stores
    /// strings that workers send (error messages), and one such byte must not fail every batch
    /// it lands in.
    public mutating func append(_ value: String?) {
        precondition(element == .text, "a text value for a \(element) array")
        guard let value else { return appendNull() }
        appendElement(Self.storableText(value).utf8)
    }

    /// `text` with every NUL replaced by U+FFFD: what a Postgres `text` value can hold.
    public static func storableText(_ text: String) -> String {
        guard text.utf8.contains(0) else { return text }
        return String(text.unicodeScalars.map { $0 == "\0" ? "\u{FFFD}" : Character($0) })
    }

    public mutating func append(bytes value: [UInt8]?) {
        precondition(element == .bytea, "bytea for a \(element) array")
        guard let value else { return appendNull() }
        appendElement(value)
    }

    public mutating func append(_ value: RunID) {
        precondition(element == .uuid, "a uuid for a \(element) array")
        value.withUnsafeBytes { appendElement($0) }
    }

    public mutating func append(_ value: PostgresTimestamp?) {
        precondition(element == .timestamptz, "a timestamp for a \(element) array")
        guard let value else { return appendNull() }
        Self.append(Int32(8), to: &elements)
        Self.append(value.unixMicroseconds - Self.postgresEpochOffset, to: &elements)
        count += 1
    }

    /// An integer, narrowed to the element type (`int2`, `int4`, `int8`); traps if it does not fit.
    public mutating func append(_ value: Int?) {
        guard let value else { return appendNull() }
        switch element {
        case .int2:
            Self.append(Int32(2), to: &elements)
            Self.append(Int16(value), to: &elements)
        case .int4:
            Self.append(Int32(4), to: &elements)
            Self.append(Int32(value), to: &elements)
        case .int8:
            Self.append(Int32(8), to: &elements)
            Self.append(Int64(value), to: &elements)
        default:
            preconditionFailure("an integer for a \(element) array")
        }
        count += 1
    }

    public mutating func append(_ value: Bool?) {
        precondition(element == .bool, "a bool for a \(element) array")
        guard let value else { return appendNull() }
        appendElement([value ? 1 : 0])
    }

    private mutating func appendElement(_ value: some Collection<UInt8>) {
        Self.append(Int32(value.count), to: &elements)
        elements.append(contentsOf: value)
        count += 1
    }

    /// Microseconds from 1970-01-01 to 2000-01-01, Postgres's epoch.
    static let postgresEpochOffset: Int64 = 946_684_800 * 1_000_000

    private static func append<T: FixedWidthInteger>(_ value: T, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }
}
