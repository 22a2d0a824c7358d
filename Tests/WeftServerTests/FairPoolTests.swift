import Testing
import WeftCore
@testable import WeftServer

@Suite("Fair pool")
struct FairPoolTests {
    /// A gate the test opens: holders of the pool's one resource wait on it.
    final class Gate: Sendable {
        private let opened = Locked(false)
        func open() { opened.withLock { $0 = true } }
        func wait() async {
            while !opened.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(1)) }
        }
    }

    /// Waits until `count` reads wait in `pool` (bounded: 10 s).
    static func waitUntil<R>(_ pool: FairPool<R>, waiting count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while pool.waiting != count {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Waits until every resource of `pool` is taken (bounded: 10 s).
    static func waitUntilTaken<R>(_ pool: FairPool<R>) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while pool.idle != 0 {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    @Test("a caller with a long backlog delays another by one turn, not by its whole backlog")
    func roundRobinBetweenCallers() async throws {
        let pool = FairPool(stores: [0])
        let order = Locked<[String]>([])
        let gate = Gate()
        // The resource is held while the greedy caller queues 20 reads, then the polite one queues 1.
        let holder = Task { try await pool.withStore(for: "greedy") { _ in await gate.wait() } }
        try await Self.waitUntilTaken(pool)
        var tasks: [Task<Void, any Error>] = []
        for i in 0..<20 {
            tasks.append(Task { try await pool.withStore(for: "greedy") { _ in order.withLock { $0.append("greedy-\(i)") } } })
            try await Self.waitUntil(pool, waiting: i + 1)  // queued in this order
        }
        tasks.append(Task { try await pool.withStore(for: "polite") { _ in order.withLock { $0.append("polite") } } })
        try await Self.waitUntil(pool, waiting: 21)
        gate.open()
        try await holder.value
        for task in tasks { try await task.value }
        let served = order.withLock { $0 }
        #expect(served.count == 21)
        // The polite caller is served second: right after the greedy caller's oldest read.
        #expect(served.firstIndex(of: "polite") == 1, "\(served)")
        // Each caller's own reads keep their order.
        #expect(served.filter { $0 != "polite" } == (0..<20).map { "greedy-\($0)" })
    }

    @Test("a cancelled waiter leaves its line; the resource goes to the next one and is never lost")
    func cancelledWaiter_leaves() async throws {
        let pool = FairPool(stores: ["only"])
        let gate = Gate()
        let holder = Task { try await pool.withStore(for: "a") { _ in await gate.wait() } }
        try await Self.waitUntilTaken(pool)
        let cancelled = Task { try await pool.withStore(for: "b") { _ in "ran" } }
        try await Self.waitUntil(pool, waiting: 1)
        let patient = Task { try await pool.withStore(for: "c") { $0 } }
        try await Self.waitUntil(pool, waiting: 2)
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(pool.waiting == 1)
        gate.open()
        try await holder.value
        #expect(try await patient.value == "only")
        // Still one resource, free: a later caller gets it at once.
        #expect(try await pool.withStore(for: "d") { $0 } == "only")
        // A caller cancelled before it asks never waits.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await pool.withStore(for: "e") { $0 }
        }
        #expect(try await early.value == "only")  // a free resource is handed out even so; the body decides
    }
}
