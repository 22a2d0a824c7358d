import Logging
import WeftCore
import WeftPostgres
import WeftTransport
import WeftWire

/// Where each partition's owner is (ARCHITECTURE.md §2 "Finding the owner"), and one multiplexed
/// RPC client per scheduler address.
///
/// - In cluster mode (the coordinator is a gossip member) the **ring** names the owner: it is
///   computed locally from the alive schedulers, so it follows a join, a leave or a death as soon
///   as gossip tells this coordinator — no Postgres read on the call path.
/// - `partition_owners`, read from Postgres and cached for a few seconds, is the fallback: without
///   gossip, when the ring is empty, and after the ring's owner failed a call (it has not taken
///   the partition yet, is handing it off, or this coordinator's view of it is out of date) — the
///   recorded fence holder is then the one to ask.
actor OwnerDirectory {
    /// A scheduler to call for a partition, and where it is.
    struct Route {
        var client: RPCClient
        var address: String
    }

    private let owners: PartitionOwnerStore
    /// The RPC address of the ring's owner of a partition (cluster mode), nil when unknown.
    private let ringOwner: @Sendable (PartitionID) -> String?
    /// Every alive scheduler's RPC address from gossip (cluster mode).
    private let ringMembers: @Sendable () -> [String]
    private let clientConfiguration: RPCClientConfiguration
    private let logger: Logger
    private var addresses: [Int: String] = [:]
    private var partitionCount = 0
    private var loadedAt: ContinuousClock.Instant?
    private var clients: [String: RPCClient] = [:]
    private let maxAge: Duration = .seconds(2)
    private var refreshing: Task<Void, any Error>?

    init(
        owners: PartitionOwnerStore, clientConfiguration: RPCClientConfiguration, logger: Logger,
        ringOwner: @escaping @Sendable (PartitionID) -> String? = { _ in nil }, ringMembers: @escaping @Sendable () -> [String] = { [] }
    ) {
        self.owners = owners
        self.ringOwner = ringOwner
        self.ringMembers = ringMembers
        self.clientConfiguration = clientConfiguration
        self.logger = logger
    }

    /// P, the partition count of the cluster.
    func partitions() async throws -> Int {
        try await refreshIfStale()
        return partitionCount
    }

    /// The owner of `partition`: the ring's, unless it is `avoiding` (the address that just failed)
    /// or unknown; then the one `partition_owners` records, read again when `forceRefresh`.
    /// Throws `UNAVAILABLE` when nobody owns it.
    func route(for partition: PartitionID, avoiding: String? = nil, forceRefresh: Bool = false) async throws -> Route {
        if let address = ringOwner(partition), address != avoiding {
            return Route(client: try client(at: address), address: address)
        }
        if forceRefresh { loadedAt = nil }
        try await refreshIfStale()
        guard let address = addresses[partition.rawValue] else {
            throw RPCError(.unavailable, "no scheduler owns partition \(partition) (is a scheduler running?)")
        }
        return Route(client: try client(at: address), address: address)
    }

    /// Every scheduler address (for `Worker.Discover`): the alive schedulers gossip knows (one
    /// that has just joined owns nothing yet, but will), and those recorded as owners.
    func schedulerAddresses() async throws -> [String] {
        try await refreshIfStale()
        return Array(Set(addresses.values).union(ringMembers())).sorted()
    }

    /// The client for the scheduler at `address` (`HOST:PORT`).
    func client(at address: String) throws -> RPCClient {
        if let client = clients[address] { return client }
        let endpoint: Endpoint
        do {
            endpoint = try Endpoint(parsing: address)
        } catch {
            throw RPCError(.internal, "a scheduler advertises an invalid address \(MessageText.quoted(address))")
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
