import Foundation
import Testing
import WeftCore
@testable import WeftEngine

/// Small constructors that keep event scripts readable.
enum Fixtures {
    static let t0 = EngineInstant(unixMilliseconds: 1_700_000_000_000)

    static let runID: RunID = {
        var random = SplitMix64(seed: 42)
        return RunID(unixMilliseconds: 1_700_000_000_000, using: &random)
    }()

    /// The node `name`.
    /// The validation problems of the definition `json` (JSON), as text; empty when valid.
    static func definitionProblems(_ json: String) -> String {
        do {
            _ = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(json.utf8)).validated()
            return ""
        } catch {
            return "\(error)"
        }
    }

    static func k(_ name: String) -> NodeKey { NodeKey(name) }

    /// Element `index` of map node `name`.
    static func k(_ name: String, _ index: Int) -> NodeKey { NodeKey(name, index: index) }

    /// UTF-8 bytes of `text`.
    static func b(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// `t0 + milliseconds`.
    static func at(_ milliseconds: Int64) -> EngineInstant {
        EngineInstant(unixMilliseconds: t0.unixMilliseconds + milliseconds)
    }

    static func task(
        _ name: String,
        _ dependsOn: [String] = [],
        type: String = "noop",
        retry: RetryPolicy = RetryPolicy(),
        timeouts: TaskTimeouts = TaskTimeouts(),
        map: Bool = false,
        join: JoinPolicy? = nil
    ) -> TaskDefinition {
        TaskDefinition(name: name, type: type, dependsOn: dependsOn, retry: retry, timeouts: timeouts, map: map, join: join)
    }

    static func workflow(_ name: String, _ tasks: [TaskDefinition]) throws -> ValidatedWorkflow {
        try WorkflowDefinition(name: name, tasks: tasks).validated()
    }

    static func workflow(_ tasks: [TaskDefinition]) throws -> ValidatedWorkflow {
        try workflow("test", tasks)
    }

    /// `extract >> (clean | enrich) >> load`.
    static func diamond(retry: RetryPolicy = RetryPolicy(), timeouts: TaskTimeouts = TaskTimeouts()) throws -> ValidatedWorkflow {
        try workflow("diamond", [
            task("extract", type: "echo", retry: retry, timeouts: timeouts),
            task("clean", ["extract"], retry: retry, timeouts: timeouts),
            task("enrich", ["extract"], retry: retry, timeouts: timeouts),
            task("load", ["clean", "enrich"], retry: retry, timeouts: timeouts),
        ])
    }

    /// A single task `only`.
    static func single(retry: RetryPolicy = RetryPolicy(), timeouts: TaskTimeouts = TaskTimeouts()) throws -> ValidatedWorkflow {
        try workflow("single", [task("only", retry: retry, timeouts: timeouts)])
    }

    /// The ARCHITECTURE.md §4 example as JSON, verbatim. Note that its `shard` maps with two
    /// parents, which validation rejects (a map node needs exactly one parent: the list); see
    /// ``architectureExampleValidJSON``.
    static let architectureExampleJSON = """
    {
      "name": "ingest",
      "tasks": [
        {
          "name": "extract",
          "type": "echo",
          "retry": {"max_attempts": 5, "initial_backoff": "200ms", "max_backoff": "30s", "non_retryable": ["BadInput"]},
          "timeouts": {"schedule_to_start": "1m", "start_to_close": "5m", "heartbeat": "10s"},
          "priority": "high",
          "queue": "default"
        },
        {"name": "clean",  "type": "noop", "depends_on": ["extract"]},
        {"name": "enrich", "type": "noop", "depends_on": ["extract"], "concurrency_key": "customer"},
        {"name": "shard",  "type": "echo", "depends_on": ["clean", "enrich"], "map": true},
        {"name": "load",   "type": "noop", "depends_on": ["shard"], "join": "all"}
      ]
    }
    """

    /// The §4 example with the fan-in made explicit: `merge` joins `clean` and `enrich`, and `shard`
    /// maps over `merge`'s list.
    static let architectureExampleValidJSON = architectureExampleJSON
        .replacingOccurrences(
            of: #"{"name": "shard",  "type": "echo", "depends_on": ["clean", "enrich"], "map": true}"#,
            with: #"{"name": "merge",  "type": "noop", "depends_on": ["clean", "enrich"]},"# + "\n    "
                + #"{"name": "shard",  "type": "echo", "depends_on": ["merge"], "map": true}"#
        )
}

extension [RunStateMachine.Action] {
    /// The reasons of the `.ignored` actions.
    var ignoredReasons: [IgnoredEvent.Reason] {
        compactMap { action in
            if case .ignored(let ignored) = action { return ignored.reason }
            return nil
        }
    }

    /// The history records, in order.
    var records: [HistoryEvent] {
        compactMap { action in
            if case .record(let event) = action { return event }
            return nil
        }
    }

    /// The dispatched assignments, in order.
    var dispatched: [TaskAssignment] {
        compactMap { action in
            if case .dispatch(let assignment) = action { return assignment }
            return nil
        }
    }

    /// The timers armed, in order.
    var scheduled: [(TimerID, EngineInstant)] {
        compactMap { action in
            if case .schedule(let id, let at) = action { return (id, at) }
            return nil
        }
    }
}
