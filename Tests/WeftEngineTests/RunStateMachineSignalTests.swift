import Foundation
import Testing
import WeftCore
@testable import WeftEngine

@Suite("RunStateMachine signals: wait_signal nodes")
struct RunStateMachineSignalTests {
    typealias F = Fixtures

    /// `draft >> approval (wait_signal: approve, timeout 1h) >> publish`.
    static func approval(timeout: Duration? = .seconds(3600)) throws -> ValidatedWorkflow {
        try F.workflow("approval", [
            TaskDefinition(name: "draft", type: "echo"),
            TaskDefinition(name: "approval", type: "", dependsOn: ["draft"], waitSignal: "approve", signalTimeout: timeout),
            TaskDefinition(name: "publish", type: "echo", dependsOn: ["approval"]),
        ])
    }

    @Test("a signal after the node is reached completes it with the payload; no worker runs it")
    func signal_afterWait() throws {
        var run = RunDriver(workflow: try Self.approval())
        run.start("1")
        run.take(F.k("draft"))
        run.complete(F.k("draft"), "2")
        #expect(run.machine.snapshot().nodes[F.k("approval")] == NodeSnapshot(.awaitingSignal(deadline: F.at(3_600_000)), attempts: 1))
        let actions = run.send { $0.signalReceived(name: "approve", payload: F.b(#"{"by":"ann"}"#), now: $1) }
        #expect(actions.contains(.record(.signalConsumed(seq: 0, node: F.k("approval")))))
        #expect(actions.contains(.cancelTimer(TimerID(.timeout(.startToClose), node: F.k("approval"), attempt: 1))))
        run.runToEnd { .complete($0.input) }
        #expect(run.outcome == .completed(F.b(#"{"by":"ann"}"#)))
        #expect(run.dispatchLog.map(\.node) == [F.k("draft"), F.k("publish")])
    }

    @Test("a signal before the node is reached is kept and consumed when it is; a second one stays pending")
    func signal_beforeWait() throws {
        var run = RunDriver(workflow: try Self.approval())
        run.start("1")
        run.send { $0.signalReceived(name: "approve", payload: F.b("\"early\""), now: $1) }
        run.send { $0.signalReceived(name: "approve", payload: F.b("\"again\""), now: $1) }
        #expect(run.machine.snapshot().signals.map(\.seq) == [0, 1])
        run.take(F.k("draft"))
        run.complete(F.k("draft"), "2")
        #expect(run.records.contains(.signalConsumed(seq: 0, node: F.k("approval"))))
        run.runToEnd { .complete($0.input) }
        #expect(run.outcome == .completed(F.b("\"early\"")))
        #expect(run.machine.snapshot().signals.map(\.seq) == [1])
    }

    @Test("no signal within signal_timeout fails the node (no retry) and the run")
    func timeout_failsNode() throws {
        var run = RunDriver(workflow: try Self.approval())
        run.start("1")
        run.take(F.k("draft"))
        run.complete(F.k("draft"), "2")
        run.runToEnd { .complete($0.input) }
        guard case .failed(let failure)? = run.outcome else {
            Issue.record("expected a failed run, got \(String(describing: run.outcome))")
            return
        }
        #expect(failure.node == F.k("approval") && failure.failure.kind == TaskFailure.timeoutKind)
        #expect(run.records.filter { if case .attemptTimedOut = $0 { true } else { false } }.count == 1)
    }

    @Test("a worker cannot complete a signal node; signals to a closed run are ignored")
    func forgedResult_ignored() throws {
        var run = RunDriver(workflow: try Self.approval(timeout: nil))
        run.start("1")
        run.take(F.k("draft"))
        run.complete(F.k("draft"), "2")
        let forged = run.send { $0.taskCompleted(node: F.k("approval"), attempt: 1, output: F.b("1"), now: $1) }
        #expect(forged == [.ignored(IgnoredEvent(.staleAttempt, node: F.k("approval"), attempt: 1))])
        run.cancel("no")
        #expect(run.send { $0.signalReceived(name: "approve", payload: F.b("1"), now: $1) } == [.ignored(IgnoredEvent(.runNotRunning))])
    }

    @Test("recovering at every step, with a signal sent at several points, ends like the uninterrupted run")
    func recover_atEveryStep() throws {
        let workflow = try Self.approval(timeout: nil)
        for signalAt in [0, 1, 2, 3] {
            func script(_ run: inout RunDriver, steps: Int) {
                for step in 0..<steps where run.outcome == nil {
                    if step == signalAt { run.send { $0.signalReceived(name: "approve", payload: F.b("\"ok\""), now: $1) } }
                    _ = run.step { .complete($0.input) }
                }
            }
            var reference = RunDriver(workflow: workflow)
            reference.start("1")
            script(&reference, steps: 50)
            #expect(reference.outcome == .completed(F.b("\"ok\"")), "signal at \(signalAt)")
            for crashAt in 0...8 {
                var run = RunDriver(workflow: workflow)
                run.start("1")
                script(&run, steps: crashAt)
                try run.crashAndRecover(seed: UInt64(crashAt))
                if crashAt <= signalAt { run.send { $0.signalReceived(name: "approve", payload: F.b("\"ok\""), now: $1) } }
                run.runToEnd { .complete($0.input) }
                #expect(run.outcome == reference.outcome, "signal at \(signalAt), crash after \(crashAt)")
                #expect(run.machine.snapshot().signals.isEmpty, "signal at \(signalAt), crash after \(crashAt)")
            }
        }
    }

    @Test("definitions: signal nodes have a valid name and no type, map, retry, timeouts or sleep")
    func definitions() throws {
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"s","wait_signal":"approve","signal_timeout":"1d"}]}"#) == "")
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"s","wait_signal":"bad name"}]}"#).contains("invalid signal name"))
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"s","type":"echo","wait_signal":"a"}]}"#).contains("a signal node runs no task"))
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"s","wait_signal":"a","timeouts":{"start_to_close":"1s"}}]}"#).contains("signal_timeout, not timeouts"))
        #expect(F.definitionProblems(#"{"name":"w","tasks":[{"name":"a","type":"echo","signal_timeout":"1s"}]}"#).contains("signal_timeout without wait_signal"))
        let workflow = try JSONDecoder().decode(
            WorkflowDefinition.self, from: Data(#"{"name":"w","tasks":[{"name":"s","wait_signal":"go","signal_timeout":"2h"}]}"#.utf8)
        ).validated()
        let canonical = String(decoding: workflow.canonicalJSON, as: UTF8.self)
        #expect(canonical.hasSuffix(#""signal_timeout":"2h","wait_signal":"go"}]}"#), "\(canonical)")
        #expect(try JSONDecoder().decode(WorkflowDefinition.self, from: Data(workflow.canonicalJSON)).validated() == workflow)
    }
}
