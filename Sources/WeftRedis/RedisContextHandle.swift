import CHiredis

/// Owns one blocking hiredis `redisContext` and frees it (`redisFree`, which closes the socket)
/// when released, like GRDB's `Statement.deinit`.
///
/// Not `Sendable`: it lives inside one ``RedisConnection`` actor and is only used on that actor's
/// executor.
final class RedisContextHandle {
    let pointer: UnsafeMutablePointer<redisContext>

    init(_ pointer: UnsafeMutablePointer<redisContext>) { self.pointer = pointer }

    deinit { redisFree(pointer) }

    /// Whether hiredis marked the context failed (`c->err != 0`); it is then unusable.
    var isBroken: Bool { pointer.pointee.err != 0 }

    /// hiredis' `errstr` (a `char[128]` imported as a tuple).
    var errorMessage: String {
        let message = withUnsafeBytes(of: pointer.pointee.errstr) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        return message.isEmpty ? "unknown hiredis error" : message
    }
}
