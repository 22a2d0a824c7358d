import WeftCore
import WeftWire

/// The admin calls (`weftctl members | ring | partitions | workers | queues | drain`), answered by a
/// coordinator.
extension WeftClient {
    /// The members the coordinator's gossip knows (cluster mode), by id.
    public func members() async throws -> [MemberInfo] {
        let response: MembersResponse = try await call(AdminMethods.members, MembersRequest())
        return response.members
    }

    /// The ring: its schedulers and every partition's owner by it (cluster mode).
    public func ring() async throws -> RingResponse {
        try await call(AdminMethods.ring, RingRequest())
    }

    /// Every partition's recorded owner, fence and open runs, and the ring's owner beside it.
    public func partitions() async throws -> [PartitionInfo] {
        let response: PartitionsResponse = try await call(AdminMethods.partitions, PartitionsRequest())
        return response.partitions
    }

    /// The workers connected to the schedulers: one entry per worker and scheduler (every worker
    /// keeps a stream to every scheduler), with its queues, task types, free slots and attempts in
    /// flight. Schedulers that do not answer within 2 s are left out.
    public func workers() async throws -> [WorkerInfo] {
        let response: WorkersResponse = try await call(AdminMethods.workers, WorkersRequest())
        return response.workers
    }

    /// Per queue, the tasks ready and waiting for a worker (by priority, the oldest one's wait),
    /// the workers that take it and their free slots, over every scheduler.
    public func queues() async throws -> [QueueInfo] {
        let response: QueuesResponse = try await call(AdminMethods.queues, QueuesRequest())
        return response.queues
    }

    /// Deletes result-cache entries: `key` of `taskType`, every entry of `taskType` (no key), or,
    /// with `all`, every entry. Returns how many were deleted.
    public func purgeCache(taskType: String? = nil, key: String? = nil, all: Bool = false) async throws -> Int {
        let response: PurgeCacheResponse = try await call(
            AdminMethods.purgeCache, PurgeCacheRequest(taskType: taskType ?? "", key: key ?? "", all: all))
        return Int(clamping: response.purged)
    }

    /// The circuit breakers of task types, cluster-wide.
    public func breakers() async throws -> [BreakerInfo] {
        let response: BreakersResponse = try await call(AdminMethods.breakers, BreakersRequest())
        return response.breakers
    }

    /// Asks scheduler `node` to hand every partition off, leave the cluster and exit.
    public func drain(node: String) async throws -> DrainResponse {
        try await call(AdminMethods.drain, DrainRequest(nodeID: node))
    }
}
