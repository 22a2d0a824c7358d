extension TaskDefinition: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name
        case type
        case dependsOn = "depends_on"
        case retry
        case timeouts
        case priority
        case queue
        case concurrencyKey = "concurrency_key"
        case cacheKey = "cache_key"
        case map
        case join
        case startAfter = "start_after"
        case sleep
        case waitSignal = "wait_signal"
        case signalTimeout = "signal_timeout"
        case workflow
        case rateLimit = "rate_limit"
        case concurrency
        case cache
        case circuitBreaker = "circuit_breaker"
    }

    /// Absent optional fields take their defaults; `name` is required, and `type` unless the task
    /// is a `sleep`, `wait_signal` or child `workflow` node.
    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, against: CodingKeys.self, what: "task")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try container.decode(String.self, forKey: .name),
            type: (container.contains(.sleep) || container.contains(.waitSignal) || container.contains(.workflow)) && !container.contains(.type)
                ? "" : try container.decode(String.self, forKey: .type),
            dependsOn: try container.decodeIfPresent([String].self, forKey: .dependsOn) ?? [],
            retry: try container.decodeIfPresent(RetryPolicy.self, forKey: .retry) ?? RetryPolicy(),
            timeouts: try container.decodeIfPresent(TaskTimeouts.self, forKey: .timeouts) ?? TaskTimeouts(),
            priority: try container.decodeIfPresent(TaskPriority.self, forKey: .priority) ?? .normal,
            queue: try container.decodeIfPresent(String.self, forKey: .queue) ?? TaskDefinition.defaultQueue,
            concurrencyKey: try container.decodeIfPresent(String.self, forKey: .concurrencyKey),
            cacheKey: try container.decodeIfPresent(String.self, forKey: .cacheKey),
            map: try Self.decodeMap(container) != nil,
            join: try container.decodeIfPresent(JoinPolicy.self, forKey: .join),
            startAfter: try DurationCoding.decode(container, forKey: .startAfter),
            sleep: try DurationCoding.decode(container, forKey: .sleep),
            waitSignal: try container.decodeIfPresent(String.self, forKey: .waitSignal),
            signalTimeout: try DurationCoding.decode(container, forKey: .signalTimeout),
            workflow: try container.decodeIfPresent(String.self, forKey: .workflow),
            rateLimit: try container.decodeIfPresent(RateLimit.self, forKey: .rateLimit),
            concurrency: try container.decodeIfPresent(ConcurrencyLimit.self, forKey: .concurrency),
            cache: try container.decodeIfPresent(ResultCache.self, forKey: .cache),
            circuitBreaker: try container.decodeIfPresent(CircuitBreakerPolicy.self, forKey: .circuitBreaker),
            mapOptions: try Self.decodeMap(container) ?? nil
        )
    }

    /// `map`: absent or `false` → nil; `true` → `.some(nil)`; an object → its options.
    private static func decodeMap(_ container: KeyedDecodingContainer<CodingKeys>) throws -> MapOptions?? {
        guard container.contains(.map), try !container.decodeNil(forKey: .map) else { return nil }
        if let flag = try? container.decode(Bool.self, forKey: .map) { return flag ? .some(nil) : nil }
        return .some(try container.decode(MapOptions.self, forKey: .map))
    }

    /// Writes only what differs from the defaults, so files stay as short as their authors wrote them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        if !type.isEmpty || runsTask { try container.encode(type, forKey: .type) }
        if !dependsOn.isEmpty { try container.encode(dependsOn, forKey: .dependsOn) }
        if retry != RetryPolicy() { try container.encode(retry, forKey: .retry) }
        if !timeouts.isEmpty { try container.encode(timeouts, forKey: .timeouts) }
        if priority != .normal { try container.encode(priority, forKey: .priority) }
        if queue != TaskDefinition.defaultQueue { try container.encode(queue, forKey: .queue) }
        try container.encodeIfPresent(concurrencyKey, forKey: .concurrencyKey)
        try container.encodeIfPresent(cacheKey, forKey: .cacheKey)
        if let mapOptions, map {
            try container.encode(mapOptions, forKey: .map)
        } else if map {
            try container.encode(true, forKey: .map)
        }
        try container.encodeIfPresent(join, forKey: .join)
        try container.encodeIfPresent(startAfter.map(DurationCoding.format), forKey: .startAfter)
        try container.encodeIfPresent(sleep.map(DurationCoding.format), forKey: .sleep)
        try container.encodeIfPresent(waitSignal, forKey: .waitSignal)
        try container.encodeIfPresent(signalTimeout.map(DurationCoding.format), forKey: .signalTimeout)
        try container.encodeIfPresent(workflow, forKey: .workflow)
        try container.encodeIfPresent(rateLimit, forKey: .rateLimit)
        try container.encodeIfPresent(concurrency, forKey: .concurrency)
        try container.encodeIfPresent(cache, forKey: .cache)
        try container.encodeIfPresent(circuitBreaker, forKey: .circuitBreaker)
    }
}
