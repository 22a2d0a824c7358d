import Logging
import Metrics
import WeftCore
import WeftEngine
import WeftTransport
import WeftWire

/// Fires the cron schedules of the partitions this scheduler serves (ARCHITECTURE §4 "Also": a
/// schedule is fired by the owner of its partition).
///
/// **Exactly once per tick.** A fire is a start with the idempotency key `schedule/<id>/<tick>`
/// and a run id in the schedule's own partition; the key is stored in the run's transaction. Only
/// after the start is acknowledged does the cursor in `schedules` move (a conditional update that
/// also checks the partition's fence). A crash between the two, a restart, a failover to another
/// scheduler: whoever owns the partition next finds the cursor at the tick, fires it again, and
/// the start answers with the run the key already names. A stale owner cannot start anything (its
/// writes are fenced) nor move the cursor (the update checks the fence).
///
/// **Changes.** Operators change schedules through a coordinator, which writes Postgres. This loop
/// sees the change within `pollInterval`: it asks one cheap query (`max(revision)`, `count(*)` of
/// its partitions' schedules) each poll and reads them again only when that moved or the set of
/// partitions served changed. Between polls it sleeps until the earliest due tick, so fires are on
/// time whatever the poll interval.
///
/// What to do with each tick (fire, skip, buffer) is `SchedulePolicy`'s decision; this is the
/// shell that carries it out.
struct ScheduleFirer: Sendable {
    let core: SchedulerCore
    let store: RunStore
    let clock: any WallClock
    let partitionCount: Int
    var pollInterval: Duration = .seconds(1)
    let logger: Logger

    /// The most schedules one scheduler holds in memory (the rest of its partitions' are logged).
    static let maxSchedules = 100_000
    /// At most this many steps of one schedule per pass (a long catch-up continues next pass).
    static let maxStepsPerPass = 64
    /// Schedules worked on at once in a pass.
    static let concurrency = 32

    private struct Entry: Sendable {
        var row: StoredSchedule
        var policy: SchedulePolicy
        var input: [UInt8]?
    }

    private enum Outcome: Sendable {
        /// Wake at this time (nil: nothing due).
        case wait(Int64?)
        /// The row changed under us (an operator, a new owner): read the schedules again.
        case stale
    }

    private static let ticks: [String: Counter] = Dictionary(uniqueKeysWithValues: ["fired", "skipped_overlap", "skipped_missed", "buffered", "failed"].map {
        ($0, Counter(label: "weft_schedule_ticks_total", dimensions: [("outcome", $0)]))
    })

    func run() async {
        var entries: [Int64: Entry] = [:]
        var servedFences: [PartitionID: Fence] = [:]
        var revision = ""
        var reload = true
        while !Task.isCancelled {
            var wake = clock.nowMilliseconds() + Int64(pollInterval / .milliseconds(1))
            do {
                let fences = await core.servingFences
                if fences != servedFences { reload = true }
                if fences.isEmpty {
                    entries = [:]
                    servedFences = fences
                } else {
                    let partitions = fences.keys.sorted()
                    let current = try await store.scheduleRevision(partitions: partitions)
                    if current != revision || reload {
                        entries = try await load(partitions, keeping: entries)
                        revision = current
                        servedFences = fences
                        reload = false
                    }
                    let (earliest, stale) = await pass(&entries, fences: fences)
                    if stale { reload = true }
                    if let earliest { wake = min(wake, earliest) }
                }
            } catch {
                logger.warning("cannot read the schedules; retrying", metadata: ["error": "\(error)"])
                reload = true
            }
            let pause = max(10, wake - clock.nowMilliseconds())
            try? await Task.sleep(for: .milliseconds(pause))  // cancellation ends the loop
        }
    }

    /// The schedules of `partitions`, keeping the inputs already read of those unchanged.
    private func load(_ partitions: [PartitionID], keeping old: [Int64: Entry]) async throws -> [Int64: Entry] {
        let rows = try await store.schedules(partitions: partitions, limit: Self.maxSchedules)
        if rows.count == Self.maxSchedules {
            logger.error("too many schedules for one scheduler; some are not fired", metadata: ["limit": "\(Self.maxSchedules)"])
        }
        var entries: [Int64: Entry] = [:]
        for row in rows where !row.paused {
            do {
                let policy = try ScheduleRules.policy(of: row)
                entries[row.id] = Entry(row: row, policy: policy, input: old[row.id]?.row.revision == row.revision ? old[row.id]?.input : nil)
            } catch {
                logger.error("a stored schedule cannot be read; it is not fired", metadata: ["schedule": "\(row.name)", "error": "\(error)"])
            }
        }
        return entries
    }

