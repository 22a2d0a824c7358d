import WeftCore
import WeftEngine
import WeftTransport
import WeftWire

/// Cron schedules on a coordinator (issue 11, ARCHITECTURE §4 "Also"): create, read, pause and
/// delete are served from Postgres; the owner of a schedule's partition notices the change within a
/// poll (`ScheduleFirer`) and fires it. A trigger or a backfill starts runs like a client would,
/// forwarded to that owner, each with a run id in the schedule's partition so that all of a
/// schedule's runs live with it.
enum ScheduleHandlers {
    static func register(reads: ReadPool, directory: OwnerDirectory, maxInputBytes: Int, clock: any WallClock, into router: inout RPCRouter) {
        router.unary(AdminMethods.createSchedule, request: CreateScheduleRequest.self, response: ScheduleInfo.self) { request, context in
            let now = clock.nowMilliseconds()
            let count = try await directory.partitions()
            var row = try ScheduleRules.row(from: request.spec, paused: request.paused, partitionCount: count, maxInputBytes: maxInputBytes, now: now)
            let created = try await reads.withStore(for: context.peer.address) { store -> StoredSchedule? in
                guard try await store.definition(name: row.workflow, version: row.version.isEmpty ? nil : row.version) != nil else {
                    let what = row.version.isEmpty ? "" : " version \(MessageText.quoted(row.version))"
                    throw RPCError(.notFound, "no workflow \(MessageText.quoted(row.workflow))\(what): apply it before scheduling it")
                }
                guard try await store.scheduleCount() < ScheduleRules.maxSchedules else {
                    throw RPCError(.resourceExhausted, "the cluster holds \(ScheduleRules.maxSchedules) schedules, the most it takes; delete some first")
                }
                return try await store.createSchedule(row)
            }
            guard let created else {
                throw RPCError(.alreadyExists, "a schedule named \(MessageText.quoted(row.name)) exists (delete it first to replace it)")
            }
            row = created
            return ScheduleRules.info(row)
        }
        router.unary(AdminMethods.getSchedule, request: ScheduleRequest.self, response: ScheduleInfo.self) { request, context in
            let found = try await existing(request.name, reads: reads, caller: context.peer.address)
            return ScheduleRules.info(found)
        }
        router.unary(AdminMethods.listSchedules, request: ListSchedulesRequest.self, response: ListSchedulesResponse.self) { _, context in
            let all = try await reads.withStore(for: context.peer.address) { try await $0.schedules(limit: ScheduleRules.maxListed) }
            return ListSchedulesResponse(schedules: all.map { ScheduleRules.info($0, upcoming: 1) })
        }
        router.unary(AdminMethods.pauseSchedule, request: PauseScheduleRequest.self, response: ScheduleInfo.self) { request, context in
            let found = try await existing(request.name, reads: reads, caller: context.peer.address)
            let now = clock.nowMilliseconds()
            // Resumed: from the next tick after now (what came while it was paused is not caught up).
            let next = request.paused ? nil : (try? ScheduleRules.policy(of: found))?.schedule.next(after: now)
            let changed = try await reads.withStore(for: context.peer.address) {
                try await $0.setSchedulePaused(name: request.name, paused: request.paused, next: next)
            }
            guard let changed else { throw RPCError(.notFound, "no schedule \(MessageText.quoted(request.name))") }
            return ScheduleRules.info(changed)
        }
        router.unary(AdminMethods.deleteSchedule, request: ScheduleRequest.self, response: DeleteScheduleResponse.self) { request, context in
            try ScheduleRules.checkName(request.name)
            let deleted = try await reads.withStore(for: context.peer.address) { try await $0.deleteSchedule(name: request.name) }
            guard deleted else { throw RPCError(.notFound, "no schedule \(MessageText.quoted(request.name))") }
            return DeleteScheduleResponse(deleted: true)
        }
        router.unary(AdminMethods.triggerSchedule, request: ScheduleRequest.self, response: TriggerScheduleResponse.self) { request, context in
            let found = try await existing(request.name, reads: reads, caller: context.peer.address)
            let count = try await directory.partitions()
            var random = SystemRandomNumberGenerator()
            let runID = RunID.random(in: found.partition, count: count, unixMilliseconds: UInt64(clock.nowMilliseconds()), using: &random)
            let start = StartRunRequest(workflow: found.workflow, version: found.version, input: found.input, runID: runID)
            let started = try await CoordinatorHandlers.forward(found.partition, directory: directory, context: context) { client, options in
                try await client.unary(ClientMethods.startRun, request: start, response: StartRunResponse.self, options: options)
            }
            return TriggerScheduleResponse(run: started.runID.description)
        }
        router.unary(AdminMethods.backfillSchedule, request: BackfillScheduleRequest.self, response: BackfillScheduleResponse.self) { request, context in
            let found = try await existing(request.name, reads: reads, caller: context.peer.address)
            let now = clock.nowMilliseconds()
            guard request.fromMilliseconds <= request.toMilliseconds, request.fromMilliseconds >= 0 else {
                throw RPCError(.invalidArgument, "backfill needs from <= to (Unix milliseconds)")
            }
            guard request.toMilliseconds <= now else {
                throw RPCError(.invalidArgument, "backfill fires past ticks: 'to' is in the future (the schedule fires those itself)")
            }
            let policy = try ScheduleRules.policy(of: found)
            var ticks: [Int64] = []
            var cursor = policy.schedule.next(after: request.fromMilliseconds - 1)
            while let tick = cursor, tick <= request.toMilliseconds {
                guard ticks.count < ScheduleRules.maxBackfillTicks else {
                    throw RPCError(
                        .invalidArgument,
                        "the range holds more than \(ScheduleRules.maxBackfillTicks) ticks of \(MessageText.quoted(found.cron)); backfill it in parts")
                }
                ticks.append(tick)
                cursor = policy.schedule.next(after: tick)
            }
            let count = try await directory.partitions()
            // A few starts at a time: each is one forwarded call, committed in the owner's batches.
            let results = try await withThrowingTaskGroup(of: (Int, StartRunResponse).self) { group in
                var out = [StartRunResponse?](repeating: nil, count: ticks.count)
                var random = SystemRandomNumberGenerator()
                var next = 0
                func add(_ index: Int) {
                    let runID = RunID.random(in: found.partition, count: count, unixMilliseconds: UInt64(now), using: &random)
                    let start = StartRunRequest(
                        workflow: found.workflow, version: found.version, input: found.input,
                        idempotencyKey: found.fireKey(tick: ticks[index]), runID: runID)
                    group.addTask {
                        let answer = try await CoordinatorHandlers.forward(found.partition, directory: directory, context: context) { client, options in
                            try await client.unary(ClientMethods.startRun, request: start, response: StartRunResponse.self, options: options)
                        }
                        return (index, answer)
                    }
                }
                while next < min(8, ticks.count) {
                    add(next)
                    next += 1
                }
                while let (index, answer) = try await group.next() {
                    out[index] = answer
                    if next < ticks.count {
                        add(next)
                        next += 1
                    }
                }
                return out.compactMap { $0 }
            }
            return BackfillScheduleResponse(
                ticks: UInt32(ticks.count), created: UInt32(results.count { $0.created }), runs: results.map(\.runID.description))
        }
    }

