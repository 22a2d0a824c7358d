import DequeModule

/// Tasks waiting for a flow limit (issue 12) before they reach the `Dispatcher`: one FIFO per
/// bucket — a rate or concurrency limit's evaluated key — and at most one question to Redis in
/// flight per bucket, asking for as many grants as tasks wait (a queue of a thousand costs one
/// round trip, not a thousand polls). A waiting task holds no worker slot. Buckets are independent:
/// a key at its limit never holds up another key's tasks, so one busy key cannot starve the rest.
///
/// Rate limits are granted by count (the oldest N go); concurrency limits by member (each task's
/// attempt identity — Redis answers which of the asked members hold a slot).
///
/// Pure: the shell asks (``nextAcquire(_:max:)``), carries the question to Redis, and feeds the
/// answer back (``granted(_:count:)``, ``granted(_:members:)``, ``retry(_:)``), then dispatches
/// what was released.
struct FlowGate<Item: Sendable, Limit: Sendable & Equatable>: Sendable {
    struct Ticket: Hashable, Sendable {
        let bucket: String
        let id: UInt64
    }

    /// What the shell asks Redis for: grants for the `members` at the head of the bucket's queue
    /// (their count is how many are wanted), under the bucket's latest `limit`.
    struct Acquire: Sendable, Equatable {
        var bucket: String
        var limit: Limit
        var members: [String]
        var wanted: Int { members.count }
    }

    /// Where a bucket's question to Redis is: none out, one out (ask nothing more), or answered
    /// "not now" with a retry timer armed (its generation: a timer of an earlier wait does nothing).
    enum QuestionState: Equatable, Sendable {
        case idle
        case asking
        case waiting(UInt64)
    }

    private struct Entry: Sendable {
        var id: UInt64
        var member: String
        var item: Item
    }

    private struct Bucket: Sendable {
        var waiting: Deque<Entry> = []
        var removed: Set<UInt64> = []
        var limit: Limit
        var state: QuestionState = .idle
        var busy: Bool { state != .idle }
        var count: Int { waiting.count - removed.count }

        /// Drops removed entries at the head, so that memory stays bounded by what waits.
        mutating func compact() {
            while let head = waiting.first, removed.contains(head.id) {
                removed.remove(head.id)
                waiting.removeFirst()
            }
        }
    }

    private var buckets: [String: Bucket] = [:]
    private var nextID: UInt64 = 1
    private var nextGeneration: UInt64 = 0
    private(set) var count = 0
    /// Waiting tasks per queue name, for `weftctl queues`.
    private(set) var countsByQueue: [String: Int] = [:]
    private var queueOf: [UInt64: String] = [:]

    /// Adds `item` (whose attempt is `member`) to `bucket`, created with `limit` when new; an
    /// existing bucket takes the latest limit. Returns its ticket.
    mutating func enqueue(_ item: Item, bucket: String, member: String = "", queue: String, limit: Limit) -> Ticket {
        let id = nextID
        nextID += 1
        buckets[bucket, default: Bucket(limit: limit)].limit = limit
        buckets[bucket]!.waiting.append(Entry(id: id, member: member, item: item))
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
        bucket.compact()
        uncount(queue)
        buckets[ticket.bucket] = bucket.count == 0 && !bucket.busy ? nil : bucket
        return true
    }

    /// Takes one waiting task out (it was let through another way); nil when it no longer waits.
    mutating func take(_ ticket: Ticket) -> Item? {
        guard let bucket = buckets[ticket.bucket], queueOf[ticket.id] != nil,
            let entry = bucket.waiting.first(where: { $0.id == ticket.id })
        else { return nil }
        remove(ticket)
        return entry.item
    }

