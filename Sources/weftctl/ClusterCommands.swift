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

struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "List the connected workers: id, scheduler, queues, task types, free slots, attempts in flight, connected since.",
        discussion: "One line per worker and scheduler: every worker keeps a stream to every scheduler. Schedulers that do not answer within 2 s are left out.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let workers = try await options.withClient { client in try await client.workers() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        if options.json {
            printJSON(workers.map {
                ["worker": $0.workerID, "scheduler": $0.scheduler, "queues": $0.queues, "task_types": $0.taskTypes,
                 "free_slots": Int($0.freeSlots), "in_flight": Int($0.inFlight),
                 "connected_at": isoTime($0.connectedAtMilliseconds)] as [String: Any]
            })
        } else if workers.isEmpty {
            print("no workers connected")
        } else {
            print(Table(
                headers: ["WORKER", "SCHEDULER", "QUEUES", "TASK TYPES", "FREE SLOTS", "IN FLIGHT", "CONNECTED"],
                rows: workers.map {
                    [$0.workerID, $0.scheduler, $0.queues.joined(separator: ","), $0.taskTypes.isEmpty ? "(any)" : $0.taskTypes.joined(separator: ","),
                     "\($0.freeSlots)", "\($0.inFlight)", "\(formatAge(now - $0.connectedAtMilliseconds)) ago"]
                }
            ).render())
        }
    }
}

struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues",
        abstract: "Per queue: tasks ready and waiting for a worker by priority, the oldest one's wait, workers and their free slots.",
        discussion: """
            UNSERVED counts ready tasks that no connected worker of the queue can run (none registered their task type). \
            RATE LIMITED and CONCURRENCY LIMITED count tasks waiting for their rate_limit or for a slot of their concurrency limit \
            (not yet ready: they hold no worker slot).
            """)
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let queues = try await options.withClient { client in try await client.queues() }
        if options.json {
            printJSON(queues.map {
                ["queue": $0.queue, "ready": Int($0.ready), "ready_by_priority": [
                    "critical": Int($0.readyCritical), "high": Int($0.readyHigh), "normal": Int($0.readyNormal), "low": Int($0.readyLow)],
                 "oldest_wait_ms": Int($0.oldestReadyMilliseconds), "workers": Int($0.workers), "free_slots": Int($0.freeSlots),
                 "unserved": Int($0.unserved), "rate_limited": Int($0.rateLimited), "concurrency_limited": Int($0.concurrencyLimited)] as [String: Any]
            })
        } else if queues.isEmpty {
            print("no queues: no ready or rate-limited tasks and no workers")
        } else {
            print(Table(
                headers: ["QUEUE", "READY", "CRITICAL", "HIGH", "NORMAL", "LOW", "OLDEST WAIT", "WORKERS", "FREE SLOTS", "UNSERVED", "RATE LIMITED", "CONCURRENCY LIMITED"],
                rows: queues.map {
                    [$0.queue, "\($0.ready)", "\($0.readyCritical)", "\($0.readyHigh)", "\($0.readyNormal)", "\($0.readyLow)",
                     $0.ready == 0 ? "-" : formatAge($0.oldestReadyMilliseconds), "\($0.workers)", "\($0.freeSlots)", "\($0.unserved)", "\($0.rateLimited)", "\($0.concurrencyLimited)"]
                }
            ).render())
        }
    }
}

/// `850ms`, `12s`, `3m20s`, `2h5m`.
func formatAge(_ milliseconds: Int64) -> String {
    let ms = max(0, milliseconds)
    if ms < 1000 { return "\(ms)ms" }
    let s = ms / 1000
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m\(s % 60)s" }
    return "\(s / 3600)h\(s % 3600 / 60)m"
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

struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "The result cache (tasks with cache: {key, ttl}).",
        subcommands: [Purge.self])

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete cached outputs: one key of a task type, every key of a task type, or --all.",
            discussion: "The next attempt whose key was purged runs on a worker again (and caches its output anew).")
        @Option(name: .customLong("type"), help: "The task type whose entries to delete.") var taskType: String?
        @Option(help: "The key (as the definition's cache.key evaluates it) to delete; without it every key of --type.") var key: String?
        @Flag(help: "Delete every entry of every task type.") var all = false
        @OptionGroup var options: ClientOptions

        func validate() throws {
            if all && (taskType != nil || key != nil) { throw ValidationError("--all deletes everything: leave out --type and --key") }
            if !all && taskType == nil { throw ValidationError("name --type (and --key), or give --all") }
        }

        func run() async throws {
            let purged = try await options.withClient { client in try await client.purgeCache(taskType: taskType, key: key, all: all) }
            if options.json {
                printJSON(["purged": purged])
            } else {
                print("purged \(purged) cached output\(purged == 1 ? "" : "s")")
            }
        }
    }
}

struct BreakersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "breakers",
        abstract: "The circuit breakers of task types (circuit_breaker: in definitions): state, the window's outcomes, when an open one probes.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let breakers = try await options.withClient { client in try await client.breakers() }
        if options.json {
            printJSON(breakers.map {
                ["task_type": $0.taskType, "state": $0.state, "failures": Int($0.failures), "requests": Int($0.requests),
                 "open_until_ms": Int($0.openUntilMilliseconds)] as [String: Any]
            })
        } else if breakers.isEmpty {
            print("no circuit breakers yet: none of the task types with one has finished an attempt")
        } else {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            print(Table(
                headers: ["TASK TYPE", "STATE", "FAILURES", "OUTCOMES", "PROBES IN"],
                rows: breakers.map {
                    [$0.taskType, $0.state.uppercased(), "\($0.failures)", "\($0.requests)",
                     $0.state == "open" ? DurationText.format(.milliseconds(max(0, $0.openUntilMilliseconds - now))) : "-"]
                }
            ).render())
        }
    }
}
