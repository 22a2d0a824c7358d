import Logging
import Metrics
import WeftCore
import WeftEngine
import WeftRedis
import WeftTransport

/// A task waiting for a flow limit: what the dispatcher gets once it is let through.
struct GatedTask: Sendable {
    var task: SchedulerCore.QueuedTask
    var level: Int

    /// The attempt's identity, the member of a concurrency limit's set of holders. Computed when a
    /// limit needs it: formatting it for every dispatch cost the tasks without limits too.
    var member: String { SchedulerCore.member(task.runID, task.assignment) }
}

/// A rate limit's parameters as a bucket carries them.
struct RateParameters: Sendable, Equatable {
    var emissionMicroseconds: Int64
    var burst: Int
}

typealias RateGate = FlowGate<GatedTask, RateParameters>
typealias ConcurrencyGate = FlowGate<GatedTask, Int>
typealias BreakerGate = FlowGate<GatedTask, CircuitBreakerPolicy>

extension SchedulerCore {
    // MARK: Flow limits (issue 12)
    //
    // A dispatched attempt passes its node's stages in order — the result cache (a hit ends it),
    // its type's circuit breaker, concurrency (a slot held until the attempt ends), rate (a grant)
    // — and then waits for a worker in the dispatcher. Waiting at a stage holds no worker slot.

    /// The identity of an attempt in Redis's sets of holders.
    static func member(_ runID: RunID, _ assignment: TaskAssignment) -> String {
        member(runID, AttemptKey(node: assignment.node, attempt: assignment.attempt))
    }

    static func member(_ runID: RunID, _ key: AttemptKey) -> String { "\(runID)/\(key.node)#\(key.attempt)" }

    enum FlowStage: Int, Comparable {
        case start, cache, breaker, concurrency, rate

        static func < (a: FlowStage, b: FlowStage) -> Bool { a.rawValue < b.rawValue }
    }

    /// Sends a dispatched attempt on from `stage`: to the next limit its node has, or to the
    /// dispatcher.
    func admit(_ gated: GatedTask, after stage: FlowStage = .start) {
        let runID = gated.task.runID
        let assignment = gated.task.assignment
        guard let run = runs[runID] else { return }
        let key = AttemptKey(node: assignment.node, attempt: assignment.attempt)
        let definition = run.machine.workflow.task(named: assignment.node.name)
        if stage < .cache, let cache = definition?.cache {
            lookUpCache(gated, cache: cache)
            return
        }
        if stage < .breaker, let policy = definition?.circuitBreaker {
            let ticket = breakerGate.enqueue(gated, bucket: assignment.type, queue: assignment.queue, limit: policy)
            run.attempts[key] = .breakerHeld(ticket)
            askBreaker(assignment.type)
            return
        }
        if stage == .breaker, !breakerNoted.isEmpty { breakerNoted.remove(gated.member) }
        if stage < .concurrency, let limit = definition?.concurrency {
            let bucket = limit.key.evaluate(assignment.input)
            let ticket = concurrencyGate.enqueue(gated, bucket: bucket, member: gated.member, queue: assignment.queue, limit: limit.limit)
            run.attempts[key] = .concurrencyLimited(ticket)
            askForSlots(bucket)
            return
        }
        if stage < .rate, let limit = definition?.rateLimit {
            let bucket = limit.key.evaluate(assignment.input)
            let ticket = rateGate.enqueue(
                gated, bucket: bucket, queue: assignment.queue,
                limit: RateParameters(emissionMicroseconds: limit.emissionMicroseconds, burst: limit.effectiveBurst))
            run.attempts[key] = .rateLimited(ticket)
            askForGrants(bucket)
            return
        }
        let ticket = dispatcher.enqueue(
            gated.task, queue: assignment.queue, taskType: assignment.type, level: gated.level, now: clock.nowMilliseconds())
        run.attempts[key] = .queued(ticket)
        schedulePump()
    }

    // MARK: Result cache

