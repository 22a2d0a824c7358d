import Foundation
import Testing
@testable import Weft

@Suite("Workflow DSL")
struct WorkflowBuilderTests {
    private func decode(_ workflow: Workflow) throws -> [String: [String: Any]] {
        let object = try JSONSerialization.jsonObject(with: Data(workflow.definitionJSON())) as! [String: Any]
        let tasks = object["tasks"] as! [[String: Any]]
        return Dictionary(uniqueKeysWithValues: tasks.map { ($0["name"] as! String, $0) })
    }

    @Test("extract >>> (clean | enrich) >>> load makes a diamond")
    func diamond_dependencies() throws {
        let extract = Step("extract", type: "echo").retry(maxAttempts: 5, initialBackoff: "200ms", nonRetryable: ["BadInput"]).priority(.high)
        let clean = Step("clean", type: "noop")
        let enrich = Step("enrich", type: "noop").queue("enrichers")
        let load = Step("load", type: "noop")
        let workflow = Workflow("ingest", extract, clean | enrich, load)
        let tasks = try decode(workflow)
        #expect(workflow.definitionJSON() == Workflow("ingest", extract >>> (clean | enrich) >>> load).definitionJSON())
        #expect(workflow.definitionJSON() == Workflow("ingest", (extract >>> (clean | enrich)) >>> load).definitionJSON())
        #expect(workflow.definitionJSON() == Workflow("ingest", extract >>> ((clean | enrich) >>> load)).definitionJSON())
        #expect(Set(tasks.keys) == ["extract", "clean", "enrich", "load"])
        #expect(tasks["extract"]?["depends_on"] == nil)
        #expect(tasks["clean"]?["depends_on"] as? [String] == ["extract"])
        #expect(tasks["enrich"]?["depends_on"] as? [String] == ["extract"])
        #expect(Set(tasks["load"]?["depends_on"] as? [String] ?? []) == ["clean", "enrich"])
        #expect(tasks["extract"]?["priority"] as? String == "high")
        let retry = tasks["extract"]?["retry"] as? [String: Any]
        #expect(retry?["max_attempts"] as? Int == 5)
        #expect(retry?["non_retryable"] as? [String] == ["BadInput"])
        #expect(tasks["enrich"]?["queue"] as? String == "enrichers")
    }

    @Test("a fan-out with map and a join")
    func map_and_join() throws {
        let split = Step("split", type: "echo")
        let shard = Step("shard", type: "noop").map()
        let merge = Step("merge", type: "noop").join(.atLeast(1))
        let tasks = try decode(Workflow("fan", split, shard, merge))
        #expect(tasks["shard"]?["map"] as? Bool == true)
        #expect(tasks["merge"]?["join"] as? String == "at_least(1)")
        #expect(tasks["merge"]?["depends_on"] as? [String] == ["shard"])
    }

    @Test("the JSON is deterministic (sorted keys)")
    func json_deterministic() {
        let a = Workflow("w", Step("a", type: "noop").queue("q").priority(.low) >>> Step("b", type: "noop"))
        let b = Workflow("w", Step("a", type: "noop").priority(.low).queue("q") >>> Step("b", type: "noop"))
        #expect(a.definitionJSON() == b.definitionJSON())
        #expect(String(decoding: a.definitionJSON(), as: UTF8.self).hasPrefix(#"{"name":"w","tasks":[{"name":"a","priority":"low","queue":"q","type":"noop"}"#))
    }

    @Test("chains read left to right: a >>> b >>> c is a line, a | b | c three roots")
    func chains() throws {
        let (a, b, c) = (Step("a", type: "noop"), Step("b", type: "noop"), Step("c", type: "noop"))
        let line = try decode(Workflow("w", a >>> b >>> c))
        #expect(line["b"]?["depends_on"] as? [String] == ["a"])
        #expect(line["c"]?["depends_on"] as? [String] == ["b"])
        #expect(Workflow("w", a >>> b >>> c).definitionJSON() == Workflow("w", a, b, c).definitionJSON())
        let side = try decode(Workflow("w", a | b | c))
        #expect(side.values.allSatisfy { $0["depends_on"] == nil })
    }
}
