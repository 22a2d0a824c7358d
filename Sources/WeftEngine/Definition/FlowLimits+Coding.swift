extension KeyExpression: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "invalid key: \(error)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension RateLimit: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case key
        case limit
        case per
        case burst
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, against: CodingKeys.self, what: "rate_limit")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            key: try container.decode(KeyExpression.self, forKey: .key),
            limit: try container.decode(Int.self, forKey: .limit),
            per: try DurationCoding.decode(container, forKey: .per) ?? .seconds(1),
            burst: try container.decodeIfPresent(Int.self, forKey: .burst))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(limit, forKey: .limit)
        if per != .seconds(1) { try container.encode(DurationCoding.format(per), forKey: .per) }
        try container.encodeIfPresent(burst, forKey: .burst)
    }
}

extension ConcurrencyLimit: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case key
        case limit
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, against: CodingKeys.self, what: "concurrency")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(key: try container.decode(KeyExpression.self, forKey: .key), limit: try container.decode(Int.self, forKey: .limit))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(limit, forKey: .limit)
    }
}

extension ResultCache: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case key
        case ttl
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, against: CodingKeys.self, what: "cache")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard let ttl = try DurationCoding.decode(container, forKey: .ttl) else {
            throw DecodingError.keyNotFound(CodingKeys.ttl, .init(codingPath: container.codingPath, debugDescription: "cache needs a ttl, e.g. ttl: 1h"))
        }
        self.init(key: try container.decode(KeyExpression.self, forKey: .key), ttl: ttl)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(DurationCoding.format(ttl), forKey: .ttl)
    }
}

extension CircuitBreakerPolicy: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case failureRate = "failure_rate"
        case minRequests = "min_requests"
        case window
        case openFor = "open_for"
        case whenOpen = "when_open"
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, against: CodingKeys.self, what: "circuit_breaker")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = CircuitBreakerPolicy()
        self.init(
            failureRate: try container.decodeIfPresent(Double.self, forKey: .failureRate) ?? defaults.failureRate,
            minRequests: try container.decodeIfPresent(Int.self, forKey: .minRequests) ?? defaults.minRequests,
            window: try DurationCoding.decode(container, forKey: .window) ?? defaults.window,
            openFor: try DurationCoding.decode(container, forKey: .openFor) ?? defaults.openFor,
            whenOpen: try container.decodeIfPresent(WhenOpen.self, forKey: .whenOpen) ?? defaults.whenOpen)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(failureRate, forKey: .failureRate)
        try container.encode(minRequests, forKey: .minRequests)
        try container.encode(DurationCoding.format(window), forKey: .window)
        try container.encode(DurationCoding.format(openFor), forKey: .openFor)
        try container.encode(whenOpen, forKey: .whenOpen)
    }
}

extension MapOptions: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case batchSize = "batch_size"
        case maxConcurrency = "max_concurrency"
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, against: CodingKeys.self, what: "map")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            batchSize: try container.decodeIfPresent(Int.self, forKey: .batchSize),
            maxConcurrency: try container.decodeIfPresent(Int.self, forKey: .maxConcurrency))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(batchSize, forKey: .batchSize)
        try container.encodeIfPresent(maxConcurrency, forKey: .maxConcurrency)
    }
}
