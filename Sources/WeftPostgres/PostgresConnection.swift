import CLibPQ
import Logging
import WeftCore

/// One Postgres session over libpq's synchronous API.
///
/// Every libpq call blocks its thread, so the actor runs on its own ``DispatchQueueExecutor``
/// (GRDB's `DispatchQueueActor` technique, STYLE.md §5), never on Swift's cooperative pool: a slow
/// statement stalls this connection only. Several connections run statements in parallel, one
/// thread each. A later step may drive libpq's non-blocking mode from the epoll loop instead,
/// without changing this API.
///
/// ```
/// let conn = try await PostgresConnection.connect(url: url, logger: logger)
/// let rows = try await conn.query("SELECT name FROM users WHERE id = $1", [7])
/// try await conn.transaction { conn in
///     try conn.execute("INSERT INTO users (id, name) VALUES ($1, $2)", [8, "Ada"])
/// }
/// ```
///
/// Invariants:
/// - Parameters are sent in text format and never appear in errors or logs (``PostgresError``).
/// - A connection found broken (`CONNECTION_BAD`) before a statement is reset once with
///   `PQreset`, except inside ``transaction(_:)``: a new session would silently run the rest of
///   the transaction's statements in autocommit mode, so there it throws `connectionLost`.
/// - After ``close()`` every call throws `connectionClosed`; the `PGconn` is finished when the
///   actor is released or closed, whichever comes first.
/// - A blocking call cannot be interrupted by task cancellation.
/// - Server notices and warnings are logged at debug (`postgres.notice`), never printed to the
///   process's standard error.
public actor PostgresConnection {
    private let executor: DispatchQueueExecutor

    /// The connection's own serial executor: libpq blocks one of its dispatch threads.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let logger: Logger
    /// The passwords of the connection URL, to scrub them from libpq's messages.
    private let secrets: [String]
    private var handle: PostgresConnectionHandle?
    private var isInTransaction = false
    /// Statements of ``query(_:arrays:)`` prepared on this session, by SQL text (their names).
    /// A session reset forgets them (the server did).
    private var prepared: [String: String] = [:]

    private init(secrets: [String], logger: Logger) {
        executor = DispatchQueueExecutor(label: "weft.postgres.connection")
        self.secrets = secrets
        self.logger = logger
    }

    /// Opens a session. `url` is a libpq connection string, usually a URI
    /// (`postgresql://user:password@host:port/db?sslmode=disable`); settings in it override the
    /// defaults set here (`connect_timeout`, `client_encoding=UTF8`, application name `weft`).
    ///
    /// `settings` are server settings (`SET name = value`) for this session, sent as libpq's
    /// `options` so that they hold again after a reset; an `options` in `url` replaces them.
    ///
    /// `PQconnectdb` runs on the new connection's executor. Throws ``PostgresError`` with code
    /// `connectionFailed` and libpq's message (the password never appears in it).
    public static func connect(
        url: String,
        connectTimeout: Duration = .seconds(10),
        settings: KeyValuePairs<String, String> = [:],
        logger: Logger
    ) async throws -> PostgresConnection {
        let connection = PostgresConnection(secrets: PostgresRedaction.secrets(in: url), logger: logger)
        let options = settings.map { "-c \($0.key)=\(Self.escapedOption($0.value))" }.joined(separator: " ")
        try await connection.open(url: url, connectTimeout: connectTimeout, options: options)
        return connection
    }

    /// libpq's `options` splits on spaces; a backslash escapes the next character.
    private static func escapedOption(_ value: String) -> String {
        var escaped = ""
        for character in value {
            if character == " " || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    private func open(url: String, connectTimeout: Duration, options: String) throws {
        // libpq's connect_timeout is whole seconds (libpq raises 1 to 2), rounded up here.
        let (seconds, attoseconds) = connectTimeout.components
        let timeout = max(1, seconds + (attoseconds > 0 ? 1 : 0))
        // With expand_dbname, the URL's own settings override the entries before it.
        let keywords: [String?] = ["connect_timeout", "client_encoding", "fallback_application_name", "options", "dbname"]
        let values: [String?] = [String(timeout), "UTF8", "weft", options, url]
        let pointer = withCStringArray(keywords) { keywords in
            withCStringArray(values) { values in PQconnectdbParams(keywords, values, 1) }
        }
        guard let pointer else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        let handle = PostgresConnectionHandle(pointer, logger: logger)  // finishes the PGconn on every path
        guard PQstatus(pointer) == CONNECTION_OK else {
            throw PostgresError(code: .connectionFailed, message: lastErrorMessage(pointer))
        }
        self.handle = handle
        logger.debug(
            "postgres connection opened",
            metadata: [
                "postgres.host": "\(Self.text(PQhost(pointer)) ?? "")",
                "postgres.port": "\(Self.text(PQport(pointer)) ?? "")",
                "postgres.server_version": "\(PQserverVersion(pointer))",
            ]
        )
    }

    /// Whether the session was usable after the last call. libpq notices a dead socket only when
    /// it uses it, so this can be `true` for a connection the next statement finds broken (and
    /// then resets).
    public var isConnected: Bool {
        handle.map { PQstatus($0.pointer) == CONNECTION_OK } ?? false
    }

    /// Closes the session (`PQfinish`). Idempotent.
    public func close() {
        if handle != nil { logger.debug("postgres connection closed") }
        handle = nil
    }

    /// Runs one statement with `$1`, `$2`, ... placeholders (`PQexecParams`, text format) and
    /// returns its rows (none for a command). `nil` parameters are SQL NULL.
    public func query(_ sql: String, _ parameters: [PostgresValue?] = []) throws -> PostgresRows {
        let texts = parameters.map { $0?.text }
        if let index = texts.firstIndex(where: { $0?.utf8.contains(0) == true }) {
            throw PostgresError(
                code: .invalidParameter,
                message: "parameter $\(index + 1) contains a NUL byte (send binary data as bytea)",
                sql: sql,
                parameterCount: parameters.count
            )
        }
        let connection = try liveConnection(sql: sql, parameterCount: parameters.count)
        logger.trace("postgres statement", metadata: ["postgres.sql": "\(sql)"])
        let result = withCStringArray(texts) { values in
            PQexecParams(connection, sql, Int32(texts.count), nil, values, nil, nil, 0)
        }
        return try rows(of: result, connection: connection, sql: sql, parameters: texts)
    }

    /// Runs one statement whose parameters are all binary arrays (`$1::uuid[]`, …; see
    /// ``PostgresBinaryArray``), the shape of the writer's `unnest` batch statements. Results come
    /// back as text like ``query(_:_:)``'s.
    ///
    /// The statement is prepared once per session and executed by name after that: the writer
    /// sends the same few SQL texts thousands of times a second, and parsing and planning them
    /// each time was a tenth of Postgres's work under load.
    public func query(_ sql: String, arrays: [PostgresBinaryArray]) throws -> PostgresRows {
        let connection = try liveConnection(sql: sql, parameterCount: arrays.count)
        logger.trace("postgres statement", metadata: ["postgres.sql": "\(sql)"])
        let parameters = arrays.map(\.bytes)
        let types = arrays.map { Oid($0.element.arrayOID) }
        let name: String
        if let known = prepared[sql] {
            name = known
        } else {
            name = "weft_\(prepared.count + 1)"
            let result = types.withUnsafeBufferPointer { PQprepare(connection, name, sql, Int32(types.count), $0.baseAddress) }
            _ = try rows(of: result, connection: connection, sql: sql, parameters: [])
            prepared[sql] = name
        }
        let lengths = parameters.map { Int32($0.count) }
        let formats = [Int32](repeating: 1, count: arrays.count)
        var packed: [UInt8] = []
        packed.reserveCapacity(parameters.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        for parameter in parameters {
            offsets.append(packed.count)
            packed += parameter
        }
        packed.append(0)  // never empty, so the base address is never nil
        let result = packed.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            let values: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return PQexecPrepared(connection, name, Int32(arrays.count), values, lengths, formats, 0)
        }
        return try rows(of: result, connection: connection, sql: sql, parameters: [])
    }

    /// Runs one statement and returns the number of rows it affected (`PQcmdTuples`; 0 for
    /// statements that report no count, like `CREATE TABLE`).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [PostgresValue?] = []) throws -> Int {
        try query(sql, parameters).affectedRows ?? 0
    }

    /// Runs a script of one or more `;`-separated statements without parameters (`PQexec`, the
    /// simple query protocol), for migrations and set-up. Returns the last statement's rows.
    @discardableResult
    public func executeScript(_ sql: String) throws -> PostgresRows {
        let connection = try liveConnection(sql: sql, parameterCount: 0)
        logger.trace("postgres script", metadata: ["postgres.sql": "\(sql)"])
        return try rows(of: PQexec(connection, sql), connection: connection, sql: sql, parameters: [])
    }

    /// Runs `COPY … TO STDOUT` (no parameters: the statement is built by the caller from checked
    /// values) and hands each row to `row` as it arrives — a month of runs streams through without
    /// being held in memory. Returns the rows copied. An error `row` throws ends the COPY (the
    /// session stays usable) and is rethrown.
    @discardableResult
    public func copyOut(_ sql: String, row: ([UInt8]) throws -> Void) throws -> Int {
        let connection = try liveConnection(sql: sql, parameterCount: 0)
        guard let started = PQexec(connection, sql) else {
            throw PostgresError(code: .connectionLost, message: lastErrorMessage(connection), sql: sql, parameterCount: 0)
        }
        guard PQresultStatus(started) == PGRES_COPY_OUT else {
            return try rows(of: started, connection: connection, sql: sql, parameters: []).affectedRows ?? 0
        }
        PQclear(started)
        var count = 0
        var failure: (any Error)?
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(connection, &buffer, 0)
            guard length > 0, let buffer else { break }  // -1: done, -2: error (in the result below)
            if failure == nil {
                do {
                    try buffer.withMemoryRebound(to: UInt8.self, capacity: Int(length)) { try row(Array(UnsafeBufferPointer(start: $0, count: Int(length)))) }
                    count += 1
                } catch {
                    failure = error  // keep reading: the COPY must end before the session is usable
                }
            }
            PQfreemem(buffer)
        }
        var finished: PostgresRows?
        var serverFailure: (any Error)?
        while let result = PQgetResult(connection) {
            do { finished = try rows(of: result, connection: connection, sql: sql, parameters: []) } catch { serverFailure = error }
        }
        if let failure { throw failure }
        if let serverFailure { throw serverFailure }
        _ = finished
        return count
    }

    /// Runs `COPY … FROM STDIN` and sends `rows` (each one line of the COPY's format, without its
    /// newline). Returns the rows the server stored.
    @discardableResult
    public func copyIn(_ sql: String, rows lines: some Sequence<[UInt8]>) throws -> Int {
        let connection = try liveConnection(sql: sql, parameterCount: 0)
        guard let started = PQexec(connection, sql) else {
            throw PostgresError(code: .connectionLost, message: lastErrorMessage(connection), sql: sql, parameterCount: 0)
        }
        guard PQresultStatus(started) == PGRES_COPY_IN else {
            _ = try rows(of: started, connection: connection, sql: sql, parameters: [])
            throw PostgresError(code: .unexpectedResult, message: "the statement is not a COPY FROM STDIN", sql: sql, parameterCount: 0)
        }
        PQclear(started)
        var sendFailure: String?
        for line in lines {
            let framed = line + [UInt8(ascii: "\n")]
            let sent = framed.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(connection, $0.baseAddress, Int32($0.count)) }
            }
            if sent != 1 {
                sendFailure = lastErrorMessage(connection)
                break
            }
        }
        _ = PQputCopyEnd(connection, sendFailure)
        var stored = 0
        var failure: (any Error)?
        while let result = PQgetResult(connection) {
            do { stored = try rows(of: result, connection: connection, sql: sql, parameters: []).affectedRows ?? stored } catch { failure = error }
        }
        if let failure { throw failure }
        if let sendFailure { throw PostgresError(code: .connectionLost, message: sendFailure, sql: sql, parameterCount: 0) }
        return stored
    }

    /// Runs `body` between `BEGIN` and `COMMIT`; if `body` throws, rolls back and rethrows.
    ///
    /// Throws `transactionRolledBack` when `COMMIT` turns into a rollback because a statement
    /// failed earlier (its error was caught inside `body`), and `transactionInProgress` when called
    /// from inside another transaction. A connection lost inside the transaction is not reset (see
    /// the type's invariants).
    public func transaction<Result>(
        _ body: @Sendable (isolated PostgresConnection) throws -> sending Result
    ) throws -> sending Result {
        guard !isInTransaction else {
            throw PostgresError(code: .transactionInProgress, message: "a transaction is already open on this connection")
        }
        try execute("BEGIN")
        isInTransaction = true
        defer { isInTransaction = false }
        let value: Result
        do {
            value = try body(self)
        } catch {
            rollBackAfterFailure()
            throw error
        }
        let commit = try query("COMMIT")
        guard commit.commandTag == "COMMIT" else {
            throw PostgresError(
                code: .transactionRolledBack,
                message: "COMMIT rolled back the transaction: an earlier statement in it failed",
                sql: "COMMIT"
            )
        }
        return value
    }

    private func rollBackAfterFailure() {
        do {
            try execute("ROLLBACK")
        } catch {
            // The body's error is the one to report. A failed ROLLBACK means the session is gone,
            // and a lost session has rolled the transaction back on the server anyway.
            logger.debug("postgres rollback failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - libpq plumbing

    /// The `PGconn` to use, reset once if libpq marked it broken.
    private func liveConnection(sql: String, parameterCount: Int) throws -> OpaquePointer {
        guard let pointer = handle?.pointer else {
            throw PostgresError(code: .connectionClosed, message: "the connection is closed", sql: sql, parameterCount: parameterCount)
        }
        guard PQstatus(pointer) == CONNECTION_BAD else { return pointer }
        guard !isInTransaction else {
            throw PostgresError(
                code: .connectionLost,
                message: "the connection was lost inside a transaction",
                sql: sql,
                parameterCount: parameterCount
            )
        }
        logger.debug("postgres connection broken, resetting")
        prepared = [:]
        PQreset(pointer)
        guard PQstatus(pointer) == CONNECTION_OK else {
            throw PostgresError(code: .connectionFailed, message: lastErrorMessage(pointer), sql: sql, parameterCount: parameterCount)
        }
        return pointer
    }

    /// Copies `result` into ``PostgresRows`` or turns it into a ``PostgresError``; clears it.
    private func rows(
        of result: OpaquePointer?,
        connection: OpaquePointer,
        sql: String,
        parameters: [String?]
    ) throws -> PostgresRows {
        guard let result else {
            // NULL: out of memory or the connection could not send the statement.
            throw PostgresError(
                code: PQstatus(connection) == CONNECTION_BAD ? .connectionLost : .queryFailed,
                message: lastErrorMessage(connection),
                sql: sql,
                parameterCount: parameters.count
            )
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return Self.copyRows(result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            abandonCopy(connection, status: status)
            throw PostgresError(
                code: .unexpectedResult,
                message: "COPY is not supported by query/execute",
                sql: sql,
                parameterCount: parameters.count
            )
        default:
            throw serverError(result, connection: connection, sql: sql, parameters: parameters)
        }
    }

    private static func copyRows(_ result: OpaquePointer) -> PostgresRows {
        let columnCount = PQnfields(result)
        let rowCount = PQntuples(result)
        let columns = (0..<columnCount).map { text(PQfname(result, $0)) ?? "" }
        var cells: [[String?]] = []
        cells.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            cells.append(
                (0..<columnCount).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : text(PQgetvalue(result, row, column))
                }
            )
        }
        return PostgresRows(
            columns: columns,
            cells: cells,
            commandTag: text(PQcmdStatus(result)) ?? "",
            affectedRows: text(PQcmdTuples(result)).flatMap { Int($0) }
        )
    }

    /// The server's error fields (or libpq's message for a client-side failure), redacted.
    private func serverError(
        _ result: OpaquePointer,
        connection: OpaquePointer,
        sql: String,
        parameters: [String?]
    ) -> PostgresError {
        func field(_ code: UInt8) -> String? { Self.text(PQresultErrorField(result, Int32(code))) }
        let values = parameters.compactMap { $0 }
        let sqlState = field(UInt8(ascii: "C")).map(PostgresError.SQLState.init(rawValue:))
        let primary = field(UInt8(ascii: "M")) ?? Self.trimmed(Self.text(PQresultErrorMessage(result)) ?? "")
        let lost = sqlState == nil && PQstatus(connection) == CONNECTION_BAD
        return PostgresError(
            code: lost ? .connectionLost : .queryFailed,
            sqlState: sqlState,
            message: PostgresRedaction.redactingParameters(in: primary, parameters: values),
            detail: field(UInt8(ascii: "D")).map { PostgresRedaction.redactingDetail($0, parameters: values) },
            hint: field(UInt8(ascii: "H")).map { PostgresRedaction.redactingParameters(in: $0, parameters: values) },
            constraintName: field(UInt8(ascii: "n")),
            tableName: field(UInt8(ascii: "t")),
            sql: sql,
            parameterCount: parameters.count
        )
    }

    /// Ends a COPY that `PQexecParams` started, so the session is usable again.
    private func abandonCopy(_ connection: OpaquePointer, status: ExecStatusType) {
        if status == PGRES_COPY_OUT {
            var buffer: UnsafeMutablePointer<CChar>?
            while PQgetCopyData(connection, &buffer, 0) > 0 {
                PQfreemem(buffer)
                buffer = nil
            }
        } else {
            _ = PQputCopyEnd(connection, "COPY is not supported by query/execute")  // failure surfaces below
        }
        while let pending = PQgetResult(connection) { PQclear(pending) }
    }

    /// libpq's last message for `connection`, without its trailing newline or any password.
    private func lastErrorMessage(_ connection: OpaquePointer) -> String {
        var message = Self.trimmed(Self.text(PQerrorMessage(connection)) ?? "")
        for secret in secrets { message = message.replacing(secret, with: "***") }
        return message.isEmpty ? "unknown libpq error" : message
    }

    private static func text(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    private static func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    private static func trimmed(_ message: String) -> String {
        var message = Substring(message)
        while let last = message.last, last.isWhitespace { message = message.dropLast() }
        return String(message)
    }
}
