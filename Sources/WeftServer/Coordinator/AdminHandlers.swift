import WeftCore
import WeftMembership
import WeftPostgres
import WeftRedis
import WeftTransport
import WeftWire

/// The admin service on a coordinator (ARCHITECTURE §3, §10): `members` and `ring` from its gossip
/// view (cluster mode), `partitions` from Postgres (recorded owner, fence, open runs) beside the
/// ring's word and each owner's memory (ready depth, engine state), `workers` and `queues` from
/// every scheduler's memory, merged, and `drain NODE` forwarded to that scheduler.
enum AdminHandlers {
    /// `weftctl cache purge`: deletes result-cache entries in Redis — a key of a task type, every
    /// key of a type, or (with `all`, and nothing else) everything.
    static func registerBreakers(_ breakers: CircuitBreakers?, into router: inout RPCRouter) {
        router.unary(AdminMethods.breakers, request: BreakersRequest.self, response: BreakersResponse.self) { _, _ in
            guard let breakers else {
                throw RPCError(.failedPrecondition, "circuit breakers live in Redis: start the coordinator with --redis URL (or WEFT_REDIS_URL)")
            }
            do {
                return BreakersResponse(breakers: try await breakers.statuses().map {
                    BreakerInfo(
                        taskType: $0.taskType, state: $0.state, failures: UInt64($0.failures), requests: UInt64($0.requests),
                        openUntilMilliseconds: $0.openUntilMilliseconds)
                })
            } catch {
                throw RPCError(.unavailable, "Redis is unreachable: \(MessageText.escaped("\(error)", limit: 300))")
            }
        }
    }

