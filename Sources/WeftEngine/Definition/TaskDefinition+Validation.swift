extension TaskDefinition {
    /// The longest concurrency or cache key, in characters.
    static let maxKeyLength = 256
    /// The largest `max_attempts`.
    static let maxAttemptsLimit = 1000

    /// Appends this task's own problems (everything but duplicates and cycles).
    /// `position` is the task's 0-based place in the file; `known` maps names to their first place.
    func collectProblems(
        position: Int,
        known: [String: Int],
        limits: WorkflowDefinition.Limits,
        into problems: inout [DefinitionError.Problem]
    ) {
        let label = name.isEmpty ? "task #\(position + 1)" : "task \(NameRules.quoted(name))"
        let owner: String? = name.isEmpty ? nil : name
        func report(_ code: DefinitionError.Code, _ message: String) {
            problems.append(.init(code, task: owner, "\(label): \(message)"))
        }

        if !NameRules.isValidName(name, maxLength: limits.maxNameLength) {
            report(.invalidName, "invalid name \(NameRules.quoted(name)): \(NameRules.nameRule(limits.maxNameLength))")
        }
        if let waitSignal, !NameRules.isValidName(waitSignal, maxLength: limits.maxNameLength) {
            report(.invalidSignal, "invalid signal name \(NameRules.quoted(waitSignal)): \(NameRules.nameRule(limits.maxNameLength))")
        }
        if waitSignal == nil, signalTimeout != nil {
            report(.invalidSignal, "signal_timeout without wait_signal")
        }
        if let workflow {
            // A child-workflow node: its attempts are runs of `workflow`, not tasks of a worker.
            if !NameRules.isValidName(workflow, maxLength: limits.maxNameLength) {
                report(.invalidType, "invalid child workflow name \(NameRules.quoted(workflow)): \(NameRules.nameRule(limits.maxNameLength))")
            }
            if !type.isEmpty { report(.invalidType, "a child workflow node runs no task: remove type (or workflow)") }
            if sleep != nil || waitSignal != nil { report(.invalidType, "a child workflow node cannot also sleep or wait for a signal") }
            if timeouts.heartbeat != nil {
                report(.invalidTimeout, "a child workflow sends no heartbeats: limit it with timeouts.start_to_close")
            }
            if queue != TaskDefinition.defaultQueue {
                report(.invalidQueue, "a child workflow node takes no queue: the child's own tasks name theirs")
            }
        } else if let (kind, field) = waitSignal != nil ? ("signal", "wait_signal") : sleep != nil ? ("sleep", "sleep") : nil {
            // Sleep and signal nodes run nothing: options about attempts would silently do nothing.
            if !type.isEmpty { report(.invalidType, "a \(kind) node runs no task: remove type (or \(field))") }
            if map { report(.invalidMap, "a \(kind) node cannot map") }
            if retry != RetryPolicy() { report(.invalidRetryPolicy, "a \(kind) node has no attempts to retry: remove retry") }
            if waitSignal != nil {
                if !timeouts.isEmpty { report(.invalidTimeout, "a signal node's wait is limited by signal_timeout, not timeouts") }
                if sleep != nil || startAfter != nil { report(.invalidSignal, "a signal node cannot also sleep or start_after") }
            } else {
                if !timeouts.isEmpty { report(.invalidTimeout, "a sleep node has no attempts to time out: remove timeouts") }
                if startAfter != nil { report(.invalidTimeout, "start_after on a sleep node: add the delay to sleep instead") }
            }
        } else if type.isEmpty {
            report(.invalidType, "the task type is empty: name the type a worker registered, e.g. type: echo")
        } else if type.count > limits.maxNameLength {
            report(.invalidType, "the task type is longer than \(limits.maxNameLength) characters")
        } else if type.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
            report(.invalidType, "the task type \(NameRules.quoted(type)) contains whitespace or control characters")
        }
        if !NameRules.isValidName(queue, maxLength: limits.maxNameLength) {
            report(.invalidQueue, "invalid queue \(NameRules.quoted(queue)): \(NameRules.nameRule(limits.maxNameLength))")
        }
        for (field, value) in [("concurrency_key", concurrencyKey), ("cache_key", cacheKey)] {
            guard let value else { continue }
            if value.isEmpty || value.count > Self.maxKeyLength {
                report(.invalidKey, "\(field) must have 1–\(Self.maxKeyLength) characters")
            } else if limits.refuseReservedFields {
                // Reserved by the format (ARCHITECTURE.md §4) but not carried out yet: refused, so
                // that a definition never silently runs without the limit or cache it asked for.
                report(
                    .unsupported,
                    field == "concurrency_key"
                        ? "concurrency_key is not supported: write concurrency: {key: …, limit: N} (a constant or a path like $.customer)"
                        : "cache_key is not supported: write cache: {key: …, ttl: 1h} (a constant or a path like $.url)")
            }
        }

        if let rateLimit {
            if !runsTask {
                report(.invalidRateLimit, "rate_limit on a node that runs no task (sleep, signal or child workflow): remove it")
            }
            if !(1...RateLimit.maxLimit).contains(rateLimit.limit) {
                report(.invalidRateLimit, "rate_limit.limit must be 1–\(RateLimit.maxLimit), not \(rateLimit.limit)")
            }
            if rateLimit.per <= .zero || rateLimit.per > RateLimit.maxPer {
                report(.invalidRateLimit, "rate_limit.per must be positive and at most \(DurationCoding.format(RateLimit.maxPer)), not \(DurationCoding.format(rateLimit.per))")
            }
            if let burst = rateLimit.burst, !(1...RateLimit.maxLimit).contains(burst) {
                report(.invalidRateLimit, "rate_limit.burst must be 1–\(RateLimit.maxLimit), not \(burst)")
            }
        }

        if let concurrency {
            if !runsTask {
                report(.invalidConcurrency, "concurrency on a node that runs no task (sleep, signal or child workflow): remove it")
            }
            if !(1...ConcurrencyLimit.maxLimit).contains(concurrency.limit) {
                report(.invalidConcurrency, "concurrency.limit must be 1–\(ConcurrencyLimit.maxLimit), not \(concurrency.limit)")
            }
            if concurrencyKey != nil {
                report(.invalidConcurrency, "concurrency_key and concurrency both given: use concurrency: {key: …, limit: N}")
            }
        }

        if let cache {
            if !runsTask {
                report(.invalidCache, "cache on a node that runs no task (sleep, signal or child workflow): remove it")
            }
            if cache.ttl < ResultCache.minTTL || cache.ttl > ResultCache.maxTTL {
                report(.invalidCache, "cache.ttl must be from \(DurationCoding.format(ResultCache.minTTL)) to \(DurationCoding.format(ResultCache.maxTTL)), not \(DurationCoding.format(cache.ttl))")
            }
            if cacheKey != nil {
                report(.invalidCache, "cache_key and cache both given: use cache: {key: …, ttl: …}")
            }
        }

        if let options = mapOptions {
            for (field, value) in [("batch_size", options.batchSize), ("max_concurrency", options.maxConcurrency)] {
                guard let value, !(1...MapOptions.maxValue).contains(value) else { continue }
                report(.invalidMap, "map.\(field) must be 1–\(MapOptions.maxValue), not \(value)")
            }
            if workflow != nil, options.batchSize != nil {
                report(.invalidMap, "map.batch_size on a child workflow node: each child takes one element")
            }
            if options.batchSize != nil {
                // A batch task's input is an array: a path like $.customer finds nothing in it.
                for (field, key) in [("concurrency", concurrency?.key), ("rate_limit", rateLimit?.key), ("cache", cache?.key)] {
                    guard let key, key.isPath else { continue }
                    report(.invalidMap, "\(field).key \(NameRules.quoted(key.description)) on a batched map: each task receives an array of elements, so a path finds nothing in it — use a constant key, or no batch_size")
                }
            }
        }
        if let breaker = circuitBreaker {
            if !runsTask {
                report(.invalidCircuitBreaker, "circuit_breaker on a node that runs no task (sleep, signal or child workflow): remove it")
            }
            if !(breaker.failureRate > 0 && breaker.failureRate <= 1) {
                report(.invalidCircuitBreaker, "circuit_breaker.failure_rate must be above 0 and at most 1, not \(breaker.failureRate)")
            }
            if !(1...1_000_000).contains(breaker.minRequests) {
                report(.invalidCircuitBreaker, "circuit_breaker.min_requests must be 1–1000000, not \(breaker.minRequests)")
            }
            for (field, value, low) in [("window", breaker.window, Duration.seconds(1)), ("open_for", breaker.openFor, .milliseconds(100))]
            where value < low || value > .seconds(86_400) {
                report(.invalidCircuitBreaker, "circuit_breaker.\(field) must be from \(DurationCoding.format(low)) to 1d, not \(DurationCoding.format(value))")
            }
        }

        // Dependencies.
        if dependsOn.count > limits.maxDependenciesPerTask {
            report(.tooManyDependencies, "\(dependsOn.count) dependencies; the limit is \(limits.maxDependenciesPerTask) per task (a map node fans in any width)")
        }
        var seen: Set<String> = []
        var reportedDuplicates: Set<String> = []
        for dependency in dependsOn {
            if !seen.insert(dependency).inserted {
                if reportedDuplicates.insert(dependency).inserted {
                    report(.duplicateDependency, "depends on \(NameRules.quoted(dependency)) more than once")
                }
                continue
            }
            if dependency == name {
                report(.selfDependency, "depends on itself")
            } else if known[dependency] == nil {
                report(.unknownDependency, "depends on unknown task \(NameRules.quoted(dependency))")
            }
        }
        let parentCount = seen.count

        retry.collectProblems(report: report, limits: limits)
        for kind in TimeoutKind.allCases {
            guard let limit = timeouts[kind] else { continue }
            if limit <= .zero {
                report(.invalidTimeout, "timeouts.\(kind) must be positive, not \(DurationCoding.format(limit))")
            } else if limit > limits.maxDuration {
                report(.invalidTimeout, "timeouts.\(kind) of \(DurationCoding.format(limit)) exceeds the limit of \(DurationCoding.format(limits.maxDuration))")
            }
        }

        for (field, value) in [("start_after", startAfter), ("sleep", sleep), ("signal_timeout", signalTimeout)] {
            guard let value else { continue }
            if value <= .zero {
                report(.invalidTimeout, "\(field) must be positive, not \(DurationCoding.format(value))")
            } else if value > limits.maxDuration {
                report(.invalidTimeout, "\(field) of \(DurationCoding.format(value)) exceeds the limit of \(DurationCoding.format(limits.maxDuration))")
            }
        }
        if map && startAfter != nil {
            report(.unsupported, "start_after on a map node is not supported yet: put it on the node before the map")
        }

        if map && parentCount != 1 {
            report(.invalidMap, "map: true needs exactly one parent (the task whose output is the list), not \(parentCount)")
        }
        if let join {
            if parentCount == 0 {
                report(.invalidJoin, "join: \(join) on a task without parents")
            } else if case .atLeast(let n) = join, n < 1 || n > parentCount {
                report(.invalidJoin, "join: \(join) needs 1 ≤ N ≤ \(parentCount) (the number of parents)")
            }
        }
    }
}
