import Testing
import WeftCore
@testable import WeftEngine

@Suite("RunStateMachine recovery")
struct RunStateMachineRecoveryTests {
    typealias F = Fixtures

    /// `extract >> (clean | enrich) >> split >> shard (map) >> load`, with retries and a heartbeat.
    static func pipeline() throws -> ValidatedWorkflow {
        let retry = RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(1), maxBackoff: .seconds(5))
        let timeouts = TaskTimeouts(heartbeat: .seconds(10))
        return try F.workflow("pipeline", [
            F.task("extract", type: "echo", retry: retry, timeouts: timeouts),
            F.task("clean", ["extract"], retry: retry, timeouts: timeouts),
            F.task("enrich", ["extract"], retry: retry, timeouts: timeouts),
            F.task("split", ["clean", "enrich"], retry: retry, timeouts: timeouts),
            F.task("shard", ["split"], retry: retry, timeouts: timeouts, map: true),
            F.task("load", ["shard"], retry: retry, timeouts: timeouts),
        ])
    }

    /// Deterministic workers: outputs depend on the node and its input; some first attempts fail or
    /// hang.
    static func behaviour(_ assignment: TaskAssignment) -> RunDriver.Behaviour {
        let digest = String(StableHash.xxh64(assignment.input), radix: 16)
        switch (assignment.node.description, assignment.attempt) {
        case ("clean", 1), ("shard[1]", 1):
            return .fail(TaskFailure(kind: "Flaky", message: "first attempt fails"))
        case ("enrich", 1):
            return .hang
        case ("split", _):
            return .complete(F.b(#"["a:\#(digest)","b:\#(digest)","c:\#(digest)"]"#))
        default:
            return .complete(F.b(#""\#(assignment.node)#\#(digest)""#))
        }
    }

    @Test("recovering from the records at any step and continuing ends exactly like the uninterrupted run")
    func recover_atEveryStep_sameOutcomeAsUninterrupted() throws {
        let workflow = try Self.pipeline()
        var reference = RunDriver(workflow: workflow)
        reference.start(#"{"source":"s3://bucket"}"#)
        let steps = reference.runToEnd(Self.behaviour)
        guard case .completed = reference.outcome else {
            Issue.record("the reference run did not complete: \(String(describing: reference.outcome))")
            return
        }
        #expect(steps > 20)
        let final = reference.machine.snapshot()
        #expect(final.nodes[F.k("clean")]?.attempts == 2)
        #expect(final.nodes[F.k("enrich")]?.attempts == 2)

        for crashAt in 0...steps {
            var run = RunDriver(workflow: workflow)
            run.start(#"{"source":"s3://bucket"}"#)
            for _ in 0..<crashAt where run.outcome == nil { _ = run.step(Self.behaviour) }
            try run.crashAndRecover(seed: UInt64(crashAt))
            run.runToEnd(Self.behaviour)
            #expect(run.outcome == reference.outcome, "crash after step \(crashAt)")
            #expect(run.machine.snapshot() == final, "crash after step \(crashAt)")
        }
    }

    @Test("recovering twice in a row still ends like the uninterrupted run")
    func recover_repeatedly_sameOutcome() throws {
        let workflow = try Self.pipeline()
        var reference = RunDriver(workflow: workflow)
        reference.start("1")
        reference.runToEnd(Self.behaviour)
        for first in stride(from: 0, to: 30, by: 3) {
            var run = RunDriver(workflow: workflow)
            run.start("1")
            for _ in 0..<first where run.outcome == nil { _ = run.step(Self.behaviour) }
            try run.crashAndRecover()
            for _ in 0..<4 where run.outcome == nil { _ = run.step(Self.behaviour) }
            try run.crashAndRecover()
            run.runToEnd(Self.behaviour)
            #expect(run.machine.snapshot() == reference.machine.snapshot(), "crashes after \(first) and \(first + 4) steps")
        }
    }

    @Test("a recovered run re-queues its open attempts under the same number and accepts the old worker's late result")
    func recover_startedAttempt_requeuedAndLateResultAccepted() throws {
        let workflow = try F.diamond()
        var run = RunDriver(workflow: workflow)
        run.start("1")
        run.take(F.k("extract"))
        run.complete(F.k("extract"), "2")
        run.take(F.k("clean"), worker: "w-old")
        try run.crashAndRecover(keepRunningWorkers: true)
        #expect(Set(run.queued.keys) == [F.k("clean"), F.k("enrich")])
        #expect(run.queued[F.k("clean")] == RunStateMachineTests.assignment(workflow, F.k("clean"), attempt: 1, input: "2"))
        #expect(run.machine.node(F.k("clean")) == NodeSnapshot(.scheduled, attempts: 1))
        // The worker from before the crash finishes: recorded, and the queued copy is withdrawn.
        #expect(run.complete(F.k("clean"), "3") == [
            .cancelAttempt(node: F.k("clean"), attempt: 1),
            .record(.attemptCompleted(node: F.k("clean"), attempt: 1, output: F.b("3"))),
        ])
        #expect(run.queued[F.k("clean")] == nil)
    }

    @Test("recovery returns exactly the actions that resume the run")
    func recover_actions_requeueAndRearm() throws {
        let workflow = try F.diamond(timeouts: TaskTimeouts(scheduleToStart: .seconds(30), heartbeat: .seconds(5)))
        var run = RunDriver(workflow: workflow)
        run.start("1")
        run.take(F.k("extract"))
        run.complete(F.k("extract"), "2")
        run.take(F.k("clean"))
        run.fail(F.k("clean"), TaskFailure(kind: "Flaky", message: ""))
        guard case .backingOff(let due) = run.machine.node(F.k("clean"))?.status else {
            Issue.record("clean should be backing off")
            return
        }
        var snapshot = RunSnapshot()
        snapshot.apply(run.records)
        let restart = F.at(2_000)
        let (machine, actions) = try RunStateMachine.recover(runID: F.runID, workflow: workflow, snapshot: snapshot, seed: 5, now: restart)
        #expect(actions == [
            .schedule(TimerID(.retryBackoff, node: F.k("clean"), attempt: 2), at: due),
            .record(.attemptScheduled(node: F.k("enrich"), attempt: 1)),
            .dispatch(RunStateMachineTests.assignment(workflow, F.k("enrich"), input: "2")),
            .schedule(TimerID(.timeout(.scheduleToStart), node: F.k("enrich"), attempt: 1), at: F.at(32_000)),
        ])
        #expect(machine.snapshot() == snapshot)
    }

    @Test("pending and closed runs recover as they were, with nothing to do")
    func recover_pendingAndClosed_noActions() throws {
        let workflow = try F.single()
        let (pending, none) = try RunStateMachine.recover(runID: F.runID, workflow: workflow, snapshot: RunSnapshot(), seed: 1, now: F.t0)
        #expect(none.isEmpty && pending.status == .pending)

        var run = RunDriver(workflow: workflow)
        run.start("1")
        run.take(F.k("only"))
        run.complete(F.k("only"), "ok")
        var snapshot = RunSnapshot()
        snapshot.apply(run.records)
        let recovered = try RunStateMachine.recover(runID: F.runID, workflow: workflow, snapshot: snapshot, seed: 1, now: F.t0)
        var closed = recovered.machine
        #expect(recovered.actions.isEmpty)
        #expect(closed.state == .succeeded(output: F.b("ok")))
        #expect(closed.taskCompleted(node: F.k("only"), attempt: 1, output: [], now: F.t0).ignoredReasons == [.runNotRunning])
    }

    @Test("snapshots that name unknown nodes or describe impossible states are rejected with a clear error")
    func recover_invalidSnapshots_throw() throws {
        let diamond = try F.diamond()
        let started = RunSnapshot(status: .running, input: F.b("1"), nodes: [F.k("extract"): NodeSnapshot(.started(worker: "w"), attempts: 1)])
        func code(_ snapshot: RunSnapshot, _ workflow: ValidatedWorkflow? = nil) -> RecoveryError.Code? {
            do {
                _ = try RunStateMachine.recover(runID: F.runID, workflow: workflow ?? diamond, snapshot: snapshot, seed: 1, now: F.t0)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code(started) == nil)
        var unknown = started
        unknown.nodes[F.k("ghost")] = NodeSnapshot(.scheduled, attempts: 1)
        #expect(code(unknown) == .unknownNode)
        var element = started
        element.nodes[F.k("extract", 0)] = NodeSnapshot(.scheduled, attempts: 1)
        #expect(code(element) == .unknownNode)
        var orphan = started
        orphan.nodes[F.k("load")] = NodeSnapshot(.scheduled, attempts: 1)
        #expect(code(orphan) == .inconsistentSnapshot)
        var noInput = started
        noInput.input = nil
        #expect(code(noInput) == .inconsistentSnapshot)
        var attemptZero = started
        attemptZero.nodes[F.k("extract")] = NodeSnapshot(.scheduled, attempts: 0)
        #expect(code(attemptZero) == .inconsistentSnapshot)
        var tooMany = started
        tooMany.nodes[F.k("extract")] = NodeSnapshot(.backingOff(until: F.t0), attempts: 3)
        #expect(code(tooMany) == .inconsistentSnapshot)
        #expect(code(RunSnapshot(status: .succeeded)) == .inconsistentSnapshot)

        let map = try RunStateMachineMapTests.mapWorkflow()
        var mapping = RunSnapshot(status: .running, input: F.b("1"), nodes: [
            F.k("list"): NodeSnapshot(.succeeded(output: F.b("[1,2]")), attempts: 1),
            F.k("shard"): NodeSnapshot(.mapping(width: 2), attempts: 0),
            F.k("shard", 0): NodeSnapshot(.succeeded(output: F.b("1")), attempts: 1),
            F.k("shard", 1): NodeSnapshot(.started(worker: "w"), attempts: 1),
        ])
        #expect(code(mapping, map) == nil)
        mapping.nodes[F.k("shard")] = NodeSnapshot(.mapping(width: 3), attempts: 0)
        #expect(code(mapping, map) == .inconsistentSnapshot)
        mapping.nodes[F.k("shard")] = NodeSnapshot(.started(worker: "w"), attempts: 1)
        #expect(code(mapping, map) == .inconsistentSnapshot)
    }
}
