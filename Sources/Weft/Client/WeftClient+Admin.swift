import WeftCore
import WeftWire

/// The admin calls (`weftctl members | ring | partitions | drain`), answered by a coordinator.
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

    /// Asks scheduler `node` to hand every partition off, leave the cluster and exit.
    public func drain(node: String) async throws -> DrainResponse {
        try await call(AdminMethods.drain, DrainRequest(nodeID: node))
    }
}
