#if canImport(Glibc)
import Glibc
#endif

/// A value guarded by a `pthread_mutex_t`, with the same `withLock` shape as
/// `Synchronization.Mutex`.
///
/// Why not `Mutex` (which STYLE.md prefers)? On Linux, `Mutex` is built on futexes inside the
/// precompiled Synchronization module, which ThreadSanitizer does not instrument: every access
/// guarded by it is reported as a data race, drowning real ones. A pthread mutex is intercepted by
/// TSan, so `swift test --sanitize=thread` stays meaningful for the transport, and uncontended it
/// costs the same (~20 ns).
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only accessed with `mutex` held.
    private var mutex = pthread_mutex_t()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(&mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
    }

    @inline(__always)
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body(&value)
    }
}
