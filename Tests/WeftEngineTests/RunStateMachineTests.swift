import Testing
import WeftCore
@testable import WeftEngine

@Suite("RunStateMachine")
struct RunStateMachineTests {
    typealias F = Fixtures

    static func assignment(_ workflow: ValidatedWorkflow, _ node: NodeKey, attempt: Int = 1, input: String) -> TaskAssignment {
        guard let task = workflow.task(named: node.name) else { preconditionFailure("no task \(node.name)") }
        return TaskAssignment(
            runID: F.runID, node: node, attempt: attempt, type: task.type, queue: task.queue,
            priority: task.priority, input: F.b(input), timeouts: task.timeouts,
            concurrencyKey: task.concurrencyKey, cacheKey: task.cacheKey
        )
    }

    @Test("a diamond runs extract, then clean and enrich, then load, with outputs flowing into inputs")
    func diamond_allSucceed_completesWithOutputsFlowing() throws {
        let workflow = try F.diamond()
        var run = RunDriver(workflow: workflow)

        #expect(run.start(#""in""#) == [
            .record(.runStarted(input: F.b(#""in""#))),
            .record(.attemptScheduled(node: F.k("extract"), attempt: 1)),
            .dispatch(Self.assignment(workflow, F.k("extract"), input: #""in""#)),
        ])
        #expect(run.machine.status == .running)
        #expect(run.take(F.k("extract"), worker: "w7") == [.record(.attemptStarted(node: F.k("extract"), attempt: 1, worker: "w7"))])
        #expect(run.complete(F.k("extract"), #""x""#) == [
            .record(.attemptCompleted(node: F.k("extract"), attempt: 1, output: F.b(#""x""#))),
            .record(.attemptScheduled(node: F.k("clean"), attempt: 1)),
            .dispatch(Self.assignment(workflow, F.k("clean"), input: #""x""#)),
            .record(.attemptScheduled(node: F.k("enrich"), attempt: 1)),
            .dispatch(Self.assignment(workflow, F.k("enrich"), input: #""x""#)),
        ])
        run.take(F.k("enrich"))
        run.take(F.k("clean"))
        #expect(run.complete(F.k("enrich"), #"{"e":1}"#) == [
            .record(.attemptCompleted(node: F.k("enrich"), attempt: 1, output: F.b(#"{"e":1}"#))),
        ])
        let loadInput = #"{"clean":"c","enrich":{"e":1}}"#
        #expect(run.complete(F.k("clean"), #""c""#) == [
            .record(.attemptCompleted(node: F.k("clean"), attempt: 1, output: F.b(#""c""#))),
            .record(.attemptScheduled(node: F.k("load"), attempt: 1)),
            .dispatch(Self.assignment(workflow, F.k("load"), input: loadInput)),
        ])
        run.take(F.k("load"))
        #expect(run.complete(F.k("load"), #""done""#) == [
            .record(.attemptCompleted(node: F.k("load"), attempt: 1, output: F.b(#""done""#))),
            .record(.runCompleted(output: F.b(#""done""#))),
            .completeRun(output: F.b(#""done""#)),
        ])
        #expect(run.machine.state == .succeeded(output: F.b(#""done""#)))
        #expect(run.machine.output == F.b(#""done""#))
        #expect(run.outcome == .completed(F.b(#""done""#)))
        #expect(run.machine.node(F.k("load")) == NodeSnapshot(.succeeded(output: F.b(#""done""#)), attempts: 1))
    }

    @Test("a run with several leaves outputs a JSON object keyed by leaf name; empty outputs become null")
    func severalLeaves_complete_outputIsObjectOfLeaves() throws {
        let workflow = try F.workflow([F.task("root"), F.task("b", ["root"]), F.task("a", ["root"])])
        var run = RunDriver(workflow: workflow)
        run.start("")
        run.take(F.k("root"))
        run.complete(F.k("root"), "")
        #expect(run.machine.node(F.k("a")) == NodeSnapshot(.scheduled, attempts: 1))
        #expect(run.queued[F.k("a")]?.input == [])  // a single parent's empty output is passed as is
        run.take(F.k("a"))
        run.take(F.k("b"))
        run.complete(F.k("b"), "2")
        run.complete(F.k("a"), "")
        #expect(run.outcome == .completed(F.b(#"{"a":null,"b":2}"#)))
    }

    @Test("a completion for an attempt that was superseded by a retry is ignored as stale")
    func taskCompleted_afterRetry_staleAttemptIgnored() throws {
        let workflow = try F.single(retry: RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(1)))
        var run = RunDriver(workflow: workflow)
        run.start("1")
        run.take(F.k("only"))
        run.fail(F.k("only"), TaskFailure(kind: "Flaky", message: "try again"))
        _ = run.fireNextTimer()
        #expect(run.queued[F.k("only")]?.attempt == 2)
        // The first attempt's worker reports success late: not recorded.
        let late = run.send { $0.taskCompleted(node: F.k("only"), attempt: 1, output: F.b("late"), now: $1) }
        #expect(late == [.ignored(IgnoredEvent(.staleAttempt, node: F.k("only"), attempt: 1))])
        let lateFailure = run.send { $0.taskFailed(node: F.k("only"), attempt: 1, failure: TaskFailure(kind: "X", message: ""), now: $1) }
        #expect(lateFailure.ignoredReasons == [.staleAttempt])
        run.take(F.k("only"))
        run.complete(F.k("only"), "ok")
        #expect(run.outcome == .completed(F.b("ok")))
        // Exactly one attempt was recorded as completed.
        let completions = run.records.filter { if case .attemptCompleted = $0 { return true } else { return false } }
        #expect(completions == [.attemptCompleted(node: F.k("only"), attempt: 2, output: F.b("ok"))])
    }

    @Test("a second completion of the same attempt is ignored, and attempts never dispatched are stale")
    func taskCompleted_duplicate_ignored() throws {
        var run = RunDriver(workflow: try F.diamond())
        run.start("1")
        run.take(F.k("extract"))
        run.complete(F.k("extract"), "2")
        let again = run.send { $0.taskCompleted(node: F.k("extract"), attempt: 1, output: F.b("3"), now: $1) }
        #expect(again == [.ignored(IgnoredEvent(.staleAttempt, node: F.k("extract"), attempt: 1))])
        let future = run.send { $0.taskCompleted(node: F.k("clean"), attempt: 2, output: F.b("3"), now: $1) }
        #expect(future.ignoredReasons == [.staleAttempt])
        let waiting = run.send { $0.taskCompleted(node: F.k("load"), attempt: 1, output: F.b("3"), now: $1) }
        #expect(waiting.ignoredReasons == [.staleAttempt])
    }

    @Test("events naming nodes the run does not have are ignored, never trapped on")
    func events_unknownNodes_ignored() throws {
        var run = RunDriver(workflow: try F.diamond())
        run.start("1")
        let unknown = run.send { $0.taskCompleted(node: NodeKey("nope"), attempt: 1, output: [], now: $1) }
        #expect(unknown == [.ignored(IgnoredEvent(.unknownNode, node: NodeKey("nope"), attempt: 1))])
        let elementOfPlain = run.send { $0.taskDispatched(node: NodeKey("extract", index: 0), attempt: 1, worker: "w", now: $1) }
        #expect(elementOfPlain.ignoredReasons == [.unknownNode])
        let heartbeat = run.send { $0.heartbeatReceived(node: NodeKey("nope"), attempt: 1, now: $1) }
        #expect(heartbeat.ignoredReasons == [.unknownNode])
        let lost = run.send { $0.workerLost(node: NodeKey("nope"), attempt: 0, now: $1) }
        #expect(lost.ignoredReasons == [.unknownNode])
        let timer = run.send { $0.timerFired(TimerID(.retryBackoff, node: NodeKey("nope"), attempt: 2), now: $1) }
        #expect(timer.ignoredReasons == [.unknownNode])
        let negative = run.send { $0.taskCompleted(node: F.k("extract"), attempt: -5, output: [], now: $1) }
        #expect(negative.ignoredReasons == [.staleAttempt])
        #expect(run.machine.status == .running)
    }

    @Test("events before the start are ignored, and the start is applied once")
    func started_twiceOrEventsBefore_ignored() throws {
        var run = RunDriver(workflow: try F.diamond())
        let early = run.send { $0.taskCompleted(node: F.k("extract"), attempt: 1, output: [], now: $1) }
        #expect(early.ignoredReasons == [.runNotRunning])
        let timer = run.send { $0.timerFired(TimerID(.retryBackoff, node: F.k("extract"), attempt: 2), now: $1) }
        #expect(timer.ignoredReasons == [.runNotRunning])
        run.start("1")
        #expect(run.start("2") == [.ignored(IgnoredEvent(.runAlreadyStarted))])
        #expect(run.queued.count == 1)
    }

    @Test("a worker taking an attempt twice, or heartbeating a queued attempt, is ignored")
    func taskDispatched_twice_ignored() throws {
        var run = RunDriver(workflow: try F.single(timeouts: TaskTimeouts(heartbeat: .seconds(5))))
        run.start("1")
        let early = run.send { $0.heartbeatReceived(node: F.k("only"), attempt: 1, now: $1) }
        #expect(early == [.ignored(IgnoredEvent(.attemptNotStarted, node: F.k("only"), attempt: 1))])
        let lostEarly = run.send { $0.workerLost(node: F.k("only"), attempt: 1, now: $1) }
        #expect(lostEarly.ignoredReasons == [.attemptNotStarted])
        run.take(F.k("only"))
        let twice = run.send { $0.taskDispatched(node: F.k("only"), attempt: 1, worker: "w2", now: $1) }
        #expect(twice == [.ignored(IgnoredEvent(.attemptAlreadyStarted, node: F.k("only"), attempt: 1))])
    }

    @Test("cancelling a running run cancels in-flight attempts and timers, and later results are ignored")
    func cancelRequested_running_cancelsEverything() throws {
        let timeouts = TaskTimeouts(scheduleToStart: .seconds(60), startToClose: .seconds(300))
        var run = RunDriver(workflow: try F.diamond(timeouts: timeouts))
        run.start("1")
        run.take(F.k("extract"))
        run.complete(F.k("extract"), "2")
        run.take(F.k("clean"))  // clean running, enrich queued
        let actions = run.cancel("user asked")
        #expect(actions == [
            .cancelTimer(TimerID(.timeout(.startToClose), node: F.k("clean"), attempt: 1)),
            .cancelAttempt(node: F.k("clean"), attempt: 1),
            .cancelTimer(TimerID(.timeout(.scheduleToStart), node: F.k("enrich"), attempt: 1)),
            .cancelAttempt(node: F.k("enrich"), attempt: 1),
            .record(.runCancelled(reason: "user asked")),
            .cancelRun(reason: "user asked"),
        ])
        #expect(run.machine.state == .cancelled(reason: "user asked"))
        #expect(run.queued.isEmpty && run.running.isEmpty && run.timers.isEmpty)
        #expect(run.machine.node(F.k("clean")) == NodeSnapshot(.cancelled, attempts: 1))
        #expect(run.machine.node(F.k("load")) == nil)

        let late = run.send { $0.taskCompleted(node: F.k("clean"), attempt: 1, output: F.b("3"), now: $1) }
        #expect(late == [.ignored(IgnoredEvent(.runNotRunning, node: F.k("clean"), attempt: 1))])
        let timer = run.send { $0.timerFired(TimerID(.timeout(.startToClose), node: F.k("clean"), attempt: 1), now: $1) }
        #expect(timer.ignoredReasons == [.runNotRunning])
        #expect(run.cancel("again").ignoredReasons == [.runNotRunning])
    }

    @Test("cancelling during a retry backoff disarms the retry timer")
    func cancelRequested_backingOff_cancelsRetryTimer() throws {
        var run = RunDriver(workflow: try F.single())
        run.start("1")
        run.take(F.k("only"))
        run.fail(F.k("only"), TaskFailure(kind: "Flaky", message: ""))
        #expect(run.cancel("stop") == [
            .cancelTimer(TimerID(.retryBackoff, node: F.k("only"), attempt: 2)),
            .record(.runCancelled(reason: "stop")),
            .cancelRun(reason: "stop"),
        ])
    }

    @Test("a pending run can be cancelled and then never starts")
    func cancelRequested_pending_neverStarts() throws {
        var run = RunDriver(workflow: try F.single())
        #expect(run.cancel("changed my mind") == [.record(.runCancelled(reason: "changed my mind")), .cancelRun(reason: "changed my mind")])
        #expect(run.start("1").ignoredReasons == [.runNotRunning])
        #expect(run.machine.snapshot() == RunSnapshot(status: .cancelled, cancelReason: "changed my mind"))
    }

    @Test("dispatches carry the node's options: type, queue, priority, timeouts and keys")
    func dispatch_carriesTaskOptions() throws {
        let timeouts = TaskTimeouts(startToClose: .seconds(9))
        let workflow = try WorkflowDefinition(name: "w", tasks: [
            TaskDefinition(name: "a", type: "exec", timeouts: timeouts, priority: .critical, queue: "gpu", concurrencyKey: "tenant", cacheKey: "k1"),
        ]).validated()
        var run = RunDriver(workflow: workflow)
        let dispatched = run.start("{}").dispatched
        #expect(dispatched == [TaskAssignment(
            runID: F.runID, node: F.k("a"), attempt: 1, type: "exec", queue: "gpu", priority: .critical,
            input: F.b("{}"), timeouts: timeouts, concurrencyKey: "tenant", cacheKey: "k1"
        )])
    }
}