    static func registerCachePurge(store: ResultCacheStore?, into router: inout RPCRouter) {
        router.unary(AdminMethods.purgeCache, request: PurgeCacheRequest.self, response: PurgeCacheResponse.self) { request, _ in
            for (field, value, limit) in [("task_type", request.taskType, 128), ("key", request.key, 512)] {
                guard value.utf8.count <= limit, !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                    throw RPCError(.invalidArgument, "\(field) must be at most \(limit) bytes without control characters")
                }
            }
            if request.all {
                guard request.taskType.isEmpty, request.key.isEmpty else {
                    throw RPCError(.invalidArgument, "all purges every entry: give it alone, or name a task type (and a key) instead")
                }
            } else if request.taskType.isEmpty {
                throw RPCError(.invalidArgument, "name the task type whose entries to purge (and a key), or ask for all")
            }
            guard let store else {
                throw RPCError(.failedPrecondition, "the result cache lives in Redis: start the coordinator with --redis URL (or WEFT_REDIS_URL)")
            }
            do {
                let purged = try await store.purge(
                    taskType: request.taskType.isEmpty ? nil : request.taskType, key: request.key.isEmpty ? nil : request.key)
                return PurgeCacheResponse(purged: UInt64(purged))
            } catch {
                throw RPCError(.unavailable, "Redis is unreachable: \(MessageText.escaped("\(error)", limit: 300)); nothing was purged")
            }
        }
    }

    static func register(
        membership: @escaping @Sendable () -> MembershipShell?, owners: PartitionOwnerStore, directory: OwnerDirectory,
        into router: inout RPCRouter
    ) {
        router.unary(AdminMethods.members, request: MembersRequest.self, response: MembersResponse.self) { _, _ in
            let shell = try clusterMode(membership)
            return MembersResponse(members: shell.members.map { member in
                MemberInfo(
                    nodeID: member.id, role: member.role.description, gossipAddress: member.gossipAddress, rpcAddress: member.rpcAddress,
                    status: member.status.description, incarnation: member.incarnation)
            })
        }
        router.unary(AdminMethods.ring, request: RingRequest.self, response: RingResponse.self) { _, _ in
            let ring = try clusterMode(membership).ring
            let count = try await directory.partitions()
            return RingResponse(
                nodes: ring.nodes, virtualNodes: UInt32(ring.virtualNodes),
                owners: (0..<count).map { RingOwner(partition: UInt32($0), nodeID: ring.owner(of: PartitionID($0)) ?? "") })
        }
        router.unary(AdminMethods.partitions, request: PartitionsRequest.self, response: PartitionsResponse.self) { _, context in
            let ring = membership()?.ring
            let open = try await owners.openRunsByPartition()
            let recorded = try await owners.owners()
            // Each recorded owner is asked for what only its memory holds (ready depth, engine
            // state), all at once, within 2 s: one that does not answer leaves those fields empty.
            let addresses = Set(recorded.compactMap(\.address).filter { !$0.isEmpty })
            let answers = await ask(addresses, AdminMethods.partitions, PartitionsRequest(), as: PartitionsResponse.self, context: context, directory: directory)
            var live: [PartitionKey: PartitionInfo] = [:]
            for info in answers.flatMap(\.partitions) {
                live[PartitionKey(partition: info.partition, node: info.ownerNode, fence: info.fence)] = info
            }
            return PartitionsResponse(partitions: recorded.map { owner in
                // The owner's own word counts only for the fence recorded now (not a stale engine).
                let mine = live[PartitionKey(partition: UInt32(owner.partition.rawValue), node: owner.node ?? "", fence: owner.fence.rawValue)]
                return PartitionInfo(
                    partition: UInt32(owner.partition.rawValue), ownerNode: owner.node ?? "", ownerAddress: owner.address ?? "",
                    fence: owner.fence.rawValue, openRuns: UInt64(open[owner.partition] ?? 0),
                    ringOwner: ring?.owner(of: owner.partition) ?? "", readyTasks: mine?.readyTasks ?? 0, state: mine?.state ?? "")
            })
        }
        router.unary(AdminMethods.workers, request: WorkersRequest.self, response: WorkersResponse.self) { _, context in
            let addresses = try await schedulerAddresses(membership: membership, owners: owners)
            let answers = await ask(addresses, AdminMethods.workers, WorkersRequest(), as: WorkersResponse.self, context: context, directory: directory)
            return WorkersResponse(workers: answers.flatMap(\.workers).sorted { ($0.workerID, $0.scheduler) < ($1.workerID, $1.scheduler) })
        }
        router.unary(AdminMethods.queues, request: QueuesRequest.self, response: QueuesResponse.self) { _, context in
            let addresses = try await schedulerAddresses(membership: membership, owners: owners)
            let answers = await ask(addresses, AdminMethods.queues, QueuesRequest(), as: QueuesResponse.self, context: context, directory: directory)
            var merged: [String: QueueInfo] = [:]
            for info in answers.flatMap(\.queues) {
                guard var sum = merged[info.queue] else {
                    merged[info.queue] = info
                    continue
                }
                sum.readyCritical += info.readyCritical
                sum.readyHigh += info.readyHigh
                sum.readyNormal += info.readyNormal
                sum.readyLow += info.readyLow
                sum.oldestReadyMilliseconds = max(sum.oldestReadyMilliseconds, info.oldestReadyMilliseconds)
                sum.workers = max(sum.workers, info.workers)  // every worker connects to every scheduler
                sum.freeSlots += info.freeSlots
                sum.unserved += info.unserved
                sum.rateLimited += info.rateLimited
                sum.concurrencyLimited += info.concurrencyLimited
                merged[info.queue] = sum
            }
            return QueuesResponse(queues: merged.values.sorted { $0.queue < $1.queue })
        }
        router.unary(AdminMethods.drain, request: DrainRequest.self, response: DrainResponse.self) { request, context in
            guard !request.nodeID.isEmpty, request.nodeID.utf8.count <= 256 else {
                throw RPCError(.invalidArgument, "drain needs a node id (at most 256 bytes)")
            }
            // The node's RPC address: from gossip, else from the recorded owners.
            var address = membership()?.members.first { $0.id == request.nodeID && $0.role == .scheduler && $0.status.isActive }?.rpcAddress
            if address == nil {
                address = try await owners.owners().first { $0.node == request.nodeID }?.address
            }
            guard let address else {
                throw RPCError(.notFound, "no scheduler \(MessageText.quoted(request.nodeID)) is a member or owns a partition")
            }
            let client = try await directory.client(at: address)
            return try await client.unary(
                AdminMethods.drain, request: request, response: DrainResponse.self,
                options: CallOptions(deadline: context.deadline ?? .now + .seconds(30), waitForReady: false))
        }
    }

    /// Asks every scheduler at `addresses` at once, within 2 s (or the caller's deadline if
    /// sooner); those that do not answer are left out.
    private static func ask<Request: WireMessage, Response: WireMessage>(
        _ addresses: Set<String>, _ method: String, _ request: Request, as: Response.Type, context: ServerContext, directory: OwnerDirectory
    ) async -> [Response] {
        let deadline = min(context.deadline ?? .now + .seconds(2), .now + .seconds(2))
        return await withTaskGroup(of: Response?.self) { group in
            for address in addresses {
                group.addTask {
                    guard let client = try? await directory.client(at: address) else { return nil }
                    return try? await client.unary(method, request: request, response: Response.self, options: CallOptions(deadline: deadline, waitForReady: false))
                }
            }
            var answers: [Response] = []
            for await answer in group { if let answer { answers.append(answer) } }
            return answers
        }
    }

    /// The schedulers' RPC addresses: the recorded partition owners, and the alive schedulers
    /// gossip knows (cluster mode; a scheduler that owns nothing yet still has workers).
    private static func schedulerAddresses(membership: () -> MembershipShell?, owners: PartitionOwnerStore) async throws -> Set<String> {
        var addresses = Set(try await owners.owners().compactMap(\.address).filter { !$0.isEmpty })
        for member in membership()?.members ?? [] where member.role == .scheduler && member.status.isActive && !member.rpcAddress.isEmpty {
            addresses.insert(member.rpcAddress)
        }
        return addresses
    }

    private struct PartitionKey: Hashable {
        var partition: UInt32
        var node: String
        var fence: Int64
    }

    private static func clusterMode(_ membership: () -> MembershipShell?) throws -> MembershipShell {
        guard let shell = membership() else {
            throw RPCError(.failedPrecondition, "this coordinator is not in cluster mode: start it with --gossip HOST:PORT --seeds HOST:PORT,...")
        }
        return shell
    }
}
