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
        func problems(_ json: String) -> String {
            do {
                _ = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(json.utf8)).validated()
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(problems(#"{"name":"w","tasks":[{"name":"s","sleep":"10m"}]}"#) == "")
        #expect(problems(#"{"name":"w","tasks":[{"name":"s","type":"echo","sleep":"10m"}]}"#).contains("a sleep node runs no task"))
        #expect(problems(#"{"name":"w","tasks":[{"name":"a","type":"echo"},{"name":"s","sleep":"1s","map":true,"depends_on":["a"]}]}"#).contains("a sleep node cannot map"))
        #expect(problems(#"{"name":"w","tasks":[{"name":"s","sleep":"1s","retry":{"max_attempts":2}}]}"#).contains("no attempts to retry"))
        #expect(problems(#"{"name":"w","tasks":[{"name":"s","sleep":"0s"}]}"#).contains("sleep must be positive"))
        #expect(problems(#"{"name":"w","tasks":[{"name":"a","type":"echo","start_after":"400d"}]}"#).contains("start_after of"))
        #expect(problems(#"{"name":"w","tasks":[{"name":"a","type":"echo"},{"name":"m","type":"echo","map":true,"start_after":"1s","depends_on":["a"]}]}"#).contains("not supported yet"))
        #expect(problems(#"{"name":"w","tasks":[{"name":"a"}]}"#).contains("type"))  // type is required unless sleep
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
