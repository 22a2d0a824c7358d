/// The updates waiting to be piggy-backed on outgoing packets (SWIM's infection-style
/// dissemination). One entry per member: newer news of a member replaces older news and starts
/// its count again. Each packet takes the least-sent entries first (newest first among equals), and
/// an entry is dropped once it was sent `limit` times.
struct Dissemination: Sendable {
    private struct Entry: Sendable {
        var update: MemberUpdate
        var transmits: Int
        var order: UInt64
    }

    private var entries: [String: Entry] = [:]
    private var nextOrder: UInt64 = 0

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    mutating func add(_ update: MemberUpdate) {
        nextOrder += 1
        entries[update.member.id] = Entry(update: update, transmits: 0, order: nextOrder)
    }

    /// Up to `max` updates for one packet, each counted as sent once more.
    mutating func take(max: Int, limit: Int) -> [MemberUpdate] {
        guard max > 0, !entries.isEmpty else { return [] }
        let chosen = entries.values
            .sorted { $0.transmits != $1.transmits ? $0.transmits < $1.transmits : $0.order > $1.order }
            .prefix(max)
        var updates: [MemberUpdate] = []
        updates.reserveCapacity(chosen.count)
        for entry in chosen {
            updates.append(entry.update)
            let id = entry.update.member.id
            if entry.transmits + 1 >= limit {
                entries[id] = nil
            } else {
                entries[id]!.transmits += 1
            }
        }
        return updates
    }

    /// The update waiting for `id`, if one is.
    func pending(_ id: String) -> MemberUpdate? { entries[id]?.update }
}
