extension TaskPriority: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let priority = TaskPriority(rawValue: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "invalid priority '\(text)': use critical, high, normal or low"
            )
        }
        self = priority
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
