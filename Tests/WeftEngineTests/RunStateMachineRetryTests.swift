import Testing
import WeftCore
@testable import WeftEngine

@Suite("RunStateMachine retries")
struct RunStateMachineRetryTests {
    typealias F = Fixtures

    /// `[0.8 × base, 1.2 × base]` in milliseconds, widened by the rounding up to whole milliseconds.
    static func bounds(baseMilliseconds: Double) -> ClosedRange<Int64> {
        Int64((baseMilliseconds * 0.8).rounded(.down))...Int64((baseMilliseconds * 1.2).rounded(.up))
    }

    @Test("a retryable failure schedules a retry timer, whose firing dispatches the next attempt with the same input")
    func taskFailed_retryable_schedulesRetryThenDispatches() throws {
        let workflow = try F.single(retry: RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(2)))
        var run = RunDriver(workflow: workflow)
        run.start(#"{"n":1}"#)
        run.take(F.k("only"))
        let failure = TaskFailure(kind: "Flaky", message: "connection reset")
        let actions = run.fail(F.k("only"), failure)
        guard actions.count == 3, case .schedule(let timer, let due) = actions[2],
              case .record(.retryScheduled(let node, let attempt, let recordedDue)) = actions[1]
        else {
            Issue.record("unexpected actions \(actions)")
            return
        }
        #expect(actions[0] == .record(.attemptFailed(node: F.k("only"), attempt: 1, failure: failure)))
        #expect(node == F.k("only") && attempt == 2 && recordedDue == due)
        #expect(timer == TimerID(.retryBackoff, node: F.k("only"), attempt: 2))
        #expect(Self.bounds(baseMilliseconds: 2000).contains(due.unixMilliseconds - run.now.unixMilliseconds))
        #expect(run.machine.node(F.k("only")) == NodeSnapshot(.backingOff(until: due), attempts: 1))

        // Firing early (a shell whose clock runs ahead) re-arms at the deadline.
        let early = run.send { machine, _ in machine.timerFired(timer, now: EngineInstant(unixMilliseconds: due.unixMilliseconds - 1)) }
        #expect(early == [.schedule(timer, at: due)])

        let fired = run.fireNextTimer()
        #expect(fired == [
            .record(.attemptScheduled(node: F.k("only"), attempt: 2)),
            .dispatch(RunStateMachineTests.assignment(workflow, F.k("only"), attempt: 2, input: #"{"n":1}"#)),
        ])
        // The same timer again is stale.
        let again = run.send { $0.timerFired(timer, now: $1) }
        #expect(again == [.ignored(IgnoredEvent(.staleTimer, node: F.k("only"), attempt: 2))])
    }

    @Test("backoff grows by the multiplier up to max_backoff, within ±20% jitter, for every attempt over 1000 seeds")
    func backoff_manySeeds_staysWithinBounds() throws {
        let policy = RetryPolicy(maxAttempts: 8, initialBackoff: .milliseconds(500), maxBackoff: .seconds(10), backoffMultiplier: 3)
        let workflow = try F.single(retry: policy)
        var lowest = [Double](repeating: .infinity, count: 8)
        var highest = [Double](repeating: 0, count: 8)
        for seed in 0..<1000 as Range<UInt64> {
            var run = RunDriver(workflow: workflow, seed: seed)
            run.start("1")
            for attempt in 1...7 {
                run.take(F.k("only"))
                let actions = run.fail(F.k("only"), TaskFailure(kind: "Flaky", message: ""))
                guard case .schedule(_, let due) = actions.last else {
                    Issue.record("seed \(seed) attempt \(attempt): no retry timer in \(actions)")
                    return
                }
                let base = min(10_000, 500 * pow3(attempt - 1))
                let delay = due.unixMilliseconds - run.now.unixMilliseconds
                #expect(Self.bounds(baseMilliseconds: base).contains(delay), "seed \(seed) attempt \(attempt): \(delay) ms for base \(base) ms")
                lowest[attempt] = min(lowest[attempt], Double(delay) / base)
                highest[attempt] = max(highest[attempt], Double(delay) / base)
                _ = run.fireNextTimer()
            }
            run.take(F.k("only"))
            let last = run.fail(F.k("only"), TaskFailure(kind: "Flaky", message: ""))
            #expect(last.contains(.failRun(RunFailure(node: F.k("only"), failure: TaskFailure(kind: "Flaky", message: "")))), "seed \(seed)")
        }
        // The jitter really spreads: over 1000 seeds both ends of the range are approached.
        for attempt in 1...7 {
            #expect(lowest[attempt] < 0.82 && highest[attempt] > 1.18, "attempt \(attempt): \(lowest[attempt])…\(highest[attempt])")
        }
    }

