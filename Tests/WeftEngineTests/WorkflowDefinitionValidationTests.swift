import Testing
@testable import WeftEngine

@Suite("WorkflowDefinition validation")
struct WorkflowDefinitionValidationTests {
    typealias F = Fixtures

    /// The error validating `tasks` produces (fails the test when valid).
    static func error(_ tasks: [TaskDefinition], name: String = "w", limits: WorkflowDefinition.Limits = .init()) -> DefinitionError? {
        do {
            _ = try WorkflowDefinition(name: name, tasks: tasks).validated(limits: limits)
            Issue.record("\(tasks.map(\.name)) validated")
            return nil
        } catch {
            return error
        }
    }

    static func t(_ name: String, _ dependsOn: [String] = [], type: String = "noop") -> TaskDefinition {
        TaskDefinition(name: name, type: type, dependsOn: dependsOn)
    }

    @Test("a well-formed workflow validates")
    func validated_wellFormed_passes() throws {
        let workflow = try WorkflowDefinition(name: "Ingest_v2.1-beta", tasks: [
            Self.t("a"), Self.t("b", ["a"]), Self.t(String(repeating: "x", count: 128), ["a", "b"]),
        ]).validated()
        #expect(workflow.name == "Ingest_v2.1-beta")
    }

    @Test("invalid workflow and task names are reported with the rule")
    func validated_invalidNames_reported() {
        for bad in ["", "has space", "shard[0]", "ünïcode", String(repeating: "x", count: 129), "a/b"] {
            let error = Self.error([Self.t(bad)])
            #expect(error?.codes == [.invalidName], "\(bad): \(String(describing: error))")
            #expect(error?.description.contains("A–Z a–z 0–9 _ . -") == true)
        }
        #expect(Self.error([Self.t("a")], name: "my workflow")?.codes == [.invalidName])
        #expect(Self.error([Self.t("a")], name: "")?.problems.first?.message.contains("workflow name ''") == true)
    }

    @Test("a workflow without tasks is rejected")
    func validated_noTasks_rejected() {
        #expect(Self.error([])?.codes == [.noTasks])
    }

    @Test("duplicate task names are reported once, with the positions")
    func validated_duplicateNames_reported() {
        let error = Self.error([Self.t("a"), Self.t("b"), Self.t("a"), Self.t("a")])
        #expect(error?.codes == [.duplicateTask])
        #expect(error?.problems.first?.message.contains("#1, #3, #4") == true, "\(String(describing: error))")
    }

    @Test("an unknown dependency is reported naming both the dependency and the task that refers to it")
    func validated_unknownDependency_namesBoth() {
        let error = Self.error([Self.t("a"), Self.t("load", ["a", "shardd"])])
        #expect(error?.codes == [.unknownDependency])
        #expect(error?.problems.first?.message == "task 'load': depends on unknown task 'shardd'")
        #expect(error?.problems.first?.task == "load")
    }

    @Test("self and duplicate dependencies are reported")
    func validated_selfAndDuplicateDependency_reported() {
        #expect(Self.error([Self.t("a", ["a"])])?.codes == [.selfDependency])
        #expect(Self.error([Self.t("a"), Self.t("b", ["a", "a"])])?.codes == [.duplicateDependency])
    }

