import Logging
import Metrics
import WeftCore
import WeftEngine
import WeftRedis
import WeftTransport

/// A task waiting for its rate limit: what the dispatcher gets once it is granted.
struct GatedTask: Sendable {
    var task: SchedulerCore.QueuedTask
    var level: Int
}

extension SchedulerCore {
    // MARK: Rate limits (issue 12)

    /// The bucket a task of `limit` with `input` takes from: the limit's evaluated key.
    static func rateBucket(_ limit: RateLimit, input: [UInt8]) -> String {
        limit.key.evaluate(input)
    }

    /// Sends a dispatched attempt of a rate-limited node to wait for its grant; it reaches the
    /// dispatcher once Redis grants it (`rateGranted`).
    func gate(_ runID: RunID, _ assignment: TaskAssignment, limit: RateLimit, level: Int) {
        guard let run = runs[runID] else { return }
        let bucket = Self.rateBucket(limit, input: assignment.input)
        let ticket = rateGate.enqueue(
            GatedTask(task: QueuedTask(runID: runID, assignment: assignment), level: level), bucket: bucket,
            queue: assignment.queue, emissionMicroseconds: limit.emissionMicroseconds, burst: limit.effectiveBurst)
        run.attempts[AttemptKey(node: assignment.node, attempt: assignment.attempt)] = .rateLimited(ticket)
        askRedis(bucket)
    }

    /// Asks Redis for grants of `bucket` if nothing is asked already.
    func askRedis(_ bucket: String) {
        guard let question = rateGate.nextAcquire(bucket) else { return }
        guard let limiter = rateLimiter else {
            // Refused at start without Redis; recovered runs of such workflows wait here.
            rateLimitUnavailable("no Redis is configured (--redis): rate-limited tasks wait", bucket: bucket)
            return
        }
        Task {
            do {
                let grant = try await limiter.acquire(
                    key: question.bucket, emissionMicroseconds: question.emissionMicroseconds, burst: question.burst,
                    wanted: question.wanted)
                self.rateAnswered(question.bucket, grant)
            } catch {
                self.rateLimitUnavailable("Redis is unreachable (\(error)): rate-limited tasks wait", bucket: question.bucket)
            }
        }
    }

    private func rateAnswered(_ bucket: String, _ grant: RateLimiter.Grant) {
        guard grant.granted > 0 else {
            metrics.rateLimitWaits.increment()
            retryRate(bucket, after: max(grant.retryAfter, .milliseconds(1)))
            return
        }
        let released = rateGate.granted(bucket, count: grant.granted)
        let now = clock.nowMilliseconds()
        for gated in released {
            let key = AttemptKey(node: gated.task.assignment.node, attempt: gated.task.assignment.attempt)
            guard let run = runs[gated.task.runID], case .rateLimited? = run.attempts[key] else { continue }
            let ticket = dispatcher.enqueue(
                gated.task, queue: gated.task.assignment.queue, taskType: gated.task.assignment.type, level: gated.level, now: now)
            run.attempts[key] = .queued(ticket)
        }
        if !released.isEmpty { schedulePump() }
        askRedis(bucket)
    }

    private func retryRate(_ bucket: String, after delay: Duration) {
        loop.scheduleTimer(after: delay) { [self] in
            Task(executorPreference: loop) { await self.rateRetryDue(bucket) }
        }
    }

    private func rateRetryDue(_ bucket: String) {
        rateGate.retry(bucket)
        askRedis(bucket)
    }

    private func rateLimitUnavailable(_ reason: String, bucket: String) {
        let now = ContinuousClock.now
        if lastRateLimitWarning.map({ now - $0 > .seconds(10) }) ?? true {
            lastRateLimitWarning = now
            logger.warning("rate limits cannot be checked", metadata: ["reason": "\(reason)"])
        }
        retryRate(bucket, after: .seconds(1))
    }
}
