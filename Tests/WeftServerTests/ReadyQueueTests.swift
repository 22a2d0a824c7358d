import Testing
@testable import WeftServer

@Suite("ReadyQueue")
struct ReadyQueueTests {
    @Test("higher priority first, FIFO within a level")
    func pop_priorityThenFIFO() {
        var queue = ReadyQueue<String>(agingIntervalMilliseconds: 1_000_000)
        queue.push("low-1", level: 0, now: 0)
        queue.push("normal-1", level: 1, now: 1)
        queue.push("critical-1", level: 3, now: 2)
        queue.push("normal-2", level: 1, now: 3)
        queue.push("high-1", level: 2, now: 4)
        queue.push("critical-2", level: 3, now: 5)
        var order: [String] = []
        while let item = queue.pop(now: 10) { order.append(item) }
        #expect(order == ["critical-1", "critical-2", "high-1", "normal-1", "normal-2", "low-1"])
        #expect(queue.isEmpty)
    }

    @Test("a waiting low-priority item ages past a stream of fresh normal ones")
    func pop_aging_preventsStarvation() {
        var queue = ReadyQueue<String>(agingIntervalMilliseconds: 100)
        queue.push("old-low", level: 0, now: 0)
        var served: [String] = []
        // Keep feeding fresh normal items; the low one must be served once it aged two levels.
        for t in stride(from: Int64(0), through: 400, by: 10) {
            queue.push("normal@\(t)", level: 1, now: t)
            if let item = queue.pop(now: t) { served.append(item) }
        }
        let index = served.firstIndex(of: "old-low")
        #expect(index != nil)
        #expect(index! <= 21, "served at \(String(describing: index))")
    }

    @Test("without waiting, aging changes nothing")
    func pop_noAge_strictPriority() {
        var queue = ReadyQueue<Int>(agingIntervalMilliseconds: 100)
        for i in 0..<100 { queue.push(i, level: i % 4, now: 0) }
        var last = 4
        while let item = queue.pop(now: 0) {
            #expect(item % 4 <= last)
            last = item % 4
        }
    }

    @Test("removed items are skipped and not counted")
    func remove_skipsItem() {
        var queue = ReadyQueue<String>()
        let a = queue.push("a", level: 1, now: 0)
        queue.push("b", level: 1, now: 0)
        let first = queue.remove(a)
        let second = queue.remove(a)
        #expect(first && !second)
        #expect(queue.count == 1)
        let next = queue.pop(now: 0)
        let none = queue.pop(now: 0)
        #expect(next == "b" && none == nil)
        #expect(queue.count == 0)
    }

    @Test("counts per level and the oldest item's time follow pushes, pops and removals")
    func countsByLevel_oldest() {
        var queue = ReadyQueue<String>()
        #expect(queue.countsByLevel == [0, 0, 0, 0] && queue.oldestEnqueuedAt == nil)
        let a = queue.push("a", level: 1, now: 100)
        queue.push("b", level: 3, now: 200)
        queue.push("c", level: 1, now: 300)
        #expect(queue.countsByLevel == [0, 2, 0, 1] && queue.oldestEnqueuedAt == 100)
        queue.remove(a)
        #expect(queue.countsByLevel == [0, 1, 0, 1] && queue.oldestEnqueuedAt == 200)
        #expect(queue.pop(now: 300) == "b")
        #expect(queue.countsByLevel == [0, 1, 0, 0] && queue.oldestEnqueuedAt == 300)
        #expect(queue.pop(now: 300) == "c")
        #expect(queue.countsByLevel == [0, 0, 0, 0] && queue.oldestEnqueuedAt == nil)
    }
}
