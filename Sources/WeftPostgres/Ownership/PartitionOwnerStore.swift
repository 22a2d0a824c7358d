import Logging
import WeftCore

/// The partition fence in Postgres (ARCHITECTURE.md §2): claims that advance
/// `partition_owners.range_id`, the owner map, and transactions that write only while the
/// writer's fences are still current.
///
/// ```
/// let store = PartitionOwnerStore(connection: conn, logger: logger)
/// let fences = try await store.claimAll(node: "scheduler-0", address: "10.0.0.7:7401")   // one scheduler
/// try await store.withFencedTransaction(fences: [p: fences[p]!]) { conn in
///     try conn.execute("INSERT INTO history_events (...) VALUES ...", values)           // group commit
/// }
/// ```
///
/// **Locking.** A fenced transaction first reads the rows of its partitions with
/// `SELECT ... FOR SHARE` and compares their `range_id` with the caller's fences. A claim is an
/// `UPDATE` of the same rows, whose row lock (`FOR NO KEY UPDATE`) conflicts with `FOR SHARE`:
/// - a claim waits for every fenced transaction in flight on its partitions to commit or roll
///   back, so a write checked under the old fence can never commit after the new fence exists;
/// - a fenced transaction that starts while a claim is in flight waits for it, then reads the
///   new `range_id` (read committed re-reads the locked row) and fails with
///   ``StoreError/Code/ownershipLost``.
/// Fenced transactions never wait for each other (`FOR SHARE` does not conflict with itself).
/// Both sides lock rows in ascending `partition_id` order, so a multi-partition claim and a
/// multi-partition fenced transaction cannot deadlock.
///
/// Invariants:
/// - A claim increments `range_id` by exactly one and records the claimer's node and address
///   in the same statement; fences only grow.
/// - ``withFencedTransaction(fences:_:)`` commits the body's writes only if every fence was
///   current when checked, and the check's row locks are held until the commit.
/// - ``StoreError/Code/ownershipLost`` is never retried by the caller: the engine of that
///   partition stops (STYLE.md §4).
public struct PartitionOwnerStore: Sendable {
    public let connection: PostgresConnection
    private let logger: Logger

    public init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// P, from `cluster_meta`. Throws ``StoreError/Code/clusterNotInitialized`` if the database
    /// was never migrated.
    public func partitionCount() async throws -> Int {
        try await clusterMetadata().partitionCount
    }

    /// The cluster's recorded settings (P and name). Throws
    /// ``StoreError/Code/clusterNotInitialized`` if the database was never migrated.
    public func clusterMetadata() async throws -> ClusterMetadata {
        try await connection.transaction { connection in
            try ClusterMetadata.read(on: connection)
        }
    }

    /// Claims `partition` for `node`, reachable at `address` (`HOST:PORT`): increments its
    /// fence and returns the new value. One statement.
    ///
    /// Waits for fenced transactions in flight on the partition (see the type's locking notes).
    /// Throws ``StoreError/Code/unknownPartition`` for a partition outside `0 ..< P`.
    public func claim(partition: PartitionID, node: String, address: String) async throws -> Fence {
        let rows = try await connection.query(
            """
            UPDATE partition_owners
            SET range_id = range_id + 1, owner_node = $2, owner_address = $3, updated_at = now()
            WHERE partition_id = $1
            RETURNING range_id
            """,
            [PostgresValue(partition.rawValue), PostgresValue(node), PostgresValue(address)]
        )
        guard let row = rows.first, let range = try row.int64("range_id") else {
            throw await unknownPartitionError(partition)
        }
        let fence = Fence(range)
        logger.debug("partition claimed", metadata: ["partition": "\(partition)", "partition.fence": "\(fence)", "node.id": "\(node)"])
        return fence
    }

