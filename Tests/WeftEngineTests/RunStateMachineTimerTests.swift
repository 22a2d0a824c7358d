import Foundation
import Testing
import WeftCore
@testable import WeftEngine

@Suite("RunStateMachine durable timers: start_after and sleep nodes")
struct RunStateMachineTimerTests {
    typealias F = Fixtures

    /// `fetch (start_after 10m) >> cool (sleep 1h) >> publish`.
    static func delayed() throws -> ValidatedWorkflow {
        try F.workflow("delayed", [
            TaskDefinition(name: "fetch", type: "echo", startAfter: .seconds(600)),
            TaskDefinition(name: "cool", type: "", dependsOn: ["fetch"], sleep: .seconds(3600)),
            TaskDefinition(name: "publish", type: "echo", dependsOn: ["cool"]),
        ])
    }

    @Test("start_after: no dispatch until the timer fires; the wait is recorded with its deadline")
    func startAfter_delaysFirstAttempt() throws {
        var run = RunDriver(workflow: try Self.delayed())
        let started = run.start(#"{"page":1}"#)
        #expect(started.contains(.record(.retryScheduled(node: F.k("fetch"), attempt: 1, at: F.at(600_000)))))
        #expect(started.contains(.schedule(TimerID(.retryBackoff, node: F.k("fetch"), attempt: 1), at: F.at(600_000))))
        #expect(run.dispatchLog.isEmpty)
        #expect(run.machine.snapshot().nodes[F.k("fetch")] == NodeSnapshot(.backingOff(until: F.at(600_000)), attempts: 0))
        _ = run.advance(by: 599_999)
        #expect(run.dispatchLog.isEmpty)
        _ = run.advance(by: 1)
        #expect(run.dispatchLog.map(\.node) == [F.k("fetch")] && run.dispatchLog.first?.attempt == 1)
    }

    @Test("sleep: no task runs; the node succeeds with its input after the sleep, and its child gets that")
    func sleep_passesInputThrough() throws {
        var run = RunDriver(workflow: try Self.delayed())
        run.start(#"{"page":1}"#)
        run.runToEnd { assignment in .complete(assignment.input) }
        #expect(run.outcome == .completed(F.b(#"{"page":1}"#)))
        #expect(run.dispatchLog.map(\.node) == [F.k("fetch"), F.k("publish")])  // never "cool"
        #expect(run.records.contains(.attemptCompleted(node: F.k("cool"), attempt: 1, output: F.b(#"{"page":1}"#))))
        // 10 min before fetch, 1 h of sleep.
        #expect(run.now >= F.at(600_000 + 3_600_000))
    }

    @Test("cancel during a sleep disarms its timer and closes the run")
    func cancel_duringSleep() throws {
        var run = RunDriver(workflow: try Self.delayed())
        run.start("1")
        _ = run.advance(by: 600_000)
        run.take(F.k("fetch"))
        run.complete(F.k("fetch"), "2")
        #expect(run.nextTimer()?.0 == TimerID(.retryBackoff, node: F.k("cool"), attempt: 1))
        run.cancel("enough")
        #expect(run.outcome == .cancelled("enough"))
        #expect(run.nextTimer() == nil)
    }

    @Test("recovering from the records at any step fires each timer once, at its recorded deadline, and ends like the uninterrupted run")
    func recover_atEveryStep() throws {
        let workflow = try Self.delayed()
        var reference = RunDriver(workflow: workflow)
        reference.start("7")
        let steps = reference.runToEnd { .complete($0.input) }
        let final = reference.machine.snapshot()
        for crashAt in 0...steps {
            var run = RunDriver(workflow: workflow)
            run.start("7")
            for _ in 0..<crashAt where run.outcome == nil { _ = run.step { .complete($0.input) } }
            try run.crashAndRecover(seed: UInt64(crashAt))
            run.runToEnd { .complete($0.input) }
            #expect(run.outcome == reference.outcome, "crash after step \(crashAt)")
            #expect(run.machine.snapshot() == final, "crash after step \(crashAt)")
            // Fired once: one completion of the sleep, one dispatch of fetch's attempt 1 per life.
            #expect(run.records.filter { $0 == .attemptCompleted(node: F.k("cool"), attempt: 1, output: F.b("7")) }.count == 1)
            #expect(run.now == reference.now, "the deadlines did not move: crash after step \(crashAt)")
        }
    }

    @Test("definitions: sleep nodes have no type, map, retry or timeouts; durations are positive and bounded; canonical form")
    func definitions() throws {
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"s","sleep":"10m"}]}"#) == "")
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"s","type":"echo","sleep":"10m"}]}"#).contains("a sleep node runs no task"))
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"a","type":"echo"},{"name":"s","sleep":"1s","map":true,"depends_on":["a"]}]}"#).contains("a sleep node cannot map"))
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"s","sleep":"1s","retry":{"max_attempts":2}}]}"#).contains("no attempts to retry"))
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"s","sleep":"0s"}]}"#).contains("sleep must be positive"))
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"a","type":"echo","start_after":"400d"}]}"#).contains("start_after of"))
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"a","type":"echo"},{"name":"m","type":"echo","map":true,"start_after":"1s","depends_on":["a"]}]}"#).contains("not supported yet"))
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"a"}]}"#).contains("type"))  // type is required unless sleep
        let workflow = try JSONDecoder().decode(
            WorkflowDefinition.self,
            from: Data(#"{"name":"w","tasks":[{"name":"s","sleep":"90s"},{"name":"a","type":"echo","start_after":"5m","depends_on":["s"]}]}"#.utf8)
        ).validated()
        let canonical = String(decoding: workflow.canonicalJSON, as: UTF8.self)
        #expect(canonical.contains(#""name":"s","priority":"normal","queue":"default","retry":{"#))
        #expect(canonical.contains(#""sleep":"1m30s"}"#) || canonical.contains(#""sleep":"90s"}"#), "\(canonical)")
        #expect(canonical.contains(#""start_after":"5m","type":"echo"}"#), "\(canonical)")
        // The canonical form decodes to the same workflow (stored definitions are re-derived).
        let again = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(workflow.canonicalJSON)).validated()
        #expect(again == workflow)
    }
}