    /// The question to ask Redis for `bucket` now (for at most `max` tasks), marking it busy; nil
    /// when nothing waits or it is busy already.
    mutating func nextAcquire(_ name: String, max: Int) -> Acquire? {
        guard var bucket = buckets[name], !bucket.busy, bucket.count > 0, max > 0 else { return nil }
        bucket.state = .asking
        var members: [String] = []
        for entry in bucket.waiting where !bucket.removed.contains(entry.id) {
            members.append(entry.member)
            if members.count == max { break }
        }
        buckets[name] = bucket
        return Acquire(bucket: name, limit: bucket.limit, members: members)
    }

    /// Redis granted `count` for `bucket`: the oldest `count` waiting tasks, released (a grant asked
    /// for a task removed meanwhile goes to the next one; fewer when fewer wait). The bucket is no
    /// longer busy.
    mutating func granted(_ name: String, count granted: Int) -> [Item] {
        take(name, scan: granted) { _ in true }
    }

    /// Redis gave slots to `members` of the `asked` oldest waiting tasks of `bucket` (the question's
    /// members): their tasks, released in queue order; the others keep their places. The bucket is
    /// no longer busy.
    mutating func granted(_ name: String, members: Set<String>, asked: Int) -> [Item] {
        take(name, scan: asked) { members.contains($0) }
    }

    /// The question failed or was refused: the bucket waits (asks nothing) until ``retry(_:generation:)``
    /// with the returned generation, or ``wake(_:)``.
    mutating func wait(_ name: String) -> UInt64 {
        nextGeneration += 1
        buckets[name]?.state = .waiting(nextGeneration)
        return nextGeneration
    }

    /// The wait of `generation` is over: the bucket may be asked again (nothing happens if it was
    /// woken, or asked, since).
    mutating func retry(_ name: String, generation: UInt64) {
        guard var bucket = buckets[name], bucket.state == .waiting(generation) else { return }
        bucket.state = .idle
        buckets[name] = bucket.count == 0 ? nil : bucket
    }

    /// Something changed that may let `bucket` through (a slot came back): a waiting bucket may be
    /// asked again at once. Returns false when a question is out (its answer may predate the change).
    mutating func wake(_ name: String) -> Bool {
        guard var bucket = buckets[name] else { return true }
        switch bucket.state {
        case .idle: return true
        case .asking: return false
        case .waiting:
            bucket.state = .idle
            buckets[name] = bucket
            return true
        }
    }

    /// The tasks waiting in `bucket`, oldest first. O(waiting).
    func waiting(_ name: String) -> [Item] {
        guard let bucket = buckets[name] else { return [] }
        return bucket.waiting.filter { !bucket.removed.contains($0.id) }.map(\.item)
    }

    /// Whether `bucket` has tasks waiting.
    func hasWaiting(_ name: String) -> Bool { (buckets[name]?.count ?? 0) > 0 }

    var bucketCount: Int { buckets.count }

    /// Looks at the `scan` oldest waiting tasks (new ones are only ever appended, so they are the
    /// ones a question asked about): those `shouldTake` accepts are released, the rest keep their
    /// places. O(scan), whatever the queue's length.
    private mutating func take(_ name: String, scan: Int, where shouldTake: (_ member: String) -> Bool) -> [Item] {
        guard var bucket = buckets[name] else { return [] }
        bucket.state = .idle
        var out: [Item] = []
        var kept: [Entry] = []
        var seen = 0
        while seen < scan, let entry = bucket.waiting.popFirst() {
            if bucket.removed.remove(entry.id) != nil { continue }
            seen += 1
            if shouldTake(entry.member) {
                if let queue = queueOf.removeValue(forKey: entry.id) { uncount(queue) }
                out.append(entry.item)
            } else {
                kept.append(entry)
            }
        }
        bucket.waiting.insert(contentsOf: kept, at: 0)
        bucket.compact()
        buckets[name] = bucket.count == 0 ? nil : bucket
        return out
    }

    private mutating func uncount(_ queue: String) {
        count -= 1
        countsByQueue[queue]! -= 1
        if countsByQueue[queue] == 0 { countsByQueue[queue] = nil }
    }
}