    /// Looks the attempt's output up in the result cache: a hit completes the attempt at once
    /// (without a worker: its worker reads `cache`), a miss (or Redis out of reach) sends it on.
    private func lookUpCache(_ gated: GatedTask, cache: ResultCache) {
        let assignment = gated.task.assignment
        let key = AttemptKey(node: assignment.node, attempt: assignment.attempt)
        guard let cacheKey = cache.key.evaluateIfPresent(assignment.input) else {
            // The key's path finds nothing in this input: not cached (unrelated inputs must not
            // share an output), neither looked up nor stored.
            metrics.cacheLookups(.skipped)
            admit(gated, after: .cache)
            return
        }
        let entry = CacheEntryRef(taskType: assignment.type, key: cacheKey, ttl: cache.ttl)
        runs[gated.task.runID]?.attempts[key] = .cacheLookup
        guard let store = resultCache else {
            cacheAnswered(gated, entry, found: nil)
            return
        }
        Task {
            do {
                let bytes = try await store.get(taskType: entry.taskType, key: entry.key)
                self.cacheAnswered(gated, entry, found: bytes)
            } catch {
                self.metrics.cacheLookups(.error)
                self.flowLimitUnavailable("Redis is unreachable (\(error)): the result cache is skipped", retry: nil)
                self.cacheAnswered(gated, entry, found: nil, counted: true)
            }
        }
    }

    private func cacheAnswered(_ gated: GatedTask, _ entry: CacheEntryRef, found: [UInt8]?, counted: Bool = false) {
        let runID = gated.task.runID
        let key = AttemptKey(node: gated.task.assignment.node, attempt: gated.task.assignment.attempt)
        guard let run = runs[runID], case .cacheLookup? = run.attempts[key] else { return }  // cancelled meanwhile
        if let found, let output = CachedOutput.decode(found) {
            metrics.cacheLookups(.hit)
            run.attempts[key] = .fromCache(RunRecorder.AttemptStart(worker: Self.cacheWorker, startedAt: clock.nowMicroseconds()))
            let instant = now()
            let actions = [.record(.cacheHit(node: key.node, attempt: key.attempt, key: entry.key))]
                + run.machine.taskDispatched(node: key.node, attempt: key.attempt, worker: Self.cacheWorker, now: instant)
                + run.machine.taskCompleted(node: key.node, attempt: key.attempt, output: output, now: instant)
            Task { await self.process(runID, actions) }
            return
        }
        if !counted { metrics.cacheLookups(found == nil ? .miss : .error) }
        cacheEntries[AttemptRef(runID: runID, key: key)] = entry
        admit(gated, after: .cache)
    }

    /// A worker's successful output of an attempt that missed the cache: stored for the next ones.
    func storeInCache(_ runID: RunID, _ key: AttemptKey, output: [UInt8]) {
        guard let entry = cacheEntries.removeValue(forKey: AttemptRef(runID: runID, key: key)), let store = resultCache else { return }
        guard let bytes = CachedOutput.encode(output, limit: configuration.cacheMaxEntryBytes) else {
            metrics.cacheStores(.tooLarge)
            return
        }
        Task {
            do {
                try await store.set(taskType: entry.taskType, key: entry.key, value: bytes, ttl: entry.ttl)
                self.metrics.cacheStores(.stored)
            } catch {
                self.metrics.cacheStores(.error)
                self.flowLimitUnavailable("Redis is unreachable (\(error)): an output was not cached", retry: nil)
            }
        }
    }

    /// What an attempt's end settles: its concurrency slot goes back, its cache entry is forgotten.
    func attemptEnded(_ runID: RunID, _ key: AttemptKey) {
        releaseSlot(runID, key)
        cacheEntries.removeValue(forKey: AttemptRef(runID: runID, key: key))
        if !breakerNoted.isEmpty { breakerNoted.remove(Self.member(runID, key)) }
    }

    /// The worker name of attempts completed from the result cache.
    static let cacheWorker = "cache"

    // MARK: Circuit breakers

    static func breakerSettings(_ policy: CircuitBreakerPolicy) -> CircuitBreakers.Settings {
        CircuitBreakers.Settings(failureRate: policy.failureRate, minRequests: policy.minRequests, window: policy.window, openFor: policy.openFor)
    }

