import Foundation
import Logging
import Testing
import WeftCore
import WeftTransport
import WeftWire
import _WeftTestKit
@testable import Weft

/// A stand-in scheduler + coordinator on real loopback sockets: answers Discover with itself and
/// records what the worker sends on its Connect stream; the test pushes assignments.
final class FakeScheduler: Sendable {
    let server: RPCServer
    let address: Endpoint
    let received = Locked<[WorkerMessage]>([])
    let writer = Locked<RPCStreamWriter?>(nil)

    init() async throws {
        let box = Locked<Endpoint?>(nil)
        let received = self.received
        let writer = self.writer
        var router = RPCRouter()
        router.unary(WorkerMethods.discover, request: DiscoverRequest.self, response: DiscoverResponse.self) { _, _ in
            DiscoverResponse(schedulers: [SchedulerEndpoint(nodeID: "fake", address: box.withLock { $0!.description })])
        }
        router.bidirectionalStreaming(WorkerMethods.connect) { stream, _, streamWriter in
            writer.withLock { $0 = streamWriter }
            for try await bytes in stream {
                let message = try WorkerMessage(serializedBytes: bytes)
                received.withLock { $0.append(message) }
            }
        }
        server = RPCServer(
            router: router, configuration: RPCServerConfiguration(cluster: "t", role: .scheduler, nodeID: "fake"),
            logger: Logger(label: "fake") { _ in SwiftLogNoOpLogHandler() })
        address = try await server.start(listen: Endpoint(host: "127.0.0.1", port: 0)).endpoint
        box.withLock { $0 = address }
    }

    var messages: [WorkerMessage] { received.withLock { $0 } }

    var credits: Int {
        messages.reduce(0) { total, message in
            if case .credits(let grant) = message { return total + Int(grant.credits) }
            return total
        }
    }

    func results() -> [AttemptReference: WorkerMessage] {
        var out: [AttemptReference: WorkerMessage] = [:]
        for message in messages {
            switch message {
            case .completed(let c): out[c.ref] = message
            case .failed(let f): out[f.ref] = message
            default: break
            }
        }
        return out
    }

    func push(_ message: SchedulerMessage) async throws {
        let writer = try #require(self.writer.withLock { $0 })
        try await writer.send(message)
    }
}

@Suite("Worker runtime against a fake scheduler", .serialized)
struct WorkerRuntimeTests {
    struct Doubled: Codable, Sendable { var value: Int }

    private func makeWorker(_ scheduler: FakeScheduler, concurrency: Int = 4) -> WeftWorker {
        var registry = TaskRegistry()
        BuiltinTasks.register(into: &registry, allowExec: true)
        registry.register(TaskType<Doubled, Doubled>("double")) { input, _ in Doubled(value: input.value * 2) }
        var configuration = WeftWorker.Configuration(coordinator: scheduler.address, workerID: "w-test")
        configuration.cluster = "t"
        configuration.concurrency = concurrency
        configuration.heartbeatInterval = .milliseconds(50)
        configuration.shutdownGracePeriod = .seconds(2)
        return WeftWorker(configuration: configuration, registry: registry, logger: Logger(label: "w") { _ in SwiftLogNoOpLogHandler() })
    }

    private func ref(_ node: String, attempt: UInt32 = 1) -> AttemptReference {
        var rng = SystemRandomNumberGenerator()
        return AttemptReference(runID: RunID(unixMilliseconds: 1_700_000_000_000, using: &rng), node: node, attempt: attempt, fence: 1)
    }

