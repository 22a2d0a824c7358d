/// The knobs of SWIM with Lifeguard. Defaults are `.lan` (memberlist's LAN profile, whose figures
/// have held up in Consul and Nomad clusters for years); `.localTesting` is the same protocol ten
/// times faster, for tests and `weft dev`.
///
/// With `.lan`, a crashed member is suspected after one protocol period (1 s, longer while this
/// node is itself unhealthy) and declared dead `suspicionTimeout` later: 4 × log10(N) protocol
/// periods (at least 4 s), up to 6× that when nobody else confirms the suspicion — about 5–30 s
/// after the crash in a cluster of ten.
public struct MembershipSettings: Sendable, Hashable {
    /// The protocol period: one member is probed per period.
    public var probeInterval: Duration
    /// How long a direct ping waits for its ack before asking others (ping-req).
    public var probeTimeout: Duration
    /// How many members are asked to probe a member that did not answer directly (SWIM's k).
    public var indirectProbes: Int
    /// Lifeguard: the shortest suspicion lasts `suspicionAlpha × max(1, log10 N)` protocol periods…
    public var suspicionAlpha: Double
    /// …and the longest `suspicionBeta` times that, shrinking towards the shortest as independent
    /// suspicions arrive (expected: `indirectProbes` of them).
    public var suspicionBeta: Double
    /// Lifeguard's local health multiplier stays in `0...maxLocalHealth`: a node that misses acks
    /// and nacks stretches its own probe interval and timeout by `1 + score`, so a slow node stops
    /// accusing healthy ones.
    public var maxLocalHealth: Int
    /// Each update is piggy-backed `retransmitMultiplier × ⌈log10(N + 1)⌉` times, then dropped.
    public var retransmitMultiplier: Int
    /// At most this many updates ride on one packet.
    public var maxUpdatesPerPacket: Int
    /// How often the full member list is exchanged with a random member (anti-entropy), and a seed
    /// or a dead member is tried (that is how a node alone joins, and how a healed network
    /// partition merges back).
    public var syncInterval: Duration
    /// How long a dead or left member is remembered (so that stale gossip cannot bring it back, and
    /// so that partitions can heal by syncing with it).
    public var tombstoneRetention: Duration
    /// The member table never holds more than this many members (a hostile packet cannot grow it).
    public var maxMembers: Int
    /// At most this many ping-reqs are relayed at once for others.
    public var maxRelays: Int

    public init(
        probeInterval: Duration, probeTimeout: Duration, indirectProbes: Int = 3, suspicionAlpha: Double = 4,
        suspicionBeta: Double = 6, maxLocalHealth: Int = 8, retransmitMultiplier: Int = 4, maxUpdatesPerPacket: Int = 8,
        syncInterval: Duration, tombstoneRetention: Duration, maxMembers: Int = 1024, maxRelays: Int = 256
    ) {
        self.probeInterval = probeInterval
        self.probeTimeout = probeTimeout
        self.indirectProbes = indirectProbes
        self.suspicionAlpha = suspicionAlpha
        self.suspicionBeta = suspicionBeta
        self.maxLocalHealth = maxLocalHealth
        self.retransmitMultiplier = retransmitMultiplier
        self.maxUpdatesPerPacket = maxUpdatesPerPacket
        self.syncInterval = syncInterval
        self.tombstoneRetention = tombstoneRetention
        self.maxMembers = maxMembers
        self.maxRelays = maxRelays
    }

    /// A data-centre network: probe every second, 500 ms to answer.
    public static let lan = MembershipSettings(
        probeInterval: .seconds(1), probeTimeout: .milliseconds(500), syncInterval: .seconds(30),
        tombstoneRetention: .seconds(3600))

    /// Tests and `weft dev`: ten times faster than `.lan`.
    public static let localTesting = MembershipSettings(
        probeInterval: .milliseconds(100), probeTimeout: .milliseconds(50), syncInterval: .seconds(3),
        tombstoneRetention: .seconds(120))

    /// Lifeguard's suspicion timeout after `confirmations` independent suspicions, in a cluster of
    /// `members` active members where `expected` of them could confirm (at most `indirectProbes`):
    /// from the longest (none yet) down to the shortest (all expected), logarithmically. With no
    /// confirmation to expect (two or three members), the shortest at once.
    public func suspicionTimeout(members: Int, confirmations: Int, expected: Int) -> Duration {
        let minimum = probeInterval.scaled(by: suspicionAlpha * max(1, log10(Double(max(members, 1)))))
        guard expected > 0 else { return minimum }
        let maximum = minimum.scaled(by: suspicionBeta)
        let fraction = log(Double(max(0, confirmations)) + 1) / log(Double(expected) + 1)
        let timeout = maximum - (maximum - minimum).scaled(by: min(1, fraction))
        return max(minimum, timeout)
    }

    /// How many times one update is piggy-backed in a cluster of `members`.
    public func retransmitLimit(members: Int) -> Int {
        retransmitMultiplier * max(1, Int(ceil(log10(Double(members) + 1))))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
