import CLibPQ
import Logging

/// Owns one libpq `PGconn` and finishes it when released (GRDB's `Statement.deinit` pattern).
///
/// Not `Sendable`: it lives inside one ``PostgresConnection`` actor and its pointer is only used
/// on that actor's executor. `deinit` may run on whichever thread drops the last reference, which
/// is fine for `PQfinish` (it sends a Terminate message and closes the socket).
final class PostgresConnectionHandle {
    let pointer: OpaquePointer
    /// Kept alive as long as the `PGconn`, whose notice processor points at it.
    private let notices: PostgresNoticeSink

    init(_ pointer: OpaquePointer, logger: Logger) {
        self.pointer = pointer
        notices = PostgresNoticeSink(logger: logger)
        notices.install(on: pointer)
    }

    deinit { PQfinish(pointer) }
}

/// Receives the server's notices and warnings (`NOTICE: relation "t" already exists, skipping`)
/// and logs them at debug. Without it libpq prints them to the process's standard error, which
/// would interleave raw lines with the `weft` binaries' logs (and break `--log-format json`).
///
/// libpq calls the processor synchronously, on the thread running the statement (the
/// connection's executor), while the handle, and therefore this sink, is alive.
final class PostgresNoticeSink {
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func install(on connection: OpaquePointer) {
        _ = PQsetNoticeProcessor(  // returns the previous processor (libpq's default), not needed
            connection,
            { context, message in
                guard let context, let message else { return }
                Unmanaged<PostgresNoticeSink>.fromOpaque(context).takeUnretainedValue().received(String(cString: message))
            },
            Unmanaged.passUnretained(self).toOpaque()
        )
    }

    private func received(_ message: String) {
        var text = Substring(message)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        logger.debug("postgres notice", metadata: ["postgres.notice": "\(text)"])
    }
}
