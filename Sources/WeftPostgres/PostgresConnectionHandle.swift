import CLibPQ

/// Owns one libpq `PGconn` and finishes it when released (GRDB's `Statement.deinit` pattern).
///
/// Not `Sendable`: it lives inside one ``PostgresConnection`` actor and its pointer is only used
/// on that actor's executor. `deinit` may run on whichever thread drops the last reference, which
/// is fine for `PQfinish` (it sends a Terminate message and closes the socket).
final class PostgresConnectionHandle {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { PQfinish(pointer) }
}
