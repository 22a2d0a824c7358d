import Testing
import WeftCore
import WeftPostgres
import _WeftTestKit

@Suite("PartitionOwnerStore", .enabled(if: IntegrationEnvironment.postgresConfigured))
struct PartitionOwnerStoreTests {
    private let logger = SchemaFixtures.logger

    private func historyCount(_ connection: PostgresConnection) async throws -> Int {
        try await SchemaFixtures.count("SELECT count(*) AS n FROM history_events", on: connection)
    }

    @Test("a claim bumps range_id by one and records the owner and its address")
    func claim_bumpsFenceAndRecordsOwner() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection, partitionCount: 4)
            let store = PartitionOwnerStore(connection: connection, logger: logger)
            let before = try await store.owners()
            #expect(before.map(\.fence) == Array(repeating: Fence(0), count: 4))
            #expect(before.allSatisfy { $0.node == nil && $0.address == nil && $0.updatedAt == nil })

            #expect(try await store.claim(partition: PartitionID(2), node: "scheduler-a", address: "10.0.0.1:7401") == Fence(1))
            #expect(try await store.claim(partition: PartitionID(2), node: "scheduler-b", address: "10.0.0.2:7401") == Fence(2))

            let owners = try await store.owners()
            let owner = try #require(owners.first { $0.partition == PartitionID(2) })
            #expect(owner.fence == Fence(2))
            #expect(owner.node == "scheduler-b")
            #expect(owner.address == "10.0.0.2:7401")
            let updatedAt = try #require(owner.updatedAt)
            #expect(abs(updatedAt.unixMicroseconds - PostgresTimestamp.now().unixMicroseconds) < 60_000_000)
            #expect(owners.filter { $0.partition != PartitionID(2) }.allSatisfy { $0.fence == Fence(0) && $0.node == nil })
        }
    }

    @Test("a claim of a partition outside 0..<P is refused")
    func claim_unknownPartition_throwsUnknownPartition() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection, partitionCount: 4)
            let store = PartitionOwnerStore(connection: connection, logger: logger)
            let error = try await #require(throws: StoreError.self) {
                try await store.claim(partition: PartitionID(4), node: "a", address: "h:1")
            }
            #expect(error.code == .unknownPartition)
            #expect(error.partitionID == PartitionID(4))
        }
    }

    @Test("claimAll claims every partition in one statement and owners() lists them")
    func claimAll_everyPartition_oneStatement() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection, partitionCount: 64)
            let store = PartitionOwnerStore(connection: connection, logger: logger)
            _ = try await store.claim(partition: PartitionID(5), node: "old", address: "old:1")

            let fences = try await store.claimAll(node: "scheduler-0", address: "127.0.0.1:7401")
            #expect(fences.count == 64)
            #expect(fences[PartitionID(5)] == Fence(2))
            #expect(fences.filter { $0.key != PartitionID(5) }.allSatisfy { $0.value == Fence(1) })

            // One statement: every row carries the same transaction id and statement time.
            let rows = try await connection.query(
                "SELECT count(DISTINCT xmin::text) AS transactions, count(DISTINCT updated_at) AS times FROM partition_owners")
            #expect(try rows[0].int("transactions") == 1)
            #expect(try rows[0].int("times") == 1)

            let owners = try await store.owners()
            #expect(owners.map(\.partition) == (0..<64).map(PartitionID.init))
            #expect(owners.allSatisfy { $0.node == "scheduler-0" && $0.address == "127.0.0.1:7401" })
            #expect(Dictionary(uniqueKeysWithValues: owners.map { ($0.partition, $0.fence) }) == fences)
        }
    }

    @Test("claimAll of a set with an unknown partition claims nothing")
    func claimAll_setWithUnknownPartition_claimsNothing() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection, partitionCount: 8)
            let store = PartitionOwnerStore(connection: connection, logger: logger)
            let error = try await #require(throws: StoreError.self) {
                try await store.claimAll(partitions: [PartitionID(1), PartitionID(2), PartitionID(99)], node: "a", address: "h:1")
            }
            #expect(error.code == .unknownPartition)
            #expect(error.partitionID == PartitionID(99))
            #expect(try await store.owners().allSatisfy { $0.fence == Fence(0) })

            let fences = try await store.claimAll(partitions: [PartitionID(3), PartitionID(1), PartitionID(3)], node: "a", address: "h:1")
            #expect(fences == [PartitionID(1): Fence(1), PartitionID(3): Fence(1)])
            #expect(try await store.claimAll(partitions: [PartitionID](), node: "a", address: "h:1").isEmpty)
        }
    }

    @Test("a stale writer holding the old fence is rejected with ownershipLost and writes nothing")
    func fencedTransaction_staleFence_throwsOwnershipLostAndWritesNothing() async throws {
        try await TestSchema.withShared { schema in
            try await SchemaFixtures.migrate(schema.connection, partitionCount: 4)
            let old = PartitionOwnerStore(connection: schema.connection, logger: logger)
            let new = PartitionOwnerStore(connection: try await schema.connect(), logger: logger)
            let partition = PartitionID(3)
            let oldFence = try await old.claim(partition: partition, node: "scheduler-a", address: "a:7401")
            let run = SchemaFixtures.runID(at: SchemaFixtures.now)

            // While it owns the partition, the old owner writes.
            try await old.withFencedTransaction(fences: [partition: oldFence]) { connection in
                try SchemaFixtures.insertEvent(run, seq: 0, at: SchemaFixtures.now, partition: 3, on: connection)
            }
            #expect(try await historyCount(schema.connection) == 1)

            // Then a second claimer takes over; the first one's next batch must fail.
            let newFence = try await new.claim(partition: partition, node: "scheduler-b", address: "b:7401")
            #expect(newFence > oldFence)
            let error = try await #require(throws: StoreError.self) {
                try await old.withFencedTransaction(fences: [partition: oldFence]) { connection in
                    try SchemaFixtures.insertEvent(run, seq: 1, at: SchemaFixtures.now, partition: 3, on: connection)
                }
            }
            #expect(error.code == .ownershipLost)
            #expect(error.partitionID == partition)
            #expect(error.expectedFence == oldFence)
            #expect(error.currentFence == newFence)
            #expect(try await historyCount(schema.connection) == 1)

            // The new owner writes under its fence.
            try await new.withFencedTransaction(fences: [partition: newFence]) { connection in
                try SchemaFixtures.insertEvent(run, seq: 1, at: SchemaFixtures.now, partition: 3, on: connection)
            }
            #expect(try await historyCount(schema.connection) == 2)
        }
    }

    @Test("a multi-partition batch with one stale fence is refused whole")
    func fencedTransaction_oneStaleFenceAmongMany_writesNothing() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection, partitionCount: 8)
            let store = PartitionOwnerStore(connection: connection, logger: logger)
            var fences = try await store.claimAll(partitions: [PartitionID(1), PartitionID(4), PartitionID(6)], node: "a", address: "a:1")
            let run = SchemaFixtures.runID(at: SchemaFixtures.now)
            let written = try await store.withFencedTransaction(fences: fences) { connection in
                for (index, partition) in [1, 4, 6].enumerated() {
                    try SchemaFixtures.insertEvent(run, seq: index, at: SchemaFixtures.now, partition: partition, on: connection)
                }
                return 3
            }
            #expect(written == 3)

            let stolen = try await store.claim(partition: PartitionID(4), node: "b", address: "b:1")
            let error = try await #require(throws: StoreError.self) {
                try await store.withFencedTransaction(fences: fences) { connection in
                    try SchemaFixtures.insertEvent(run, seq: 10, at: SchemaFixtures.now, partition: 1, on: connection)
                }
            }
            #expect(error.code == .ownershipLost)
            #expect(error.partitionID == PartitionID(4))
            #expect(error.currentFence == stolen)
            #expect(try await historyCount(connection) == 3)

            // Without the lost partition the batch goes through.
            fences[PartitionID(4)] = nil
            try await store.withFencedTransaction(fences: fences) { connection in
                try SchemaFixtures.insertEvent(run, seq: 10, at: SchemaFixtures.now, partition: 1, on: connection)
            }
            #expect(try await historyCount(connection) == 4)
        }
    }

    @Test("a claim waits for a fenced transaction in flight, which commits under the old fence")
    func claim_whileFencedTransactionInFlight_waitsForItsCommit() async throws {
        try await TestSchema.withShared { schema in
            try await SchemaFixtures.migrate(schema.connection, partitionCount: 4)
            let writerConnection = try await schema.connect()
            let claimerConnection = try await schema.connect()
            let writer = PartitionOwnerStore(connection: writerConnection, logger: logger)
            let claimer = PartitionOwnerStore(connection: claimerConnection, logger: logger)
            let observer = schema.connection
            let partition = PartitionID(1)
            let fence = try await writer.claim(partition: partition, node: "a", address: "a:1")
            let writerPID = try await SchemaFixtures.backendPID(writerConnection)
            let claimerPID = try await SchemaFixtures.backendPID(claimerConnection)

            // The observer holds an advisory lock that the writer's body waits for, which parks
            // the writer after its fence check, inside its transaction.
            let gate = Int64.random(in: 1 ... .max)
            try await observer.execute("SELECT pg_advisory_lock($1)", [.int64(gate)])
            let run = SchemaFixtures.runID(at: SchemaFixtures.now)
            let write = Task {
                try await writer.withFencedTransaction(fences: [partition: fence]) { connection in
                    try connection.execute("SELECT pg_advisory_xact_lock($1)", [.int64(gate)])
                    try SchemaFixtures.insertEvent(run, seq: 0, at: SchemaFixtures.now, partition: 1, on: connection)
                }
            }
            try await SchemaFixtures.waitUntil("the writer waits at the gate") {
                try await SchemaFixtures.isWaitingForLock(writerPID, observer: observer)
            }
            let claim = Task { try await claimer.claim(partition: partition, node: "b", address: "b:1") }
            try await SchemaFixtures.waitUntil("the claim waits for the writer's FOR SHARE lock") {
                try await SchemaFixtures.isWaitingForLock(claimerPID, observer: observer)
            }
            #expect(try await SchemaFixtures.count("SELECT count(*) AS n FROM partition_owners WHERE range_id > $1", [.int64(fence.rawValue)], on: observer) == 0)

            try await observer.execute("SELECT pg_advisory_unlock($1)", [.int64(gate)])
            try await write.value
            let newFence = try await claim.value
            #expect(newFence == Fence(fence.rawValue + 1))
            #expect(try await historyCount(observer) == 1)

            // The writer's next batch is refused.
            let error = try await #require(throws: StoreError.self) {
                try await writer.withFencedTransaction(fences: [partition: fence]) { connection in
                    try SchemaFixtures.insertEvent(run, seq: 1, at: SchemaFixtures.now, partition: 1, on: connection)
                }
            }
            #expect(error.code == .ownershipLost)
            #expect(try await historyCount(observer) == 1)
        }
    }

    @Test("a fenced transaction started during a claim waits for it and then fails")
    func fencedTransaction_duringClaim_waitsThenThrowsOwnershipLost() async throws {
        try await TestSchema.withShared { schema in
            try await SchemaFixtures.migrate(schema.connection, partitionCount: 4)
            let writerConnection = try await schema.connect()
            let writer = PartitionOwnerStore(connection: writerConnection, logger: logger)
            let observer = schema.connection
            let partition = PartitionID(0)
            let fence = try await writer.claim(partition: partition, node: "a", address: "a:1")
            let writerPID = try await SchemaFixtures.backendPID(writerConnection)

            // The claim is held open in an explicit transaction on the observer.
            try await observer.executeScript("BEGIN")
            try await observer.execute(
                "UPDATE partition_owners SET range_id = range_id + 1, owner_node = 'b', owner_address = 'b:1', updated_at = now() WHERE partition_id = 0")
            let run = SchemaFixtures.runID(at: SchemaFixtures.now)
            let write = Task {
                try await writer.withFencedTransaction(fences: [partition: fence]) { connection in
                    try SchemaFixtures.insertEvent(run, seq: 0, at: SchemaFixtures.now, partition: 0, on: connection)
                }
            }
            try await SchemaFixtures.waitUntil("the fenced transaction waits for the claim") {
                try await isWaitingForLockOnFreshSession(writerPID)
            }
            try await observer.executeScript("COMMIT")
            let error = try await #require(throws: StoreError.self) { try await write.value }
            #expect(error.code == .ownershipLost)
            #expect(error.currentFence == Fence(fence.rawValue + 1))
            #expect(try await historyCount(observer) == 0)
        }
    }

    /// Whether `pid` waits for a lock, asked on a separate session (the observer is inside a
    /// transaction, whose snapshot of `pg_stat_activity` would not change).
    private func isWaitingForLockOnFreshSession(_ pid: Int) async throws -> Bool {
        let connection = try await TestSchema.connect()
        let waiting = try await SchemaFixtures.isWaitingForLock(pid, observer: connection)
        await connection.close()
        return waiting
    }

    @Test("a body that throws rolls the fenced transaction back; an empty fence set is refused")
    func fencedTransaction_bodyThrowsOrNoFences() async throws {
        struct Abort: Error {}
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection, partitionCount: 2)
            let store = PartitionOwnerStore(connection: connection, logger: logger)
            let fence = try await store.claim(partition: PartitionID(0), node: "a", address: "a:1")
            let run = SchemaFixtures.runID(at: SchemaFixtures.now)
            await #expect(throws: Abort.self) {
                try await store.withFencedTransaction(fences: [PartitionID(0): fence]) { connection in
                    try SchemaFixtures.insertEvent(run, seq: 0, at: SchemaFixtures.now, on: connection)
                    throw Abort()
                }
            }
            #expect(try await historyCount(connection) == 0)

            let empty = try await #require(throws: StoreError.self) {
                try await store.withFencedTransaction(fences: [:]) { _ in }
            }
            #expect(empty.code == .invalidArgument)

            let unknown = try await #require(throws: StoreError.self) {
                try await store.withFencedTransaction(fences: [PartitionID(7): Fence(0)]) { _ in }
            }
            #expect(unknown.code == .unknownPartition)
        }
    }

    @Test("a fenced write outside every table partition is reported as missingTablePartition")
    func fencedTransaction_rowOutsideTablePartitions_throwsMissingTablePartition() async throws {
        try await TestSchema.with { (connection) async throws in
            try await SchemaFixtures.migrate(connection, partitionCount: 2)
            let store = PartitionOwnerStore(connection: connection, logger: logger)
            let fence = try await store.claim(partition: PartitionID(1), node: "a", address: "a:1")
            let future = SchemaFixtures.timestamp(2030, 1, 1)
            let error = try await #require(throws: StoreError.self) {
                try await store.withFencedTransaction(fences: [PartitionID(1): fence]) { connection in
                    try SchemaFixtures.insertEvent(SchemaFixtures.runID(at: future), seq: 0, at: future, partition: 1, on: connection)
                }
            }
            #expect(error.code == .missingTablePartition)
            #expect(error.table == "history_events")
            #expect(!error.description.contains("2030"))
        }
    }
}
