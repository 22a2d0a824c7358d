import WeftCore

/// A point in time for the membership machines: nanoseconds on a monotonic clock whose origin does
/// not matter. The shell converts its `ContinuousClock`; simulations count from zero.
public struct MembershipInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = MembershipInstant(nanoseconds: 0)

    public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (instant: Self, duration: Duration) -> Self {
        Self(nanoseconds: instant.nanoseconds &+ duration.nanoseconds)
    }

    public static func - (a: Self, b: Self) -> Duration { .nanoseconds(a.nanoseconds &- b.nanoseconds) }

    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating at ±292 years).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled &+ attoseconds / 1_000_000_000
    }

    /// `self` times `factor`, in whole nanoseconds.
    func scaled(by factor: Double) -> Duration { .nanoseconds(Int64(Double(nanoseconds) * factor)) }
}

/// What a member is believed to be (SWIM): `alive` and `suspect` members are in the cluster (a
/// suspect may only be slow), `dead` ones were confirmed unreachable, `left` ones said goodbye.
public enum MemberStatus: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case alive = 0
    case suspect = 1
    case dead = 2
    case left = 3

    /// Alive or suspect: still counted as a member (the ring keeps a suspect: it may only be slow,
    /// and moving its partitions on every hiccup would cost more than waiting for the verdict).
    public var isActive: Bool { self == .alive || self == .suspect }

    public var description: String {
        switch self {
        case .alive: "alive"
        case .suspect: "suspect"
        case .dead: "dead"
        case .left: "left"
        }
    }
}

/// One member as one node believes it to be. The gossip unit: an update is a whole `Member`,
/// ordered by `incarnation` and then status (`supersedes`).
public struct Member: Sendable, Hashable, CustomStringConvertible {
    /// The node id (`--node-id`): unique in the cluster, stable across restarts.
    public var id: String
    /// Where its gossip (UDP) is heard, `host:port`.
    public var gossipAddress: String
    /// Where its RPC server is reached (`--advertise`), `host:port`.
    public var rpcAddress: String
    public var role: NodeRole
    /// Only the member itself raises it (to refute a suspicion, or on a restart): the newest
    /// incarnation's word wins.
    public var incarnation: UInt64
    public var status: MemberStatus

    public init(
        id: String, gossipAddress: String, rpcAddress: String, role: NodeRole, incarnation: UInt64 = 0,
        status: MemberStatus = .alive
    ) {
        self.id = id
        self.gossipAddress = gossipAddress
        self.rpcAddress = rpcAddress
        self.role = role
        self.incarnation = incarnation
        self.status = status
    }

    public var description: String { "\(id)@\(gossipAddress) \(role) \(status)#\(incarnation)" }

    /// Whether this news about a member replaces `old` (SWIM's ordering, as memberlist applies it):
    /// - `alive` wins over anything of a lower incarnation (only the member itself raises it);
    /// - `suspect` wins over `alive` of the same or a lower incarnation, and over `suspect` of a
    ///   lower one;
    /// - `dead` and `left` win over `alive`/`suspect` of the same or a lower incarnation; `left`
    ///   also over `dead` (the member said goodbye: no suspicion of it is needed).
    public func supersedes(_ old: Member) -> Bool {
        switch status {
        case .alive:
            return incarnation > old.incarnation
        case .suspect:
            switch old.status {
            case .alive: return incarnation >= old.incarnation
            case .suspect: return incarnation > old.incarnation
            case .dead, .left: return false
            }
        case .dead:
            switch old.status {
            case .alive, .suspect: return incarnation >= old.incarnation
            case .dead, .left: return false
            }
        case .left:
            switch old.status {
            case .alive, .suspect, .dead: return incarnation >= old.incarnation
            case .left: return false
            }
        }
    }
}

/// One piece of gossip: what its sender believes of a member. `suspectedBy` names the node that
/// suspects it (Lifeguard counts independent suspicions to shorten the timeout).
public struct MemberUpdate: Sendable, Hashable, CustomStringConvertible {
    public var member: Member
    public var suspectedBy: String?

    public init(_ member: Member, suspectedBy: String? = nil) {
        self.member = member
        self.suspectedBy = suspectedBy
    }

    public var description: String { suspectedBy.map { "\(member) by \($0)" } ?? member.description }
}

/// What a member's status changed from and to, as the shell and the ring see it.
public struct MemberChange: Sendable, Hashable, CustomStringConvertible {
    /// The member as it is now.
    public var member: Member
    /// nil for a member not known before.
    public var previous: MemberStatus?

    public init(member: Member, previous: MemberStatus?) {
        self.member = member
        self.previous = previous
    }

    public var description: String { "\(member.id): \(previous.map(\.description) ?? "new") → \(member.status)" }
}

extension Sequence<Member> {
    /// The schedulers that stand on the ring: alive or suspect (a suspect may only be slow).
    public var activeSchedulers: [Member] { filter { $0.role == .scheduler && $0.status.isActive } }
}
