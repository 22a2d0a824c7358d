import Weft
import WeftCore
import WeftEngine
import WeftWire

/// What happened in a run of ``WeftTestEnvironment/run(_:input:)``: its outcome, every attempt,
/// and how much virtual time it took.
public struct TestRun<Output: Codable & Sendable>: Sendable {
    /// The run's id.
    public let runID: RunID
    /// `SUCCEEDED`, `FAILED` or `CANCELLED`.
    public let status: WeftWire.RunStatus
    /// Why the run failed (the node and its failure), empty when it succeeded.
    public let error: String
    /// Virtual time from the start to the close of the run (backoffs and timeouts included).
    public let elapsed: Duration
    /// Every attempt of every step, in the order they started.
    public let attempts: [TestAttempt]
    /// The run's events, as the scheduler would record them (`attempt_started price#1`, …).
    public let history: [String]
    private let output: [UInt8]?

    init(runID: RunID, driver: Driver) {
        self.runID = runID
        self.elapsed = driver.start.duration(to: driver.now)
        switch driver.outcome {
        case .succeeded(let output)?:
            status = .succeeded
            error = ""
            self.output = output
        case .failed(let failure)?:
            status = .failed
            error = failure.description
            output = nil
        case .cancelled(let reason)?:
            status = .cancelled
            error = reason
            output = nil
        case nil:
            preconditionFailure("a test run reported before it closed")
        }
        var attempts: [TestAttempt] = []
        var history: [String] = []
        func offset(_ at: EngineInstant) -> Duration { driver.start.duration(to: at) }
        func update(_ node: NodeKey, _ attempt: Int, at: EngineInstant, _ outcome: TestAttempt.Outcome) {
            if let index = attempts.lastIndex(where: { $0.node == node.description && $0.attempt == attempt }) {
                attempts[index].outcome = outcome
                attempts[index].endedAt = offset(at)
            } else {
                attempts.append(TestAttempt(node: node.description, attempt: attempt, outcome: outcome, startedAt: nil, endedAt: offset(at)))
            }
        }
        for (at, event) in driver.history {
            switch event {
            case .runStarted: history.append("run_started")
            case .attemptScheduled(let node, let attempt): history.append("attempt_scheduled \(node)#\(attempt)")
            case .attemptStarted(let node, let attempt, _):
                history.append("attempt_started \(node)#\(attempt)")
                attempts.append(TestAttempt(node: node.description, attempt: attempt, outcome: .open, startedAt: offset(at), endedAt: nil))
            case .attemptCompleted(let node, let attempt, _):
                history.append("attempt_completed \(node)#\(attempt)")
                update(node, attempt, at: at, .succeeded)
            case .attemptFailed(let node, let attempt, let failure):
                history.append("attempt_failed \(node)#\(attempt) \(failure.kind)")
                update(node, attempt, at: at, .failed(kind: failure.kind, message: failure.message))
            case .attemptTimedOut(let node, let attempt, let timeout):
                history.append("attempt_timed_out \(node)#\(attempt) \(timeout)")
                update(node, attempt, at: at, .timedOut(timeout.rawValue))
            case .retryScheduled(let node, let attempt, let when):
                history.append("retry_scheduled \(node)#\(attempt) after \(DurationText.format(at.duration(to: when)))")
            case .nodeFailed(let node, let failure): history.append("node_failed \(node) \(failure.kind)")
            case .mapExpanded(let node, let width): history.append("map_expanded \(node) \(width)")
            case .mapCompleted(let node, _): history.append("map_completed \(node)")
            case .outputReused(let node, _, let from): history.append("output_reused \(node) from \(from)")
            case .signalAwaited(let node, let name, _): history.append("signal_awaited \(node) \(name)")
            case .signalReceived(let seq, let name, _): history.append("signal_received \(name) #\(seq)")
            case .signalConsumed(let seq, let node): history.append("signal_consumed #\(seq) by \(node)")
            case .cacheHit(let node, let attempt, _): history.append("cache_hit \(node)#\(attempt)")
            case .circuitBreaker(let node, let attempt, _, let change): history.append("breaker_\(change) \(node)#\(attempt)")
            case .runCompleted: history.append("run_completed")
            case .runFailed(let failure): history.append("run_failed \(failure.node)")
            case .runCancelled: history.append("run_cancelled")
            case .runTerminated: history.append("run_terminated")
            case .nodeCancelled(let node, _, _): history.append("node_cancelled \(node)")
            }
        }
        self.attempts = attempts
        self.history = history
    }

    /// The run's output decoded as `Output`.
    ///
    /// - Throws: ``WeftError`` with `RUN_FAILED`, `RUN_CANCELLED` or `OUTPUT_MISMATCH`, as
    ///   `WeftClient.result(of:timeout:)` does against a cluster.
    public func result() throws -> Output {
        switch status {
        case .succeeded:
            do {
                return try JSONCoding.decode(Output.self, from: output ?? [])
            } catch {
                throw WeftError(.outputMismatch, "run \(runID) succeeded, but its output does not decode as \(Output.self): \(error)", runID: runID)
            }
        case .cancelled:
            throw WeftError(.runCancelled, "run \(runID) was cancelled: \(error)", runID: runID)
        default:
            throw WeftError(.runFailed, "run \(runID) failed: \(error)", runID: runID)
        }
    }

    /// The attempts of step `step` (a map step's elements included: `shard[0]`, …), in order.
    public func attempts(of step: String) -> [TestAttempt] {
        attempts.filter { $0.node == step || $0.node.hasPrefix(step + "[") }
    }
}

/// One attempt of one step in a ``TestRun``.
public struct TestAttempt: Sendable, Hashable, CustomStringConvertible {
    /// How the attempt ended.
    public enum Outcome: Sendable, Hashable {
        /// It succeeded.
        case succeeded
        /// Its handler failed (or a fault made it fail) with this kind and message.
        case failed(kind: String, message: String)
        /// A time limit passed (`start_to_close`, `heartbeat` or `schedule_to_start`).
        case timedOut(String)
        /// It was still running when the run closed (cancelled with it).
        case open
    }

    /// The step (`price`) or map element (`shard[3]`).
    public let node: String
    /// The attempt's number, from 1.
    public let attempt: Int
    /// How it ended.
    public internal(set) var outcome: Outcome
    /// When a worker took it, as virtual time since the run started (nil if it never started).
    public let startedAt: Duration?
    /// When it ended, as virtual time since the run started.
    public internal(set) var endedAt: Duration?

    /// `price#2 succeeded`.
    public var description: String { "\(node)#\(attempt) \(outcome)" }
}
