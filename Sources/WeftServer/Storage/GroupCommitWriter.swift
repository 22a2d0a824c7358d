import DequeModule
import WeftCore

/// Group commit (ARCHITECTURE.md §5): callers submit records and wait; one loop writes whatever
/// has accumulated as one batch (one Postgres transaction), then answers every caller of that batch.
///
/// - Batching is natural: while one batch commits, new records queue up, and the next batch takes
///   them all (up to `maxBatchRecords`). With `maxDelay > 0` an idle writer also waits that long
///   (or until `maxBatchRecords` are in) before it starts a batch, trading latency for size.
/// - Acknowledgement only after commit: `submit` returns the record's outcome once `flush`
///   returned, and throws `flush`'s error for every record of a failed batch. The writer never
///   retries a batch itself: a fenced batch that lost ownership must not be retried, and a transient
///   failure is for `flush` (which knows what the batch holds) to retry.
/// - Bounded: at most `maxQueuedRecords` wait; beyond that `submit` of new work fails fast with
///   `RESOURCE_EXHAUSTED` so that overload turns into clear errors, not memory growth. (Records
///   that must not be refused — changes of work already accepted — are queued regardless.)
/// - Order: batches are written one at a time, records in submission order.
public actor GroupCommitWriter<Record: Sendable, Outcome: Sendable> {
    public struct Configuration: Sendable {
        /// Records in one batch (one transaction). Default 1,000.
        public var maxBatchRecords = 1_000
        /// How long an idle writer waits for more records before committing a batch. Default 0:
        /// commit at once; batches still form while a commit is in flight.
        public var maxDelay: Duration = .zero
        /// Records waiting (not yet in a batch) before `submit` refuses. Default 100,000.
        public var maxQueuedRecords = 100_000

        public init() {}
    }

    public typealias Flush = @Sendable ([Record]) async throws -> [Outcome]

    private struct Waiting {
        var record: Record
        var continuation: CheckedContinuation<Outcome, any Error>
    }

    public let configuration: Configuration
    private let flush: Flush
    private var queue = Deque<Waiting>()
    private var idleWaiter: CheckedContinuation<Void, Never>?
    private var closed = false
    /// Batches committed and records written, for metrics and tests.
    public private(set) var batchesCommitted = 0
    public private(set) var recordsCommitted = 0
    public private(set) var largestBatch = 0

    public init(configuration: Configuration = Configuration(), flush: @escaping Flush) {
        self.configuration = configuration
        self.flush = flush
    }

    /// Queues `record` and returns its outcome after the batch holding it committed. With
    /// `mayRefuse` (new work, which can be refused) a full queue throws `RESOURCE_EXHAUSTED`;
    /// without (changes of work already accepted, which must not be lost) the record is queued
    /// anyway.
    public func submit(_ record: Record, mayRefuse: Bool = true) async throws -> Outcome {
        guard !closed else { throw RPCError(.unavailable, "the writer is shut down") }
        guard !mayRefuse || queue.count < configuration.maxQueuedRecords else {
            throw RPCError(.resourceExhausted, "the write queue is full (\(configuration.maxQueuedRecords) records); retry later")
        }
        return try await withCheckedThrowingContinuation { continuation in
            queue.append(Waiting(record: record, continuation: continuation))
            if let waiter = idleWaiter {
                idleWaiter = nil
                waiter.resume()
            }
        }
    }

    /// Records waiting for a batch.
    public var queuedRecords: Int { queue.count }

    /// Writes batches until cancelled; then writes what is queued and refuses new records.
    public func run() async {
        while true {
            if queue.isEmpty {
                if Task.isCancelled || closed { break }
                await withTaskCancellationHandler {
                    await withCheckedContinuation { idleWaiter = $0 }
                } onCancel: {
                    Task { await self.wakeForShutdown() }
                }
                continue
            }
            if configuration.maxDelay > .zero && queue.count < configuration.maxBatchRecords && !Task.isCancelled {
                // Cancellation only shortens the wait; the queued records are written below.
                try? await Task.sleep(for: configuration.maxDelay)
            }
            let count = min(queue.count, configuration.maxBatchRecords)
            let batch = Array(queue.prefix(count))
            queue.removeFirst(count)
            do {
                // The flush runs in a task of its own so that cancelling `run()` (shutdown) does not
                // cancel a commit under way: the queued records are still written.
                let records = batch.map(\.record)
                let flush = self.flush
                let outcomes = try await Task { try await flush(records) }.value
                precondition(outcomes.count == batch.count, "flush returned \(outcomes.count) outcomes for \(batch.count) records")
                batchesCommitted += 1
                recordsCommitted += batch.count
                largestBatch = max(largestBatch, batch.count)
                for (waiting, outcome) in zip(batch, outcomes) { waiting.continuation.resume(returning: outcome) }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
        closed = true
        let leftovers = queue
        queue.removeAll()
        for waiting in leftovers { waiting.continuation.resume(throwing: RPCError(.unavailable, "the writer is shut down")) }
    }

    private func wakeForShutdown() {
        closed = true
        if let waiter = idleWaiter {
            idleWaiter = nil
            waiter.resume()
        }
    }
}