    @Test("a cycle is reported as its path")
    func validated_cycle_reportsPath() {
        let error = Self.error([Self.t("start"), Self.t("c", ["b"]), Self.t("a", ["start", "c"]), Self.t("b", ["a"]), Self.t("after", ["b"])])
        #expect(error?.codes == [.cycle])
        #expect(error?.problems.first?.message == "dependency cycle: a -> b -> c -> a (each task waits for the one before it)")
        let two = Self.error([Self.t("x", ["y"]), Self.t("y", ["x"]), Self.t("p", ["q"]), Self.t("q", ["p"])])
        #expect(two?.problems.map(\.message) == [
            "dependency cycle: p -> q -> p (each task waits for the one before it)",
            "dependency cycle: x -> y -> x (each task waits for the one before it)",
        ])
    }

    @Test("too many tasks or dependencies are rejected before anything else is checked")
    func validated_limits_rejected() {
        let limits = WorkflowDefinition.Limits(maxTasks: 3, maxDependenciesPerTask: 2, maxTotalDependencies: 4)
        #expect(Self.error([Self.t("a"), Self.t("b"), Self.t("c"), Self.t("d d")], limits: limits)?.codes == [.tooManyTasks])
        #expect(Self.error([Self.t("a"), Self.t("b"), Self.t("c", ["a", "b", "x"])], limits: limits)?.codes == [.tooManyDependencies, .unknownDependency])
        #expect(Self.error([Self.t("a"), Self.t("b", ["a", "a"]), Self.t("c", ["a", "b", "a"])], limits: limits)?.codes == [.tooManyDependencies])
        let big = (0..<10_001).map { Self.t("t\($0)") }
        #expect(Self.error(big)?.codes == [.tooManyTasks])
    }

    @Test("retry policies outside their ranges are reported")
    func validated_retryPolicy_reported() {
        func code(_ retry: RetryPolicy) -> [DefinitionError.Code]? {
            Self.error([TaskDefinition(name: "a", type: "t", retry: retry)])?.codes
        }
        #expect(code(RetryPolicy(maxAttempts: 0)) == [.invalidRetryPolicy])
        #expect(code(RetryPolicy(maxAttempts: 1001)) == [.invalidRetryPolicy])
        #expect(code(RetryPolicy(initialBackoff: .zero)) == [.invalidRetryPolicy])
        #expect(code(RetryPolicy(maxBackoff: .seconds(-1))) == [.invalidRetryPolicy])
        #expect(code(RetryPolicy(initialBackoff: .seconds(10), maxBackoff: .seconds(5))) == [.invalidRetryPolicy])
        #expect(code(RetryPolicy(backoffMultiplier: 0.5)) == [.invalidRetryPolicy])
        #expect(code(RetryPolicy(backoffMultiplier: .nan)) == [.invalidRetryPolicy])
        #expect(code(RetryPolicy(nonRetryable: [""])) == [.invalidRetryPolicy])
        #expect(code(RetryPolicy(maxBackoff: .seconds(400 * 86_400))) == [.invalidRetryPolicy])
        #expect(throws: Never.self) { try WorkflowDefinition(name: "w", tasks: [TaskDefinition(name: "a", type: "t", retry: RetryPolicy(maxAttempts: 1000))]).validated() }
    }

    @Test("zero, negative and overlong timeouts are reported")
    func validated_timeouts_reported() {
        for timeouts in [TaskTimeouts(scheduleToStart: .zero), TaskTimeouts(startToClose: .seconds(-5)), TaskTimeouts(heartbeat: .seconds(400 * 86_400))] {
            let error = Self.error([TaskDefinition(name: "a", type: "t", timeouts: timeouts)])
            #expect(error?.codes == [.invalidTimeout], "\(timeouts)")
        }
        let message = Self.error([TaskDefinition(name: "a", type: "t", timeouts: TaskTimeouts(heartbeat: .zero))])?.problems.first?.message
        #expect(message == "task 'a': timeouts.heartbeat must be positive, not 0s")
    }

    @Test("map needs exactly one parent")
    func validated_map_needsOneParent() {
        #expect(Self.error([TaskDefinition(name: "m", type: "t", map: true)])?.codes == [.invalidMap])
        #expect(Self.error([Self.t("a"), Self.t("b"), TaskDefinition(name: "m", type: "t", dependsOn: ["a", "b"], map: true)])?.codes == [.invalidMap])
    }

    @Test("join needs parents, and at_least(N) needs 1 ≤ N ≤ parents")
    func validated_join_ranges() {
        #expect(Self.error([TaskDefinition(name: "a", type: "t", join: .all)])?.codes == [.invalidJoin])
        let parents = [Self.t("p"), Self.t("q")]
        #expect(Self.error(parents + [TaskDefinition(name: "j", type: "t", dependsOn: ["p", "q"], join: .atLeast(0))])?.codes == [.invalidJoin])
        #expect(Self.error(parents + [TaskDefinition(name: "j", type: "t", dependsOn: ["p", "q"], join: .atLeast(3))])?.codes == [.invalidJoin])
        #expect(throws: Never.self) {
            try WorkflowDefinition(name: "w", tasks: parents + [TaskDefinition(name: "j", type: "t", dependsOn: ["p", "q"], join: .atLeast(2))]).validated()
        }
    }

    @Test("empty or malformed task types, queues and keys are reported")
    func validated_typeQueueKeys_reported() {
        #expect(Self.error([Self.t("a", type: "")])?.codes == [.invalidType])
        #expect(Self.error([Self.t("a", type: "two words")])?.codes == [.invalidType])
        #expect(Self.error([TaskDefinition(name: "a", type: "t", queue: "")])?.codes == [.invalidQueue])
        #expect(Self.error([TaskDefinition(name: "a", type: "t", concurrencyKey: "")])?.codes == [.invalidKey])
        #expect(Self.error([TaskDefinition(name: "a", type: "t", cacheKey: String(repeating: "k", count: 257))])?.codes == [.invalidKey])
    }

    @Test("every problem is collected, so a file can be fixed in one pass")
    func validated_manyProblems_allCollected() {
        let error = Self.error([
            Self.t("a"),
            Self.t("a"),
            Self.t("b c", ["a"], type: ""),
            TaskDefinition(name: "m", type: "t", dependsOn: ["zzz", "m"], retry: RetryPolicy(maxAttempts: 0), timeouts: TaskTimeouts(heartbeat: .zero), map: true),
            TaskDefinition(name: "r", type: "t", join: .any),
            Self.t("x", ["y"]), Self.t("y", ["x"]),
        ], name: "bad name")
        #expect(error?.codes == [
            .invalidName, .duplicateTask, .invalidName, .invalidType, .unknownDependency, .selfDependency,
            .invalidRetryPolicy, .invalidTimeout, .invalidMap, .invalidJoin, .cycle,
        ])
        #expect(error?.description.hasPrefix("invalid workflow 'bad name': 11 problems\n  - ") == true, "\(String(describing: error))")
    }
}
