import CHiredis
import Logging
import WeftCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One Redis connection over hiredis' blocking `redisContext`.
///
/// Every hiredis call blocks its thread, so the actor runs on its own ``DispatchQueueExecutor``
/// (GRDB's `DispatchQueueActor` technique, STYLE.md §5), never on Swift's cooperative pool.
/// A later step may replace the blocking context with hiredis' async API on Weft's epoll loop
/// (five `@convention(c)` adapter callbacks), without changing this API.
///
/// Commands are built with `redisCommandArgv` only (binary safe, no format strings):
/// ```
/// let redis = try await RedisConnection.connect(url: "redis://127.0.0.1:6379", logger: logger)
/// try await redis.command(["SET", "k", "v", "NX", "PX", "30000"])      // .status("OK") or .null
/// let counts = try await redis.pipeline([["INCR", "c"], ["INCR", "c"]])  // [.integer(1), .integer(2)]
/// ```
///
/// Invariants:
/// - An error reply is thrown as ``RedisError`` (`errorReply`); errors never contain arguments.
/// - After an I/O error, timeout or protocol error the context is unusable (hiredis sets `err`):
///   the connection drops it and the next command reconnects once (with AUTH and SELECT); the
///   failed command itself is not retried, since it may have taken effect.
/// - After ``close()`` every call throws `connectionClosed`.
/// - A blocking call is bounded by `commandTimeout`, not by task cancellation.
///
/// hiredis writes with `write(2)`, not `send(..., MSG_NOSIGNAL)`: a process using this type must
/// ignore `SIGPIPE` (`signal(SIGPIPE, SIG_IGN)` at start-up), or a write to a connection the
/// server already reset kills it. This library does not change process-wide signal handling.
public actor RedisConnection {
    private let executor: DispatchQueueExecutor

    /// The connection's own serial executor: hiredis blocks one of its dispatch threads.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let url: RedisURL
    private let connectTimeout: Duration
    private let commandTimeout: Duration?
    private let logger: Logger
    private var context: RedisContextHandle?
    private var isClosed = false
    /// Script source → SHA1 from `SCRIPT LOAD`, for ``evaluate(script:keys:arguments:)``.
    private var scriptHashes: [String: String] = [:]

    private init(url: RedisURL, connectTimeout: Duration, commandTimeout: Duration?, logger: Logger) {
        executor = DispatchQueueExecutor(label: "weft.redis.connection")
        self.url = url
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.logger = logger
    }

    /// Connects to `redis://[[username]:password@]host[:port][/db]`, then sends `AUTH` (when the
    /// URL has a password) and `SELECT` (when it names a database other than 0).
    ///
    /// - Parameters:
    ///   - connectTimeout: bound on the TCP connect (`redisConnectWithTimeout`).
    ///   - commandTimeout: bound on each blocking send and receive (`SO_RCVTIMEO`/`SO_SNDTIMEO`
    ///     via `redisSetTimeout`); `nil` waits forever. A timeout breaks the connection (the reply
    ///     may still arrive), so it must exceed the slowest command, including blocking ones.
    /// - Throws: ``RedisError`` with code `connectionFailed` (the password never appears in it).
    public static func connect(
        url: String,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration? = .seconds(30),
        logger: Logger
    ) async throws -> RedisConnection {
        let connection = RedisConnection(
            url: try RedisURL(parsing: url),
            connectTimeout: connectTimeout,
            commandTimeout: commandTimeout,
            logger: logger
        )
        try await connection.open()
        return connection
    }

    /// Closes the connection (`redisFree`). Idempotent.
    public func close() {
        if context != nil { logger.debug("redis connection closed") }
        context = nil
        isClosed = true
    }

    /// Whether the context is open and hiredis has not marked it failed.
    public var isConnected: Bool { context.map { !$0.isBroken } ?? false }

    /// Sends one command and returns its reply; an error reply is thrown.
    @discardableResult
    public func command(_ arguments: [String]) throws -> RedisValue {
        try command(arguments.map { Array($0.utf8) })
    }

    /// Sends one command with binary-safe arguments and returns its reply.
    @discardableResult
    public func command(_ arguments: [[UInt8]]) throws -> RedisValue {
        let name = Self.commandName(arguments)
        guard !arguments.isEmpty else {
            throw RedisError(code: .invalidArgument, message: "a command needs at least its name")
        }
        let context = try liveContext(command: name)
        let reply = withRedisArgv(arguments) { argc, argv, lengths in
            redisCommandArgv(context.pointer, argc, argv, lengths)
        }
        guard let reply else { throw dropContext(context, command: name) }
        defer { freeReplyObject(reply) }
        return try Self.value(of: reply.assumingMemoryBound(to: redisReply.self), command: name)
    }

    /// Sends all `commands` at once (`redisAppendCommandArgv`) and reads their replies in order
    /// (`redisGetReply`): one round trip.
    ///
    /// Every reply is read even when some are errors, so the connection stays in step; then the
    /// first error reply is thrown (its message says which command of the pipeline it was).
    public func pipeline(_ commands: [[String]]) throws -> [RedisValue] {
        try pipeline(commands.map { $0.map { Array($0.utf8) } })
    }

    /// ``pipeline(_:)-([[String]])`` with binary-safe arguments.
    public func pipeline(_ commands: [[[UInt8]]]) throws -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        let names = commands.map(Self.commandName)
        if let empty = commands.firstIndex(where: \.isEmpty) {
            throw RedisError(code: .invalidArgument, message: "command \(empty + 1) of the pipeline has no arguments")
        }
        let context = try liveContext(command: names[0])
        for arguments in commands {
            let status = withRedisArgv(arguments) { argc, argv, lengths in
                redisAppendCommandArgv(context.pointer, argc, argv, lengths)
            }
            // Only fails when out of memory: the output buffer is then half-built, so drop it.
            guard status == REDIS_OK else { throw dropContext(context, command: nil) }
        }
        var values: [RedisValue] = []
        values.reserveCapacity(commands.count)
        var firstError: RedisError?
        for (index, name) in names.enumerated() {
            var reply: UnsafeMutableRawPointer?
            guard redisGetReply(context.pointer, &reply) == REDIS_OK, let reply else {
                throw dropContext(context, command: name)
            }
            defer { freeReplyObject(reply) }
            do {
                values.append(try Self.value(of: reply.assumingMemoryBound(to: redisReply.self), command: name))
            } catch var error {
                error.message += " (command \(index + 1) of \(commands.count) in the pipeline)"
                firstError = firstError ?? error
                values.append(.null)
            }
        }
        if let firstError { throw firstError }
        return values
    }

    /// Runs a Lua script with `EVALSHA`, loading it with `SCRIPT LOAD` the first time this
    /// connection uses it, and falling back to `EVAL` (which caches it again) when the server
    /// answers `NOSCRIPT` (script cache flushed, server restarted or failed over).
    @discardableResult
    public func evaluate(script: String, keys: [String], arguments: [String]) throws -> RedisValue {
        let tail = [String(keys.count)] + keys + arguments
        let sha: String
        if let known = scriptHashes[script] {
            sha = known
        } else {
            guard let loaded = try command(["SCRIPT", "LOAD", script]).string else {
                throw RedisError(code: .unexpectedReply, message: "SCRIPT LOAD did not return a SHA1", command: "SCRIPT")
            }
            scriptHashes[script] = loaded
            sha = loaded
        }
        do {
            return try command(["EVALSHA", sha] + tail)
        } catch let error as RedisError where error.errorPrefix == "NOSCRIPT" {
            logger.debug("redis script cache miss, sending EVAL")
            return try command(["EVAL", script] + tail)
        }
    }

    // MARK: - hiredis plumbing

    private func open() throws {
        guard let pointer = redisConnectWithTimeout(url.host, Int32(url.port), Self.timeValue(connectTimeout)) else {
            throw RedisError(code: .connectionFailed, message: "hiredis could not allocate a context")
        }
        let context = RedisContextHandle(pointer)  // frees the context on every path
        guard !context.isBroken else {
            throw RedisError(code: .connectionFailed, message: "\(context.errorMessage) (\(url))")
        }
        if let commandTimeout, redisSetTimeout(pointer, Self.timeValue(commandTimeout)) != REDIS_OK {
            throw RedisError(code: .connectionFailed, message: "could not set the command timeout: \(context.errorMessage)")
        }
        // The context is not stored yet: AUTH and SELECT go through it directly.
        if let password = url.password {
            let auth = url.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            try handshake(context, auth)
        }
        if url.database != 0 {
            try handshake(context, ["SELECT", String(url.database)])
        }
        self.context = context
        logger.debug("redis connection opened", metadata: ["redis.address": "\(url)"])
    }

    /// Sends a connection-setup command; any failure is `connectionFailed`.
    private func handshake(_ context: RedisContextHandle, _ arguments: [String]) throws {
        let name = arguments[0]
        let reply = withRedisArgv(arguments.map { Array($0.utf8) }) { argc, argv, lengths in
            redisCommandArgv(context.pointer, argc, argv, lengths)
        }
        guard let reply else {
            throw RedisError(code: .connectionFailed, message: context.errorMessage, command: name)
        }
        defer { freeReplyObject(reply) }
        do {
            _ = try Self.value(of: reply.assumingMemoryBound(to: redisReply.self), command: name)
        } catch {
            throw RedisError(code: .connectionFailed, message: error.message, command: name)
        }
    }

    /// The context to use; reconnects once if the previous one failed.
    private func liveContext(command: String?) throws -> RedisContextHandle {
        guard !isClosed else {
            throw RedisError(code: .connectionClosed, message: "the connection is closed", command: command)
        }
        if let context, !context.isBroken { return context }
        logger.debug("redis connection broken, reconnecting", metadata: ["redis.address": "\(url)"])
        context = nil
        try open()
        return context!  // open() stores it or throws
    }

    /// Forgets a context hiredis failed, so the next command reconnects; returns the error.
    private func dropContext(_ failed: RedisContextHandle, command: String?) -> RedisError {
        let code: RedisError.Code = failed.pointer.pointee.err == REDIS_ERR_PROTOCOL ? .protocolError : .connectionLost
        let error = RedisError(code: code, message: failed.errorMessage, command: command)
        if context === failed { context = nil }
        logger.debug("redis connection failed", metadata: ["error": "\(error)"])
        return error
    }

    /// Copies a reply tree into a ``RedisValue``; an error reply anywhere in it is thrown.
    private static func value(of reply: UnsafePointer<redisReply>, command: String?) throws(RedisError) -> RedisValue {
        let reply = reply.pointee
        switch reply.type {
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(reply.integer))
        case REDIS_REPLY_STRING:
            return .bulk(bytes(reply.str, reply.len))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: bytes(reply.str, reply.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            let message = String(decoding: bytes(reply.str, reply.len), as: UTF8.self)
            throw RedisError(code: .errorReply, message: message, command: command)
        case REDIS_REPLY_ARRAY:
            var elements: [RedisValue] = []
            elements.reserveCapacity(reply.elements)
            for index in 0..<reply.elements {
                guard let element = reply.element[index] else {
                    throw RedisError(code: .protocolError, message: "array reply with a missing element", command: command)
                }
                elements.append(try value(of: element, command: command))
            }
            return .array(elements)
        default:
            throw RedisError(code: .protocolError, message: "unknown reply type \(reply.type)", command: command)
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// The command's name for errors and logs (`SET`), never an argument.
    private static func commandName(_ arguments: [[UInt8]]) -> String? {
        guard let first = arguments.first, first.count <= 32,
              let name = String(validating: first, as: UTF8.self)
        else { return nil }
        return name.uppercased()
    }

    private static func timeValue(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        return timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