    /// Claims every partition in `partitions` in one statement (all or none) and returns their
    /// new fences. Throws ``StoreError/Code/unknownPartition`` and claims nothing if any is
    /// outside `0 ..< P`; duplicates are claimed once. An empty set claims nothing.
    public func claimAll(partitions: some Collection<PartitionID>, node: String, address: String) async throws -> [PartitionID: Fence] {
        let ids = Set(partitions.map(\.rawValue)).sorted()
        guard !ids.isEmpty else { return [:] }
        // Lock the rows in ascending order first (deadlock-free against fenced transactions),
        // and update only if every requested partition exists.
        let rows = try await connection.query(
            """
            WITH locked AS (
                SELECT partition_id FROM partition_owners
                WHERE partition_id = ANY($1::int[])
                ORDER BY partition_id
                FOR NO KEY UPDATE
            )
            UPDATE partition_owners AS o
            SET range_id = o.range_id + 1, owner_node = $2, owner_address = $3, updated_at = now()
            FROM locked
            WHERE o.partition_id = locked.partition_id
              AND (SELECT count(*) FROM locked) = $4::int
            RETURNING o.partition_id, o.range_id
            """,
            [Self.intArray(ids), PostgresValue(node), PostgresValue(address), PostgresValue(ids.count)]
        )
        let fences = try Self.fences(of: rows)
        guard fences.count == ids.count else {
            // Nothing was claimed: name the first requested partition that does not exist.
            let existing = try await connection.query(
                "SELECT partition_id FROM partition_owners WHERE partition_id = ANY($1::int[])", [Self.intArray(ids)])
            let present = Set(try existing.compactMap { try $0.int("partition_id") })
            throw await unknownPartitionError(PartitionID(ids.first { !present.contains($0) } ?? ids[0]))
        }
        logger.debug("partitions claimed", metadata: ["partition.count": "\(fences.count)", "node.id": "\(node)"])
        return fences
    }

    /// Claims every partition of the cluster (`0 ..< P`) in one statement: the single-scheduler
    /// mode (ARCHITECTURE.md §2 "One scheduler"). Throws
    /// ``StoreError/Code/clusterNotInitialized`` if `partition_owners` is empty.
    public func claimAll(node: String, address: String) async throws -> [PartitionID: Fence] {
        let rows = try await connection.query(
            """
            WITH locked AS (
                SELECT partition_id FROM partition_owners ORDER BY partition_id FOR NO KEY UPDATE
            )
            UPDATE partition_owners AS o
            SET range_id = o.range_id + 1, owner_node = $1, owner_address = $2, updated_at = now()
            FROM locked
            WHERE o.partition_id = locked.partition_id
            RETURNING o.partition_id, o.range_id
            """,
            [PostgresValue(node), PostgresValue(address)]
        )
        let fences = try Self.fences(of: rows)
        guard !fences.isEmpty else { throw ClusterMetadata.notInitialized }
        logger.debug("partitions claimed", metadata: ["partition.count": "\(fences.count)", "node.id": "\(node)"])
        return fences
    }

    /// Every partition's owner and fence, by partition.
    /// Open runs per partition (partitions without any are absent), from the partial index of
    /// open runs.
    public func openRunsByPartition() async throws -> [PartitionID: Int] {
        let rows = try await connection.query("SELECT partition, count(*) AS n FROM runs WHERE closed_at IS NULL GROUP BY partition")
        var out: [PartitionID: Int] = [:]
        for row in rows {
            if let partition = try row.int("partition"), let count = try row.int("n") { out[PartitionID(partition)] = count }
        }
        return out
    }

    public func owners() async throws -> [PartitionOwner] {
        let rows = try await connection.query(
            """
            SELECT partition_id, range_id, owner_node, owner_address,
                   (extract(epoch FROM updated_at) * 1000000)::bigint AS updated_at_us
            FROM partition_owners ORDER BY partition_id
            """
        )
        return try rows.map { row in
            guard let id = try row.int("partition_id"), let range = try row.int64("range_id") else {
                throw PostgresError(code: .decodingFailed, message: "partition_owners has a row with NULLs")
            }
            return PartitionOwner(
                partition: PartitionID(id),
                fence: Fence(range),
                node: try row.string("owner_node"),
                address: try row.string("owner_address"),
                updatedAt: try row.int64("updated_at_us").map(PostgresTimestamp.init(unixMicroseconds:))
            )
        }
    }

