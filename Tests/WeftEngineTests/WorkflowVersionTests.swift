import Foundation
import Testing
import WeftCore
@testable import WeftEngine

@Suite("WorkflowVersion")
struct WorkflowVersionTests {
    typealias F = Fixtures

    static func version(_ json: String) throws -> WorkflowVersion {
        try JSONDecoder().decode(WorkflowDefinition.self, from: Data(json.utf8)).validated().version
    }

    @Test("the same workflow hashes alike whatever the key order, whitespace, task order and spelled-out defaults")
    func version_equivalentSpellings_sameHash() throws {
        let compact = #"{"name":"w","tasks":[{"name":"a","type":"echo","retry":{"max_attempts":5,"initial_backoff":"1.5s"}},{"name":"b","type":"noop","depends_on":["a","c"]},{"name":"c","type":"noop","depends_on":["a"]}]}"#
        let reordered = """
        {
          "tasks": [
            {"depends_on": ["a"], "type": "noop", "name": "c"},
            {"type": "noop", "depends_on": ["c", "a"], "name": "b", "join": "all", "priority": "normal", "queue": "default"},
            {"retry": {"initial_backoff": "1500ms", "max_attempts": 5, "max_backoff": "1m", "backoff_multiplier": 2.0},
             "name": "a", "type": "echo", "timeouts": {}, "map": false}
          ],
          "name": "w"
        }
        """
        #expect(try Self.version(compact) == Self.version(reordered))
    }

    @Test("every change of meaning changes the hash")
    func version_semanticChanges_differentHash() throws {
        let base = [
            TaskDefinition(name: "a", type: "echo"),
            TaskDefinition(name: "b", type: "noop", dependsOn: ["a"]),
            TaskDefinition(name: "c", type: "noop", dependsOn: ["a", "b"]),
        ]
        var variants: [[TaskDefinition]] = []
        func variant(_ change: (inout [TaskDefinition]) -> Void) {
            var tasks = base
            change(&tasks)
            variants.append(tasks)
        }
        variant { $0[0].type = "noop" }
        variant { $0[1].name = "b2"; $0[2].dependsOn = ["a", "b2"] }
        variant { $0[2].dependsOn = ["b"] }
        variant { $0[1].retry.maxAttempts = 4 }
        variant { $0[1].retry.initialBackoff = .milliseconds(999) }
        variant { $0[1].retry.maxBackoff = .seconds(61) }
        variant { $0[1].retry.backoffMultiplier = 2.5 }
        variant { $0[1].retry.nonRetryable = ["BadInput"] }
        variant { $0[1].timeouts.heartbeat = .seconds(10) }
        variant { $0[1].timeouts.scheduleToStart = .seconds(10) }
        variant { $0[1].timeouts.startToClose = .seconds(10) }
        variant { $0[1].priority = .high }
        variant { $0[1].queue = "gpu" }
        variant { $0[1].concurrencyKey = "tenant" }
        variant { $0[1].cacheKey = "tenant" }
        variant { $0[1].map = true }
        variant { $0[2].join = .any }
        variant { $0[2].join = .atLeast(1) }
        variant { $0.append(TaskDefinition(name: "d", type: "noop")) }
        var seen: [WorkflowVersion: Int] = [try WorkflowDefinition(name: "w", tasks: base).validated().version: -1]
        for (index, tasks) in variants.enumerated() {
            let version = try WorkflowDefinition(name: "w", tasks: tasks).validated().version
            #expect(seen[version] == nil, "variant \(index) collides with \(String(describing: seen[version]))")
            seen[version] = index
        }
        #expect(try WorkflowDefinition(name: "w2", tasks: base).validated().version != WorkflowDefinition(name: "w", tasks: base).validated().version)
    }

    @Test("the canonical encoding of the §4 example is pinned, and decodes back to the same version")
    func canonicalJSON_architectureExample_pinned() throws {
        let workflow = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(F.architectureExampleValidJSON.utf8)).validated()
        let canonical = String(decoding: workflow.canonicalJSON, as: UTF8.self)
        let expected = #"{"name":"ingest","tasks":["#
            + #"{"depends_on":["extract"],"join":"all","name":"clean","priority":"normal","queue":"default","retry":{"backoff_multiplier":2.0,"initial_backoff":"1s","max_attempts":3,"max_backoff":"1m"},"type":"noop"},"#
            + #"{"concurrency_key":"customer","depends_on":["extract"],"join":"all","name":"enrich","priority":"normal","queue":"default","retry":{"backoff_multiplier":2.0,"initial_backoff":"1s","max_attempts":3,"max_backoff":"1m"},"type":"noop"},"#
            + #"{"name":"extract","priority":"high","queue":"default","retry":{"backoff_multiplier":2.0,"initial_backoff":"200ms","max_attempts":5,"max_backoff":"30s","non_retryable":["BadInput"]},"timeouts":{"heartbeat":"10s","schedule_to_start":"1m","start_to_close":"5m"},"type":"echo"},"#
            + #"{"depends_on":["shard"],"join":"all","name":"load","priority":"normal","queue":"default","retry":{"backoff_multiplier":2.0,"initial_backoff":"1s","max_attempts":3,"max_backoff":"1m"},"type":"noop"},"#
            + #"{"depends_on":["clean","enrich"],"join":"all","name":"merge","priority":"normal","queue":"default","retry":{"backoff_multiplier":2.0,"initial_backoff":"1s","max_attempts":3,"max_backoff":"1m"},"type":"noop"},"#
            + #"{"depends_on":["merge"],"join":"all","map":true,"name":"shard","priority":"normal","queue":"default","retry":{"backoff_multiplier":2.0,"initial_backoff":"1s","max_attempts":3,"max_backoff":"1m"},"type":"echo"}"#
            + "]}"
        #expect(canonical == expected)
        #expect(workflow.version == WorkflowVersion(rawValue: StableHash.xxh64(workflow.canonicalJSON)))
        let again = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(workflow.canonicalJSON)).validated()
        #expect(again.version == workflow.version)
        #expect(again == workflow)
    }

    @Test("strings are escaped in the canonical encoding, which stays valid JSON")
    func canonicalJSON_escapes() throws {
        let workflow = try WorkflowDefinition(name: "w", tasks: [
            TaskDefinition(name: "a", type: "t\"x\\", concurrencyKey: "line\nbreak\u{1} é"),
        ]).validated()
        let object = try JSONSerialization.jsonObject(with: Data(workflow.canonicalJSON)) as? [String: Any]
        let task = (object?["tasks"] as? [[String: Any]])?.first
        #expect(task?["type"] as? String == "t\"x\\")
        #expect(task?["concurrency_key"] as? String == "line\nbreak\u{1} é")
    }

    @Test("a version prints as 16 lowercase hex digits and parses back")
    func version_text_roundTrip() throws {
        let small = WorkflowVersion(rawValue: 0xAB)
        #expect(small.description == "00000000000000ab")
        #expect(WorkflowVersion(parsing: "00000000000000AB") == small)
        let version = try F.diamond().version
        #expect(version.description.count == 16)
        #expect(version.description.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(WorkflowVersion(parsing: version.description) == version)
        for bad in ["", "abc", "0x00000000000000a", "00000000000000ag", "+000000000000000"] {
            #expect(WorkflowVersion(parsing: bad) == nil, "\(bad)")
        }
    }
}
