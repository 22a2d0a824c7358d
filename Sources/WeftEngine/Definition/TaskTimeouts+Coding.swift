extension TaskTimeouts: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case scheduleToStart = "schedule_to_start"
        case startToClose = "start_to_close"
        case heartbeat
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, against: CodingKeys.self, what: "timeouts")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            scheduleToStart: try DurationCoding.decode(container, forKey: .scheduleToStart),
            startToClose: try DurationCoding.decode(container, forKey: .startToClose),
            heartbeat: try DurationCoding.decode(container, forKey: .heartbeat)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(scheduleToStart.map(DurationCoding.format), forKey: .scheduleToStart)
        try container.encodeIfPresent(startToClose.map(DurationCoding.format), forKey: .startToClose)
        try container.encodeIfPresent(heartbeat.map(DurationCoding.format), forKey: .heartbeat)
    }
}
