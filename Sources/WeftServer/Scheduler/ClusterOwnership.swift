import Logging
import Metrics
import WeftCore
import WeftMembership
import WeftPostgres
import WeftRedis

/// The shell around one `PartitionOwnershipStateMachine` per partition, in cluster mode
/// (ARCHITECTURE §2): the ring (from SWIM) says which partitions are this scheduler's; this actor
/// takes their Redis leases, advances their Postgres fences, starts their engines (recovery), renews
/// the leases, hands partitions off when the ring moves them, and stops an engine whose lease or
/// fence is gone. It decides nothing: every step is an action of a machine.
///
/// I/O is batched by kind, which matters when a node starts or dies and a hundred partitions move
/// at once: leases one Redis round trip each, fences of all the partitions in one transaction,
/// recovery of all of them in one read. Recovery and handoff run in tasks of their own, so renewals
/// go on meanwhile.
///
/// Metrics: `weft_partitions_owned` (sampled by the service), `weft_lease_renew_failures_total`,
/// `weft_handoffs_total`, `weft_fence_losses_total` (the core's).
actor ClusterOwnership {
    struct Configuration: Sendable {
        var cluster: String
        var nodeID: String
        /// Written with the fence: where coordinators and workers reach this scheduler.
        var advertise: String
        var partitionCount: Int
        var redisURL: String
        var settings: PartitionOwnershipStateMachine.Settings
    }

    typealias Machine = PartitionOwnershipStateMachine

    private let configuration: Configuration
    private let owners: PartitionOwnerStore
    private let core: SchedulerCore
    private let logger: Logger
    /// `node-id#nonce`: unique to this process, so a restarted node never mistakes its old lease
    /// for its own.
    let leaseValue: String
    private var machines: [Machine]
    private var redis: RedisConnection?
    private var due: [PartitionID: [Machine.Timer: ContinuousClock.Instant]] = [:]
    private var ring = HashRing(nodes: [])
    private var inactive: Set<String> = []
    private var pending: [(PartitionID, Machine.Action)] = []
    private var wakeUp: CheckedContinuation<Void, Never>?
    /// Recoveries and handoffs in flight (each removes itself when done), cancelled when `run` ends.
    private var background: [Int: Task<Void, Never>] = [:]
    private var nextBackgroundID = 0
    private var leaving = false
    private let renewFailures = Counter(label: "weft_lease_renew_failures_total")
    private let handoffs = Counter(label: "weft_handoffs_total")

    init(configuration: Configuration, owners: PartitionOwnerStore, core: SchedulerCore, logger: Logger) {
        self.configuration = configuration
        self.owners = owners
        self.core = core
        self.logger = logger
        self.leaseValue = "\(configuration.nodeID)#\(UInt64.random(in: 1 ... .max))"
        self.machines = (0..<configuration.partitionCount).map {
            Machine(partition: PartitionID($0), settings: configuration.settings)
        }
    }

    /// The partitions whose engines run here.
    var owned: [PartitionID] { machines.filter { $0.engineFence != nil }.map(\.partition) }

    /// The machine states, for the admin calls and tests.
    var states: [PartitionID: Machine.State] {
        Dictionary(uniqueKeysWithValues: machines.map { ($0.partition, $0.state) })
    }

    // MARK: Events

    /// The member view changed: the ring (alive and suspect schedulers) says who owns what.
    func membershipChanged(_ members: [Member]) {
        guard !leaving else { return }
        let schedulers = members.activeSchedulers.map(\.id)
        let next = HashRing(nodes: schedulers, virtualNodes: ring.virtualNodes)
        let nowInactive = Set(members.filter { !$0.status.isActive }.map(\.id))
        guard next != ring || nowInactive != inactive else { return }
        let previous = ring
        ring = next
        inactive = nowInactive
        var gained: [Int] = []
        for index in machines.indices {
            let partition = machines[index].partition
            let mine = ring.owner(of: partition) == configuration.nodeID
            let before = previous.owner(of: partition)
            let deadHolder = before.flatMap { inactive.contains($0) && $0 != configuration.nodeID ? "\($0)#" : nil }
            if mine && before != configuration.nodeID { gained.append(partition.rawValue) }
            enqueue(partition, machines[index].ringChanged(isMine: mine, deadHolder: deadHolder))
        }
        logger.info("ring changed", metadata: ["schedulers": "\(ring.nodes)", "partitions.gained": "\(gained)"])
        wake()
    }

    /// The core stopped an engine because its fence moved on.
    func fenceLost(_ partition: PartitionID) {
        enqueue(partition, machines[partition.rawValue].fenceLost())
        wake()
    }

    /// Hands every partition off and releases the leases (graceful shutdown, `drain`), waiting at
    /// most `grace`.
    func leave(grace: Duration) async {
        leaving = true
        for index in machines.indices {
            enqueue(machines[index].partition, machines[index].ringChanged(isMine: false))
        }
        wake()
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline, machines.contains(where: { $0.state != .idle }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    // MARK: The loop

    /// Carries out actions and fires timers until cancelled.
    func run() async {
        while !Task.isCancelled {
            fireDueTimers()
            await execute()
            let next = due.values.flatMap(\.values).min()
            let pause = min(next.map { $0 - .now } ?? .milliseconds(100), .milliseconds(100))
            if pending.isEmpty && pause > .zero {
                await sleepOrWake(pause)
            }
        }
        for task in background.values { task.cancel() }
        await redis?.close()
    }

    private func sleepOrWake(_ pause: Duration) async {
        let timer = Task { [weak self] in
            try? await Task.sleep(for: pause)
            await self?.wake()
        }
        await withCheckedContinuation { wakeUp = $0 }
        timer.cancel()
    }

    private func wake() {
        wakeUp?.resume()
        wakeUp = nil
    }

    private func enqueue(_ partition: PartitionID, _ actions: [Machine.Action]) {
        for action in actions { pending.append((partition, action)) }
    }

    private func fireDueTimers() {
        let now = ContinuousClock.now
        for (partition, timers) in due {
            for (timer, at) in timers where at <= now {
                due[partition]?[timer] = nil
                enqueue(partition, machines[partition.rawValue].timerFired(timer))
            }
        }
    }

    /// Carries out what is pending, kind by kind, until nothing is (results of one step are
    /// actions of the next).
    private func execute() async {
        while !pending.isEmpty {
            let batch = pending
            pending = []
            var acquire: [(PartitionID, String?)] = []
            var fence: [PartitionID] = []
            var start: [PartitionID: Fence] = [:]
            var handOff: [PartitionID] = []
            var renew: [PartitionID] = []
            var release: [PartitionID] = []
            for (partition, action) in batch {
                switch action {
                case .acquireLease(let takeOver): acquire.append((partition, takeOver))
                case .advanceFence: fence.append(partition)
                case .startEngine(let value): start[partition] = value
                case .handOff: handOff.append(partition)
                case .stopEngine:
                    await core.stopEngine(partition, reason: "its lease or fence was taken by another scheduler", fenceLost: false)
                case .verifyFence(let fence):
                    let current = try? await owners.owners().first { $0.partition == partition }?.fence
                    // Unreadable (Postgres away): assume it moved on — a new fence is always safe.
                    enqueue(partition, machines[partition.rawValue].fenceVerified(current == fence))
                case .renewLease: renew.append(partition)
                case .releaseLease: release.append(partition)
                case .schedule(let timer, let after): due[partition, default: [:]][timer] = .now + after
                }
            }
            for (partition, takeOver) in acquire {
                let result = await acquireLease(partition, takeOver: takeOver)
                if result != .acquired {
                    logger.debug("lease not acquired", metadata: ["partition": "\(partition)", "result": "\(result)", "take_over": "\(takeOver ?? "-")"])
                }
                enqueue(partition, machines[partition.rawValue].leaseResult(result))
            }
            if !fence.isEmpty { await advanceFences(fence) }
            if !start.isEmpty { startEngines(start) }
            if !handOff.isEmpty { handOffEngines(handOff) }
            for partition in renew {
                let result = await renewLease(partition)
                if result != .acquired { renewFailures.increment() }
                enqueue(partition, machines[partition.rawValue].renewed(result))
            }
            for partition in release {
                await releaseLease(partition)
                enqueue(partition, machines[partition.rawValue].released())
            }
        }
    }

    private func advanceFences(_ partitions: [PartitionID]) async {
        do {
            let fences = try await owners.claimAll(partitions: partitions, node: configuration.nodeID, address: configuration.advertise)
            for partition in partitions {
                enqueue(partition, machines[partition.rawValue].fenceAdvanced(fences[partition]))
            }
        } catch {
            logger.warning("cannot advance partition fences; retrying", metadata: ["partitions": "\(partitions.count)", "error": "\(error)"])
            for partition in partitions { enqueue(partition, machines[partition.rawValue].fenceAdvanced(nil)) }
        }
    }

    private func startEngines(_ fences: [PartitionID: Fence]) {
        logger.info("taking over partitions", metadata: ["partitions": "\(fences.keys.map(\.rawValue).sorted())"])
        let core = self.core
        inBackground {
            await core.claimed(fences)
            do {
                try await core.recover(fences: fences)
            } catch {
                await self.recoveryFailed(Array(fences.keys), error)
            }
        }
    }

    /// Runs `work` beside the loop (renewals go on meanwhile), tracked until it ends.
    private func inBackground(_ work: @escaping @Sendable () async -> Void) {
        nextBackgroundID += 1
        let id = nextBackgroundID
        background[id] = Task {
            await work()
            self.background[id] = nil
        }
    }

    private func recoveryFailed(_ partitions: [PartitionID], _ error: any Error) async {
        logger.error("cannot recover partitions; releasing them", metadata: ["error": "\(error)"])
        for partition in partitions {
            await core.stopEngine(partition, reason: "recovery failed", fenceLost: false)
            enqueue(partition, machines[partition.rawValue].fenceLost())
        }
        wake()
    }

    private func handOffEngines(_ partitions: [PartitionID]) {
        handoffs.increment(by: partitions.count)
        logger.info("handing partitions off", metadata: ["partitions": "\(partitions.map(\.rawValue).sorted())"])
        let core = self.core
        inBackground {
            _ = await core.handOff(partitions)
            await self.handedOff(partitions)
        }
    }

    private func handedOff(_ partitions: [PartitionID]) {
        for partition in partitions { enqueue(partition, machines[partition.rawValue].handedOff()) }
        wake()
    }

    // MARK: Redis

    private func key(_ partition: PartitionID) -> String {
        LeaseService.key(cluster: configuration.cluster, partition: partition.rawValue)
    }

    /// The Redis connection, opened (again) when needed; nil while Redis is unreachable.
    private func leases() async -> LeaseService? {
        if let redis, await redis.isConnected { return LeaseService(connection: redis) }
        await redis?.close()
        redis = nil
        do {
            let connection = try await RedisConnection.connect(
                url: configuration.redisURL, connectTimeout: .seconds(1), commandTimeout: .seconds(2), logger: logger)
            redis = connection
            return LeaseService(connection: connection)
        } catch {
            logger.warning("Redis unreachable: leases cannot be taken or renewed", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private func acquireLease(_ partition: PartitionID, takeOver: String?) async -> Machine.LeaseResult {
        guard let leases = await leases() else { return .failed }
        let ttl = configuration.settings.leaseTTL
        do {
            let taken = if let takeOver {
                try await leases.takeOver(key: key(partition), value: leaseValue, ttl: ttl, holderPrefix: takeOver)
            } else {
                try await leases.acquire(key: key(partition), value: leaseValue, ttl: ttl)
            }
            return taken ? .acquired : .held
        } catch {
            logger.debug("lease acquisition failed", metadata: ["partition": "\(partition)", "error": "\(error)"])
            return .failed
        }
    }

    private func renewLease(_ partition: PartitionID) async -> Machine.LeaseResult {
        guard let leases = await leases() else { return .failed }
        do {
            return try await leases.renew(key: key(partition), value: leaseValue, ttl: configuration.settings.leaseTTL) ? .acquired : .held
        } catch {
            return .failed
        }
    }

    private func releaseLease(_ partition: PartitionID) async {
        guard let leases = await leases() else { return }  // it expires by itself
        _ = try? await leases.release(key: key(partition), value: leaseValue)
    }
}
