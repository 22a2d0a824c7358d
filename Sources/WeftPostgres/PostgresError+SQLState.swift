extension PostgresError {
    /// A Postgres SQLSTATE (five characters, Appendix A of the Postgres manual) with Swift names
    /// for the codes Weft reacts to, in the manner of swift-system's `Errno`.
    ///
    /// Any code the server sends is representable; the named ones are those the stores branch on
    /// (retry on ``serializationFailure`` and ``deadlockDetected``, map ``uniqueViolation`` to
    /// "already exists", ...).
    public struct SQLState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let uniqueViolation = SQLState(rawValue: "23505")
        public static let foreignKeyViolation = SQLState(rawValue: "23503")
        public static let checkViolation = SQLState(rawValue: "23514")
        public static let notNullViolation = SQLState(rawValue: "23502")
        public static let invalidTextRepresentation = SQLState(rawValue: "22P02")
        public static let serializationFailure = SQLState(rawValue: "40001")
        public static let deadlockDetected = SQLState(rawValue: "40P01")
        public static let lockNotAvailable = SQLState(rawValue: "55P03")
        public static let queryCanceled = SQLState(rawValue: "57014")
        public static let adminShutdown = SQLState(rawValue: "57P01")
        public static let syntaxError = SQLState(rawValue: "42601")
        public static let undefinedTable = SQLState(rawValue: "42P01")
        public static let undefinedFunction = SQLState(rawValue: "42883")

        /// The two-character class (`"23"`: integrity constraint violation).
        public var errorClass: Substring { rawValue.prefix(2) }

        /// Postgres' condition name for the named codes (`unique_violation`), else `nil`.
        public var name: String? {
            switch rawValue {
            case "23505": "unique_violation"
            case "23503": "foreign_key_violation"
            case "23514": "check_violation"
            case "23502": "not_null_violation"
            case "22P02": "invalid_text_representation"
            case "40001": "serialization_failure"
            case "40P01": "deadlock_detected"
            case "55P03": "lock_not_available"
            case "57014": "query_canceled"
            case "57P01": "admin_shutdown"
            case "42601": "syntax_error"
            case "42P01": "undefined_table"
            case "42883": "undefined_function"
            default: nil
            }
        }

        /// `23505 unique_violation`, or just the code when it has no Swift name.
        public var description: String { name.map { "\(rawValue) \($0)" } ?? rawValue }
    }
}
