/// Every error `WeftPostgres` throws: a ``Code`` saying what went wrong on our side, the server's
/// ``SQLState`` when the server reported one, the server's message, and the SQL text.
///
/// Invariant: an error never contains parameter values, like GRDB's redacted statement
/// arguments. The SQL keeps its `$1` placeholders, ``description`` only says how many parameters
/// were redacted, and the server's texts are scrubbed where Postgres echoes values (see
/// `PostgresError+Redaction.swift`): `Key (id)=(42) already exists.` is kept as
/// `Key (id)=(<redacted>) already exists.`. Connection errors never contain the password of the
/// connection URL.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What failed, from the client's point of view. A struct rather than an enum so that new
    /// codes break no `switch` (STYLE.md §4).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connectionFailed
            case connectionLost
            case connectionClosed
            case queryFailed
            case unexpectedResult
            case invalidParameter
            case decodingFailed
            case transactionRolledBack
            case transactionInProgress
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The connection could not be established, or re-established by `PQreset`.
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection broke while a statement ran (or inside a transaction, where it is not
        /// reset): whether the statement took effect is unknown.
        public static let connectionLost = Code(.connectionLost)
        /// The connection was used after ``PostgresConnection/close()``.
        public static let connectionClosed = Code(.connectionClosed)
        /// The server rejected the statement; ``PostgresError/sqlState`` says why.
        public static let queryFailed = Code(.queryFailed)
        /// The server answered with a result this API does not handle (for example COPY).
        public static let unexpectedResult = Code(.unexpectedResult)
        /// A parameter cannot be sent (text parameters cannot contain NUL bytes).
        public static let invalidParameter = Code(.invalidParameter)
        /// A cell is missing or cannot be read as the requested Swift type.
        public static let decodingFailed = Code(.decodingFailed)
        /// `COMMIT` answered `ROLLBACK`: a statement of the transaction failed earlier and its
        /// error was swallowed by the transaction body. Nothing was written.
        public static let transactionRolledBack = Code(.transactionRolledBack)
        /// ``PostgresConnection/transaction(_:)`` was called inside a transaction.
        public static let transactionInProgress = Code(.transactionInProgress)

        public var description: String { base.rawValue }
    }

    /// What failed on our side.
    public var code: Code
    /// The server's SQLSTATE, when the server reported the error.
    public var sqlState: SQLState?
    /// The primary message: the server's (`PG_DIAG_MESSAGE_PRIMARY`), or libpq's, redacted.
    public var message: String
    /// The server's detail (`PG_DIAG_MESSAGE_DETAIL`), redacted.
    public var detail: String?
    /// The server's hint (`PG_DIAG_MESSAGE_HINT`).
    public var hint: String?
    /// The constraint the error is about (`PG_DIAG_CONSTRAINT_NAME`), when there is one.
    public var constraintName: String?
    /// The table the error is about (`PG_DIAG_TABLE_NAME`), when there is one: for example the
    /// partitioned table that has no table partition for a row (``isMissingTablePartition``).
    public var tableName: String?
    /// The statement's text with its placeholders; never the parameter values.
    public var sql: String?
    /// How many parameters the statement had (their values are never kept).
    public var parameterCount: Int

    public init(
        code: Code,
        sqlState: SQLState? = nil,
        message: String,
        detail: String? = nil,
        hint: String? = nil,
        constraintName: String? = nil,
        tableName: String? = nil,
        sql: String? = nil,
        parameterCount: Int = 0
    ) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraintName = constraintName
        self.tableName = tableName
        self.sql = sql
        self.parameterCount = parameterCount
    }

    /// For example `PostgresError(queryFailed, sqlState: 23505 unique_violation): duplicate key
    /// value violates unique constraint "t_pkey" (Key (id)=(<redacted>) already exists.) — SQL:
    /// INSERT INTO t VALUES ($1) [1 parameter redacted]`.
    public var description: String {
        var text = "PostgresError(\(code)"
        if let sqlState { text += ", sqlState: \(sqlState)" }
        text += "): \(message)"
        if let detail, !detail.isEmpty { text += " (\(detail))" }
        if let sql {
            text += " — SQL: \(sql)"
            if parameterCount > 0 {
                text += " [\(parameterCount) parameter\(parameterCount == 1 ? "" : "s") redacted]"
            }
        }
        return text
    }
}
