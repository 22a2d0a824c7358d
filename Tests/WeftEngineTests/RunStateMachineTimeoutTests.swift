import Testing
import WeftCore
@testable import WeftEngine

@Suite("RunStateMachine timeouts")
struct RunStateMachineTimeoutTests {
    typealias F = Fixtures

    static let timeouts = TaskTimeouts(scheduleToStart: .seconds(60), startToClose: .seconds(300), heartbeat: .seconds(10))
    static let retry = RetryPolicy(maxAttempts: 2, initialBackoff: .seconds(1))

    @Test("an attempt no worker takes within schedule_to_start times out, leaves the queue and is retried")
    func scheduleToStart_expires_timesOutAndRetries() throws {
        var run = RunDriver(workflow: try F.single(retry: Self.retry, timeouts: Self.timeouts))
        let start = run.start("1")
        #expect(start.scheduled.map(\.0) == [TimerID(.timeout(.scheduleToStart), node: F.k("only"), attempt: 1)])
        #expect(start.scheduled.map(\.1) == [F.at(60_000)])
        #expect(run.advance(by: 59_999).isEmpty)
        let actions = run.advance(by: 1)
        #expect(Array(actions.prefix(2)) == [
            .cancelAttempt(node: F.k("only"), attempt: 1),
            .record(.attemptTimedOut(node: F.k("only"), attempt: 1, timeout: .scheduleToStart)),
        ])
        #expect(run.queued.isEmpty, "the timed-out attempt left the ready queue")
        #expect(run.machine.node(F.k("only"))?.attempts == 1)
        guard case .backingOff = run.machine.node(F.k("only"))?.status else {
            Issue.record("expected a retry, got \(String(describing: run.machine.node(F.k("only"))))")
            return
        }
        // A worker taking the timed-out attempt afterwards is stale.
        let late = run.send { $0.taskDispatched(node: F.k("only"), attempt: 1, worker: "w", now: $1) }
        #expect(late.ignoredReasons == [.staleAttempt])
    }

    @Test("a worker taking the attempt disarms schedule_to_start and arms start_to_close and heartbeat")
    func taskDispatched_armsRunningTimers() throws {
        var run = RunDriver(workflow: try F.single(retry: Self.retry, timeouts: Self.timeouts))
        run.start("1")
        run.setClock(F.at(5_000))
        #expect(run.take(F.k("only")) == [
            .cancelTimer(TimerID(.timeout(.scheduleToStart), node: F.k("only"), attempt: 1)),
            .record(.attemptStarted(node: F.k("only"), attempt: 1, worker: "w1")),
            .schedule(TimerID(.timeout(.startToClose), node: F.k("only"), attempt: 1), at: F.at(305_000)),
            .schedule(TimerID(.timeout(.heartbeat), node: F.k("only"), attempt: 1), at: F.at(15_000)),
        ])
    }

    @Test("an attempt without heartbeats times out after the heartbeat timeout")
    func heartbeat_missing_timesOut() throws {
        var run = RunDriver(workflow: try F.single(retry: Self.retry, timeouts: Self.timeouts))
        run.start("1")
        run.take(F.k("only"))
        let actions = run.advance(by: 10_000)
        #expect(Array(actions.prefix(3)) == [
            .cancelTimer(TimerID(.timeout(.startToClose), node: F.k("only"), attempt: 1)),
            .cancelAttempt(node: F.k("only"), attempt: 1),
            .record(.attemptTimedOut(node: F.k("only"), attempt: 1, timeout: .heartbeat)),
        ])
        #expect(run.running.isEmpty)
    }

    @Test("heartbeats push the heartbeat deadline back; a timer fired for the old deadline is re-armed")
    func heartbeat_received_extendsDeadline() throws {
        var run = RunDriver(workflow: try F.single(retry: Self.retry, timeouts: Self.timeouts))
        run.start("1")
        run.take(F.k("only"))
        let id = TimerID(.timeout(.heartbeat), node: F.k("only"), attempt: 1)
        run.setClock(F.at(6_000))
        #expect(run.heartbeat(F.k("only")) == [.schedule(id, at: F.at(16_000))])
        // A shell that did not move the timer fires it at the original deadline: re-armed, no timeout.
        run.setClock(F.at(10_000))
        #expect(run.send { $0.timerFired(id, now: $1) } == [.schedule(id, at: F.at(16_000))])
        // Keep heartbeating for two minutes: never times out.
        for _ in 0..<24 {
            #expect(run.advance(by: 5_000).isEmpty)
            run.heartbeat(F.k("only"))
        }
        #expect(run.running[F.k("only")]?.attempt == 1)
        run.complete(F.k("only"), "ok")
        #expect(run.outcome == .completed(F.b("ok")))
    }

    @Test("a heartbeat for a node without a heartbeat timeout changes nothing")
    func heartbeat_noTimeout_noActions() throws {
        var run = RunDriver(workflow: try F.single())
        run.start("1")
        run.take(F.k("only"))
        #expect(run.heartbeat(F.k("only")).isEmpty)
    }

    @Test("an attempt that runs past start_to_close times out even while heartbeating")
    func startToClose_expires_timesOut() throws {
        var run = RunDriver(workflow: try F.single(retry: Self.retry, timeouts: Self.timeouts))
        run.start("1")
        run.take(F.k("only"))
        var timedOut: [RunStateMachine.Action] = []
        for _ in 0..<61 {
            timedOut += run.advance(by: 5_000)
            if run.running.isEmpty { break }
            run.heartbeat(F.k("only"))
        }
        #expect(run.now == F.at(300_000))
        #expect(Array(timedOut.prefix(3)) == [
            .cancelTimer(TimerID(.timeout(.heartbeat), node: F.k("only"), attempt: 1)),
            .cancelAttempt(node: F.k("only"), attempt: 1),
            .record(.attemptTimedOut(node: F.k("only"), attempt: 1, timeout: .startToClose)),
        ])
        // The late result of the timed-out attempt is not recorded.
        let late = run.send { $0.taskCompleted(node: F.k("only"), attempt: 1, output: F.b("late"), now: $1) }
        #expect(late.ignoredReasons == [.staleAttempt])
    }

    @Test("a timeout on the last attempt fails the run with kind Timeout")
    func timeout_lastAttempt_failsRun() throws {
        var run = RunDriver(workflow: try F.single(retry: RetryPolicy(maxAttempts: 1), timeouts: Self.timeouts))
        run.start("1")
        run.take(F.k("only"))
        run.advance(by: 10_000)
        #expect(run.outcome == .failed(RunFailure(node: F.k("only"), failure: .timeout(.heartbeat))))
        #expect(TaskFailure.timeout(.heartbeat).kind == "Timeout")
    }

    @Test("Timeout listed as non-retryable is not retried")
    func timeout_nonRetryable_failsNode() throws {
        var run = RunDriver(workflow: try F.single(retry: RetryPolicy(maxAttempts: 5, nonRetryable: ["Timeout"]), timeouts: Self.timeouts))
        run.start("1")
        run.advance(by: 60_000)
        #expect(run.outcome == .failed(RunFailure(node: F.k("only"), failure: .timeout(.scheduleToStart))))
    }

    @Test("a timer that fires after its attempt completed is ignored as stale")
    func timerFired_afterCompletion_stale() throws {
        var run = RunDriver(workflow: try F.diamond(timeouts: Self.timeouts))
        run.start("1")
        run.take(F.k("extract"))
        run.complete(F.k("extract"), "2")
        let id = TimerID(.timeout(.heartbeat), node: F.k("extract"), attempt: 1)
        #expect(run.send { $0.timerFired(id, now: $1) } == [.ignored(IgnoredEvent(.staleTimer, node: F.k("extract"), attempt: 1))])
        // A timer of a kind that is not armed for the open attempt is stale too.
        let wrongKind = TimerID(.timeout(.heartbeat), node: F.k("clean"), attempt: 1)
        #expect(run.send { $0.timerFired(wrongKind, now: $1) }.ignoredReasons == [.staleTimer])
    }
}
