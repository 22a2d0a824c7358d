import Foundation
import Testing
import WeftCore
@testable import WeftEngine

@Suite("RunStateMachine: cancel of a node or a subtree, terminate")
struct RunStateMachineCancelTests {
    typealias F = Fixtures

    @Test("a cancelled node stops its attempt; under join all its dependants are cancelled with it and the run succeeds with the other leaf")
    func cancelNode_cascadesThroughJoinAll() throws {
        // extract >> (clean | enrich) >> load, plus a second leaf 'audit' after extract.
        let workflow = try F.workflow("cancel", [
            F.task("extract", type: "echo"), F.task("clean", ["extract"]), F.task("enrich", ["extract"]),
            F.task("load", ["clean", "enrich"]), F.task("audit", ["extract"], type: "echo"),
        ])
        var run = RunDriver(workflow: workflow)
        _ = run.start(#"{"x":1}"#)
        _ = run.take(F.k("extract"))
        _ = run.complete(F.k("extract"), #"{"x":1}"#)
        _ = run.take(F.k("clean"))
        let actions = run.send { $0.nodeCancelRequested(node: "clean", subtree: false, reason: "not needed", now: $1) }
        #expect(actions.contains(.cancelAttempt(node: F.k("clean"), attempt: 1)))
        #expect(actions.contains(.record(.nodeCancelled(node: F.k("clean"), attempt: 1, reason: "not needed"))))
        // load needs both parents: it can never run, so it is cancelled too (it never started).
        #expect(actions.contains(.record(.nodeCancelled(node: F.k("load"), attempt: nil, reason: "its parent 'clean' was cancelled"))))
        // A result of the cancelled attempt that still comes is stale.
        let late = run.send { $0.taskCompleted(node: F.k("clean"), attempt: 1, output: Array("1".utf8), now: $1) }
        #expect(late == [.ignored(IgnoredEvent(.staleAttempt, node: F.k("clean"), attempt: 1))])
        _ = run.take(F.k("enrich"))
        _ = run.complete(F.k("enrich"), "2")
        _ = run.take(F.k("audit"))
        _ = run.complete(F.k("audit"), #""ok""#)
        #expect(run.outcome == .completed(Array(#""ok""#.utf8)))
    }

    @Test("a join any child whose other parent succeeds still runs; a subtree cancel takes every descendant; cancelling everything cancels the run")
    func joinAny_subtree_andAllLeaves() throws {
        let workflow = try F.workflow("any", [
            F.task("a", type: "echo"), F.task("b", type: "echo"), F.task("c", ["a", "b"], type: "echo", join: .any),
        ])
        var run = RunDriver(workflow: workflow)
        _ = run.start("1")
        _ = run.send { $0.nodeCancelRequested(node: "a", subtree: false, reason: "r", now: $1) }
        _ = run.take(F.k("b"))
        _ = run.complete(F.k("b"), "2")
        _ = run.take(F.k("c"))
        _ = run.complete(F.k("c"), "3")
        #expect(run.outcome == .completed(Array("3".utf8)))

        var subtree = RunDriver(workflow: workflow)
        _ = subtree.start("1")
        let actions = subtree.send { $0.nodeCancelRequested(node: "a", subtree: true, reason: "r", now: $1) }
        #expect(actions.contains(.record(.nodeCancelled(node: F.k("c"), attempt: nil, reason: "r"))))
        _ = subtree.take(F.k("b"))
        _ = subtree.complete(F.k("b"), "2")
        // The only leaf was cancelled: no output, so the run closes as cancelled.
        #expect(subtree.outcome == .cancelled("every leaf node was cancelled, so the run has no output"))
    }

    @Test("cancel of a finished or unknown node is ignored; a failed parent that dooms a child still fails the run")
    func ignoredAndFailures() throws {
        let workflow = try F.workflow("pair", [F.task("a", type: "echo"), F.task("b", type: "echo"), F.task("c", ["a", "b"])])
        var run = RunDriver(workflow: workflow)
        _ = run.start("1")
        _ = run.take(F.k("a"))
        _ = run.complete(F.k("a"), "1")
        #expect(run.send { $0.nodeCancelRequested(node: "a", subtree: false, reason: "r", now: $1) } == [.ignored(IgnoredEvent(.nodeFinished, node: F.k("a")))])
        #expect(run.send { $0.nodeCancelRequested(node: "zzz", subtree: false, reason: "r", now: $1) } == [.ignored(IgnoredEvent(.unknownNode, node: F.k("zzz")))])

        var failing = RunDriver(workflow: try F.workflow("f", [
            F.task("a", type: "echo", retry: RetryPolicy(maxAttempts: 1)), F.task("b", type: "echo"), F.task("c", ["a", "b"], join: .any),
        ]))
        _ = failing.start("1")
        _ = failing.take(F.k("a"))
        _ = failing.fail(F.k("a"), TaskFailure(kind: "Boom", message: "no", retryable: false))
        _ = failing.send { $0.nodeCancelRequested(node: "b", subtree: false, reason: "r", now: $1) }
        guard case .failed(let failure)? = failing.outcome else { Issue.record("\(String(describing: failing.outcome))"); return }
        #expect(failure.node == F.k("a"))
    }

    @Test("cancelled nodes survive a crash: recovery keeps them cancelled and the run finishes without them")
    func recoveryKeepsCancelledNodes() throws {
        let workflow = try F.workflow("r", [F.task("a", type: "echo"), F.task("b", ["a"]), F.task("c", type: "echo")])
        var run = RunDriver(workflow: workflow)
        _ = run.start("1")
        _ = run.send { $0.nodeCancelRequested(node: "a", subtree: false, reason: "r", now: $1) }
        try run.crashAndRecover()
        #expect(run.queued.keys.map(\.name) == ["c"])
        _ = run.take(F.k("c"))
        _ = run.complete(F.k("c"), "7")
        #expect(run.outcome == .completed(Array("7".utf8)))
    }

    @Test("terminate closes the run as cancelled and records it as terminated")
    func terminate() throws {
        var run = RunDriver(workflow: try F.single())
        _ = run.start("1")
        _ = run.take(F.k("only"))
        let actions = run.send { $0.cancelRequested(reason: "stuck", terminate: true, now: $1) }
        #expect(actions.contains(.record(.runTerminated(reason: "stuck"))) && actions.contains(.cancelAttempt(node: F.k("only"), attempt: 1)))
        #expect(run.outcome == .cancelled("stuck"))
    }
}

@Suite("Child workflow nodes: definitions and dispatch")
struct ChildWorkflowDefinitionTests {
    @Test("a workflow: node has no type; it may map, retry and have start_to_close; heartbeats, queues, sleeps are refused")
    func validation() throws {
        let ok = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(#"""
            {"name": "parent", "tasks": [
              {"name": "list", "type": "echo"},
              {"name": "each", "workflow": "billing", "map": true, "depends_on": ["list"], "retry": {"max_attempts": 2},
               "timeouts": {"start_to_close": "1h"}}
            ]}
            """#.utf8)).validated()
        #expect(ok.task(named: "each")?.workflow == "billing" && ok.task(named: "each")?.runsTask == false)
        #expect(String(decoding: ok.canonicalJSON, as: UTF8.self).contains(#""workflow":"billing""#))
        // The child workflow name travels with every attempt.
        var run = RunDriver(workflow: ok)
        _ = run.start("1")
        _ = run.take(Fixtures.k("list"))
        _ = run.complete(Fixtures.k("list"), "[1,2]")
        #expect(run.dispatchLog.filter { $0.node.name == "each" }.map(\.childWorkflow) == ["billing", "billing"])

        let problems = Fixtures.definitionProblems(#"""
            {"name": "bad", "tasks": [
              {"name": "a", "workflow": "billing", "type": "echo"},
              {"name": "b", "workflow": "billing", "timeouts": {"heartbeat": "10s"}},
              {"name": "c", "workflow": "billing", "queue": "gpu"},
              {"name": "d", "workflow": "billing", "sleep": "1s"},
              {"name": "e", "workflow": "no spaces"}
            ]}
            """#)
        #expect(problems.contains("a child workflow node runs no task: remove type"), "\(problems)")
        #expect(problems.contains("a child workflow sends no heartbeats"), "\(problems)")
        #expect(problems.contains("a child workflow node takes no queue"), "\(problems)")
        #expect(problems.contains("a child workflow node cannot also sleep"), "\(problems)")
        #expect(problems.contains("invalid child workflow name 'no spaces'"), "\(problems)")
    }
}
