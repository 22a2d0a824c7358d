import Logging
import Testing
import WeftCore
import WeftEngine
import WeftPostgres
import WeftTransport
import WeftWire
import _WeftTestKit
@testable import WeftServer

/// `SchedulerCore` against an in-memory store (no Postgres): starts, repeats, partitions that stop
/// alone, poisonous records, outages.
struct CoreHarness {
    static let partitionCount = 4
    static let one = #"{"name":"one","tasks":[{"name":"a","type":"noop"}]}"#
    static let other = #"{"name":"other","tasks":[{"name":"b","type":"noop"}]}"#
    /// A signal node behind a task no worker runs here: signals to it are kept, not taken.
    static let waits = #"{"name":"waits","tasks":[{"name":"a","type":"noop"},{"name":"s","wait_signal":"go","depends_on":["a"]}]}"#

    let store: InMemoryRunStore
    let core: SchedulerCore
    let fences: FenceTable
    let storage: StorageHealth
    let writer: GroupCommitWriter<RunWriteBatch, RunWriteOutcome>
    let writerTask: Task<Void, Never>
    let clock: TestClock

    static func make() async throws -> CoreHarness {
        let logger = Logger(label: "core-test") { _ in SwiftLogNoOpLogHandler() }
        let store = InMemoryRunStore()
        var claimed: [PartitionID: Fence] = [:]
        for p in 0..<partitionCount {
            await store.setOwner(PartitionID(p), Fence(1))
            claimed[PartitionID(p)] = Fence(1)
        }
        let fences = FenceTable()
        let storage = StorageHealth(logger: logger)
        var committer = BatchCommitter(
            commit: { batches, fences in try await store.commit(batches, fences: fences) }, fences: fences, health: storage,
            repairTablePartitions: {}, logger: logger)
        committer.initialBackoff = .milliseconds(5)
        committer.maxBackoff = .milliseconds(20)
        let flusher = committer
        let writer = GroupCommitWriter<RunWriteBatch, RunWriteOutcome> { await flusher.flush($0) }
        let writerTask = Task { await writer.run() }
        let clock = TestClock(SystemWallClock().nowMilliseconds())
        var configuration = SchedulerConfiguration(nodeID: "test")
        configuration.clock = clock
        configuration.randomSeed = 42
        let core = SchedulerCore(
            loop: .shared, writer: writer, store: store,
            catalog: WorkflowCatalog(store: InMemoryDefinitions(["one": one, "other": other, "waits": waits])), fences: fences, storage: storage,
            partitionCount: partitionCount, configuration: configuration, logger: logger)
        try await core.recover(fences: claimed)
        return CoreHarness(store: store, core: core, fences: fences, storage: storage, writer: writer, writerTask: writerTask, clock: clock)
    }

    func stop() async {
        writerTask.cancel()
        await writerTask.value
    }

    /// A fresh run id, dated now, in `partition` (or any).
    func runID(in partition: Int? = nil) -> RunID {
        var random = SystemRandomNumberGenerator()
        while true {
            let id = RunID(unixMilliseconds: UInt64(clock.nowMilliseconds()), using: &random)
            if partition == nil || id.partition(count: Self.partitionCount).rawValue == partition { return id }
        }
    }

    func start(_ id: RunID?, workflow: String = "one", key: String = "") async throws -> StartRunResponse {
        try await core.startRun(StartRunRequest(workflow: workflow, input: Array("1".utf8), idempotencyKey: key, runID: id))
    }
}

