import Logging
import WeftCore
import WeftPostgres
import WeftTransport
import WeftWire

/// Where each partition's owner is (ARCHITECTURE.md §2 "Finding the owner"): `partition_owners`
/// read from Postgres, cached for a few seconds and re-read after a forwarding failure; and one
/// multiplexed RPC client per scheduler address.
actor OwnerDirectory {
    private let owners: PartitionOwnerStore
    private let clientConfiguration: RPCClientConfiguration
    private let logger: Logger
    private var addresses: [Int: String] = [:]
    private var partitionCount = 0
    private var loadedAt: ContinuousClock.Instant?
    private var clients: [String: RPCClient] = [:]
    private let maxAge: Duration = .seconds(2)
    private var refreshing: Task<Void, any Error>?

    init(owners: PartitionOwnerStore, clientConfiguration: RPCClientConfiguration, logger: Logger) {
        self.owners = owners
        self.clientConfiguration = clientConfiguration
        self.logger = logger
    }

    /// P, the partition count of the cluster.
    func partitions() async throws -> Int {
        try await refreshIfStale()
        return partitionCount
    }

    /// The client for the owner of `partition`. Throws `UNAVAILABLE` when nobody owns it.
    func client(for partition: PartitionID, forceRefresh: Bool = false) async throws -> RPCClient {
        if forceRefresh { loadedAt = nil }
        try await refreshIfStale()
        guard let address = addresses[partition.rawValue] else {
            throw RPCError(.unavailable, "no scheduler owns partition \(partition) (is a scheduler running?)")
        }
        return try client(at: address)
    }

    /// Every scheduler address (for `Worker.Discover`).
    func schedulerAddresses() async throws -> [String] {
        try await refreshIfStale()
        return Array(Set(addresses.values)).sorted()
    }

    /// The client for the scheduler at `address` (`HOST:PORT`).
    func client(at address: String) throws -> RPCClient {
        if let client = clients[address] { return client }
        let endpoint: Endpoint
        do {
            endpoint = try Endpoint(parsing: address)
        } catch {
            throw RPCError(.internal, "partition_owners holds an invalid address '\(address)'")
        }
        let client = RPCClient(target: endpoint, configuration: clientConfiguration, logger: logger)
        clients[address] = client
        return client
    }

    /// Re-reads the owner map when it is older than `maxAge`. Callers that find it stale while a
    /// read is under way wait for that read (an actor is reentrant: without this, every call in
    /// the moment the map went stale read `partition_owners` itself — hundreds of reads a second
    /// under load).
    private func refreshIfStale() async throws {
        if let loadedAt, ContinuousClock.now - loadedAt < maxAge { return }
        if let refreshing { return try await refreshing.value }
        let read = Task {  // isolated to this actor, like the method that creates it
            let rows: [PartitionOwner]
            do {
                rows = try await owners.owners()
            } catch let error as PostgresError where error.isTransient && partitionCount > 0 {
                // Postgres is out of reach: a stale map beats none (owners rarely move, and a
                // wrong guess is answered NOT_OWNER). Look again soon.
                logger.warning("cannot refresh the partition owner map; using the last one", metadata: ["error": "\(error)"])
                loadedAt = ContinuousClock.now - maxAge + .milliseconds(500)
                return
            }
            var fresh: [Int: String] = [:]
            for row in rows {
                if let address = row.address, !address.isEmpty { fresh[row.partition.rawValue] = address }
            }
            addresses = fresh
            partitionCount = rows.count
            loadedAt = .now
        }
        refreshing = read
        defer { refreshing = nil }
        try await read.value
    }
}