    private static func existing(_ name: String, reads: ReadPool, caller: String) async throws -> StoredSchedule {
        try ScheduleRules.checkName(name)
        guard let found = try await reads.withStore(for: caller, { try await $0.schedule(named: name) }) else {
            throw RPCError(.notFound, "no schedule \(MessageText.quoted(name))")
        }
        return found
    }
}

/// What a schedule may be, and how one is shown.
enum ScheduleRules {
    /// The most schedules `ListSchedules` returns.
    static let maxListed = 10_000
    /// The most schedules a cluster holds (each scheduler fires those of its partitions from memory).
    static let maxSchedules = 100_000
    /// The most ticks one backfill fires.
    static let maxBackfillTicks = 1_000
    /// The longest catch-up window: a year.
    static let maxCatchupWindowMilliseconds: Int64 = 366 * 86_400_000
    /// Schedule names follow the workflow-name rule.
    static let maxNameLength = WorkflowDefinition.Limits().maxNameLength

    /// The partition a schedule lives in: its owner fires it, and its runs are started there.
    static func partition(ofSchedule name: String, count: Int) -> PartitionID {
        PartitionID(Int(StableHash.xxh64("schedule/" + name) % UInt64(count)))
    }

    static func checkName(_ name: String) throws(RPCError) {
        guard NameRules.isValidName(name, maxLength: maxNameLength) else {
            throw RPCError(.invalidArgument, "invalid schedule name \(MessageText.quoted(name)): \(NameRules.nameRule(maxNameLength))")
        }
    }

