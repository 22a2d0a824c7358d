extension WorkflowDefinition: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name
        case tasks
        case timeout
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, against: CodingKeys.self, what: "workflow")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try container.decode(String.self, forKey: .name),
            tasks: try container.decode([TaskDefinition].self, forKey: .tasks),
            timeout: try DurationCoding.decode(container, forKey: .timeout)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(tasks, forKey: .tasks)
        try container.encodeIfPresent(timeout.map(DurationCoding.format), forKey: .timeout)
    }
}
