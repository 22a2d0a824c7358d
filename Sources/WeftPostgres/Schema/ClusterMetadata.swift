/// The cluster-wide settings fixed when the cluster is created (`cluster_meta`).
public struct ClusterMetadata: Hashable, Sendable {
    /// P: runs map to partitions `0 ..< P` (ARCHITECTURE.md §2). Never changes.
    public var partitionCount: Int
    /// The cluster's name (`--cluster`), also the Redis key prefix and the handshake label.
    public var clusterName: String

    public init(partitionCount: Int, clusterName: String) {
        self.partitionCount = partitionCount
        self.clusterName = clusterName
    }

    static let partitionCountKey = "partition_count"
    static let clusterNameKey = "cluster_name"

    /// The recorded values, `nil` where absent. Throws
    /// ``StoreError/Code/corruptClusterMetadata`` for a partition count that is not a number in
    /// range.
    static func readValues(on connection: isolated PostgresConnection) throws -> (partitionCount: Int?, clusterName: String?) {
        let rows = try connection.query(
            "SELECT key, value FROM cluster_meta WHERE key = ANY($1::text[])",
            [PostgresValue(text: "{\(partitionCountKey),\(clusterNameKey)}")]
        )
        var count: Int?
        var name: String?
        for row in rows {
            switch try row.string("key") {
            case partitionCountKey:
                let text = try row.string("value") ?? ""
                guard let value = Int(text), (1...WeftSchema.maximumPartitionCount).contains(value) else {
                    throw StoreError(code: .corruptClusterMetadata, message: "cluster_meta.partition_count is not a valid partition count")
                }
                count = value
            case clusterNameKey:
                name = try row.string("value")
            default:
                break
            }
        }
        return (count, name)
    }

    /// The recorded metadata; throws ``StoreError/Code/clusterNotInitialized`` when the database
    /// was never migrated.
    static func read(on connection: isolated PostgresConnection) throws -> ClusterMetadata {
        let exists = try connection.query("SELECT to_regclass('cluster_meta') IS NOT NULL AS present")
        guard try exists.first?.bool("present") == true else { throw notInitialized }
        let values = try readValues(on: connection)
        guard let count = values.partitionCount else { throw notInitialized }
        return ClusterMetadata(partitionCount: count, clusterName: values.clusterName ?? WeftSchema.defaultClusterName)
    }

    static var notInitialized: StoreError {
        StoreError(code: .clusterNotInitialized, message: "the cluster has no partition count: run `weft migrate` against this database first")
    }

    /// Throws ``StoreError/Code/corruptClusterMetadata`` unless `partition_owners` holds exactly
    /// the rows `0 ..< partitionCount`.
    static func checkOwnerRows(partitionCount: Int, on connection: isolated PostgresConnection) throws {
        let rows = try connection.query("SELECT count(*) AS n, min(partition_id) AS low, max(partition_id) AS high FROM partition_owners")
        let row = rows[0]
        guard try row.int("n") == partitionCount, try row.int("low") == 0, try row.int("high") == partitionCount - 1 else {
            throw StoreError(
                code: .corruptClusterMetadata,
                message: "partition_owners does not hold exactly the partitions 0..<\(partitionCount) recorded in cluster_meta"
            )
        }
    }
}
