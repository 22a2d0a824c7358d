import Foundation
import WeftCore
import WeftWire

/// A cron schedule: a workflow started at the ticks of a cron expression (``WeftClient/createSchedule(_:paused:)``).
///
/// ```swift
/// let nightly = try Schedule("nightly-report", workflow: report, cron: "30 2 * * *", input: Day.yesterday,
///                            timeZone: "Europe/Berlin", overlap: .skip)
/// try await client.createSchedule(nightly)
/// ```
///
/// Each tick starts one run, exactly once, also across a scheduler restart or failover. See the
/// README's "Cron schedules" for the expression syntax and what happens when clocks change.
public struct Schedule: Sendable {
    /// What a tick does while the previous tick's run is still open.
    public enum Overlap: String, Sendable {
        /// The tick is skipped (the default).
        case skip
        /// One tick waits and starts when the previous run closes; further ones are skipped.
        case bufferOne = "buffer_one"
        /// Every tick starts a run.
        case allow
    }

    /// The schedule's unique name.
    public var name: String
    /// The workflow each tick starts.
    public var workflow: String
    /// The workflow version (nil: its latest at each tick).
    public var version: String?
    /// The cron expression: 5 fields (`minute hour day-of-month month day-of-week`), 6 with a
    /// leading second, or a macro (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`).
    public var cron: String
    /// The IANA time zone the expression is read in (`Europe/Berlin`).
    public var timeZone: String
    /// The input of every run, as JSON.
    public var inputJSON: [UInt8]
    /// What a tick does while the previous run is open.
    public var overlap: Overlap
    /// Ticks older than this when the scheduler gets to them (it was down) are skipped; nil: 10 minutes.
    public var catchupWindow: Duration?

    /// A schedule of a typed workflow. Throws `INVALID_ARGUMENT` when `input` does not encode.
    public init<Input, Output>(
        _ name: String, workflow: Workflow<Input, Output>, cron: String, input: Input, timeZone: String = "UTC", overlap: Overlap = .skip,
        catchupWindow: Duration? = nil
    ) throws {
        try self.init(name, workflow: workflow.name, cron: cron, input: input, timeZone: timeZone, overlap: overlap, catchupWindow: catchupWindow)
    }

    /// A schedule of the workflow named `workflow`. Throws `INVALID_ARGUMENT` when `input` does not encode.
    public init(
        _ name: String, workflow: String, cron: String, input: some Encodable, timeZone: String = "UTC", overlap: Overlap = .skip,
        catchupWindow: Duration? = nil
    ) throws {
        do {
            inputJSON = try JSONCoding.encode(input)
        } catch {
            throw WeftError(.invalidArgument, "the schedule's input does not encode as JSON: \(error)")
        }
        self.name = name
        self.workflow = workflow
        self.cron = cron
        self.timeZone = timeZone
        self.overlap = overlap
        self.catchupWindow = catchupWindow
    }

    var spec: ScheduleSpec {
        let window = catchupWindow.map { duration -> Int64 in
            let (seconds, attoseconds) = duration.components
            return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        }
        return ScheduleSpec(
            name: name, workflow: workflow, version: version ?? "", cron: cron, timezone: timeZone, inputJSON: inputJSON,
            overlap: overlap.rawValue, catchupWindowMilliseconds: window ?? 0)
    }
}

/// Cron schedules (`weftctl schedule …`), answered by a coordinator.
extension WeftClient {
    /// Creates a schedule (paused if `paused`); returns it with its next fire times.
    ///
    /// - Throws: ``WeftError``: `INVALID_ARGUMENT` (a bad expression, zone, overlap or input, with
    ///   the field named), `NOT_FOUND` (the workflow is not registered), `ALREADY_EXISTS` (a
    ///   schedule has that name).
    @discardableResult
    public func createSchedule(_ schedule: Schedule, paused: Bool = false) async throws -> ScheduleInfo {
        try await call(AdminMethods.createSchedule, CreateScheduleRequest(spec: schedule.spec, paused: paused))
    }

    /// The schedule named `name`, with its next 5 fire times. Throws `NOT_FOUND` when there is none.
    public func schedule(named name: String) async throws -> ScheduleInfo {
        try await call(AdminMethods.getSchedule, ScheduleRequest(name: name))
    }

    /// Every schedule, by name, each with its next fire time (inputs left out).
    public func schedules() async throws -> [ScheduleInfo] {
        let response: ListSchedulesResponse = try await call(AdminMethods.listSchedules, ListSchedulesRequest())
        return response.schedules
    }

    /// Pauses a schedule: no tick fires until it is resumed.
    @discardableResult
    public func pauseSchedule(_ name: String) async throws -> ScheduleInfo {
        try await call(AdminMethods.pauseSchedule, PauseScheduleRequest(name: name, paused: true))
    }

    /// Resumes a paused schedule from its next tick after now (ticks it missed while paused are
    /// not caught up; ``backfillSchedule(_:from:to:)`` fires them).
    @discardableResult
    public func resumeSchedule(_ name: String) async throws -> ScheduleInfo {
        try await call(AdminMethods.pauseSchedule, PauseScheduleRequest(name: name, paused: false))
    }

    /// Starts a run of the schedule now, besides its ticks (the overlap policy does not apply).
    public func triggerSchedule(_ name: String) async throws -> RunID {
        let response: TriggerScheduleResponse = try await call(AdminMethods.triggerSchedule, ScheduleRequest(name: name))
        guard let id = try? RunID(parsing: response.run) else {
            throw WeftError(.internal, "the coordinator answered a run id that does not parse: \(MessageText.quoted(response.run))")
        }
        return id
    }

    /// Fires every past tick of the schedule from `from` to `to` (inclusive, at most 1,000 ticks),
    /// keyed like its own fires: a tick that has a run already keeps it and gets no second.
    public func backfillSchedule(_ name: String, from: Date, to: Date) async throws -> BackfillScheduleResponse {
        try await call(
            AdminMethods.backfillSchedule,
            BackfillScheduleRequest(
                name: name, fromMilliseconds: Int64((from.timeIntervalSince1970 * 1000).rounded(.up)),
                toMilliseconds: Int64((to.timeIntervalSince1970 * 1000).rounded(.down))))
    }

    /// Deletes a schedule; the runs it started stay. Throws `NOT_FOUND` when there is none.
    public func deleteSchedule(_ name: String) async throws {
        let _: DeleteScheduleResponse = try await call(AdminMethods.deleteSchedule, ScheduleRequest(name: name))
    }
}