    /// A new schedule's row from a request, every field checked; `INVALID_ARGUMENT` naming the
    /// field otherwise. Its cursor is the first tick after `now`.
    static func row(from spec: ScheduleSpec, paused: Bool, partitionCount: Int, maxInputBytes: Int, now: Int64) throws -> StoredSchedule {
        try checkName(spec.name)
        guard !spec.workflow.isEmpty, spec.workflow.utf8.count <= RequestChecks.maxNameBytes, spec.version.utf8.count <= RequestChecks.maxNameBytes else {
            throw RPCError(.invalidArgument, "a schedule needs a workflow name (at most \(RequestChecks.maxNameBytes) bytes), and a version of at most that")
        }
        let schedule: CronSchedule
        do {
            schedule = try CronSchedule(cron: spec.cron, timeZone: spec.timezone)
        } catch {
            throw RPCError(.invalidArgument, "schedule \(MessageText.quoted(spec.name)): \(error.message)")
        }
        let overlap: ScheduleOverlap
        if spec.overlap.isEmpty {
            overlap = .skip
        } else if let known = ScheduleOverlap(rawValue: spec.overlap) {
            overlap = known
        } else {
            throw RPCError(.invalidArgument, "unknown overlap policy \(MessageText.quoted(spec.overlap)): use skip, buffer_one or allow")
        }
        guard (0...maxCatchupWindowMilliseconds).contains(spec.catchupWindowMilliseconds) else {
            throw RPCError(.invalidArgument, "the catch-up window must be between 0 (the default, 10m) and 366 days")
        }
        guard spec.inputJSON.count <= maxInputBytes else {
            throw RPCError(.invalidArgument, "the schedule's input is \(spec.inputJSON.count) bytes; the limit is \(maxInputBytes)")
        }
        let input = spec.inputJSON.isEmpty ? Array("null".utf8) : spec.inputJSON
        do {
            try JSONPayload.checkUniqueMemberNames(input)
        } catch {
            throw RPCError(.invalidArgument, "the schedule's input is not one JSON value: \(error)")
        }
        return StoredSchedule(
            id: 0, name: spec.name, partition: partition(ofSchedule: spec.name, count: partitionCount), workflow: spec.workflow,
            version: spec.version, cron: schedule.expression.text, timezone: schedule.timeZoneID, input: input, overlap: overlap,
            catchupWindowMilliseconds: spec.catchupWindowMilliseconds == 0 ? SchedulePolicy.defaultCatchupWindowMilliseconds : spec.catchupWindowMilliseconds,
            paused: paused, cursor: ScheduleCursor(next: schedule.next(after: now)), lastTick: nil, lastRunID: nil, revision: 0,
            createdAtMilliseconds: now)
    }

    /// The rules of a stored schedule (checked when it was created).
    static func policy(of row: StoredSchedule) throws(RPCError) -> SchedulePolicy {
        do {
            return SchedulePolicy(
                schedule: try CronSchedule(cron: row.cron, timeZone: row.timezone), overlap: row.overlap,
                catchupWindowMilliseconds: row.catchupWindowMilliseconds)
        } catch {
            throw RPCError(.internal, "schedule \(MessageText.quoted(row.name)) cannot be read: \(error.message)")
        }
    }

    static func info(_ row: StoredSchedule, upcoming: Int = 5) -> ScheduleInfo {
        var fires: [Int64] = []
        if !row.paused, let policy = try? policy(of: row), let next = row.cursor.next {
            fires = [next] + policy.schedule.upcoming(after: next, count: upcoming - 1)
        }
        return ScheduleInfo(
            spec: ScheduleSpec(
                name: row.name, workflow: row.workflow, version: row.version, cron: row.cron, timezone: row.timezone, inputJSON: row.input,
                overlap: row.overlap.rawValue, catchupWindowMilliseconds: row.catchupWindowMilliseconds),
            paused: row.paused, nextFires: fires.map { ScheduleFireTime(atMilliseconds: $0) }, lastTickMilliseconds: row.lastTick ?? 0,
            lastRun: row.lastRunID?.description ?? "", createdAtMilliseconds: row.createdAtMilliseconds, partition: UInt32(row.partition.rawValue),
            bufferedMilliseconds: row.cursor.buffered ?? 0)
    }
}
