import Testing
import WeftCore
@testable import WeftEngine

@Suite("RunStateMachine joins")
struct RunStateMachineJoinTests {
    typealias F = Fixtures
    static let once = RetryPolicy(maxAttempts: 1)

    /// `root >> (p1 | p2 | p3) >> sink` with `join` on `sink`.
    static func fanIn(_ join: JoinPolicy) throws -> ValidatedWorkflow {
        try F.workflow("join", [
            F.task("root"),
            F.task("p1", ["root"], retry: once),
            F.task("p2", ["root"], retry: once),
            F.task("p3", ["root"], retry: once),
            F.task("sink", ["p1", "p2", "p3"], join: join),
        ])
    }

    static func started(_ join: JoinPolicy) throws -> RunDriver {
        var run = RunDriver(workflow: try fanIn(join))
        run.start("0")
        run.take(F.k("root"))
        run.complete(F.k("root"), "1")
        for parent in ["p1", "p2", "p3"] { run.take(F.k(parent)) }
        return run
    }

    static let boom = TaskFailure(kind: "Boom", message: "")

    @Test("join any: the first parent's success makes the node ready with that parent's output")
    func joinAny_firstSuccess_dispatchesWithThatOutput() throws {
        var run = try Self.started(.any)
        let actions = run.complete(F.k("p2"), #""two""#)
        #expect(actions.dispatched.map(\.node) == [F.k("sink")])
        #expect(actions.dispatched.first?.input == F.b(#"{"p2":"two"}"#))
        run.complete(F.k("p1"), "1")
        run.take(F.k("sink"))
        run.complete(F.k("sink"), "s")
        #expect(run.outcome == nil, "the run waits for every node")
        run.complete(F.k("p3"), "3")
        #expect(run.outcome == .completed(F.b("s")))
    }

    @Test("join any tolerates failed parents while one can still succeed")
    func joinAny_someParentsFail_runContinues() throws {
        var run = try Self.started(.any)
        run.fail(F.k("p1"), Self.boom)
        run.fail(F.k("p3"), Self.boom)
        #expect(run.outcome == nil)
        #expect(run.machine.node(F.k("p1")) == NodeSnapshot(.failed(Self.boom), attempts: 1))
        run.complete(F.k("p2"), "2")
        run.take(F.k("sink"))
        run.complete(F.k("sink"), "s")
        #expect(run.outcome == .completed(F.b("s")))
    }

    @Test("join any fails the run once every parent failed")
    func joinAny_allParentsFail_runFails() throws {
        var run = try Self.started(.any)
        run.fail(F.k("p1"), Self.boom)
        run.fail(F.k("p2"), Self.boom)
        run.fail(F.k("p3"), Self.boom)
        #expect(run.outcome == .failed(RunFailure(node: F.k("p3"), failure: Self.boom, blockedNode: "sink")))
    }

    @Test("a parent failing after its child already ran under join any is tolerated")
    func joinAny_parentFailsAfterChildRan_runSucceeds() throws {
        var run = try Self.started(.any)
        run.complete(F.k("p1"), "1")
        run.take(F.k("sink"))
        run.fail(F.k("p2"), Self.boom)
        run.complete(F.k("sink"), "s")
        run.fail(F.k("p3"), Self.boom)
        #expect(run.outcome == .completed(F.b("s")))
    }

    @Test("join at_least(2): ready at the second success, with the outputs of the parents that succeeded")
    func joinAtLeast_secondSuccess_dispatchesWithBoth() throws {
        var run = try Self.started(.atLeast(2))
        #expect(run.complete(F.k("p3"), "3").dispatched.isEmpty)
        run.fail(F.k("p1"), Self.boom)
        #expect(run.outcome == nil, "two parents may still succeed")
        let actions = run.complete(F.k("p2"), "2")
        #expect(actions.dispatched.first?.input == F.b(#"{"p2":2,"p3":3}"#))
        run.take(F.k("sink"))
        run.complete(F.k("sink"), "s")
        #expect(run.outcome == .completed(F.b("s")))
    }

    @Test("join at_least(2) fails the run once two of three parents failed")
    func joinAtLeast_tooManyFailures_runFails() throws {
        var run = try Self.started(.atLeast(2))
        run.complete(F.k("p1"), "1")
        run.fail(F.k("p2"), Self.boom)
        #expect(run.outcome == nil)
        let actions = run.fail(F.k("p3"), Self.boom)
        let expected = RunFailure(node: F.k("p3"), failure: Self.boom, blockedNode: "sink")
        #expect(Array(actions.suffix(2)) == [.record(.runFailed(expected)), .failRun(expected)])
    }

    @Test("join all fails the run at the first failed parent and cancels the others")
    func joinAll_oneParentFails_runFailsFast() throws {
        var run = try Self.started(.all)
        let actions = run.fail(F.k("p2"), Self.boom)
        #expect(actions.contains(.cancelAttempt(node: F.k("p1"), attempt: 1)))
        #expect(actions.contains(.cancelAttempt(node: F.k("p3"), attempt: 1)))
        #expect(run.outcome == .failed(RunFailure(node: F.k("p2"), failure: Self.boom, blockedNode: "sink")))
    }

    @Test("a failed leaf fails the run even when other branches are fine")
    func leafFails_runFails() throws {
        var run = RunDriver(workflow: try F.workflow([F.task("a", retry: Self.once), F.task("b")]))
        run.start("0")
        run.take(F.k("a"))
        run.take(F.k("b"))
        run.fail(F.k("a"), Self.boom)
        #expect(run.outcome == .failed(RunFailure(node: F.k("a"), failure: Self.boom)))
        #expect(run.cancelledAttempts.map(\.node) == [F.k("b")])
    }

    @Test("join policies count successes and failures as documented")
    func joinPolicy_arithmetic() {
        #expect(JoinPolicy.all.isSatisfied(succeeded: 3, parents: 3))
        #expect(!JoinPolicy.all.isSatisfied(succeeded: 2, parents: 3))
        #expect(!JoinPolicy.all.canBeSatisfied(failed: 1, parents: 3))
        #expect(JoinPolicy.any.isSatisfied(succeeded: 1, parents: 3))
        #expect(JoinPolicy.any.canBeSatisfied(failed: 2, parents: 3))
        #expect(!JoinPolicy.any.canBeSatisfied(failed: 3, parents: 3))
        #expect(JoinPolicy.atLeast(2).canBeSatisfied(failed: 1, parents: 3))
        #expect(!JoinPolicy.atLeast(2).canBeSatisfied(failed: 2, parents: 3))
        #expect(JoinPolicy(parsing: "at_least(12)") == .atLeast(12))
        for bad in ["at_least()", "at_least(x)", "at_least(1", "at_least(-1)", "ALL", "at_least(1234567890)", "at_least( 2)"] {
            #expect(JoinPolicy(parsing: bad) == nil, "\(bad)")
        }
    }
}
