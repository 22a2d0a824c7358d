import ArgumentParser
import Foundation
import Weft
import WeftCLISupport
import WeftCore

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Create, list, show, pause, resume, trigger, backfill and delete cron schedules.",
        discussion: """
            A schedule starts a workflow at the ticks of a cron expression: 5 fields (minute hour \
            day-of-month month day-of-week), 6 with a leading second, or @hourly, @daily, @weekly, \
            @monthly, @yearly. Each tick starts one run, exactly once, also across restarts and \
            failovers. See the README, "Cron schedules", for time zones and daylight-saving changes.
            """,
        subcommands: [Create.self, List.self, Get.self, Pause.self, Resume.self, Trigger.self, Backfill.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create schedule NAME (or the one in --file); prints it with its next fire times.",
            discussion: """
                --file takes YAML or JSON with the same fields: name, workflow, cron, and optionally \
                timezone, input, overlap, catchup_window, version, paused. Flags given beside --file \
                override the file's values.
                """)
        @Argument(help: "The schedule's unique name (default: the file's).") var name: String?
        @Option(help: "A schedule file (YAML or JSON); - reads standard input.") var file: String?
        @Option(help: "The workflow each tick starts.") var workflow: String?
        @Option(help: "The cron expression, e.g. '30 2 * * *' or @hourly.") var cron: String?
        @Option(help: "The IANA time zone the expression is read in (default: UTC).") var timezone: String?
        @Option(help: "Every run's input, as JSON (default: null).") var input: String?
        @Option(help: "While the previous run is open: skip | buffer_one | allow (default: skip).") var overlap: String?
        @Option(name: .customLong("catchup-window"), help: "Ticks missed by longer than this (the scheduler was down) are skipped (default: 10m).")
        var catchupWindow: String?
        @Option(help: "A registered version of the workflow (default: its latest at each tick).") var version: String?
        @Flag(help: "Create it paused.") var paused = false
        @OptionGroup var options: ClientOptions

        func validate() throws {
            if let input, (try? JSONSerialization.jsonObject(with: Data(input.utf8), options: [.fragmentsAllowed])) == nil {
                throw ValidationError("--input is not valid JSON: \(input.prefix(80))")
            }
            if let overlap, Schedule.Overlap(rawValue: overlap) == nil {
                throw ValidationError("--overlap must be skip, buffer_one or allow")
            }
            _ = try catchupWindow.map { try parseDuration($0, flag: "catchup-window") }
            if file == nil {
                guard name != nil, workflow != nil, cron != nil else {
                    throw ValidationError("schedule create needs NAME, --workflow and --cron (or --file)")
                }
            }
        }

        func run() async throws {
            var fields = try file.map(ScheduleFile.load) ?? ScheduleFile()
            fields.name = name ?? fields.name
            fields.workflow = workflow ?? fields.workflow
            fields.cron = cron ?? fields.cron
            fields.timezone = timezone ?? fields.timezone
            fields.overlap = overlap ?? fields.overlap
            fields.catchupWindow = catchupWindow ?? fields.catchupWindow
            fields.version = version ?? fields.version
            if let input { fields.input = try JSONDecoder().decode(JSONValue.self, from: Data(input.utf8)) }
            let schedule = try fields.schedule()
            let info = try await options.withClient { client in try await client.createSchedule(schedule, paused: paused || fields.paused) }
            SchedulePrinter.print(info, json: options.json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every schedule with its next fire time.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let all = try await options.withClient { client in try await client.schedules() }
            if options.json {
                printJSON(all.map(SchedulePrinter.object))
            } else if all.isEmpty {
                print("no schedules")
            } else {
                print(Table(
                    headers: ["NAME", "WORKFLOW", "CRON", "TIMEZONE", "STATE", "NEXT FIRE", "LAST RUN"],
                    rows: all.map {
                        [$0.spec.name, $0.spec.workflow, $0.spec.cron, $0.spec.timezone, $0.paused ? "paused" : "active",
                         isoTime($0.nextFires.first?.atMilliseconds ?? 0), $0.lastRun.isEmpty ? "-" : $0.lastRun]
                    }
                ).render())
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show schedule NAME: its rules, its next 5 fire times, its last run.")
        @Argument var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let info = try await options.withClient { client in try await client.schedule(named: name) }
            SchedulePrinter.print(info, json: options.json)
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause schedule NAME: no tick fires until it is resumed.")
        @Argument var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let info = try await options.withClient { client in try await client.pauseSchedule(name) }
            SchedulePrinter.print(info, json: options.json)
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume schedule NAME from its next tick after now (ticks missed while paused are not caught up: see backfill).")
        @Argument var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let info = try await options.withClient { client in try await client.resumeSchedule(name) }
            SchedulePrinter.print(info, json: options.json)
        }
    }

    struct Trigger: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a run of schedule NAME now, besides its ticks; prints the run id.")
        @Argument var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let run = try await options.withClient { client in try await client.triggerSchedule(name) }
            if options.json { printJSON(["run_id": run.description]) } else { print(run) }
        }
    }

    struct Backfill: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fire every past tick of schedule NAME from --from to --to (at most 1,000); ticks that have a run keep it.")
        @Argument var name: String
        @Option(help: "RFC 3339 time, or a duration ago (6h).") var from: String
        @Option(help: "RFC 3339 time, or a duration ago (default: now).") var to: String?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            _ = try parseTime(from, flag: "from")
            _ = try to.map { try parseTime($0, flag: "to") }
        }

        func run() async throws {
            let start = Date(timeIntervalSince1970: Double(try parseTime(from, flag: "from")) / 1000)
            let end = try to.map { Date(timeIntervalSince1970: Double(try parseTime($0, flag: "to")) / 1000) } ?? Date()
            let response = try await options.withClient { client in try await client.backfillSchedule(name, from: start, to: end) }
            if options.json {
                printJSON(["ticks": Int(response.ticks), "created": Int(response.created), "runs": response.runs] as [String: Any])
            } else {
                for run in response.runs { print(run) }
                print("\(response.ticks) ticks: \(response.created) runs started, \(Int(response.ticks) - Int(response.created)) already had one")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete schedule NAME (the runs it started stay).")
        @Argument var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await options.withClient { client in try await client.deleteSchedule(name) }
            if options.json { printJSON(["deleted": name]) } else { print("deleted schedule \(name)") }
        }
    }
}

