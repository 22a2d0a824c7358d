import Testing
import WeftCore
@testable import WeftServer

@Suite("GroupCommitWriter")
struct GroupCommitWriterTests {
    struct Failure: Error {}

    @Test("concurrent submits while a commit is in flight are written together")
    func submit_concurrent_batchesForm() async throws {
        let batches = Locked<[[Int]]>([])
        let writer = GroupCommitWriter<Int, Int> { records in
            batches.withLock { $0.append(records) }
            try await Task.sleep(for: .milliseconds(20))  // a slow commit
            return records.map { $0 * 10 }
        }
        let runner = Task { await writer.run() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<1_000 {
                group.addTask {
                    let outcome = try await writer.submit(i)
                    #expect(outcome == i * 10)
                }
            }
            try await group.waitForAll()
        }
        let written = batches.withLock { $0 }
        #expect(written.flatMap { $0 }.sorted() == Array(0..<1_000))
        #expect(written.count < 100, "1,000 records in \(written.count) batches")
        #expect(await writer.recordsCommitted == 1_000)
        runner.cancel()
        await runner.value
    }

    @Test("a failed batch fails every record in it, and the next batch still works")
    func flush_failure_failsWholeBatch() async throws {
        let fail = Locked(true)
        let writer = GroupCommitWriter<Int, Int> { records in
            if fail.withLock({ $0 }) { throw Failure() }
            return records
        }
        let runner = Task { await writer.run() }
        await #expect(throws: Failure.self) { _ = try await writer.submit(1) }
        fail.withLock { $0 = false }
        #expect(try await writer.submit(2) == 2)
        runner.cancel()
        await runner.value
    }

    @Test("batches respect the size limit")
    func flush_respectsMaxBatch() async throws {
        var configuration = GroupCommitWriter<Int, Int>.Configuration()
        configuration.maxBatchRecords = 10
        configuration.maxDelay = .milliseconds(5)
        let sizes = Locked<[Int]>([])
        let writer = GroupCommitWriter<Int, Int>(configuration: configuration) { records in
            sizes.withLock { $0.append(records.count) }
            return records
        }
        let runner = Task { await writer.run() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<95 { group.addTask { _ = try await writer.submit(i) } }
            try await group.waitForAll()
        }
        #expect(sizes.withLock { $0 }.allSatisfy { $0 <= 10 })
        #expect(sizes.withLock { $0 }.reduce(0, +) == 95)
        runner.cancel()
        await runner.value
    }

    @Test("a full queue refuses with RESOURCE_EXHAUSTED instead of growing")
    func submit_fullQueue_resourceExhausted() async throws {
        var configuration = GroupCommitWriter<Int, Int>.Configuration()
        configuration.maxQueuedRecords = 5
        let writer = GroupCommitWriter<Int, Int>(configuration: configuration) { $0 }
        // No run loop: nothing drains, so the sixth submit must be refused.
        var waiting: [Task<Int, any Error>] = []
        for i in 0..<5 { waiting.append(Task { try await writer.submit(i) }) }
        #expect(try await eventuallyTrue { await writer.queuedRecords == 5 })
        do {
            _ = try await writer.submit(99)
            Issue.record("expected RESOURCE_EXHAUSTED")
        } catch let error as RPCError {
            #expect(error.code == .resourceExhausted)
        }
        let runner = Task { await writer.run() }
        for task in waiting { _ = try await task.value }
        runner.cancel()
        await runner.value
    }

    @Test("shutdown writes what is queued, then refuses")
    func run_cancelled_drainsThenRefuses() async throws {
        let writer = GroupCommitWriter<Int, Int> { records in
            try await Task.sleep(for: .milliseconds(5))
            return records
        }
        let runner = Task { await writer.run() }
        let submitted = (0..<20).map { i in Task { try await writer.submit(i) } }
        #expect(try await eventuallyTrue {
            let committed = await writer.recordsCommitted
            let queued = await writer.queuedRecords
            return committed > 0 || queued > 0
        })
        runner.cancel()
        await runner.value
        for (i, task) in submitted.enumerated() {
            // Every record was either written or refused with UNAVAILABLE: none is left hanging.
            do { #expect(try await task.value == i) } catch let error as RPCError { #expect(error.code == .unavailable) }
        }
        await #expect(throws: RPCError.self) { _ = try await writer.submit(1) }
    }
}

func eventuallyTrue(within timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}