    private func pow3(_ exponent: Int) -> Double {
        (0..<exponent).reduce(1.0) { value, _ in value * 3 }
    }

    @Test("a failure whose kind is non-retryable fails the node at once, with attempts left")
    func taskFailed_nonRetryableKind_failsImmediately() throws {
        let workflow = try F.single(retry: RetryPolicy(maxAttempts: 5, nonRetryable: ["BadInput"]))
        var run = RunDriver(workflow: workflow)
        run.start("1")
        run.take(F.k("only"))
        let failure = TaskFailure(kind: "BadInput", message: "field x missing", retryable: true)
        let expected = RunFailure(node: F.k("only"), failure: failure)
        #expect(run.fail(F.k("only"), failure) == [
            .record(.attemptFailed(node: F.k("only"), attempt: 1, failure: failure)),
            .record(.nodeFailed(node: F.k("only"), failure: failure)),
            .record(.runFailed(expected)),
            .failRun(expected),
        ])
        #expect(run.machine.node(F.k("only")) == NodeSnapshot(.failed(failure), attempts: 1))
        #expect(run.timers.isEmpty)
    }

    @Test("a failure the worker marks as not retryable fails the node at once")
    func taskFailed_notRetryableFlag_failsImmediately() throws {
        var run = RunDriver(workflow: try F.single(retry: RetryPolicy(maxAttempts: 5)))
        run.start("1")
        run.take(F.k("only"))
        run.fail(F.k("only"), TaskFailure(kind: "Panic", message: "bug", retryable: false))
        #expect(run.outcome == .failed(RunFailure(node: F.k("only"), failure: TaskFailure(kind: "Panic", message: "bug", retryable: false))))
    }

    @Test("exhausting max_attempts fails the run and cancels in-flight siblings")
    func taskFailed_attemptsExhausted_failsRunAndCancelsSiblings() throws {
        let retry = RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(100))
        let timeouts = TaskTimeouts(startToClose: .seconds(30))
        var run = RunDriver(workflow: try F.diamond(retry: retry, timeouts: timeouts))
        run.start("1")
        run.take(F.k("extract"))
        run.complete(F.k("extract"), "2")
        run.take(F.k("enrich"))
        let failure = TaskFailure(kind: "Flaky", message: "nope")
        for _ in 1...2 {
            run.take(F.k("clean"))
            run.fail(F.k("clean"), failure)
            _ = run.fireNextTimer()
        }
        run.take(F.k("clean"))
        #expect(run.running[F.k("clean")]?.attempt == 3)
        let expected = RunFailure(node: F.k("clean"), failure: failure, blockedNode: "load")
        #expect(run.fail(F.k("clean"), failure) == [
            .cancelTimer(TimerID(.timeout(.startToClose), node: F.k("clean"), attempt: 3)),
            .record(.attemptFailed(node: F.k("clean"), attempt: 3, failure: failure)),
            .record(.nodeFailed(node: F.k("clean"), failure: failure)),
            .cancelTimer(TimerID(.timeout(.startToClose), node: F.k("enrich"), attempt: 1)),
            .cancelAttempt(node: F.k("enrich"), attempt: 1),
            .record(.runFailed(expected)),
            .failRun(expected),
        ])
        #expect(run.machine.state == .failed(expected))
        #expect(run.running.isEmpty && run.queued.isEmpty)
        #expect(run.dispatchLog.filter { $0.node == F.k("load") }.isEmpty, "nothing is dispatched after the failure")
        // The cancelled sibling's late result is not recorded.
        let late = run.send { $0.taskCompleted(node: F.k("enrich"), attempt: 1, output: [], now: $1) }
        #expect(late.ignoredReasons == [.runNotRunning])
    }

    @Test("a lost worker fails its attempt with WorkerLost, which is retried")
    func workerLost_running_failsAttemptAndRetries() throws {
        var run = RunDriver(workflow: try F.single(timeouts: TaskTimeouts(heartbeat: .seconds(10))))
        run.start("1")
        run.take(F.k("only"), worker: "w9")
        let actions = run.send { $0.workerLost(node: F.k("only"), attempt: 1, now: $1) }
        let failure = TaskFailure(kind: TaskFailure.workerLostKind, message: "worker 'w9' was lost while running the attempt", retryable: true)
        #expect(Array(actions.prefix(3)) == [
            .cancelTimer(TimerID(.timeout(.heartbeat), node: F.k("only"), attempt: 1)),
            .cancelAttempt(node: F.k("only"), attempt: 1),
            .record(.attemptFailed(node: F.k("only"), attempt: 1, failure: failure)),
        ])
        #expect(actions.records.last.map { if case .retryScheduled = $0 { true } else { false } } == true)
        _ = run.fireNextTimer()
        #expect(run.queued[F.k("only")]?.attempt == 2)
    }

    @Test("RetryPolicy.backoff stays within bounds for every attempt up to 1000 and any random value")
    func retryPolicy_backoff_boundsAndClamping() {
        let policy = RetryPolicy(maxAttempts: 1000, initialBackoff: .milliseconds(200), maxBackoff: .seconds(30), backoffMultiplier: 2)
        var random = SplitMix64(seed: 7)
        for attempt in 1...1000 {
            let base = min(30e9, 200e6 * (0..<(attempt - 1)).reduce(1.0) { value, _ in min(value * 2, 1e300) })
            for unit in [0.0, 0.5, 0x1.fffffffffffffp-1, random.nextUnit(), random.nextUnit()] {
                let delay = RetryPolicy.nanoseconds(policy.backoff(afterAttempt: attempt, randomUnit: unit))
                #expect(delay >= (base * 0.8).rounded(.down) && delay <= (base * 1.2).rounded(.up), "attempt \(attempt) unit \(unit): \(delay)")
            }
        }
        #expect(policy.backoff(afterAttempt: 1, randomUnit: 0) == .milliseconds(160))
        #expect(policy.backoff(afterAttempt: 1, randomUnit: 0.5) == .milliseconds(200))
        #expect(policy.backoff(afterAttempt: 3, randomUnit: 0.5) == .milliseconds(800))
        #expect(policy.backoff(afterAttempt: 1000, randomUnit: 0.5) == .seconds(30))
        let huge = RetryPolicy(maxAttempts: 1000, initialBackoff: .seconds(1), maxBackoff: .seconds(366 * 86_400), backoffMultiplier: 1000)
        #expect(huge.backoff(afterAttempt: 1000, randomUnit: 0.5) == .seconds(366 * 86_400))
    }

    @Test("retry decisions follow the policy: retryable flag, non-retryable kinds and the attempt limit")
    func retryPolicy_allowsRetry() {
        let policy = RetryPolicy(maxAttempts: 3, nonRetryable: ["BadInput"])
        #expect(policy.allowsRetry(after: TaskFailure(kind: "X", message: ""), attempt: 1))
        #expect(policy.allowsRetry(after: TaskFailure(kind: "X", message: ""), attempt: 2))
        #expect(!policy.allowsRetry(after: TaskFailure(kind: "X", message: ""), attempt: 3))
        #expect(!policy.allowsRetry(after: TaskFailure(kind: "BadInput", message: ""), attempt: 1))
        #expect(!policy.allowsRetry(after: TaskFailure(kind: "X", message: "", retryable: false), attempt: 1))
        #expect(!RetryPolicy(maxAttempts: 1).allowsRetry(after: TaskFailure(kind: "X", message: ""), attempt: 1))
    }
}
