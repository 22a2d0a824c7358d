import DequeModule

/// The ready tasks of one queue name (ARCHITECTURE.md §4 "Dispatch"): four priority levels, FIFO
/// within a level, and aging so that low priority cannot starve.
///
/// Aging: an item's effective level is its base level plus one for every `agingInterval` it has
/// waited, capped at the top level. `pop` returns the item with the highest effective level, the
/// oldest among equals. Within one base level the oldest item always has the highest effective
/// level, so only the four heads need comparing: `push` and `pop` are O(1) (amortised).
///
/// Removal (a cancelled run's tasks) is lazy: `remove(_:)` marks the id and `pop` skips it.
/// Pure: time is passed in as milliseconds.
public struct ReadyQueue<Item: Sendable>: Sendable {
    public static var levels: Int { 4 }

    struct Entry: Sendable {
        var id: UInt64
        var item: Item
        var enqueuedAt: Int64
    }

    /// Milliseconds a waiting item needs to climb one level. Default 2 s: a low-priority task
    /// overtakes fresh normal ones after 2 s and fresh critical ones after 6 s.
    public var agingIntervalMilliseconds: Int64
    private var levels: [Deque<Entry>] = Array(repeating: Deque(), count: 4)
    private var removed: Set<UInt64> = []
    private var nextID: UInt64 = 1
    public private(set) var count = 0
    /// Items per base level (0 = lowest … 3 = critical), removed ones excluded.
    public private(set) var countsByLevel = [0, 0, 0, 0]

    public init(agingIntervalMilliseconds: Int64 = 2_000) {
        precondition(agingIntervalMilliseconds > 0, "the aging interval must be positive")
        self.agingIntervalMilliseconds = agingIntervalMilliseconds
    }

    public var isEmpty: Bool { count == 0 }

    /// Adds `item` at `level` (0 = lowest … 3 = critical). Returns an id for `remove`.
    @discardableResult
    public mutating func push(_ item: Item, level: Int, now: Int64) -> UInt64 {
        precondition((0..<Self.levels).contains(level), "priority level \(level) out of range")
        let id = nextID
        nextID += 1
        levels[level].append(Entry(id: id, item: item, enqueuedAt: now))
        count += 1
        countsByLevel[level] += 1
        return id
    }

    /// Takes the item that should run next, or nil when empty.
    public mutating func pop(now: Int64) -> Item? {
        var best: (level: Int, effective: Int64, enqueuedAt: Int64, id: UInt64)?
        for level in 0..<Self.levels {
            while let head = levels[level].first, removed.contains(head.id) {
                removed.remove(head.id)
                levels[level].removeFirst()
            }
            guard let head = levels[level].first else { continue }
            let waited = max(0, now - head.enqueuedAt)
            let effective = min(Int64(Self.levels - 1), Int64(level) + waited / agingIntervalMilliseconds)
            if let current = best {
                // Higher effective level wins; among equals the older item, then the lower id.
                if effective < current.effective { continue }
                if effective == current.effective
                    && (head.enqueuedAt, head.id) > (current.enqueuedAt, current.id) { continue }
            }
            best = (level, effective, head.enqueuedAt, head.id)
        }
        guard let best else { return nil }
        count -= 1
        countsByLevel[best.level] -= 1
        return levels[best.level].removeFirst().item
    }

    /// When the longest-waiting item was queued (milliseconds), nil when empty. O(levels) plus the
    /// removed items still at the heads.
    public var oldestEnqueuedAt: Int64? {
        var oldest: Int64?
        for level in levels {
            guard let head = level.first(where: { !removed.contains($0.id) }) else { continue }
            oldest = min(oldest ?? head.enqueuedAt, head.enqueuedAt)
        }
        return oldest
    }

    /// Forgets the item with `id` if it is still queued. Returns whether it was.
    @discardableResult
    public mutating func remove(_ id: UInt64) -> Bool {
        for level in 0..<Self.levels where levels[level].contains(where: { $0.id == id }) {
            guard !removed.contains(id) else { return false }
            removed.insert(id)
            count -= 1
            countsByLevel[level] -= 1
            return true
        }
        return false
    }
}
