import DequeModule

/// Tasks waiting for their rate limit (issue 12), before they reach the `Dispatcher`: one FIFO per
/// bucket (a rate limit's evaluated key), and at most one question to Redis in flight per bucket —
/// it asks for as many grants as tasks wait, so a queue of a thousand costs one round trip per
/// grant window, not a thousand polls. A waiting task holds no worker slot.
///
/// Pure: the shell asks (``nextAcquire(_:)``), carries the question to Redis, and feeds the answer
/// back (``granted(_:count:)``, ``retryLater(_:)``), then dispatches what was released.
struct RateGate<Item: Sendable>: Sendable {
    struct Ticket: Hashable, Sendable {
        let bucket: String
        let id: UInt64
    }

    /// What the shell asks Redis for.
    struct Acquire: Sendable, Equatable {
        var bucket: String
        var emissionMicroseconds: Int64
        var burst: Int
        var wanted: Int
    }

    private struct Bucket: Sendable {
        var waiting: Deque<(id: UInt64, item: Item)> = []
        var removed: Set<UInt64> = []
        var emissionMicroseconds: Int64
        var burst: Int
        /// A question to Redis is in flight, or a retry timer is armed: ask nothing more.
        var busy = false
        var count: Int { waiting.count - removed.count }
    }

    /// Most grants asked for in one question.
    static var maxWanted: Int { 1_000 }

    private var buckets: [String: Bucket] = [:]
    private var nextID: UInt64 = 1
    private(set) var count = 0
    /// Queue name per waiting ticket, for `weftctl queues`.
    private(set) var countsByQueue: [String: Int] = [:]
    private var queueOf: [UInt64: String] = [:]

    /// Adds `item` to `bucket` (created with the limit's parameters when new; an existing bucket
    /// takes the latest ones). Returns its ticket.
    mutating func enqueue(_ item: Item, bucket: String, queue: String, emissionMicroseconds: Int64, burst: Int) -> Ticket {
        let id = nextID
        nextID += 1
        if buckets[bucket] == nil {
            buckets[bucket] = Bucket(emissionMicroseconds: emissionMicroseconds, burst: burst)
        } else {
            buckets[bucket]!.emissionMicroseconds = emissionMicroseconds
            buckets[bucket]!.burst = burst
        }
        buckets[bucket]!.waiting.append((id, item))
        count += 1
        countsByQueue[queue, default: 0] += 1
        queueOf[id] = queue
        return Ticket(bucket: bucket, id: id)
    }

    /// Forgets a waiting task (its attempt was cancelled). Returns whether it was waiting.
    @discardableResult
    mutating func remove(_ ticket: Ticket) -> Bool {
        guard var bucket = buckets[ticket.bucket], let queue = queueOf.removeValue(forKey: ticket.id) else { return false }
        bucket.removed.insert(ticket.id)
        uncount(queue)
        if bucket.count == 0 && !bucket.busy {
            buckets[ticket.bucket] = nil
        } else {
            buckets[ticket.bucket] = bucket
        }
        return true
    }

    /// The question to ask Redis for `bucket` now, marking it busy; nil when it has nothing
    /// waiting or is busy already.
    mutating func nextAcquire(_ name: String) -> Acquire? {
        guard var bucket = buckets[name], !bucket.busy, bucket.count > 0 else { return nil }
        bucket.busy = true
        buckets[name] = bucket
        return Acquire(
            bucket: name, emissionMicroseconds: bucket.emissionMicroseconds, burst: bucket.burst,
            wanted: min(bucket.count, Self.maxWanted))
    }

    /// Redis granted `count` for `bucket`: the oldest `count` waiting tasks, released (fewer if some
    /// were removed meanwhile: those grants go unused). The bucket is no longer busy.
    mutating func granted(_ name: String, count granted: Int) -> [Item] {
        guard var bucket = buckets[name] else { return [] }
        bucket.busy = false
        var out: [Item] = []
        while out.count < granted, let (id, item) = bucket.waiting.popFirst() {
            if bucket.removed.remove(id) != nil { continue }
            if let queue = queueOf.removeValue(forKey: id) { uncount(queue) }
            out.append(item)
        }
        // Drop removed ones at the head, so that `count` stays exact and memory bounded.
        while let head = bucket.waiting.first, bucket.removed.contains(head.id) {
            bucket.removed.remove(head.id)
            bucket.waiting.removeFirst()
        }
        buckets[name] = bucket.count == 0 ? nil : bucket
        return out
    }

    /// The question failed or was refused; the bucket is asked again after a wait (the shell's
    /// timer) — until then it stays busy. `retry(_:)` ends the wait.
    mutating func retry(_ name: String) {
        guard var bucket = buckets[name] else { return }
        bucket.busy = false
        buckets[name] = bucket.count == 0 ? nil : bucket
    }

    var bucketCount: Int { buckets.count }

    private mutating func uncount(_ queue: String) {
        count -= 1
        countsByQueue[queue]! -= 1
        if countsByQueue[queue] == 0 { countsByQueue[queue] = nil }
    }
}