@Suite("SchedulerCore (in-memory store)")
struct SchedulerCoreTests {
    @Test("during a Postgres outage a signal is refused UNAVAILABLE before it touches the run; sent again after, it is recorded once")
    func outage_refusesSignals() async throws {
        let harness = try await CoreHarness.make()
        let waits = harness.runID()
        let other = harness.runID()
        _ = try await harness.start(waits, workflow: "waits")
        _ = try await harness.start(other)
        await harness.store.setOutage(commits: 1_000_000)
        let blocked = Task { try await harness.core.cancelRun(CancelRunRequest(runID: other, reason: "during the outage")) }
        #expect(try await eventually { !harness.storage.isAvailable })
        let refused = await #expect(throws: RPCError.self) {
            try await harness.core.signalRun(SignalRunRequest(runID: waits, name: "go", payload: []))
        }
        #expect(refused?.code == .unavailable && refused?.message.contains("not recorded") == true, "\(String(describing: refused))")
        await harness.store.setOutage(commits: 0)
        _ = try await blocked.value
        #expect(try await harness.core.signalRun(SignalRunRequest(runID: waits, name: "go", payload: [])) == false)
        #expect(await harness.core.pendingSignals(of: waits) == 1)
        await harness.stop()
    }

    @Test("a start that reuses another run's outputs must name a failed or cancelled run of the same version and input")
    func resumeOf_checked() async throws {
        let harness = try await CoreHarness.make()
        let old = harness.runID()
        _ = try await harness.start(old)
        _ = try await harness.core.cancelRun(CancelRunRequest(runID: old, reason: "test"))
        let otherInput = await #expect(throws: RPCError.self) {
            try await harness.core.startRun(StartRunRequest(workflow: "one", input: Array("2".utf8), runID: harness.runID(), resumeOf: old.bytes))
        }
        #expect(otherInput?.code == .invalidArgument && otherInput?.message.contains("had another input") == true, "\(String(describing: otherInput))")
        let garbage = await #expect(throws: RPCError.self) {
            try await harness.core.startRun(StartRunRequest(workflow: "one", input: Array("1".utf8), runID: harness.runID(), resumeOf: [1, 2, 3]))
        }
        #expect(garbage?.code == .invalidArgument)
        let resumed = try await harness.core.startRun(StartRunRequest(workflow: "one", input: Array("1".utf8), runID: harness.runID(), resumeOf: old.bytes))
        #expect(resumed.created)
        await harness.stop()
    }

    @Test("signals a run keeps for nodes not reached yet are bounded; a name no node waits for is refused")
    func signals_boundedAndChecked() async throws {
        let harness = try await CoreHarness.make()
        let id = harness.runID()
        _ = try await harness.start(id, workflow: "waits")
        for _ in 0..<SchedulerCore.maxPendingSignals {
            #expect(try await harness.core.signalRun(SignalRunRequest(runID: id, name: "go", payload: Array("1".utf8))) == false)
        }
        await #expect(throws: RPCError(
            .resourceExhausted,
            "run \(id) already holds \(SchedulerCore.maxPendingSignals) signals no node has taken; send more once its signal nodes take them"
        )) {
            try await harness.core.signalRun(SignalRunRequest(runID: id, name: "go", payload: []))
        }
        let wrong = await #expect(throws: RPCError.self) {
            try await harness.core.signalRun(SignalRunRequest(runID: id, name: "stop", payload: []))
        }
        #expect(wrong?.code == .invalidArgument && wrong?.message.contains("it waits for 'go'") == true)
        let notJSON = await #expect(throws: RPCError.self) {
            try await harness.core.signalRun(SignalRunRequest(runID: id, name: "go", payload: Array("{nope".utf8)))
        }
        #expect(notJSON?.code == .invalidArgument)
        await harness.stop()
    }

    @Test("a start commits the run and its first attempt before it is answered")
    func start_commitsThenAnswers() async throws {
        let harness = try await CoreHarness.make()
        let id = harness.runID()
        let response = try await harness.start(id)
        #expect(response.runID == id && response.created)
        #expect(await harness.store.run(id)?.status == .running)
        #expect(await harness.core.openRuns == 1)
        #expect(await harness.core.queueDepths["default"] == 1)
        await harness.stop()
    }

    @Test("a start repeated while the first one's commit is in flight waits for that commit")
    func start_repeatDuringCommit_waitsForIt() async throws {
        let harness = try await CoreHarness.make()
        let id = harness.runID()
        await harness.store.closeGate()
        let first = Task { try await harness.start(id) }
        #expect(try await eventually { await harness.store.commitsWaitingAtGate == 1 })
        let repeated = Task { try await harness.start(id) }
        // The repeat must not be answered while the first start is not durable.
        try await Task.sleep(for: .milliseconds(100))
        let answeredEarly = Locked(false)
        let watcher = Task {
            _ = try? await repeated.value
            answeredEarly.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!answeredEarly.withLock { $0 }, "the repeat was answered before the run was committed")
        await harness.store.releaseGate()
        #expect(try await first.value == StartRunResponse(runID: id, created: true))
        #expect(try await repeated.value == StartRunResponse(runID: id, created: false))
        await watcher.value
        #expect(await harness.store.commits == 1)
        await harness.stop()
    }

    @Test("a start for a run that closed before (a restart ago) returns it and runs nothing; another workflow's name is refused")
    func start_existingClosedRun_notRunAgain() async throws {
        let harness = try await CoreHarness.make()
        let id = harness.runID()
        await harness.store.addClosedRun(id, workflow: "one", partition: id.partition(count: CoreHarness.partitionCount))
        #expect(try await harness.start(id) == StartRunResponse(runID: id, created: false))
        #expect(await harness.core.openRuns == 0)
        #expect(await harness.core.queueDepths["default", default: 0] == 0)
        #expect(await harness.store.run(id)?.status == .succeeded)
        do {
            _ = try await harness.start(id, workflow: "other")
            Issue.record("a start naming another workflow was accepted")
        } catch let error as RPCError {
            #expect(error.code == .alreadyExists && error.message.contains("belongs to workflow 'one'"), "\(error)")
        }
        #expect(await harness.store.history == 0, "history was attached to the closed run")
        await harness.stop()
    }

    @Test("run ids far from now are refused with INVALID_ARGUMENT, and nothing is written")
    func start_runIDOutsideWindow_refused() async throws {
        let harness = try await CoreHarness.make()
        var random = SystemRandomNumberGenerator()
        let now = UInt64(harness.clock.nowMilliseconds())
        for millis in [now + 10 * 365 * 86_400_000, now - 36 * 365 * 86_400_000, now - 2 * 3_600_000, now + 600_000] {
            do {
                _ = try await harness.start(RunID(unixMilliseconds: millis, using: &random))
                Issue.record("run id dated \(millis) was accepted")
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument, "\(error)")
            }
        }
        #expect(await harness.store.commits == 0)
        #expect(try await harness.start(RunID(unixMilliseconds: now - 60_000, using: &random)).created)
        await harness.stop()
    }

    @Test("a lost fence stops that partition's engine only: its runs leave, its waiters hear NOT_OWNER, others go on")
    func fenceLost_stopsOnePartition() async throws {
        let harness = try await CoreHarness.make()
        let doomed = harness.runID(in: 1)
        let safe = harness.runID(in: 2)
        _ = try await harness.start(doomed)
        _ = try await harness.start(safe)
        let waiter = Task { try await harness.core.waitUntilClosed(doomed) }
        #expect(try await eventually { await harness.core.waiting == 1 })
        await harness.store.setOwner(PartitionID(1), Fence(2))  // another scheduler claimed partition 1
        // The next write of partition 1 meets the new fence.
        do {
            _ = try await harness.start(harness.runID(in: 1))
            Issue.record("a start in a lost partition was accepted")
        } catch let error as RPCError {
            #expect(error.isNotOwner, "\(error)")
        }
        do {
            _ = try await waiter.value
            Issue.record("the waiter was not told")
        } catch let error as RPCError {
            #expect(error.isNotOwner, "\(error)")
        }
        #expect(await harness.core.openRuns == 1)
        #expect(harness.fences.fence(of: PartitionID(1)) == nil)
        #expect(await harness.core.servingPartitions == CoreHarness.partitionCount - 1)
        // Partition 2 is untouched: its run is open and new runs start there.
        _ = try await harness.core.cancelRun(CancelRunRequest(runID: safe, reason: "done"))
        #expect(await harness.store.run(safe)?.status == .cancelled)
        #expect(try await harness.start(harness.runID(in: 2)).created)
        await harness.stop()
    }

    @Test("when every partition is lost the core says so")
    func allFencesLost_signalled() async throws {
        let harness = try await CoreHarness.make()
        for p in 0..<CoreHarness.partitionCount {
            await harness.store.setOwner(PartitionID(p), Fence(9))
            _ = try? await harness.start(harness.runID(in: p))
        }
        await harness.core.waitUntilAllPartitionsLost()  // returns: the test would hang otherwise
        #expect(await harness.core.servingPartitions == 0)
        await harness.stop()
    }

    @Test("a record Postgres refuses fails its own start only; the batch's other starts commit")
    func poisonRecord_bisected() async throws {
        let harness = try await CoreHarness.make()
        let poison = harness.runID()
        await harness.store.setPoison(poison)
        await harness.store.closeGate()
        // Many starts in one batch, the poisonous one among them.
        let ids = (0..<20).map { _ in harness.runID() }
        let starts = (ids + [poison]).map { id in Task { try await harness.start(id) } }
        #expect(try await eventually { await harness.core.openRuns == 21 })
        await harness.store.releaseGate()
        for (id, start) in zip(ids, starts) { #expect(try await start.value == StartRunResponse(runID: id, created: true)) }
        do {
            _ = try await starts.last!.value
            Issue.record("the poisonous start was accepted")
        } catch let error as RPCError {
            #expect(error.code == .invalidArgument && error.message.contains("cannot be stored"), "\(error)")
        }
        #expect(await harness.store.run(poison) == nil)
        #expect(await harness.core.openRuns == 20)
        // The scheduler goes on.
        #expect(try await harness.start(harness.runID()).created)
        await harness.stop()
    }

    @Test("a change of a running run that Postgres refuses cancels that run only")
    func poisonEvent_cancelsItsRun() async throws {
        let harness = try await CoreHarness.make()
        let victim = harness.runID()
        let bystander = harness.runID()
        _ = try await harness.start(victim)
        _ = try await harness.start(bystander)
        await harness.store.setPoison(victim)
        // The victim's next change (a cancel request) cannot be stored: the run is stopped.
        _ = try? await harness.core.cancelRun(CancelRunRequest(runID: victim, reason: "bye"))
        #expect(try await eventually { await harness.core.openRuns == 1 })
        await harness.store.setPoison(nil)
        _ = try await harness.core.cancelRun(CancelRunRequest(runID: bystander, reason: "done"))
        #expect(await harness.store.run(bystander)?.status == .cancelled)
        await harness.stop()
    }

    @Test("during a Postgres outage new runs are refused UNAVAILABLE and queued changes wait; all resume after")
    func outage_refusesNewWork_thenResumes() async throws {
        let harness = try await CoreHarness.make()
        let open = harness.runID()
        _ = try await harness.start(open)
        await harness.store.setOutage(commits: 1_000_000)
        let cancel = Task { try await harness.core.cancelRun(CancelRunRequest(runID: open, reason: "during the outage")) }
        #expect(try await eventually { !harness.storage.isAvailable })
        do {
            _ = try await harness.start(harness.runID())
            Issue.record("a start was accepted while Postgres was down")
        } catch let error as RPCError {
            #expect(error.code == .unavailable, "\(error)")
        }
        #expect(await harness.core.openRuns == 1, "memory was dropped")
        await harness.store.setOutage(commits: 0)
        #expect(try await cancel.value == .cancelled)
        #expect(harness.storage.isAvailable)
        #expect(await harness.store.run(open)?.status == .cancelled)
        #expect(try await harness.start(harness.runID()).created)
        await harness.stop()
    }

    @Test("an idempotency key held by another run answers with that run")
    func idempotencyKey_repeat_returnsFirstRun() async throws {
        let harness = try await CoreHarness.make()
        let first = try await harness.start(nil, key: "k1")
        let second = try await harness.start(nil, key: "k1")
        #expect(first.created && !second.created && second.runID == first.runID)
        await harness.stop()
    }
}
