/// Rejects unknown fields while decoding definition files, so that a misspelt option (`depend_on`,
/// `max_attempt`) is an error naming it instead of a silently ignored line.
enum StrictKeys {
    /// Any key, to list what a keyed container holds.
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(stringValue: String) { self.stringValue = stringValue }
        init(intValue: Int) {
            self.stringValue = String(intValue)
            self.intValue = intValue
        }
    }

    /// Throws `DecodingError.dataCorrupted` naming the first field of `decoder`'s object that is not
    /// one of `Key`'s cases. `what` names the object in the message ("task", "retry").
    static func check<Key: CodingKey & CaseIterable>(_ decoder: any Decoder, against _: Key.Type, what: String) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let known = Key.allCases.map(\.stringValue)
        let unknown = container.allKeys.filter { !known.contains($0.stringValue) }
            .min { $0.stringValue.utf8.lexicographicallyPrecedes($1.stringValue.utf8) }
        if let unknown {
            throw DecodingError.dataCorruptedError(
                forKey: unknown, in: container,
                debugDescription: "unknown field '\(unknown.stringValue)' in \(what); known fields: \(known.joined(separator: ", "))"
            )
        }
    }
}
