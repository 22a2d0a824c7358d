import Dispatch

/// A serial executor backed by its own dispatch queue, for actors that wrap *blocking* C libraries
/// (libpq's synchronous API, hiredis' blocking context). Their calls then block a dispatch thread,
/// never one of the cooperative pool's (about two on our 2-core machines, STYLE.md §5). This is the
/// GRDB `DispatchQueueActor` technique: the actor returns this executor from `unownedExecutor`.
public final class DispatchQueueExecutor: SerialExecutor, @unchecked Sendable {
    // @unchecked Sendable: the only stored property is an immutable, thread-safe DispatchQueue.
    private let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { unownedJob.runSynchronously(on: executor) }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}