    /// Asks Redis whether the attempts waiting at `taskType`'s breaker may pass.
    func askBreaker(_ taskType: String) {
        guard let question = breakerGate.nextAcquire(taskType, max: 1_000) else { return }
        guard let breakers = circuitBreakers else {
            // Without Redis there is no breaker state: attempts pass.
            for gated in breakerGate.granted(taskType, count: question.wanted) where stillGated(gated) { admit(gated, after: .breaker) }
            return
        }
        Task {
            do {
                let admission = try await breakers.admit(taskType: taskType, settings: Self.breakerSettings(question.limit))
                self.breakerAnswered(taskType, admission, policy: question.limit, wanted: question.wanted)
            } catch {
                let generation = self.breakerGate.wait(taskType)
                self.flowLimitUnavailable(
                    "Redis is unreachable (\(error)): attempts behind circuit breakers wait", retry: { $0.breakerRetryDue(taskType, generation) })
            }
        }
    }

    private func breakerAnswered(_ taskType: String, _ admission: CircuitBreakers.Admission, policy: CircuitBreakerPolicy, wanted: Int) {
        switch admission {
        case .pass:
            for gated in breakerGate.granted(taskType, count: wanted) where stillGated(gated) { admit(gated, after: .breaker) }
        case .probe:
            for gated in breakerGate.granted(taskType, count: 1) where stillGated(gated) {
                breakerHistory(gated, taskType, "probe")
                admit(gated, after: .breaker)
            }
        case .wait(let delay):
            if policy.whenOpen == .fail {
                for gated in breakerGate.granted(taskType, count: wanted) where stillGated(gated) { failFast(gated, taskType, retryAfter: delay) }
            } else {
                let generation = breakerGate.wait(taskType)
                for gated in breakerGate.waiting(taskType) where breakerNoted.insert(gated.member).inserted {
                    breakerHistory(gated, taskType, "held")
                }
                after(delay) { $0.breakerRetryDue(taskType, generation) }
                return
            }
        }
        askBreaker(taskType)
    }

    private func breakerRetryDue(_ taskType: String, _ generation: UInt64) {
        breakerGate.retry(taskType, generation: generation)
        askBreaker(taskType)
    }

    /// An open breaker with `when_open: fail`: the attempt fails at once, not retried.
    private func failFast(_ gated: GatedTask, _ taskType: String, retryAfter: Duration) {
        breakerNoted.remove(gated.member)
        guard let run = runs[gated.task.runID] else { return }
        let key = AttemptKey(node: gated.task.assignment.node, attempt: gated.task.assignment.attempt)
        run.attempts[key] = nil
        metrics.breakerFastFailures.increment()
        let failure = TaskFailure(
            kind: "CircuitOpen",
            message: "the circuit breaker of task type \(MessageText.quoted(taskType)) is open (for \(DurationText.format(retryAfter)) more); when_open: fail",
            retryable: false)
        let instant = now()
        let actions = [.record(.circuitBreaker(node: key.node, attempt: key.attempt, taskType: taskType, change: "failed_fast"))]
            + run.machine.taskFailed(node: key.node, attempt: key.attempt, failure: failure, now: instant)
        Task { await self.process(gated.task.runID, actions) }
    }

    /// Records an attempt's outcome with its type's breaker (attempts of nodes that have one).
    func recordBreakerOutcome(_ runID: RunID, _ key: AttemptKey, failed: Bool) {
        guard let breakers = circuitBreakers, let run = runs[runID],
            let definition = run.machine.workflow.task(named: key.node.name), let policy = definition.circuitBreaker
        else { return }
        let taskType = definition.type
        Task {
            do {
                guard let transition = try await breakers.record(taskType: taskType, failed: failed, settings: Self.breakerSettings(policy)) else {
                    return
                }
                self.metrics.breakerTransition(transition)
                self.logger.notice("circuit breaker \(transition.rawValue)", metadata: ["task.type": "\(taskType)"])
                // In the history of the runs it affects: the one whose outcome changed it (if still
                // open — most close with that very attempt) and those waiting at the breaker.
                if self.runs[runID] != nil {
                    await self.process(runID, [.record(.circuitBreaker(node: key.node, attempt: key.attempt, taskType: taskType, change: transition.rawValue))])
                }
                for gated in self.breakerGate.waiting(taskType) { self.breakerHistory(gated, taskType, transition.rawValue) }
                if transition == .closed { self.askBreaker(taskType) }
            } catch {
                self.flowLimitUnavailable("Redis is unreachable (\(error)): a breaker outcome was not counted", retry: nil)
            }
        }
    }

