import ArgumentParser
import Foundation
import Weft
import WeftCLISupport
import WeftCore

struct MembersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members", abstract: "List the cluster's members as the coordinator's gossip sees them.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let members = try await options.withClient { client in try await client.members() }
        if options.json {
            printJSON(members.map {
                ["id": $0.nodeID, "role": $0.role, "gossip_address": $0.gossipAddress, "rpc_address": $0.rpcAddress,
                 "status": $0.status, "incarnation": Int($0.incarnation)] as [String: Any]
            })
        } else {
            print(Table(
                headers: ["ID", "ROLE", "ADDRESS", "GOSSIP", "STATUS", "INCARNATION"],
                rows: members.map { [$0.nodeID, $0.role, $0.rpcAddress, $0.gossipAddress, $0.status, "\($0.incarnation)"] }
            ).render())
        }
    }
}

struct RingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ring", abstract: "Show the consistent-hash ring: its schedulers and how many partitions each owns by it.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let ring = try await options.withClient { client in try await client.ring() }
        if options.json {
            printJSON([
                "nodes": ring.nodes, "virtual_nodes": Int(ring.virtualNodes),
                "owners": ring.owners.map { ["partition": Int($0.partition), "node": $0.nodeID] as [String: Any] },
            ] as [String: Any])
        } else {
            let counts = Dictionary(grouping: ring.owners, by: \.nodeID).mapValues(\.count)
            print(Table(
                headers: ["NODE", "PARTITIONS", "SHARE"],
                rows: ring.nodes.map { node in
                    let owned = counts[node] ?? 0
                    let share = ring.owners.isEmpty ? 0 : Double(owned) * 100 / Double(ring.owners.count)
                    return [node, "\(owned)", "\(Int(share.rounded()))%"]
                }
            ).render())
            print("\(ring.owners.count) partitions, \(ring.virtualNodes) virtual nodes per scheduler")
        }
    }
}

struct PartitionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partitions", abstract: "List every partition: recorded owner and fence, the owner's engine state, open runs, ready tasks, and the ring's owner.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let partitions = try await options.withClient { client in try await client.partitions() }
        if options.json {
            printJSON(partitions.map {
                ["partition": Int($0.partition), "owner": $0.ownerNode, "address": $0.ownerAddress, "fence": Int($0.fence),
                 "open_runs": Int($0.openRuns), "ring_owner": $0.ringOwner,
                 "state": $0.state.isEmpty ? NSNull() : $0.state as Any,
                 "ready_tasks": $0.state.isEmpty ? NSNull() : Int($0.readyTasks) as Any] as [String: Any]
            })
        } else {
            print(Table(
                headers: ["PARTITION", "OWNER", "ADDRESS", "FENCE", "STATE", "OPEN RUNS", "READY", "RING OWNER"],
                rows: partitions.map {
                    let answered = !$0.state.isEmpty
                    return ["\($0.partition)", $0.ownerNode, $0.ownerAddress, "\($0.fence)", answered ? $0.state : "?", "\($0.openRuns)",
                            answered ? "\($0.readyTasks)" : "?", $0.ringOwner.isEmpty ? "-" : $0.ringOwner]
                }
            ).render())
        }
    }
}

struct DrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Ask scheduler NODE to hand every partition it owns to the others, leave the cluster and exit.")
    @Argument(help: "The scheduler's node id (see `weftctl members`).") var node: String
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let response = try await options.withClient { client in try await client.drain(node: node) }
        if options.json {
            printJSON(["node": response.nodeID, "message": response.message])
        } else {
            print("\(response.nodeID): \(response.message)")
        }
    }
}
