import Foundation
import Testing
@testable import WeftEngine

@Suite("WorkflowDefinition coding")
struct WorkflowDefinitionCodingTests {
    typealias F = Fixtures

    static func decode(_ json: String) throws -> WorkflowDefinition {
        try JSONDecoder().decode(WorkflowDefinition.self, from: Data(json.utf8))
    }

    /// The message of the decoding error `json` produces (fails the test if it decodes).
    static func decodingError(_ json: String) -> String {
        do {
            let definition = try decode(json)
            Issue.record("decoded \(definition)")
            return ""
        } catch {
            return String(describing: error)
        }
    }

    static func task(_ fields: String) -> String {
        #"{"name": "w", "tasks": [{"name": "a", "type": "noop", \#(fields)}]}"#
    }

    @Test("the ARCHITECTURE.md §4 example decodes with every option, and defaults fill the rest")
    func decode_architectureExample_allFields() throws {
        let definition = try Self.decode(F.architectureExampleJSON)
        #expect(definition.name == "ingest")
        #expect(definition.tasks.map(\.name) == ["extract", "clean", "enrich", "shard", "load"])
        let extract = definition.tasks[0]
        #expect(extract.type == "echo")
        #expect(extract.retry == RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(200), maxBackoff: .seconds(30), backoffMultiplier: 2, nonRetryable: ["BadInput"]))
        #expect(extract.timeouts == TaskTimeouts(scheduleToStart: .seconds(60), startToClose: .seconds(300), heartbeat: .seconds(10)))
        #expect(extract.priority == .high)
        #expect(extract.queue == "default")
        #expect(extract.dependsOn.isEmpty && !extract.map && extract.join == nil)
        let clean = definition.tasks[1]
        #expect(clean == TaskDefinition(name: "clean", type: "noop", dependsOn: ["extract"]))
        #expect(clean.retry == RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(1), maxBackoff: .seconds(60), backoffMultiplier: 2))
        #expect(definition.tasks[2].concurrencyKey == "customer")
        #expect(definition.tasks[3].map && definition.tasks[3].dependsOn == ["clean", "enrich"])
        #expect(definition.tasks[4].join == .all)
    }

    @Test("the §4 example as written maps with two parents, which validation rejects; with an explicit merge it validates")
    func validate_architectureExample_mapNeedsOneParent() throws {
        let literal = try Self.decode(F.architectureExampleJSON)
        #expect(throws: DefinitionError.self) { try literal.validated() }
        do {
            _ = try literal.validated()
        } catch {
            #expect(error.codes == [.invalidMap])
            #expect(error.description == "invalid workflow 'ingest': task 'shard': map: true needs exactly one parent (the task whose output is the list), not 2")
        }
        let fixed = try Self.decode(F.architectureExampleValidJSON).validated()
        #expect(fixed.topologicalOrder == ["extract", "clean", "enrich", "merge", "shard", "load"])
    }

    @Test("encoding then decoding gives the same definition, and the same version")
    func codable_roundTrip_identical() throws {
        let definition = try Self.decode(F.architectureExampleValidJSON)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(definition)
        let again = try JSONDecoder().decode(WorkflowDefinition.self, from: data)
        #expect(again == definition)
        #expect(try again.validated().version == definition.validated().version)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""depends_on""#) && text.contains(#""max_attempts" : 5"#) && text.contains(#""initial_backoff" : "200ms""#))
        #expect(!text.contains(#""queue""#), "defaults are left out: \(text)")

        let exotic = WorkflowDefinition(name: "x", tasks: [TaskDefinition(
            name: "a", type: "t",
            retry: RetryPolicy(maxAttempts: 7, initialBackoff: .nanoseconds(1_234_500_000), maxBackoff: .seconds(5400), backoffMultiplier: 1.5, nonRetryable: ["A", "B"]),
            timeouts: TaskTimeouts(heartbeat: .microseconds(1500)), priority: .low, queue: "q", cacheKey: "c", join: nil
        )])
        #expect(try JSONDecoder().decode(WorkflowDefinition.self, from: JSONEncoder().encode(exotic)) == exotic)
    }

    @Test("a bad duration is a decoding error that names the field and the value")
    func decode_badDuration_namesField() {
        let message = Self.decodingError(Self.task(#""timeouts": {"heartbeat": "10x"}"#))
        #expect(message.contains("heartbeat") && message.contains("10x"), "\(message)")
        let backoff = Self.decodingError(Self.task(#""retry": {"initial_backoff": "soon"}"#))
        #expect(backoff.contains("initial_backoff") && backoff.contains("soon"), "\(backoff)")
        let number = Self.decodingError(Self.task(#""timeouts": {"start_to_close": 30}"#))
        #expect(number.contains("start_to_close") && number.contains("30s"), "\(number)")
    }

    @Test("an absurdly large duration is rejected, not trapped on")
    func decode_hugeDuration_rejected() {
        let message = Self.decodingError(Self.task(#""retry": {"max_backoff": "99999999999999999999d"}"#))
        #expect(message.contains("max_backoff") && message.contains("too large"), "\(message)")
    }

    @Test("unknown fields are errors that name them")
    func decode_unknownField_namesIt() {
        let task = Self.decodingError(Self.task(#""depend_on": ["b"]"#))
        #expect(task.contains("depend_on") && task.contains("depends_on"), "\(task)")
        let retry = Self.decodingError(Self.task(#""retry": {"max_attempt": 3}"#))
        #expect(retry.contains("max_attempt"), "\(retry)")
        let top = Self.decodingError(#"{"name": "w", "tasks": [], "version": 2}"#)
        #expect(top.contains("version"), "\(top)")
    }

    @Test("invalid priorities and joins are errors listing the accepted values")
    func decode_badEnums_listAcceptedValues() throws {
        let priority = Self.decodingError(Self.task(#""priority": "urgent""#))
        #expect(priority.contains("urgent") && priority.contains("critical, high, normal or low"), "\(priority)")
        let join = Self.decodingError(Self.task(#""join": "most""#))
        #expect(join.contains("most") && join.contains("at_least(N)"), "\(join)")
    }

    @Test("join values decode from their file spelling")
    func decode_joinSpellings() throws {
        #expect(try Self.decode(Self.task(#""join": "at_least(2)""#)).tasks[0].join == .atLeast(2))
        #expect(try Self.decode(Self.task(#""join": "any""#)).tasks[0].join == .any)
    }

    @Test("missing required fields are errors")
    func decode_missingFields_throw() {
        #expect(throws: DecodingError.self) { try Self.decode(#"{"name": "w", "tasks": [{"name": "a"}]}"#) }
        #expect(throws: DecodingError.self) { try Self.decode(#"{"tasks": []}"#) }
    }

    @Test("durations print exactly in the largest unit that divides them")
    func durationCoding_format_exact() {
        #expect(DurationCoding.format(.seconds(7200)) == "2h")
        #expect(DurationCoding.format(.seconds(300)) == "5m")
        #expect(DurationCoding.format(.seconds(90)) == "90s")
        #expect(DurationCoding.format(.milliseconds(1500)) == "1500ms")
        #expect(DurationCoding.format(.nanoseconds(1_234_500_000)) == "1234500us")
        #expect(DurationCoding.format(.nanoseconds(7)) == "7ns")
        #expect(DurationCoding.format(.zero) == "0s")
        #expect(DurationCoding.format(.seconds(-2)) == "-2s")
    }
}
