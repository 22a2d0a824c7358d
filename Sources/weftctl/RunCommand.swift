import ArgumentParser
import Foundation
import Weft
import WeftCLISupport
import WeftCore

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Start, inspect, wait for, cancel, retry and list runs.",
        subcommands: [Start.self, Get.self, Wait.self, History.self, Signal.self, Cancel.self, Retry.self, List.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a run of WORKFLOW; prints its id once it is durable.")
        @Argument var workflow: String
        @Option(help: "The run's input, as JSON (default: null).") var input: String = "null"
        @Option(name: .customLong("idempotency-key"), help: "Starting again with the same key returns the same run.") var idempotencyKey: String?
        @Option(help: "critical | high | normal | low (default: the definition's).") var priority: String?
        @Option(help: "A registered version (default: the latest).") var version: String?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard (try? JSONSerialization.jsonObject(with: Data(input.utf8), options: [.fragmentsAllowed])) != nil else {
                throw ValidationError("--input is not valid JSON: \(input)")
            }
            if let priority, Priority(rawValue: priority) == nil {
                throw ValidationError("--priority must be critical, high, normal or low")
            }
        }

        func run() async throws {
            let run = try await options.withClient { client in
                try await client.start(
                    workflow: workflow, inputJSON: Array(input.utf8),
                    options: StartOptions(idempotencyKey: idempotencyKey, version: version, priority: priority.flatMap(Priority.init)))
            }
            if options.json { printJSON(["run_id": run.description]) } else { print(run) }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a run and its tasks.")
        @Argument(help: "The run id.") var id: String
        @OptionGroup var options: ClientOptions

        func validate() throws { _ = try parseRunID(id) }

        func run() async throws {
            let info = try await options.withClient { client in try await client.describe(try parseRunID(id)) }
            RunPrinter.print(info, json: options.json)
        }
    }

    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Wait until a run is closed; exit 1 unless it succeeded.")
        @Argument(help: "The run id.") var id: String
        @Option(name: .customLong("progress-every"), help: "While waiting, print the run's progress to stderr this often; 0 turns it off. (default: 10s)")
        var progressEvery: String = "10s"
        @OptionGroup var options: ClientOptions

        func validate() throws {
            _ = try parseRunID(id)
            _ = try parseDuration(progressEvery, flag: "progress-every")
        }

        func run() async throws {
            let run = try parseRunID(id)
            // Waiting is this command's job: without --timeout (or WEFT_TIMEOUT) it waits as long
            // as the run takes.
            let limit = try options.explicitTimeout()
            let interval = try parseDuration(progressEvery, flag: "progress-every")
            let info = try await options.withClient { client in
                // A quick look first: an unknown run or an unreachable coordinator fails at once.
                let first = try await client.describe(run, includeTasks: false)
                if first.status.isClosed { return try await client.describe(run) }
                return try await withThrowingTaskGroup(of: RunInfo?.self) { group in
                    group.addTask { try await Self.waitUntilClosed(run, client: client, limit: limit) }
                    if interval > .zero {
                        group.addTask {
                            let started = ContinuousClock.now
                            while true {  // until cancelled, when the wait is over
                                try await Task.sleep(for: interval)
                                guard let now = try? await client.describe(run) else { continue }
                                FileHandleWriter.stderr("waiting for \(run): \(Self.progress(of: now)) (\(DurationText.format(ContinuousClock.now - started)))")
                            }
                        }
                    }
                    while let next = try await group.next() {
                        if let info = next {
                            group.cancelAll()
                            return info
                        }
                    }
                    throw CommandFailure("the wait ended without an answer")
                }
            }
            RunPrinter.print(info, json: options.json)
            guard info.status == .succeeded else { throw CommandFailure("run \(info.runID) \(info.status)") }
        }

        /// `WaitRun` in segments of at most a minute (a coordinator restart mid-wait costs a retry,
        /// not the wait), until the run closes or `limit` passes.
        static func waitUntilClosed(_ run: RunID, client: WeftClient, limit: Duration?) async throws -> RunInfo {
            let started = ContinuousClock.now
            let deadline = limit.map { started + $0 }
            while true {
                let segment = deadline.map { min($0 - ContinuousClock.now, .seconds(60)) } ?? .seconds(60)
                guard segment > .zero else {
                    let status = (try? await client.describe(run, includeTasks: false).status).map { "\($0)" } ?? "open"
                    throw CommandFailure(
                        "run \(run) is still \(status) after \(DurationText.format(limit ?? .zero)) (--timeout); it keeps running — wait again, or leave out --timeout to wait until it closes")
                }
                do {
                    return try await client.wait(for: run, timeout: segment)
                } catch let error as WeftError where error.code == .deadlineExceeded {
                    continue
                } catch let error as WeftError where error.code == .unavailable {
                    try await Task.sleep(for: .seconds(1))  // the coordinator is restarting: try again
                }
            }
        }

        /// `RUNNING; tasks: 3 succeeded, 2 in flight, 1 waiting to retry` from the latest attempt of each node.
        static func progress(of info: RunInfo) -> String {
            var latest: [String: TaskInfo] = [:]
            for task in info.tasks where (latest[task.node]?.attempt ?? 0) <= task.attempt { latest[task.node] = task }
            var counts: [String: Int] = [:]
            for task in latest.values {
                let word: String = switch task.status {
                case .succeeded: "succeeded"
                case .failed: "failed"
                case .cancelled: "cancelled"
                case .retryWait: "waiting to retry"
                default: "in flight"
                }
                counts[word, default: 0] += 1
            }
            let order = ["succeeded", "in flight", "waiting to retry", "failed", "cancelled"]
            let parts = order.compactMap { word in counts[word].map { "\($0) \(word)" } }
            return "\(info.status)" + (parts.isEmpty ? "" : "; tasks: " + parts.joined(separator: ", "))
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print what happened in a run, oldest first: attempts (where they ran), errors, retries, map expansion, the close.",
            discussion: """
                With --follow, new entries are printed as they are recorded until the run closes (or --timeout \
                passes). An attempt's start is recorded with its end, so it appears then, with its own time.
                """)
        @Argument(help: "The run id.") var id: String
        @Flag(help: "Keep printing new entries until the run closes.") var follow = false
        @Option(name: .customLong("poll-every"), help: "With --follow, how often to look for new entries. (default: 1s)")
        var pollEvery: String = "1s"
        @OptionGroup var options: ClientOptions

        func validate() throws {
            _ = try parseRunID(id)
            guard try parseDuration(pollEvery, flag: "poll-every") >= .milliseconds(100) else {
                throw ValidationError("--poll-every: at least 100ms")
            }
        }

        func run() async throws {
            let run = try parseRunID(id)
            let poll = try parseDuration(pollEvery, flag: "poll-every")
            let limit = follow ? try options.explicitTimeout() : nil
            try await options.withClient { client in
                var printed = Set<RunHistoryEntry>()
                let started = ContinuousClock.now
                while true {
                    let history: GetRunHistoryResponse
                    do {
                        history = try await client.history(of: run)
                    } catch let error as WeftError where follow && error.code == .unavailable {
                        try await Task.sleep(for: poll)  // the coordinator is restarting: keep following
                        continue
                    }
                    for entry in history.entries where !printed.contains(entry) {
                        printed.insert(entry)
                        Self.print(entry, json: options.json)
                    }
                    if history.truncated && !follow {
                        FileHandleWriter.stderr("(history truncated: the run has more than \(history.entries.count) entries)")
                    }
                    guard follow, !history.status.isClosed else { return }
                    if let limit, ContinuousClock.now - started >= limit {
                        throw CommandFailure("run \(run) is still \(history.status) after \(DurationText.format(limit)) (--timeout); it keeps running")
                    }
                    try await Task.sleep(for: poll)
                }
            }
        }

        static func print(_ entry: RunHistoryEntry, json: Bool) {
            let time = isoTime(entry.atMicros / 1000)
            if json {
                var object: [String: Any] = ["at": time, "kind": entry.kind]
                if !entry.node.isEmpty { object["node"] = entry.node }
                if entry.attempt > 0 { object["attempt"] = Int(entry.attempt) }
                if !entry.detail.isEmpty { object["detail"] = entry.detail }
                let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
                Swift.print(String(decoding: data, as: UTF8.self))
            } else {
                let subject = entry.node.isEmpty ? "" : entry.attempt > 0 ? "\(entry.node)#\(entry.attempt)" : entry.node
                Swift.print([time, entry.kind.padding(toLength: 18, withPad: " ", startingAt: 0), subject, entry.detail]
                    .filter { !$0.isEmpty }.joined(separator: "  "))
            }
        }
    }

    struct Signal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send signal NAME to a run: the node waiting for it (wait_signal: NAME) succeeds with the payload.",
            discussion: """
                A signal sent before its node is reached is kept until the node waits for it. Sending twice \
                sends two signals: after a lost answer, look at the run (weftctl run history) before sending again.
                """)
        @Argument(help: "The run id.") var id: String
        @Argument(help: "The signal's name.") var name: String
        @Option(help: "The payload: one JSON value (default: null).") var payload: String?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            _ = try parseRunID(id)
            if let payload, (try? JSONSerialization.jsonObject(with: Data(payload.utf8), options: [.fragmentsAllowed])) == nil {
                throw ValidationError("--payload: not JSON: \(payload.prefix(80))")
            }
        }

        func run() async throws {
            let run = try parseRunID(id)
            let value = try payload.map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) } ?? .null
            let delivered = try await options.withClient { client in try await client.signal(run, name, payload: value) }
            if options.json {
                printJSON(["run": run.description, "signal": name, "delivered": delivered])
            } else {
                print(delivered ? "signal \(name) delivered to run \(run)" : "signal \(name) kept for run \(run): no node waits for it yet")
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a run, terminate it, or cancel one node of it (and its subtree).",
            discussion: """
                Without --node the run closes as cancelled; its attempts in flight are asked to stop and \
                get a grace period (exec children: SIGTERM, SIGKILL 2 s later). --terminate closes it the \
                same way but kills them at once (SIGKILL), with no cleanup. --node N cancels node N only: \
                nodes that need it (join: all) are cancelled with it, the rest of the run goes on; \
                --subtree cancels every node depending on N as well. A run whose every leaf was cancelled \
                closes as cancelled; otherwise it succeeds with the outputs of its leaves that succeeded.
                """)
        @Argument(help: "The run id.") var id: String
        @Option(help: "Why (recorded with the run).") var reason: String = ""
        @Option(help: "Cancel only this node of the run.") var node: String?
        @Flag(help: "With --node: cancel every node depending on it too.") var subtree = false
        @Flag(help: "Kill the run's attempts at once, without a grace period.") var terminate = false
        @OptionGroup var options: ClientOptions

        func validate() throws {
            _ = try parseRunID(id)
            if subtree && node == nil { throw ValidationError("--subtree needs --node") }
            if terminate && node != nil { throw ValidationError("--terminate applies to a whole run, not to --node") }
        }

        func run() async throws {
            let run = try parseRunID(id)
            let status = try await options.withClient { client in
                if let node { return try await client.cancel(run, node: node, subtree: subtree, reason: reason) }
                return terminate ? try await client.terminate(run, reason: reason) : try await client.cancel(run, reason: reason)
            }
            if options.json {
                printJSON(["run_id": id, "status": "\(status)"] as [String: Any])
            } else if let node {
                print("\(id) node \(node)\(subtree ? " and its subtree" : "") cancelled; the run is \(status)")
            } else {
                print("\(id) \(status)")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a new run with the same workflow version and input.",
            discussion: """
                With --from-failed the new run reuses the outputs of the nodes that succeeded in the old \
                one (a failed or cancelled run) and runs only the rest. The old run is left as it was; the \
                new run's history names it.
                """)
        @Argument(help: "The run id.") var id: String
        @Flag(name: .customLong("from-failed"), help: "Reuse the outputs of the nodes that succeeded; run the rest.")
        var fromFailed = false
        @OptionGroup var options: ClientOptions

        func validate() throws { _ = try parseRunID(id) }

        func run() async throws {
            let run = try await options.withClient { client in try await client.retry(try parseRunID(id), fromFailed: fromFailed) }
            if options.json { printJSON(["run_id": run.description, "retry_of": id, "from_failed": fromFailed]) } else { print(run) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List runs, newest first.")
        @Option(help: "Only runs of this workflow.") var workflow: String?
        @Option(help: "pending | running | succeeded | failed | cancelled") var status: String?
        @Option(help: "Created at or after: RFC 3339 time, or a duration ago (1h).") var since: String?
        @Option(help: "Created before: RFC 3339 time, or a duration ago.") var until: String?
        @Option(help: "Runs per page, 1-1000 (default 50).") var limit: Int = 50
        @Option(name: .customLong("page-token"), help: "Continue from a previous page.") var pageToken: String?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
            _ = try parsedStatus()
            _ = try since.map { try parseTime($0, flag: "since") }
            _ = try until.map { try parseTime($0, flag: "until") }
        }

        private func parsedStatus() throws -> RunStatus {
            guard let status else { return .unspecified }
            guard let value = RunStatus.allCases.first(where: { "\($0)".lowercased() == status.lowercased() && $0 != .unspecified }) else {
                throw ValidationError("--status must be pending, running, succeeded, failed or cancelled")
            }
            return value
        }

        func run() async throws {
            let request = ListRunsRequest(
                workflow: workflow ?? "", status: try parsedStatus(),
                sinceMilliseconds: try since.map { try parseTime($0, flag: "since") } ?? 0,
                untilMilliseconds: try until.map { try parseTime($0, flag: "until") } ?? 0,
                limit: UInt32(limit), pageToken: pageToken ?? "")
            let page = try await options.withClient { client in try await client.list(request) }
            if options.json {
                var object: [String: Any] = ["runs": page.runs.map {
                    ["run_id": $0.runID.description, "workflow": $0.workflow, "status": "\($0.status)",
                     "created_at": isoTime($0.createdAtMilliseconds), "closed_at": isoTime($0.closedAtMilliseconds)] as [String: Any]
                }]
                if !page.nextPageToken.isEmpty { object["next_page_token"] = page.nextPageToken }
                printJSON(object)
            } else {
                print(Table(
                    headers: ["RUN", "WORKFLOW", "STATUS", "CREATED", "CLOSED"],
                    rows: page.runs.map {
                        [$0.runID.description, $0.workflow, "\($0.status)", isoTime($0.createdAtMilliseconds), isoTime($0.closedAtMilliseconds)]
                    }
                ).render())
                if !page.nextPageToken.isEmpty { print("more: --page-token \(page.nextPageToken)") }
            }
        }
    }
}

