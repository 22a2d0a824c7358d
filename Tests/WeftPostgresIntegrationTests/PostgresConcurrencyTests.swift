import Testing
import WeftCore
import WeftPostgres
import _WeftTestKit

/// Each connection blocks a thread of its own executor, never the cooperative pool (about two
/// threads on our 2-core machines): these tests fail if a blocking libpq call ran on the pool.
@Suite("PostgresConnection concurrency", .enabled(if: IntegrationEnvironment.postgresConfigured))
struct PostgresConcurrencyTests {
    private enum Finished: Sendable {
        case query(Duration)
        case progress(Duration)
    }

    @Test("four blocking sleeps run in parallel while another task keeps making progress")
    func query_fourConcurrentSleeps_otherTasksKeepRunning() async throws {
        var connections: [PostgresConnection] = []
        for _ in 0..<4 { connections.append(try await TestSchema.connect()) }
        // Four 2 s sleeps: on the pool (two threads) they would hold both threads for 4 s and the
        // progress task could not run until two had finished. The margins are wide on purpose:
        // other tests share the pool while this one runs.
        let finishedQueries = Locked(0)
        let clock = ContinuousClock()
        let start = clock.now
        let finished = try await withThrowingTaskGroup(of: Finished.self) { group in
            for connection in connections {
                group.addTask {
                    _ = try await connection.query("SELECT pg_sleep(2)")
                    finishedQueries.withLock { $0 += 1 }
                    return .query(clock.now - start)
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(20))
                for _ in 0..<100 { await Task.yield() }
                return .progress(clock.now - start)
            }
            var finished: [Finished] = []
            for try await item in group {
                if case .progress = item { #expect(finishedQueries.withLock { $0 } == 0, "the pool was blocked until queries finished") }
                finished.append(item)
            }
            return finished
        }
        let queries = finished.compactMap { if case .query(let at) = $0 { at } else { nil } }
        #expect(queries.count == 4)
        #expect(queries.max()! < .seconds(6), "the sleeps did not run in parallel (in series: 8 s): \(queries)")
        for connection in connections { await connection.close() }
    }

    @Test("many tasks sharing several connections all get their own answers")
    func query_manyTasksOnSeveralConnections_allComplete() async throws {
        var connections: [PostgresConnection] = []
        for _ in 0..<4 { connections.append(try await TestSchema.connect()) }
        let pool = connections
        let answers = try await withThrowingTaskGroup(of: (Int, Int?).self) { group in
            for value in 0..<200 {
                group.addTask {
                    let rows = try await pool[value % pool.count].query("SELECT $1::int * 2 AS doubled", [.int(value)])
                    return (value, try rows[0].int("doubled"))
                }
            }
            var answers: [Int: Int?] = [:]
            for try await (value, doubled) in group { answers[value] = doubled }
            return answers
        }
        #expect(answers.count == 200)
        #expect(answers.allSatisfy { $0.value == $0.key * 2 })
        for connection in connections { await connection.close() }
    }
}
