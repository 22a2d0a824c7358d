/// The canonical JSON encoding of a validated workflow (see ``ValidatedWorkflow/canonicalJSON``).
///
/// Rules, all of which keep the bytes a function of the workflow's meaning only:
/// - keys in byte order; no whitespace; strings escaped as in ``JSONWriter``;
/// - tasks sorted by name; `depends_on` sorted; `non_retryable` sorted without duplicates;
/// - defaults spelled out (`retry` with all its fields, `priority`, `queue`, `join` of every node
///   with parents); absent options (`timeouts` fields, keys, `map: false`, empty lists,
///   `start_after`, `sleep`, `wait_signal`, `signal_timeout`, `workflow`, the `type` of sleep,
///   signal and child-workflow nodes) omitted;
/// - durations in ``DurationCoding/format(_:)``'s exact spelling; the multiplier as Swift's
///   shortest round-tripping decimal.
///
/// Changing these rules changes every version hash: treat them as a stored format.
enum CanonicalEncoding {
    static func encode(name: String, tasks: [TaskDefinition], timeout: Duration? = nil) -> [UInt8] {
        var out = JSONWriter()
        out.raw("{\"name\":")
        out.string(name)
        out.raw(",\"tasks\":[")
        let sorted = tasks.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        for (position, task) in sorted.enumerated() {
            if position > 0 { out.raw(",") }
            encode(task, into: &out)
        }
        out.raw("]")
        if let timeout {  // after "tasks" in byte order; absent: the bytes (and versions) of before
            out.raw(",\"timeout\":")
            out.string(DurationCoding.format(timeout))
        }
        out.raw("}")
        return out.bytes
    }

    private static func encode(_ task: TaskDefinition, into out: inout JSONWriter) {
        out.raw("{")
        var first = true
        func key(_ name: String) {
            if !first { out.raw(",") }
            first = false
            out.string(name)
            out.raw(":")
        }
        if let cache = task.cache {  // absent: the bytes (and versions) of before
            key("cache")
            out.raw("{\"key\":")
            out.string(cache.key.description)
            out.raw(",\"ttl\":")
            out.string(DurationCoding.format(cache.ttl))
            out.raw("}")
        }
        if let cacheKey = task.cacheKey {
            key("cache_key")
            out.string(cacheKey)
        }
        if let breaker = task.circuitBreaker {  // absent: the bytes (and versions) of before
            key("circuit_breaker")
            out.raw("{\"failure_rate\":\(breaker.failureRate),\"min_requests\":\(breaker.minRequests),\"open_for\":")
            out.string(DurationCoding.format(breaker.openFor))
            out.raw(",\"when_open\":")
            out.string(breaker.whenOpen.rawValue)
            out.raw(",\"window\":")
            out.string(DurationCoding.format(breaker.window))
            out.raw("}")
        }
        if let concurrency = task.concurrency {  // absent: the bytes (and versions) of before
            key("concurrency")
            out.raw("{\"key\":")
            out.string(concurrency.key.description)
            out.raw(",\"limit\":\(concurrency.limit)}")
        }
        if let concurrencyKey = task.concurrencyKey {
            key("concurrency_key")
            out.string(concurrencyKey)
        }
        if !task.dependsOn.isEmpty {
            key("depends_on")
            stringArray(sortedUnique(task.dependsOn), into: &out)
            key("join")
            out.string(task.effectiveJoin.description)
        }
        if task.map {
            key("map")
            if let options = task.mapOptions, options.batchSize != nil || options.maxConcurrency != nil {
                // An object only when it says something: `map: {}` is `map: true`.
                var fields: [String] = []
                if let batch = options.batchSize { fields.append("\"batch_size\":\(batch)") }
                if let cap = options.maxConcurrency { fields.append("\"max_concurrency\":\(cap)") }
                out.raw("{" + fields.joined(separator: ",") + "}")
            } else {
                out.raw("true")
            }
        }
        key("name")
        out.string(task.name)
        key("priority")
        out.string(task.priority.rawValue)
        key("queue")
        out.string(task.queue)
        if let rateLimit = task.rateLimit {  // absent: the bytes (and versions) of before
            key("rate_limit")
            out.raw("{\"burst\":\(rateLimit.effectiveBurst),\"key\":")
            out.string(rateLimit.key.description)
            out.raw(",\"limit\":\(rateLimit.limit),\"per\":")
            out.string(DurationCoding.format(rateLimit.per))
            out.raw("}")
        }
        key("retry")
        encode(task.retry, into: &out)
        if let signalTimeout = task.signalTimeout {
            key("signal_timeout")
            out.string(DurationCoding.format(signalTimeout))
        }
        if let sleep = task.sleep {
            key("sleep")
            out.string(DurationCoding.format(sleep))
        }
        if let startAfter = task.startAfter {
            key("start_after")
            out.string(DurationCoding.format(startAfter))
        }
        if !task.timeouts.isEmpty {
            key("timeouts")
            encode(task.timeouts, into: &out)
        }
        if task.runsTask {  // sleep and signal nodes have no type
            key("type")
            out.string(task.type)
        }
        if let waitSignal = task.waitSignal {
            key("wait_signal")
            out.string(waitSignal)
        }
        if let workflow = task.workflow {
            key("workflow")
            out.string(workflow)
        }
        out.raw("}")
    }

    private static func encode(_ retry: RetryPolicy, into out: inout JSONWriter) {
        out.raw("{\"backoff_multiplier\":")
        out.raw(String(describing: retry.backoffMultiplier))
        out.raw(",\"initial_backoff\":")
        out.string(DurationCoding.format(retry.initialBackoff))
        out.raw(",\"max_attempts\":")
        out.raw(String(retry.maxAttempts))
        out.raw(",\"max_backoff\":")
        out.string(DurationCoding.format(retry.maxBackoff))
        if !retry.nonRetryable.isEmpty {
            out.raw(",\"non_retryable\":")
            stringArray(sortedUnique(retry.nonRetryable), into: &out)
        }
        out.raw("}")
    }

    private static func encode(_ timeouts: TaskTimeouts, into out: inout JSONWriter) {
        out.raw("{")
        var first = true
        // Byte order of the keys: heartbeat < schedule_to_start < start_to_close.
        for kind in [TimeoutKind.heartbeat, .scheduleToStart, .startToClose] {
            guard let limit = timeouts[kind] else { continue }
            if !first { out.raw(",") }
            first = false
            out.string(kind.rawValue)
            out.raw(":")
            out.string(DurationCoding.format(limit))
        }
        out.raw("}")
    }

    private static func stringArray(_ values: [String], into out: inout JSONWriter) {
        out.raw("[")
        for (position, value) in values.enumerated() {
            if position > 0 { out.raw(",") }
            out.string(value)
        }
        out.raw("]")
    }

    private static func sortedUnique(_ values: [String]) -> [String] {
        var result: [String] = []
        for value in values.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) where result.last != value {
            result.append(value)
        }
        return result
    }
}
