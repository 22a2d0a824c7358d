import ArgumentParser
import Weft
import WeftCLISupport
import WeftCore
import WeftMembership

/// The gossip flags of `weft coordinator` and `weft scheduler` (ARCHITECTURE §10): one parser, so
/// both roles read the same flags and environment the same way.
struct GossipOptions: ParsableArguments {
    @Option(help: "Cluster mode: where gossip (UDP) binds, HOST:PORT. A coordinator then knows the members and the ring; a scheduler shares the partitions (and needs --redis). [env: WEFT_GOSSIP]")
    var gossip: String?

    @Option(help: "Cluster mode: gossip addresses to join through, HOST:PORT,... (DNS names allowed, e.g. the headless Service). [env: WEFT_SEEDS]")
    var seeds: String?

    @Option(name: .customLong("membership-profile"), help: .hidden)
    var membershipProfile: String?

    struct Resolved {
        var bind: Endpoint
        var seeds: [String]
        var membership: MembershipSettings
        var ownership: PartitionOwnershipStateMachine.Settings
    }

    /// The gossip configuration, or nil without `--gossip` (then `--seeds` is a usage error).
    func resolve() throws -> Resolved? {
        let seedText = WeftEnvironment.resolve(seeds, flag: "seeds")
        guard let gossip = WeftEnvironment.resolve(gossip, flag: "gossip") else {
            if seedText != nil { throw ValidationError("--seeds needs --gossip (cluster mode)") }
            return nil
        }
        let seeds = try (seedText ?? "").split(separator: ",").map { try parseEndpoint(String($0), flag: "seeds").description }
        var resolved = Resolved(bind: try parseEndpoint(gossip, flag: "gossip"), seeds: seeds, membership: .lan, ownership: .lan)
        switch membershipProfile ?? "lan" {
        case "lan": break
        case "local-testing":
            resolved.membership = .localTesting
            resolved.ownership = .localTesting
        case let other: throw ValidationError("--membership-profile must be lan or local-testing, not '\(other)'")
        }
        return resolved
    }
}