func parseRunID(_ text: String) throws -> RunID {
    do {
        return try RunID(parsing: text)
    } catch {
        throw ValidationError("\(error)")
    }
}

/// RFC 3339 (`2026-11-25T10:00:00Z`) or a duration ago (`90m`), as Unix milliseconds.
func parseTime(_ text: String, flag: String) throws -> Int64 {
    if let duration = try? DurationText.parse(text) {  // not a duration: try a timestamp below
        let ago = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return Int64((Date().timeIntervalSince1970 - ago) * 1000)
    }
    let formatter = ISO8601DateFormatter()
    for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
        formatter.formatOptions = options
        if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970 * 1000) }
    }
    throw ValidationError("--\(flag): '\(text)' is neither an RFC 3339 time (2026-11-25T10:00:00Z) nor a duration (1h)")
}

/// Prints a run: a summary and a task table with timings, or JSON.
enum RunPrinter {
    static func print(_ info: RunInfo, json: Bool) {
        if json {
            printJSON([
                "run_id": info.runID.description, "workflow": info.workflow, "version": info.version, "status": "\(info.status)",
                "input": String(decoding: info.input, as: UTF8.self), "output": String(decoding: info.output, as: UTF8.self),
                "error": info.error, "created_at": isoTime(info.createdAtMilliseconds), "closed_at": isoTime(info.closedAtMilliseconds),
                "tasks": info.tasks.map {
                    ["node": $0.node, "attempt": Int($0.attempt), "status": "\($0.status)", "worker": $0.worker,
                     "scheduled_at": isoTime($0.scheduledAtMilliseconds), "started_at": isoTime($0.startedAtMilliseconds),
                     "finished_at": isoTime($0.finishedAtMilliseconds), "error": $0.error,
                     "output": String(decoding: $0.output, as: UTF8.self)] as [String: Any]
                },
            ] as [String: Any])
            return
        }
        Swift.print("run       \(info.runID)")
        Swift.print("workflow  \(info.workflow) (version \(info.version))")
        Swift.print("status    \(info.status)\(info.error.isEmpty ? "" : ": \(info.error)")")
        Swift.print("created   \(isoTime(info.createdAtMilliseconds))")
        if info.closedAtMilliseconds != 0 {
            Swift.print("closed    \(isoTime(info.closedAtMilliseconds)) (\(DurationText.format(.milliseconds(info.closedAtMilliseconds - info.createdAtMilliseconds))))")
        }
        if !info.output.isEmpty { Swift.print("output    \(String(decoding: info.output.prefix(200), as: UTF8.self))") }
        guard !info.tasks.isEmpty else { return }
        Swift.print("")
        Swift.print(Table(
            headers: ["TASK", "ATTEMPT", "STATUS", "WORKER", "QUEUED", "RAN", "ERROR"],
            rows: info.tasks.map { task in
                // Times are recorded in whole milliseconds: 0 means under one.
                func span(_ from: Int64, _ to: Int64) -> String {
                    guard from > 0, to > 0 else { return "-" }
                    return to - from < 1 ? "<1ms" : DurationText.format(.milliseconds(to - from))
                }
                let queued = span(task.scheduledAtMilliseconds, task.startedAtMilliseconds)
                let ran = span(task.startedAtMilliseconds, task.finishedAtMilliseconds)
                return [task.node, "\(task.attempt)", "\(task.status)", task.worker.isEmpty ? "-" : task.worker, queued, ran, task.error]
            }
        ).render())
    }
}