enum SchedulePrinter {
    static func object(_ info: ScheduleInfo) -> [String: Any] {
        [
            "name": info.spec.name, "workflow": info.spec.workflow, "version": info.spec.version, "cron": info.spec.cron,
            "timezone": info.spec.timezone, "overlap": info.spec.overlap, "catchup_window_ms": Int(info.spec.catchupWindowMilliseconds),
            "input": String(decoding: info.spec.inputJSON, as: UTF8.self), "paused": info.paused,
            "next_fires": info.nextFires.map { isoTime($0.atMilliseconds) }, "last_tick": isoTime(info.lastTickMilliseconds),
            "last_run": info.lastRun, "created_at": isoTime(info.createdAtMilliseconds), "partition": Int(info.partition),
            "buffered_tick": isoTime(info.bufferedMilliseconds),
        ]
    }

    static func print(_ info: ScheduleInfo, json: Bool) {
        guard !json else { return printJSON(object(info)) }
        let lines: [(String, String)] = [
            ("schedule", info.spec.name),
            ("workflow", info.spec.workflow + (info.spec.version.isEmpty ? " (latest version)" : " version \(info.spec.version)")),
            ("cron", "\(info.spec.cron) (\(info.spec.timezone))"),
            ("state", info.paused ? "paused" : "active"),
            ("overlap", info.spec.overlap),
            ("catch-up", DurationText.format(.milliseconds(info.spec.catchupWindowMilliseconds))),
            ("input", String(decoding: info.spec.inputJSON.prefix(200), as: UTF8.self)),
            ("last tick", isoTime(info.lastTickMilliseconds) + (info.lastRun.isEmpty ? "" : " → run \(info.lastRun)")),
        ] + (info.bufferedMilliseconds == 0 ? [] : [("buffered", isoTime(info.bufferedMilliseconds) + " (waits for the last run to close)")])
        for (label, value) in lines { Swift.print(label.padding(toLength: 10, withPad: " ", startingAt: 0) + value) }
        Swift.print("next fires" + (info.nextFires.isEmpty ? "  -" : ""))
        for fire in info.nextFires { Swift.print("  " + isoTime(fire.atMilliseconds)) }
    }
}

/// A schedule as a file (`weftctl schedule create --file`): the fields of `schedule create`, in
/// YAML or JSON (read within the bounds of definition files). Unknown fields are refused.
struct ScheduleFile {
    var name: String?
    var workflow: String?
    var cron: String?
    var timezone: String?
    var input: JSONValue = .null
    var overlap: String?
    var catchupWindow: String?
    var version: String?
    var paused = false

    static let fields: Set<String> = ["name", "workflow", "cron", "timezone", "input", "overlap", "catchup_window", "version", "paused"]

    static func load(_ path: String) throws -> ScheduleFile {
        let json = try DefinitionFile.loadJSON(path: path)
        guard case .object(let members) = try JSONDecoder().decode(JSONValue.self, from: Data(json)) else {
            throw CommandFailure("'\(path)' does not hold a schedule (expected a mapping with name, workflow and cron)")
        }
        let unknown = Set(members.keys).subtracting(fields).sorted()
        guard unknown.isEmpty else {
            throw CommandFailure("'\(path)': unknown field(s) \(unknown.joined(separator: ", ")); a schedule has \(fields.sorted().joined(separator: ", "))")
        }
        func text(_ key: String) throws -> String? {
            switch members[key] {
            case nil, .null?: return nil
            case .string(let value)?: return value
            default: throw CommandFailure("'\(path)': \(key) must be a string")
            }
        }
        var file = ScheduleFile()
        file.name = try text("name")
        file.workflow = try text("workflow")
        file.cron = try text("cron")
        file.timezone = try text("timezone")
        file.overlap = try text("overlap")
        file.catchupWindow = try text("catchup_window")
        file.version = try text("version")
        file.input = members["input"] ?? .null
        switch members["paused"] {
        case nil, .null?: break
        case .bool(let value)?: file.paused = value
        default: throw CommandFailure("'\(path)': paused must be true or false")
        }
        return file
    }

    func schedule() throws -> Schedule {
        guard let name, let workflow, let cron else {
            throw CommandFailure("a schedule needs a name, a workflow and a cron expression")
        }
        guard let overlapValue = Schedule.Overlap(rawValue: overlap ?? "skip") else {
            throw CommandFailure("overlap must be skip, buffer_one or allow, not '\(overlap ?? "")'")
        }
        var schedule = try Schedule(
            name, workflow: workflow, cron: cron, input: input, timeZone: timezone ?? "UTC", overlap: overlapValue,
            catchupWindow: try catchupWindow.map { try parseDuration($0, flag: "catchup-window") })
        schedule.version = version
        return schedule
    }
}