    /// Works every due schedule; returns the earliest tick still to come, and whether a row
    /// changed under us.
    private func pass(_ entries: inout [Int64: Entry], fences: [PartitionID: Fence]) async -> (Int64?, Bool) {
        let previous = entries.values.compactMap(\.row.lastRunID)
        let open = await core.openRuns(among: previous)
        let now = clock.nowMilliseconds()
        // One look at each schedule: due now (worked below), or the time it is next due.
        var due: [Entry] = []
        var earliest: Int64?
        for entry in entries.values where fences[entry.row.partition] != nil {
            switch entry.policy.step(entry.row.cursor, now: now, previousOpen: entry.row.lastRunID.map(open.contains) ?? false) {
            case .wait(let until?): earliest = min(earliest ?? until, until)
            case .wait(nil): break
            default: due.append(entry)
            }
        }
        var stale = false
        await withTaskGroup(of: (Entry, Outcome).self) { group in
            var index = 0
            func add() {
                let entry = due[index]
                index += 1
                group.addTask { await work(entry, fence: fences[entry.row.partition]!) }
            }
            while index < min(Self.concurrency, due.count) { add() }
            while let (entry, outcome) = await group.next() {
                entries[entry.row.id] = entry
                switch outcome {
                case .stale: stale = true
                case .wait(let until?): earliest = min(earliest ?? until, until)
                case .wait(nil): break
                }
                if index < due.count { add() }
            }
        }
        return (earliest, stale)
    }

    /// Carries out the steps of one schedule until it waits.
    private func work(_ start: Entry, fence: Fence) async -> (Entry, Outcome) {
        var entry = start
        for _ in 0..<Self.maxStepsPerPass {
            let previousOpen: Bool
            if let last = entry.row.lastRunID { previousOpen = await !core.openRuns(among: [last]).isEmpty } else { previousOpen = false }
            let step = entry.policy.step(entry.row.cursor, now: clock.nowMilliseconds(), previousOpen: previousOpen)
            let metadata: Logger.Metadata = ["schedule": "\(entry.row.name)"]
            do {
                switch step {
                case .wait(let until):
                    return (entry, .wait(until))
                case .fire(let tick, let then):
                    guard let run = try await fire(&entry, tick: tick) else {
                        // Refused for good (the workflow is gone, the input no longer fits it):
                        // the tick is skipped, so that the schedule does not stop here.
                        Self.ticks["failed"]?.increment()
                        guard try await advance(&entry, to: then, fired: nil, fence: fence) else { return (entry, .stale) }
                        continue
                    }
                    guard try await advance(&entry, to: then, fired: (tick, run), fence: fence) else { return (entry, .stale) }
                    Self.ticks["fired"]?.increment()
                    logger.info("schedule fired", metadata: metadata.merging(["tick": "\(tick)", "run.id": "\(run)"]) { a, _ in a })
                case .skip(let tick, let count, let reason, let then):
                    guard try await advance(&entry, to: then, fired: nil, fence: fence) else { return (entry, .stale) }
                    Self.ticks[reason == .missed ? "skipped_missed" : "skipped_overlap"]?.increment(by: count)
                    logger.notice("schedule ticks skipped", metadata: metadata.merging(["tick": "\(tick)", "count": "\(count)", "reason": "\(reason.rawValue)"]) { a, _ in a })
                case .buffer(let tick, let then):
                    guard try await advance(&entry, to: then, fired: nil, fence: fence) else { return (entry, .stale) }
                    Self.ticks["buffered"]?.increment()
                    logger.info("schedule tick buffered until the previous run closes", metadata: metadata.merging(["tick": "\(tick)"]) { a, _ in a })
                }
            } catch {
                // Postgres or the partition is not available now: the cursor stays, the tick is
                // fired again next pass (its key makes that safe).
                logger.warning("schedule tick not fired yet; retrying", metadata: metadata.merging(["error": "\(error)"]) { a, _ in a })
                return (entry, .wait(clock.nowMilliseconds() + 1000))
            }
        }
        return (entry, .wait(clock.nowMilliseconds()))
    }

    /// Starts the run of `tick`; its id, or nil when the start was refused for a reason that
    /// retrying cannot change. Throws when it may succeed later (unavailable, not the owner).
    private func fire(_ entry: inout Entry, tick: Int64) async throws -> RunID? {
        if entry.input == nil {
            guard let input = try await store.scheduleInput(id: entry.row.id) else { throw RPCError(.unavailable, "the schedule was deleted") }
            entry.input = input
        }
        var random = SystemRandomNumberGenerator()
        let runID = RunID.random(in: entry.row.partition, count: partitionCount, unixMilliseconds: UInt64(clock.nowMilliseconds()), using: &random)
        let request = StartRunRequest(
            workflow: entry.row.workflow, version: entry.row.version, input: entry.input ?? Array("null".utf8),
            idempotencyKey: entry.row.fireKey(tick: tick), runID: runID)
        do {
            return try await core.startRun(request).runID
        } catch let error as RPCError where [.invalidArgument, .notFound, .alreadyExists].contains(error.code) {
            logger.error("a schedule's run was refused; the tick is skipped", metadata: [
                "schedule": "\(entry.row.name)", "tick": "\(tick)", "error": "\(error)",
            ])
            return nil
        }
    }

    /// Moves the cursor in Postgres, then in memory. false: the row changed under us.
    private func advance(_ entry: inout Entry, to then: ScheduleCursor, fired: (tick: Int64, run: RunID)?, fence: Fence) async throws -> Bool {
        let moved = try await store.advanceSchedule(
            id: entry.row.id, from: entry.row.cursor, to: then, fired: fired, partition: entry.row.partition, fence: fence)
        guard moved else { return false }
        entry.row.cursor = then
        if let fired {
            entry.row.lastTick = fired.tick
            entry.row.lastRunID = fired.run
        }
        return true
    }
}
