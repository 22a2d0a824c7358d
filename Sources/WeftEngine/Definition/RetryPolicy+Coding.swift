extension RetryPolicy: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxAttempts = "max_attempts"
        case initialBackoff = "initial_backoff"
        case maxBackoff = "max_backoff"
        case backoffMultiplier = "backoff_multiplier"
        case nonRetryable = "non_retryable"
    }

    /// Every field is optional; absent ones take the defaults of ``init(maxAttempts:initialBackoff:maxBackoff:backoffMultiplier:nonRetryable:)``.
    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, against: CodingKeys.self, what: "retry")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = RetryPolicy()
        self.init(
            maxAttempts: try container.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? defaults.maxAttempts,
            initialBackoff: try DurationCoding.decode(container, forKey: .initialBackoff) ?? defaults.initialBackoff,
            maxBackoff: try DurationCoding.decode(container, forKey: .maxBackoff) ?? defaults.maxBackoff,
            backoffMultiplier: try container.decodeIfPresent(Double.self, forKey: .backoffMultiplier) ?? defaults.backoffMultiplier,
            nonRetryable: try container.decodeIfPresent([String].self, forKey: .nonRetryable) ?? []
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(maxAttempts, forKey: .maxAttempts)
        try container.encode(DurationCoding.format(initialBackoff), forKey: .initialBackoff)
        try container.encode(DurationCoding.format(maxBackoff), forKey: .maxBackoff)
        try container.encode(backoffMultiplier, forKey: .backoffMultiplier)
        if !nonRetryable.isEmpty { try container.encode(nonRetryable, forKey: .nonRetryable) }
    }
}