    @Test("the worker says hello, grants its credits, runs assignments and reports outputs")
    func worker_runsAssignments_reportsOutputs() async throws {
        let scheduler = try await FakeScheduler()
        let worker = makeWorker(scheduler)
        let running = Task { await worker.run() }
        #expect(try await eventually { scheduler.credits == 4 })
        guard case .hello(let hello) = scheduler.messages.first else {
            Issue.record("the first message must be hello")
            return
        }
        #expect(hello.workerID == "w-test")
        #expect(Set(hello.taskTypes) == ["noop", "echo", "sleep", "exec", "double"])

        let a = ref("a"), b = ref("b"), c = ref("c")
        try await scheduler.push(.assignment(TaskAssignmentMessage(ref: a, taskType: "echo", input: Array(#"{"x":1}"#.utf8))))
        try await scheduler.push(.assignment(TaskAssignmentMessage(ref: b, taskType: "double", input: Array(#"{"value":21}"#.utf8))))
        try await scheduler.push(.assignment(TaskAssignmentMessage(ref: c, taskType: "exec", input: Array(#"{"command":["echo","hi"]}"#.utf8))))
        #expect(try await eventually { scheduler.results().count == 3 })
        let results = scheduler.results()
        #expect(results[a] == .completed(TaskCompletedMessage(ref: a, output: Array(#"{"x":1}"#.utf8))))
        #expect(results[b] == .completed(TaskCompletedMessage(ref: b, output: Array(#"{"value":42}"#.utf8))))
        if case .completed(let done) = results[c] {
            let output = try JSONSerialization.jsonObject(with: Data(done.output)) as? [String: Any]
            #expect(output?["stdout"] as? String == "hi\n")
        } else {
            Issue.record("exec did not complete: \(String(describing: results[c]))")
        }
        // Every finished attempt gives its slot back.
        #expect(try await eventually { scheduler.credits == 7 })
        running.cancel()
        await running.value
        await scheduler.server.shutdown()
    }

    @Test("the same attempt pushed again under a newer fence (its scheduler restarted) runs once; its result goes out under the newest reference")
    func samePushNewerFence_runsOnce() async throws {
        let scheduler = try await FakeScheduler()
        let worker = makeWorker(scheduler)
        let running = Task { await worker.run() }
        #expect(try await eventually { scheduler.credits == 4 })
        let first = ref("slow")
        var second = first
        second.fence = 2
        var third = first
        third.fence = 3
        try await scheduler.push(.assignment(TaskAssignmentMessage(ref: first, taskType: "sleep", input: Array(#"{"ms":1500}"#.utf8))))
        try await Task.sleep(for: .milliseconds(50))
        try await scheduler.push(.assignment(TaskAssignmentMessage(ref: second, taskType: "sleep", input: Array(#"{"ms":1500}"#.utf8))))
        try await scheduler.push(.assignment(TaskAssignmentMessage(ref: third, taskType: "sleep", input: Array(#"{"ms":1500}"#.utf8))))
        #expect(try await eventually { !scheduler.results().isEmpty })
        try await Task.sleep(for: .milliseconds(500))  // a second copy would have finished by now
        let results = scheduler.results()
        #expect(Array(results.keys) == [third], "one result, under the newest fence: \(results.keys)")
        // Heartbeats named the newest reference once it was pushed.
        let beats = scheduler.messages.compactMap { message -> [AttemptReference]? in
            if case .heartbeat(let beat) = message { return beat.attempts } else { return nil }
        }
        #expect(beats.last?.contains(third) ?? false, "\(beats.suffix(2))")
        running.cancel()
        await running.value
        await scheduler.server.shutdown()
    }

    @Test("bad input, unknown task types and failing commands are reported with their kinds")
    func worker_failures_reportedWithKinds() async throws {
        let scheduler = try await FakeScheduler()
        let worker = makeWorker(scheduler)
        let running = Task { await worker.run() }
        #expect(try await eventually { scheduler.credits == 4 })
        let bad = ref("bad"), unknown = ref("unknown"), exit = ref("exit")
        try await scheduler.push(.assignment(TaskAssignmentMessage(ref: bad, taskType: "double", input: Array(#"{"value":"x"}"#.utf8))))
        try await scheduler.push(.assignment(TaskAssignmentMessage(ref: unknown, taskType: "nope", input: [])))
        try await scheduler.push(.assignment(TaskAssignmentMessage(ref: exit, taskType: "exec", input: Array(#"{"command":["false"]}"#.utf8))))
        #expect(try await eventually { scheduler.results().count == 3 })
        let results = scheduler.results()
        guard case .failed(let f1) = results[bad], case .failed(let f2) = results[unknown], case .failed(let f3) = results[exit] else {
            Issue.record("expected three failures: \(results)")
            return
        }
        #expect(f1.kind == "BadInput" && !f1.retryable)
        #expect(f2.kind == "UnknownTaskType")
        #expect(f3.kind == "NonZeroExit")
        running.cancel()
        await running.value
        await scheduler.server.shutdown()
    }

    @Test("a long attempt is heartbeated, and a cancel from the scheduler stops it")
    func worker_heartbeatsAndCancel() async throws {
        let scheduler = try await FakeScheduler()
        let worker = makeWorker(scheduler)
        let running = Task { await worker.run() }
        #expect(try await eventually { scheduler.credits == 4 })
        let long = ref("long")
        try await scheduler.push(.assignment(TaskAssignmentMessage(ref: long, taskType: "sleep", input: Array(#"{"duration":"30s"}"#.utf8))))
        #expect(try await eventually {
            scheduler.messages.contains { if case .heartbeat(let h) = $0 { return h.attempts.contains(long) } else { return false } }
        })
        try await scheduler.push(.cancel(CancelAttemptMessage(ref: long, reason: "run cancelled")))
        #expect(try await eventually { scheduler.results()[long] != nil })
        if case .failed(let failure) = scheduler.results()[long] {
            #expect(failure.kind == "Cancelled")
        } else {
            Issue.record("expected the cancelled attempt to be reported as failed")
        }
        #expect(worker.inFlight == 0)
        running.cancel()
        await running.value
        await scheduler.server.shutdown()
    }

    @Test("shutting down lets a short attempt finish and reports a long one as WorkerShutdown")
    func worker_shutdown_gracePeriod() async throws {
        let scheduler = try await FakeScheduler()
        let worker = makeWorker(scheduler)
        let running = Task { await worker.run() }
        #expect(try await eventually { scheduler.credits == 4 })
        let short = ref("short"), long = ref("long")
        try await scheduler.push(.assignment(TaskAssignmentMessage(ref: short, taskType: "sleep", input: Array(#"{"ms":300}"#.utf8))))
        try await scheduler.push(.assignment(TaskAssignmentMessage(ref: long, taskType: "sleep", input: Array(#"{"duration":"1m"}"#.utf8))))
        #expect(try await eventually { worker.inFlight == 2 })
        running.cancel()
        await running.value
        // The reports are on the wire when run() returns; give the server a moment to read them.
        #expect(try await eventually { scheduler.results().count == 2 })
        let results = scheduler.results()
        #expect(results[short] == .completed(TaskCompletedMessage(ref: short, output: Array("null".utf8))))
        if case .failed(let failure) = results[long] {
            #expect(failure.kind == "WorkerShutdown" && failure.retryable)
        } else {
            Issue.record("expected the long attempt to be reported: \(results)")
        }
        await scheduler.server.shutdown()
    }
}

@Suite("exec does not freeze its worker", .serialized)
struct ExecIsolationTests {
    @Test("while exec children run, other attempts complete and the exec attempts are heartbeated")
    func exec_running_othersFlowAndHeartbeats() async throws {
        let scheduler = try await FakeScheduler()
        var registry = TaskRegistry()
        BuiltinTasks.register(into: &registry, allowExec: true)
        var configuration = WeftWorker.Configuration(coordinator: scheduler.address, workerID: "w-exec")
        configuration.cluster = "t"
        configuration.concurrency = 8
        configuration.heartbeatInterval = .milliseconds(50)
        let worker = WeftWorker(configuration: configuration, registry: registry, logger: Logger(label: "w") { _ in SwiftLogNoOpLogHandler() })
        let running = Task { await worker.run() }
        #expect(try await eventually { scheduler.credits == 8 })
        var rng = SystemRandomNumberGenerator()
        let run = RunID(unixMilliseconds: 1_700_000_000_000, using: &rng)
        // More children than the cooperative pool has threads (2 on the CI machines).
        let execs = (0..<3).map { AttemptReference(runID: run, node: "exec\($0)", attempt: 1, fence: 1) }
        for ref in execs {
            try await scheduler.push(.assignment(TaskAssignmentMessage(
                ref: ref, taskType: "exec", input: Array(#"{"command":["sleep","6"]}"#.utf8))))
        }
        #expect(try await eventually { worker.inFlight == 3 })
        let echoes = (0..<5).map { AttemptReference(runID: run, node: "echo\($0)", attempt: 1, fence: 1) }
        for ref in echoes {
            try await scheduler.push(.assignment(TaskAssignmentMessage(ref: ref, taskType: "echo", input: Array("[1]".utf8))))
        }
        // Every echo is answered while all three children still run.
        #expect(try await eventually(within: .seconds(4)) { echoes.allSatisfy { scheduler.results()[$0] != nil } })
        #expect(execs.allSatisfy { scheduler.results()[$0] == nil }, "an exec finished before the echoes: they waited for it")
        // And the children are heartbeated meanwhile.
        let heartbeatsBefore = scheduler.messages.count { if case .heartbeat(let h) = $0 { h.attempts.contains(execs[0]) } else { false } }
        #expect(try await eventually(within: .seconds(2)) {
            scheduler.messages.count { if case .heartbeat(let h) = $0 { h.attempts.contains(execs[0]) } else { false } } >= heartbeatsBefore + 3
        })
        #expect(try await eventually(within: .seconds(20)) { execs.allSatisfy { scheduler.results()[$0] != nil } })
        for ref in execs {
            guard case .completed = scheduler.results()[ref] else {
                Issue.record("exec \(ref.node) did not complete: \(String(describing: scheduler.results()[ref]))")
                continue
            }
        }
        running.cancel()
        await running.value
        await scheduler.server.shutdown()
    }

    @Test("a timed-out command is killed with what it started, and reported as Timeout")
    func exec_timeout_killsProcessGroup() async throws {
        let scheduler = try await FakeScheduler()
        var registry = TaskRegistry()
        BuiltinTasks.register(into: &registry, allowExec: true)
        var configuration = WeftWorker.Configuration(coordinator: scheduler.address, workerID: "w-exec")
        configuration.cluster = "t"
        let worker = WeftWorker(configuration: configuration, registry: registry, logger: Logger(label: "w") { _ in SwiftLogNoOpLogHandler() })
        let running = Task { await worker.run() }
        #expect(try await eventually { scheduler.credits == 8 })
        var rng = SystemRandomNumberGenerator()
        let ref = AttemptReference(runID: RunID(unixMilliseconds: 1_700_000_000_000, using: &rng), node: "slow", attempt: 1, fence: 1)
        // A shell that starts a grandchild holding the pipes open.
        try await scheduler.push(.assignment(TaskAssignmentMessage(
            ref: ref, taskType: "exec", input: Array(#"{"command":["sh","-c","sleep 30 & sleep 30"],"timeout":"300ms"}"#.utf8))))
        #expect(try await eventually(within: .seconds(10)) { scheduler.results()[ref] != nil })
        if case .failed(let failure) = scheduler.results()[ref] {
            #expect(failure.kind == "Timeout")
        } else {
            Issue.record("expected a Timeout failure: \(String(describing: scheduler.results()[ref]))")
        }
        running.cancel()
        await running.value
        await scheduler.server.shutdown()
    }
}