    /// Runs `body` in one transaction that commits only if every partition in `fences` still
    /// has the given fence: first `SELECT ... FOR SHARE` of those rows (held until the commit, so
    /// no claim can slip in), then `body` (the group commit's multi-row INSERTs).
    ///
    /// Throws, after rolling back (nothing of `body` is written):
    /// - ``StoreError/Code/ownershipLost`` for the lowest partition whose fence moved on
    ///   (`currentFence` says to what); `body` did not run. Never retry it.
    /// - ``StoreError/Code/unknownPartition`` for a partition outside `0 ..< P`.
    /// - ``StoreError/Code/missingTablePartition`` when `body` wrote a row outside every table
    ///   partition.
    /// - ``StoreError/Code/invalidArgument`` for an empty `fences`: every write of partition
    ///   history must be fenced.
    /// - whatever `body` threw, and ``PostgresError``s (transient: retry, which re-checks).
    public func withFencedTransaction<Result>(
        fences: [PartitionID: Fence],
        _ body: @Sendable (isolated PostgresConnection) throws -> sending Result
    ) async throws -> sending Result {
        guard !fences.isEmpty else {
            throw StoreError(code: .invalidArgument, message: "a fenced transaction needs at least one partition fence")
        }
        do {
            return try await connection.transaction { connection in
                try Self.verifyFences(fences, on: connection)
                return try body(connection)
            }
        } catch {
            if let store = error as? StoreError, store.code == .ownershipLost, let partition = store.partitionID {
                logger.debug(
                    "fenced transaction refused: ownership lost",
                    metadata: ["partition": "\(partition)", "partition.fence": "\(store.expectedFence.map { "\($0)" } ?? "")"]
                )
            }
            throw StoreError.translating(error)
        }
    }

    /// The fence check of ``withFencedTransaction(fences:_:)``, for callers that run their own
    /// transaction on `connection`: must be the first statement of the transaction, whose
    /// commit then depends on it. Locks the rows `FOR SHARE` in ascending partition order.
    public static func verifyFences(_ fences: [PartitionID: Fence], on connection: isolated PostgresConnection) throws {
        let ids = fences.keys.map(\.rawValue).sorted()
        let rows = try connection.query(
            """
            SELECT partition_id, range_id FROM partition_owners
            WHERE partition_id = ANY($1::int[])
            ORDER BY partition_id
            FOR SHARE
            """,
            [intArray(ids)]
        )
        let current = try Self.fences(of: rows)
        for id in ids {
            let partition = PartitionID(id)
            guard let expected = fences[partition] else { continue }
            guard let found = current[partition] else {
                throw StoreError(code: .unknownPartition, message: "partition \(partition) does not exist in partition_owners", partitionID: partition)
            }
            guard found == expected else {
                throw StoreError.ownershipLost(partition: partition, expectedFence: expected, currentFence: found)
            }
        }
    }

    // MARK: - Helpers

    private static func fences(of rows: PostgresRows) throws -> [PartitionID: Fence] {
        var fences: [PartitionID: Fence] = [:]
        for row in rows {
            guard let id = try row.int("partition_id"), let range = try row.int64("range_id") else {
                throw PostgresError(code: .decodingFailed, message: "partition_owners has a row with NULLs")
            }
            fences[PartitionID(id)] = Fence(range)
        }
        return fences
    }

    /// An `int[]` parameter in text form: `{1,2,3}`.
    static func intArray(_ values: [Int]) -> PostgresValue {
        PostgresValue(text: "{" + values.map(String.init).joined(separator: ",") + "}")
    }

    /// ``StoreError/Code/unknownPartition``, or ``StoreError/Code/clusterNotInitialized`` when
    /// the table has no partitions at all.
    private func unknownPartitionError(_ partition: PartitionID) async -> any Error {
        let count: Int?
        do {
            count = try await connection.query("SELECT count(*) AS n FROM partition_owners")[0].int("n")
        } catch {
            return error
        }
        if count == 0 { return ClusterMetadata.notInitialized }
        return StoreError(
            code: .unknownPartition,
            message: "partition \(partition) does not exist: the cluster has partitions 0..<\(count ?? 0)",
            partitionID: partition
        )
    }
}