    private func breakerHistory(_ gated: GatedTask, _ taskType: String, _ change: String) {
        let key = AttemptKey(node: gated.task.assignment.node, attempt: gated.task.assignment.attempt)
        let actions: [RunStateMachine.Action] = [.record(.circuitBreaker(node: key.node, attempt: key.attempt, taskType: taskType, change: change))]
        Task { await self.process(gated.task.runID, actions) }
    }

    // MARK: Rate limits

    /// Asks Redis for grants of `bucket` if nothing is asked already.
    func askForGrants(_ bucket: String) {
        guard let question = rateGate.nextAcquire(bucket, max: 1_000) else { return }
        guard let limiter = rateLimiter else {
            // Refused at start without Redis; recovered runs of such workflows wait here.
            let generation = rateGate.wait(bucket)
            flowLimitUnavailable("no Redis is configured (--redis): rate-limited tasks wait", retry: { $0.rateRetryDue(bucket, generation) })
            return
        }
        Task {
            do {
                let grant = try await limiter.acquire(
                    key: question.bucket, emissionMicroseconds: question.limit.emissionMicroseconds, burst: question.limit.burst,
                    wanted: question.wanted)
                self.grantsAnswered(question.bucket, grant)
            } catch {
                let generation = self.rateGate.wait(bucket)
                self.flowLimitUnavailable(
                    "Redis is unreachable (\(error)): rate-limited tasks wait", retry: { $0.rateRetryDue(bucket, generation) })
            }
        }
    }

    private func grantsAnswered(_ bucket: String, _ grant: RateLimiter.Grant) {
        guard grant.granted > 0 else {
            metrics.rateLimitWaits.increment()
            let generation = rateGate.wait(bucket)
            after(max(grant.retryAfter, .milliseconds(1))) { $0.rateRetryDue(bucket, generation) }
            return
        }
        for gated in rateGate.granted(bucket, count: grant.granted) where stillGated(gated) { admit(gated, after: .rate) }
        askForGrants(bucket)
    }

    private func rateRetryDue(_ bucket: String, _ generation: UInt64) {
        rateGate.retry(bucket, generation: generation)
        askForGrants(bucket)
    }

    // MARK: Concurrency limits

    /// Asks Redis for slots of `bucket` for the tasks at its head, if nothing is asked already.
    func askForSlots(_ bucket: String) {
        guard let question = concurrencyGate.nextAcquire(bucket, max: 1_000) else { return }
        guard let limiter = concurrencyLimiter else {
            let generation = concurrencyGate.wait(bucket)
            flowLimitUnavailable(
                "no Redis is configured (--redis): concurrency-limited tasks wait", retry: { $0.slotRetryDue(bucket, generation) })
            return
        }
        let members = Array(question.members.prefix(question.limit))
        Task {
            do {
                let granted = try await limiter.acquire(key: question.bucket, limit: question.limit, members: members)
                self.slotsAnswered(question.bucket, granted: granted, asked: members.count)
            } catch {
                let generation = self.concurrencyGate.wait(bucket)
                self.flowLimitUnavailable(
                    "Redis is unreachable (\(error)): concurrency-limited tasks wait", retry: { $0.slotRetryDue(bucket, generation) })
            }
        }
    }

