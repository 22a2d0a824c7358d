import Testing
import WeftCore
@testable import WeftEngine

@Suite("RunStateMachine map")
struct RunStateMachineMapTests {
    typealias F = Fixtures

    /// `list >> shard (map) >> load`.
    static func mapWorkflow(retry: RetryPolicy = RetryPolicy(), timeouts: TaskTimeouts = TaskTimeouts()) throws -> ValidatedWorkflow {
        try F.workflow("fanout", [
            F.task("list"),
            F.task("shard", ["list"], type: "echo", retry: retry, timeouts: timeouts, map: true),
            F.task("load", ["shard"]),
        ])
    }

    @Test("a map over three elements runs one task per element and joins their outputs in order")
    func map_threeElements_fansOutAndJoinsInOrder() throws {
        let workflow = try Self.mapWorkflow(timeouts: TaskTimeouts(heartbeat: .seconds(5)))
        var run = RunDriver(workflow: workflow)
        run.start("null")
        run.take(F.k("list"))
        let actions = run.complete(F.k("list"), #" [ 1, {"a": [2, "]"]} ,"x,y" ] "#)
        #expect(actions == [
            .record(.attemptCompleted(node: F.k("list"), attempt: 1, output: F.b(#" [ 1, {"a": [2, "]"]} ,"x,y" ] "#))),
            .record(.mapExpanded(node: F.k("shard"), width: 3)),
            .record(.attemptScheduled(node: F.k("shard", 0), attempt: 1)),
            .dispatch(RunStateMachineTests.assignment(workflow, F.k("shard", 0), input: "1")),
            .record(.attemptScheduled(node: F.k("shard", 1), attempt: 1)),
            .dispatch(RunStateMachineTests.assignment(workflow, F.k("shard", 1), input: #"{"a": [2, "]"]}"#)),
            .record(.attemptScheduled(node: F.k("shard", 2), attempt: 1)),
            .dispatch(RunStateMachineTests.assignment(workflow, F.k("shard", 2), input: #""x,y""#)),
        ])
        #expect(run.machine.node(F.k("shard")) == NodeSnapshot(.mapping(width: 3), attempts: 0))
        for index in [2, 0, 1] { run.take(F.k("shard", index)) }
        run.heartbeat(F.k("shard", 1))
        run.complete(F.k("shard", 2), #""c""#)
        run.complete(F.k("shard", 0), "")
        #expect(run.queued[F.k("load")] == nil)
        let last = run.complete(F.k("shard", 1), #"{"b":true}"#)
        let output = F.b(#"[null,{"b":true},"c"]"#)
        #expect(last == [
            .cancelTimer(TimerID(.timeout(.heartbeat), node: F.k("shard", 1), attempt: 1)),
            .record(.attemptCompleted(node: F.k("shard", 1), attempt: 1, output: F.b(#"{"b":true}"#))),
            .record(.mapCompleted(node: F.k("shard"), output: output)),
            .record(.attemptScheduled(node: F.k("load"), attempt: 1)),
            .dispatch(RunStateMachineTests.assignment(workflow, F.k("load"), input: #"[null,{"b":true},"c"]"#)),
        ])
        #expect(run.machine.node(F.k("shard")) == NodeSnapshot(.succeeded(output: output), attempts: 0))
        #expect(run.machine.node(F.k("shard", 0)) == nil, "elements are released once the map node finished")
        run.take(F.k("load"))
        run.complete(F.k("load"), "1")
        #expect(run.outcome == .completed(F.b("1")))
    }

    @Test("a map over an empty list succeeds at once with [] and its child runs")
    func map_emptyList_succeedsWithEmptyArray() throws {
        let workflow = try Self.mapWorkflow()
        var run = RunDriver(workflow: workflow)
        run.start("null")
        run.take(F.k("list"))
        #expect(run.complete(F.k("list"), " [ ] ") == [
            .record(.attemptCompleted(node: F.k("list"), attempt: 1, output: F.b(" [ ] "))),
            .record(.mapExpanded(node: F.k("shard"), width: 0)),
            .record(.mapCompleted(node: F.k("shard"), output: F.b("[]"))),
            .record(.attemptScheduled(node: F.k("load"), attempt: 1)),
            .dispatch(RunStateMachineTests.assignment(workflow, F.k("load"), input: "[]")),
        ])
    }

    @Test("a map leaf over an empty list completes the run with []")
    func map_emptyListLeaf_completesRun() throws {
        var run = RunDriver(workflow: try F.workflow([F.task("list"), F.task("shard", ["list"], map: true)]))
        run.start("null")
        run.take(F.k("list"))
        run.complete(F.k("list"), "[]")
        #expect(run.outcome == .completed(F.b("[]")))
    }

    @Test("input that is not a JSON array fails the map node without retry, and the run with it")
    func map_malformedInput_failsNonRetryably() throws {
        for bad in [#"{"a":1}"#, "[1,2", "[1,]", "", "[1] x", "\"[1]\""] {
            var run = RunDriver(workflow: try Self.mapWorkflow(retry: RetryPolicy(maxAttempts: 5)))
            run.start("null")
            run.take(F.k("list"))
            let actions = run.complete(F.k("list"), bad)
            guard case .nodeFailed(let node, let failure)? = actions.records.dropFirst().first else {
                Issue.record("\(bad): no node failure in \(actions)")
                continue
            }
            #expect(node == F.k("shard"))
            #expect(failure.kind == TaskFailure.invalidMapInputKind && !failure.retryable)
            #expect(failure.message.contains("not a JSON array"), "\(failure.message)")
            #expect(run.outcome == .failed(RunFailure(node: F.k("shard"), failure: failure, blockedNode: "load")), "\(bad)")
            #expect(run.dispatchLog.allSatisfy { $0.node.name == "list" })
        }
    }

    @Test("a list longer than maxMapWidth fails the map node before anything is dispatched")
    func map_tooWide_failsWithMapTooWide() throws {
        var run = RunDriver(workflow: try Self.mapWorkflow(), configuration: .init(maxMapWidth: 2))
        run.start("null")
        run.take(F.k("list"))
        run.complete(F.k("list"), "[1,2,3]")
        guard case .failed(let failure) = run.outcome else {
            Issue.record("expected a failure, got \(String(describing: run.outcome))")
            return
        }
        #expect(failure.failure.kind == TaskFailure.mapTooWideKind)
        #expect(failure.failure.message.contains("more than 2"))
        #expect(run.dispatchLog.count == 1)
    }

    @Test("a failing element is retried on its own; the others are unaffected")
    func map_elementRetried_mapSucceeds() throws {
        var run = RunDriver(workflow: try Self.mapWorkflow(retry: RetryPolicy(maxAttempts: 2)))
        run.start("null")
        run.take(F.k("list"))
        run.complete(F.k("list"), "[1,2]")
        run.take(F.k("shard", 0))
        run.take(F.k("shard", 1))
        run.fail(F.k("shard", 1), TaskFailure(kind: "Flaky", message: ""))
        run.complete(F.k("shard", 0), "10")
        _ = run.fireNextTimer()
        #expect(run.queued[F.k("shard", 1)] == RunStateMachineTests.assignment(run.machine.workflow, F.k("shard", 1), attempt: 2, input: "2"))
        run.take(F.k("shard", 1))
        run.complete(F.k("shard", 1), "20")
        #expect(run.machine.node(F.k("shard")) == NodeSnapshot(.succeeded(output: F.b("[10,20]")), attempts: 0))
    }

    @Test("an element that fails for good fails the map node, cancels its siblings and fails the run")
    func map_elementExhausted_failsMapAndCancelsSiblings() throws {
        var run = RunDriver(workflow: try Self.mapWorkflow(retry: RetryPolicy(maxAttempts: 1), timeouts: TaskTimeouts(scheduleToStart: .seconds(5))))
        run.start("null")
        run.take(F.k("list"))
        run.complete(F.k("list"), "[1,2,3]")
        run.take(F.k("shard", 0))
        run.take(F.k("shard", 1))
        run.complete(F.k("shard", 0), "10")
        let failure = TaskFailure(kind: "Boom", message: "bad element")
        let mapFailure = TaskFailure(kind: TaskFailure.mapElementFailedKind, message: "element 1 failed after 1 attempt(s): Boom: bad element", retryable: false)
        let expected = RunFailure(node: F.k("shard"), failure: mapFailure, blockedNode: "load")
        #expect(run.fail(F.k("shard", 1), failure) == [
            .record(.attemptFailed(node: F.k("shard", 1), attempt: 1, failure: failure)),
            .record(.nodeFailed(node: F.k("shard", 1), failure: failure)),
            .cancelTimer(TimerID(.timeout(.scheduleToStart), node: F.k("shard", 2), attempt: 1)),
            .cancelAttempt(node: F.k("shard", 2), attempt: 1),
            .record(.nodeFailed(node: F.k("shard"), failure: mapFailure)),
            .record(.runFailed(expected)),
            .failRun(expected),
        ])
        #expect(run.queued.isEmpty && run.running.isEmpty)
    }

    @Test("element keys outside the fan-out, or of a map node that is not mapping, are ignored")
    func map_elementKeysOutOfRange_ignored() throws {
        var run = RunDriver(workflow: try Self.mapWorkflow())
        run.start("null")
        let early = run.send { $0.taskCompleted(node: F.k("shard", 0), attempt: 1, output: [], now: $1) }
        #expect(early.ignoredReasons == [.staleAttempt])
        run.take(F.k("list"))
        run.complete(F.k("list"), "[1]")
        let outside = run.send { $0.taskCompleted(node: F.k("shard", 5), attempt: 1, output: [], now: $1) }
        #expect(outside.ignoredReasons == [.staleAttempt])
        let mapItself = run.send { $0.taskCompleted(node: F.k("shard"), attempt: 1, output: [], now: $1) }
        #expect(mapItself.ignoredReasons == [.staleAttempt])
    }

    @Test("a wide fan-out of 10,000 elements completes")
    func map_tenThousandElements_completes() throws {
        var machine = RunStateMachine(runID: F.runID, workflow: try Self.mapWorkflow(), seed: 1)
        let now = F.t0
        _ = machine.started(input: F.b("null"), now: now)
        _ = machine.taskDispatched(node: F.k("list"), attempt: 1, worker: "w", now: now)
        let list = "[" + (0..<10_000).map(String.init).joined(separator: ",") + "]"
        let fanOut = machine.taskCompleted(node: F.k("list"), attempt: 1, output: F.b(list), now: now)
        #expect(fanOut.dispatched.count == 10_000)
        for index in 0..<10_000 {
            _ = machine.taskDispatched(node: F.k("shard", index), attempt: 1, worker: "w", now: now)
            let actions = machine.taskCompleted(node: F.k("shard", index), attempt: 1, output: F.b(String(index * 2)), now: now)
            if index < 9_999 { #expect(actions.count == 1) }
        }
        let expected = "[" + (0..<10_000).map { String($0 * 2) }.joined(separator: ",") + "]"
        #expect(machine.node(F.k("shard")) == NodeSnapshot(.succeeded(output: F.b(expected)), attempts: 0))
    }
}
