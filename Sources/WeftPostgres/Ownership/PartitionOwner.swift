import WeftCore

/// A row of `partition_owners`: who last claimed a partition, where it can be reached, and the
/// fence that claim set. The coordinator's owner map (ARCHITECTURE.md §2 "Finding the owner").
public struct PartitionOwner: Hashable, Sendable {
    public var partition: PartitionID
    /// The current fence (`range_id`); 0 for a partition never claimed.
    public var fence: Fence
    /// The node id of the last claimer; `nil` for a partition never claimed.
    public var node: String?
    /// The last claimer's advertised `HOST:PORT`; `nil` for a partition never claimed.
    public var address: String?
    /// When the last claim happened (database clock); `nil` for a partition never claimed.
    public var updatedAt: PostgresTimestamp?

    public init(partition: PartitionID, fence: Fence, node: String?, address: String?, updatedAt: PostgresTimestamp?) {
        self.partition = partition
        self.fence = fence
        self.node = node
        self.address = address
        self.updatedAt = updatedAt
    }
}
