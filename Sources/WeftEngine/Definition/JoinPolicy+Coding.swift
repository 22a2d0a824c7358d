extension JoinPolicy: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let join = JoinPolicy(parsing: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "invalid join '\(text)': use all, any or at_least(N)"
            )
        }
        self = join
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