    private func slotsAnswered(_ bucket: String, granted: [String], asked: Int) {
        let freedMeanwhile = slotsFreedWhileAsking.remove(bucket) != nil
        guard !granted.isEmpty else {
            // Full: a slot this scheduler gives back wakes the key at once (also one that came
            // back while this question was out: its answer may predate it); one another scheduler
            // gives back is seen by asking again, sooner while slots turn over.
            metrics.concurrencyLimitWaits.increment()
            let generation = concurrencyGate.wait(bucket)
            if freedMeanwhile {
                slotRetryDue(bucket, generation)
                return
            }
            let delay = slotRetryDelay[bucket].map { min($0 * 2, .seconds(1)) } ?? .milliseconds(50)
            slotRetryDelay[bucket] = delay
            after(delay) { $0.slotRetryDue(bucket, generation) }
            return
        }
        slotRetryDelay[bucket] = nil
        var unused = Set(granted)
        for gated in concurrencyGate.granted(bucket, members: unused, asked: asked) {
            unused.remove(gated.member)
            guard stillGated(gated) else {
                unused.insert(gated.member)
                continue
            }
            let ref = AttemptRef(runID: gated.task.runID, key: AttemptKey(node: gated.task.assignment.node, attempt: gated.task.assignment.attempt))
            heldSlots[ref] = HeldSlot(bucket: bucket, member: gated.member)
            admit(gated, after: .concurrency)
        }
        // Slots granted to attempts that went away meanwhile are given back (not one an attempt
        // took back meanwhile: see `sweepStaleSlots`).
        unused = unused.filter { member in
            guard let (runID, key) = Self.parseMember(member) else { return true }
            return heldSlots[AttemptRef(runID: runID, key: key)] == nil
        }
        if !unused.isEmpty { giveBack(bucket, Array(unused)) }
        askForSlots(bucket)
    }

    private func slotRetryDue(_ bucket: String, _ generation: UInt64) {
        concurrencyGate.retry(bucket, generation: generation)
        askForSlots(bucket)
    }

    /// The attempt of `runID` ended (or was cancelled): its concurrency slot, if it holds one, goes
    /// back, and the next task waiting for that key asks for it.
    func releaseSlot(_ runID: RunID, _ key: AttemptKey) {
        guard let slot = heldSlots.removeValue(forKey: AttemptRef(runID: runID, key: key)) else { return }
        giveBack(slot.bucket, [slot.member])
    }

    /// Forgets the slots of a run leaving memory: given back when it closed here; kept (to expire,
    /// or be taken over by the partition's next owner, whose recovery re-takes them for the
    /// attempts still running) when it only left this scheduler.
    func forgetSlots(of runID: RunID, attempts: some Sequence<AttemptKey>, giveBack release: Bool) {
        for key in attempts {
            guard let slot = heldSlots.removeValue(forKey: AttemptRef(runID: runID, key: key)) else { continue }
            if release { giveBack(slot.bucket, [slot.member]) }
        }
    }

    private func giveBack(_ bucket: String, _ members: [String]) {
        guard let limiter = concurrencyLimiter else { return }
        Task {
            do {
                try await limiter.release(key: bucket, members: members)
            } catch {
                // The holds expire by themselves (the limiter's hold TTL): until then, fewer run.
                self.logger.warning("could not give concurrency slots back", metadata: ["key": "\(bucket)", "error": "\(error)"])
            }
            self.slotFreed(bucket)
        }
    }

    private func slotFreed(_ bucket: String) {
        guard concurrencyGate.hasWaiting(bucket) else { return }
        slotRetryDelay[bucket] = nil
        if concurrencyGate.wake(bucket) {
            askForSlots(bucket)
        } else {
            slotsFreedWhileAsking.insert(bucket)
        }
    }

