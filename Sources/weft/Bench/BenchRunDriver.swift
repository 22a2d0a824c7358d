import Synchronization
import Weft
import WeftCore
import WeftWire

/// What became of one run the bench started.
enum BenchRunOutcome: Sendable {
    /// Closed as succeeded. `total`: start call → completion observed by WaitRun; `start`: the
    /// start call alone (the run is durable when it returns).
    case succeeded(RunID, total: Duration, start: Duration, info: RunInfo)
    /// Closed as failed or cancelled.
    case failed(RunID, status: RunStatus, error: String)
    /// Started, but not seen closed within the timeout (a run the engine lost shows up here).
    case lost(RunID, error: String)
    /// The start call itself failed: the run does not count as started.
    case notStarted(error: String)
}

/// Counts of outcomes: the `runs_*` fields of the report.
struct BenchRunTally: Sendable {
    /// Start calls that returned a run id.
    var started = 0
    /// Runs that closed as succeeded.
    var completed = 0
    /// Runs that closed as failed or cancelled.
    var failed = 0
    /// Runs started but not seen closed within the timeout.
    var lost = 0
    /// Start calls that failed.
    var startErrors = 0
    var firstProblem: String?

    init(_ outcomes: [BenchRunOutcome] = []) {
        for outcome in outcomes { add(outcome) }
    }

    mutating func add(_ outcome: BenchRunOutcome) {
        switch outcome {
        case .succeeded:
            started += 1
            completed += 1
        case .failed(let run, let status, let error):
            started += 1
            failed += 1
            firstProblem = firstProblem ?? "run \(run) closed \(status): \(error)"
        case .lost(let run, let error):
            started += 1
            lost += 1
            firstProblem = firstProblem ?? "run \(run) did not complete: \(error)"
        case .notStarted(let error):
            startErrors += 1
            firstProblem = firstProblem ?? "a start call failed: \(error)"
        }
    }

    static func + (lhs: BenchRunTally, rhs: BenchRunTally) -> BenchRunTally {
        var sum = lhs
        sum.started += rhs.started
        sum.completed += rhs.completed
        sum.failed += rhs.failed
        sum.lost += rhs.lost
        sum.startErrors += rhs.startErrors
        sum.firstProblem = lhs.firstProblem ?? rhs.firstProblem
        return sum
    }

    var isClean: Bool { started == completed && startErrors == 0 }
}

/// A counter shared with the progress reporter.
final class BenchCounter: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

/// Starts runs through the SDK and waits for each, with a bounded number in flight. Runs are
/// spread over `clients` (one connection each), as a real fleet of callers would be: a server
/// lets one connection have a bounded number of calls in flight (128 by default), so one
/// connection for 512 runs in flight would measure that limit instead of the engine.
struct BenchRunDriver: Sendable {
    let clients: [WeftClient]
    private let next = BenchCounter()

    init(clients: [WeftClient], timeout: Duration) {
        precondition(!clients.isEmpty, "the bench needs a client")
        self.clients = clients
        self.timeout = timeout
    }

    /// The client of the next run, round-robin.
    var client: WeftClient {
        next.increment()
        return clients[next.current % clients.count]
    }

    /// From the start call to the completion; past it a run counts as lost.
    let timeout: Duration

    /// Starts one run and waits for it to close (WaitRun, retried on transport errors until the
    /// timeout).
    func run(_ workflow: String, input: [UInt8]) async -> BenchRunOutcome {
        let client = self.client
        let began = ContinuousClock.now
        let runID: RunID
        do {
            runID = try await client.start(workflow: workflow, inputJSON: input)
        } catch {
            return .notStarted(error: "\(error)")
        }
        let started = ContinuousClock.now
        let deadline = began + timeout
        var lastError = ""
        waiting: while !Task.isCancelled {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { break }
            do {
                let info = try await client.wait(for: runID, timeout: remaining)
                let finished = ContinuousClock.now
                switch info.status {
                case .succeeded:
                    return .succeeded(runID, total: finished - began, start: started - began, info: info)
                case .failed, .cancelled:
                    return .failed(runID, status: info.status, error: info.error)
                default:
                    lastError = "WaitRun returned the open status \(info.status)"
                    try? await Task.sleep(for: .milliseconds(100))  // cancellation ends the loop above
                }
            } catch let error as WeftError where error.code == .deadlineExceeded {
                lastError = "\(error)"
                break waiting
            } catch {
                lastError = "\(error)"
                // A transport hiccup: WaitRun is safe to repeat.
                try? await Task.sleep(for: .milliseconds(100))  // cancellation ends the loop above
            }
        }
        let why = Task.isCancelled ? "the bench was interrupted" : "not closed within \(timeout)"
        return .lost(runID, error: lastError.isEmpty ? why : "\(why) (last error: \(lastError))")
    }

    /// When `runMany` stops starting runs before `count`.
    enum StopPolicy: Sendable {
        /// After a run was lost (not closed within the timeout): the cluster is stuck, and every
        /// further run would only wait out its timeout too.
        case afterLostRun
        /// After any run that did not succeed (the warm-up: the cluster must work before measuring).
        case afterAnyProblem
    }

    /// Runs `count` runs of `workflow`, at most `concurrency` in flight (a new one starts as soon
    /// as one closes). Stops starting new runs when the task is cancelled or `stop` says so; the
    /// runs in flight are still waited for.
    func runMany(
        _ workflow: String, input: [UInt8], count: Int, concurrency: Int, done: BenchCounter? = nil,
        stop: StopPolicy = .afterLostRun
    ) async -> [BenchRunOutcome] {
        await withTaskGroup(of: BenchRunOutcome.self, returning: [BenchRunOutcome].self) { group in
            var outcomes: [BenchRunOutcome] = []
            outcomes.reserveCapacity(count)
            var launched = 0
            while launched < min(count, concurrency) {
                group.addTask { await self.run(workflow, input: input) }
                launched += 1
            }
            var stopped = false
            while let outcome = await group.next() {
                outcomes.append(outcome)
                done?.increment()
                switch (outcome, stop) {
                case (.succeeded, _): break
                case (.lost, _), (_, .afterAnyProblem): stopped = true
                case (.failed, .afterLostRun), (.notStarted, .afterLostRun): break
                }
                if launched < count && !stopped && !Task.isCancelled {
                    group.addTask { await self.run(workflow, input: input) }
                    launched += 1
                }
            }
            return outcomes
        }
    }
}