@Suite("RunStateMachine: the workflow's timeout")
struct RunStateMachineRunTimeoutTests {
    typealias F = Fixtures

    static func timed(_ timeout: Duration = .seconds(60)) throws -> ValidatedWorkflow {
        try WorkflowDefinition(name: "timed", tasks: [TaskDefinition(name: "slow", type: "echo")], timeout: timeout).validated()
    }

    @Test("past the timeout (from the run's creation) the run fails with RunTimeout and its attempt is cancelled")
    func timeout_failsRun() throws {
        var run = RunDriver(workflow: try Self.timed())
        let created = EngineInstant(unixMilliseconds: Int64(run.machine.runID.unixMilliseconds))
        let started = run.start("1")
        #expect(started.contains(.schedule(.run, at: created.advanced(by: .seconds(60)))))
        run.take(F.k("slow"))
        _ = run.advance(by: 120_000)
        guard case .failed(let failure)? = run.outcome else {
            Issue.record("expected the run to fail, got \(String(describing: run.outcome))")
            return
        }
        #expect(failure.failure.kind == TaskFailure.runTimeoutKind && failure.node.name.isEmpty)
        #expect(failure.description == "the run failed: RunTimeout: the run did not finish within its timeout of 1m")
        #expect(run.cancelledAttempts.contains { $0.0 == F.k("slow") })
    }

    @Test("a run that finishes first is not failed by its late timer; recovery re-arms the same deadline")
    func timeout_recovery() throws {
        var run = RunDriver(workflow: try Self.timed())
        run.start("1")
        try run.crashAndRecover()
        let created = EngineInstant(unixMilliseconds: Int64(run.machine.runID.unixMilliseconds))
        #expect(run.nextTimer()?.0 == .run && run.nextTimer()?.1 == created.advanced(by: .seconds(60)))
        run.take(F.k("slow"))
        run.complete(F.k("slow"), "2")
        #expect(run.outcome == .completed(F.b("2")))
        #expect(run.send { $0.timerFired(.run, now: $1) } == [.ignored(IgnoredEvent(.runNotRunning, node: NodeKey(""), attempt: 0))])
    }

    @Test("the timeout is part of the version; without it the canonical bytes are unchanged")
    func timeout_canonical() throws {
        let plain = try WorkflowDefinition(name: "timed", tasks: [TaskDefinition(name: "slow", type: "echo")]).validated()
        let timed = try Self.timed(.seconds(3600))
        #expect(String(decoding: timed.canonicalJSON, as: UTF8.self).hasSuffix(#"],"timeout":"1h"}"#))
        #expect(!String(decoding: plain.canonicalJSON, as: UTF8.self).contains("timeout\":\"1h"))
        #expect(plain.version != timed.version)
        #expect(throws: DefinitionError.self) {
            try WorkflowDefinition(name: "t", tasks: [TaskDefinition(name: "a", type: "echo")], timeout: .zero).validated()
        }
    }
}

@Suite("RunStateMachine: retry from the failed nodes")
struct RunStateMachineReuseTests {
    typealias F = Fixtures

    @Test("reused nodes succeed at once with their outputs; the rest run from there; recovery keeps them")
    func reuse_runsTheRest() throws {
        let workflow = try F.diamond()  // extract >> (clean | enrich) >> load
        var random = SplitMix64(seed: 1)
        let old = RunID(unixMilliseconds: 1_700_000_000_000, using: &random)
        var run = RunDriver(workflow: workflow)
        let actions = run.send { machine, now in
            machine.started(input: F.b("1"), now: now, reusing: ["extract": F.b("\"e\""), "clean": F.b("\"c\"")], reusedFrom: old)
        }
        #expect(actions.contains(.record(.outputReused(node: F.k("extract"), output: F.b("\"e\""), from: old))))
        #expect(run.dispatchLog.map(\.node) == [F.k("enrich")])  // extract and clean do not run
        #expect(run.dispatchLog.first?.input == F.b("\"e\""))
        try run.crashAndRecover()
        run.runToEnd { .complete(F.b("\"\($0.node)\"")) }
        #expect(run.dispatchLog.map(\.node).filter { $0 == F.k("extract") || $0 == F.k("clean") }.isEmpty)
        #expect(run.outcome == .completed(F.b("\"load\"")))
        #expect(run.machine.snapshot().nodes[F.k("clean")] == NodeSnapshot(.succeeded(output: F.b("\"c\"")), attempts: 1))
    }

    @Test("every node reused: the run succeeds at start")
    func reuse_everything() throws {
        var run = RunDriver(workflow: try F.workflow([F.task("only", type: "echo")]))
        var random = SplitMix64(seed: 2)
        let from = RunID(unixMilliseconds: 1, using: &random)
        run.send { machine, now in machine.started(input: F.b("1"), now: now, reusing: ["only": F.b("7")], reusedFrom: from) }
        #expect(run.outcome == .completed(F.b("7")) && run.dispatchLog.isEmpty)
    }
}