    /// Renews every slot held here, once a second until cancelled, so that holds outlive only a
    /// dead scheduler (and come back after Redis forgot them).
    func renewSlots(every interval: Duration = .seconds(1)) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard let limiter = concurrencyLimiter, !heldSlots.isEmpty else { continue }
            let buckets = Set(heldSlots.values.map(\.bucket))
            for bucket in buckets {
                // Read right before the call (no suspension between): a slot given back meanwhile
                // is not renewed, and one given back after is released after this renewal.
                let members = heldSlots.values.filter { $0.bucket == bucket }.map(\.member)
                do {
                    try await limiter.renew(key: bucket, members: members)
                } catch {
                    flowLimitUnavailable("Redis is unreachable (\(error)): concurrency slots are not renewed", retry: nil)
                    break
                }
            }
        }
    }

    /// After recovering `partitions`, settles the holds Redis has for their attempts:
    /// - an attempt recovery queued again at its limit that still holds a slot (it ran before the
    ///   restart, and may still run on its worker) takes it back at once — asked in queue order, it
    ///   could sit behind tasks that will never get a slot while it keeps one;
    /// - a hold of an attempt that is no longer open here (it ended while its scheduler died before
    ///   giving the slot back) is given back.
    func sweepStaleSlots(partitions: Set<PartitionID>) async {
        guard let limiter = concurrencyLimiter, !partitions.isEmpty else { return }
        let holders: [(key: String, members: [String])]
        do {
            holders = try await limiter.allHolders()
        } catch {
            logger.warning("could not read the concurrency holds; stale ones expire by themselves", metadata: ["error": "\(error)"])
            return
        }
        var (retaken, swept) = (0, 0)
        for (bucket, members) in holders {
            var stale: [String] = []
            for member in members {
                guard let (runID, key) = Self.parseMember(member), partitions.contains(runID.partition(count: partitionCount)) else { continue }
                let ref = AttemptRef(runID: runID, key: key)
                if heldSlots[ref] != nil { continue }
                guard let run = runs[runID], let place = run.attempts[key] else {
                    stale.append(member)
                    continue
                }
                guard case .concurrencyLimited(let ticket) = place, let gated = concurrencyGate.take(ticket) else { continue }
                heldSlots[ref] = HeldSlot(bucket: bucket, member: member)
                admit(gated, after: .concurrency)
                retaken += 1
            }
            guard !stale.isEmpty else { continue }
            swept += stale.count
            giveBack(bucket, stale)
        }
        if retaken + swept > 0 {
            logger.info("settled the concurrency holds of recovered partitions", metadata: ["retaken": "\(retaken)", "given_back": "\(swept)"])
        }
    }

    /// The attempt a holder member names (`run/node#attempt`).
    static func parseMember(_ member: String) -> (RunID, AttemptKey)? {
        guard let slash = member.firstIndex(of: "/"), let hash = member.lastIndex(of: "#"), slash < hash,
            let runID = try? RunID(parsing: String(member[..<slash])),
            let node = NodeKey(parsing: String(member[member.index(after: slash)..<hash])),
            let attempt = Int(member[member.index(after: hash)...])
        else { return nil }
        return (runID, AttemptKey(node: node, attempt: attempt))
    }

    // MARK: Shared

    /// Whether a task let through by a limit still waits there (its run open, its attempt not
    /// cancelled meanwhile).
    private func stillGated(_ gated: GatedTask) -> Bool {
        let key = AttemptKey(node: gated.task.assignment.node, attempt: gated.task.assignment.attempt)
        switch runs[gated.task.runID]?.attempts[key] {
        case .rateLimited?, .concurrencyLimited?, .breakerHeld?: return true
        default: return false
        }
    }

    private func after(_ delay: Duration, _ body: @escaping @Sendable (isolated SchedulerCore) -> Void) {
        loop.scheduleTimer(after: delay) { [self] in
            Task(executorPreference: loop) { await self.run(body) }
        }
    }

    private func run(_ body: @Sendable (isolated SchedulerCore) -> Void) { body(self) }

    private func flowLimitUnavailable(_ reason: String, retry: (@Sendable (isolated SchedulerCore) -> Void)?) {
        let now = ContinuousClock.now
        if lastFlowLimitWarning.map({ now - $0 > .seconds(10) }) ?? true {
            lastFlowLimitWarning = now
            logger.warning("flow limits cannot be checked", metadata: ["reason": "\(reason)"])
        }
        if let retry { after(.seconds(1), retry) }
    }
}

/// Where an attempt's output goes in the result cache.
struct CacheEntryRef: Sendable {
    var taskType: String
    var key: String
    var ttl: Duration
}

/// A concurrency slot an attempt of this scheduler holds.
struct HeldSlot: Sendable {
    var bucket: String
    var member: String
}
