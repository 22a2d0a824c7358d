import Foundation
import Testing
@testable import Weft
import WeftEngine

struct Order: Codable, Sendable, Hashable { var id: String; var items: Int }
struct Quote: Codable, Sendable, Hashable { var total: Int }
struct Label: Codable, Sendable, Hashable { var text: String }

let price = TaskType<Order, Quote>("price")
let labelling = TaskType<Quote, Label>("label")
let audit = TaskType<Quote, Bool>("audit")
let report = TaskType<ParentOutputs, String>("report")

@Suite("Workflow DSL")
struct WorkflowBuilderTests {
    private func decode<I, O>(_ workflow: Workflow<I, O>) throws -> [String: [String: Any]] {
        let object = try JSONSerialization.jsonObject(with: Data(workflow.definitionJSON())) as! [String: Any]
        let tasks = object["tasks"] as! [[String: Any]]
        return Dictionary(uniqueKeysWithValues: tasks.map { ($0["name"] as! String, $0) })
    }

    @Test("extract >>> (clean | enrich) >>> load makes a diamond, written three ways")
    func diamond_dependencies() throws {
        let extract = Step("extract", type: "echo").retry(maxAttempts: 5, initialBackoff: .milliseconds(200), nonRetryable: ["BadInput"]).priority(.high)
        let clean = Step("clean", type: "noop")
        let enrich = Step("enrich", type: "noop").queue("enrichers")
        let load = Step("load", type: "noop")
        let workflow = Workflow("ingest") {
            extract
            clean | enrich
            load
        }
        let tasks = try decode(workflow)
        #expect(try workflow.definitionJSON() == Workflow("ingest", extract >>> (clean | enrich) >>> load).definitionJSON())
        #expect(try workflow.definitionJSON() == Workflow("ingest", (extract >>> (clean | enrich)) >>> load).definitionJSON())
        #expect(try workflow.definitionJSON() == Workflow("ingest", extract >>> ((clean | enrich) >>> load)).definitionJSON())
        #expect(Set(tasks.keys) == ["extract", "clean", "enrich", "load"])
        #expect(tasks["extract"]?["depends_on"] == nil)
        #expect(tasks["clean"]?["depends_on"] as? [String] == ["extract"])
        #expect(tasks["enrich"]?["depends_on"] as? [String] == ["extract"])
        #expect(Set(tasks["load"]?["depends_on"] as? [String] ?? []) == ["clean", "enrich"])
        #expect(tasks["extract"]?["priority"] as? String == "high")
        let retry = tasks["extract"]?["retry"] as? [String: Any]
        #expect(retry?["max_attempts"] as? Int == 5)
        #expect(retry?["initial_backoff"] as? String == "200ms")
        #expect(retry?["non_retryable"] as? [String] == ["BadInput"])
        #expect(tasks["enrich"]?["queue"] as? String == "enrichers")
    }

    @Test("durations are written as the definition format spells them")
    func durations() throws {
        let step = Step(price)
            .retry(maxAttempts: 3, initialBackoff: .seconds(1.5), maxBackoff: .seconds(120))
            .timeouts(scheduleToStart: .seconds(60), startToClose: .seconds(3600), heartbeat: .milliseconds(250))
        let tasks = try decode(Workflow("w", step))
        let retry = tasks["price"]?["retry"] as? [String: Any]
        #expect(retry?["initial_backoff"] as? String == "1.5s")
        #expect(retry?["max_backoff"] as? String == "2m")
        let timeouts = tasks["price"]?["timeouts"] as? [String: String]
        #expect(timeouts == ["schedule_to_start": "1m", "start_to_close": "1h", "heartbeat": "250ms"])
    }

    @Test("rate and concurrency limits are written as the definition's rate_limit and concurrency, and the definition validates")
    func rateLimit() throws {
        let workflow = Workflow("w") {
            Step(price).rateLimit(key: "$.id", limit: 10).cache(key: "$.id", ttl: .seconds(3600))
            Step("label", labelling).rateLimit(key: "labels", limit: 2, per: .seconds(60), burst: 1).concurrency(key: "$.total", limit: 3)
                .circuitBreaker(minRequests: 5, openFor: .seconds(10), failFast: true)
        }
        let tasks = try decode(workflow)
        let priceLimit = try #require(tasks["price"]?["rate_limit"] as? NSDictionary)
        #expect(priceLimit == ["key": "$.id", "limit": 10] as NSDictionary)
        let labelLimit = try #require(tasks["label"]?["rate_limit"] as? NSDictionary)
        #expect(labelLimit == ["key": "labels", "limit": 2, "per": "1m", "burst": 1] as NSDictionary)
        let definition = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(workflow.definitionJSON()))
        #expect(try definition.validated().task(named: "label")?.rateLimit?.emissionMicroseconds == 30_000_000)
        #expect(try definition.validated().task(named: "label")?.concurrency?.limit == 3)
        #expect(try definition.validated().task(named: "label")?.circuitBreaker
            == CircuitBreakerPolicy(failureRate: 0.5, minRequests: 5, window: .seconds(60), openFor: .seconds(10), whenOpen: .fail))
        #expect(tasks["price"]?["cache"] as? NSDictionary == ["key": "$.id", "ttl": "1h"] as NSDictionary)
        #expect(tasks["label"]?["concurrency"] as? NSDictionary == ["key": "$.total", "limit": 3] as NSDictionary)
    }

    @Test("map(maxConcurrency:) and batchedMap write the map object; a batch step takes and gives lists")
    func mapOptions() throws {
        let orders = TaskType<Int, [Order]>("orders")
        let batch = TaskType<[Order], [Quote]>("price-batch")
        let each = TaskType<Order, Quote>("price-one")
        let batched = Workflow("b", Step(orders) >>> Step(batch).batchedMap(batchSize: 50, maxConcurrency: 4))
        let capped = Workflow("c", Step(orders) >>> Step(each).map(maxConcurrency: 8))
        #expect(try decode(batched)["price-batch"]?["map"] as? NSDictionary == ["batch_size": 50, "max_concurrency": 4] as NSDictionary)
        #expect(try decode(capped)["price-one"]?["map"] as? NSDictionary == ["max_concurrency": 8] as NSDictionary)
        let definition = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(batched.definitionJSON()))
        #expect(try definition.validated().task(named: "price-batch")?.mapOptions == MapOptions(batchSize: 50, maxConcurrency: 4))
    }

    @Test("typed steps: a step is named after its task type, and the types flow through")
    func typed_steps() throws {
        let flow = Step(price) >>> (Step(labelling) | Step(audit)) >>> Step(report)
        let workflow = Workflow("shipping", flow)
        let _: Workflow<Order, String> = workflow  // the workflow's input and output types
        let tasks = try decode(workflow)
        #expect(tasks["price"]?["type"] as? String == "price")
        #expect(Set(tasks["report"]?["depends_on"] as? [String] ?? []) == ["label", "audit"])
        // An untyped step accepts any output.
        let tail = Workflow("t", Step(price) >>> Step("log", type: "echo"))
        #expect(try decode(tail)["log"]?["depends_on"] as? [String] == ["price"])
    }

    @Test("a fan-out with map and a join")
    func map_and_join() throws {
        let split = Step("split", type: "echo")
        let shard = Step("shard", type: "noop").map()
        let merge = Step("merge", type: "noop").join(.atLeast(1))
        let tasks = try decode(Workflow("fan") { split; shard; merge })
        #expect(tasks["shard"]?["map"] as? Bool == true)
        #expect(tasks["merge"]?["join"] as? String == "at_least(1)")
        #expect(tasks["merge"]?["depends_on"] as? [String] == ["shard"])
        // Typed: a map step takes the list of its element type.
        let quotes = TaskType<Order, [Order]>("split-order")
        let typed = Workflow("typed-fan", Step(quotes) >>> Step(price).map())
        let _: Workflow<Order, [Quote]> = typed
        #expect(try decode(typed)["price"]?["map"] as? Bool == true)
    }

    @Test("the JSON is deterministic (sorted keys)")
    func json_deterministic() throws {
        let a = Workflow("w", Step("a", type: "noop").queue("q").priority(.low) >>> Step("b", type: "noop"))
        let b = Workflow("w", Step("a", type: "noop").priority(.low).queue("q") >>> Step("b", type: "noop"))
        #expect(try a.definitionJSON() == b.definitionJSON())
        #expect(String(decoding: try a.definitionJSON(), as: UTF8.self).hasPrefix(#"{"name":"w","tasks":[{"name":"a","priority":"low","queue":"q","type":"noop"}"#))
    }

    @Test("chains read left to right: a >>> b >>> c is a line, a | b | c three roots")
    func chains() throws {
        let (a, b, c) = (Step("a", type: "noop"), Step("b", type: "noop"), Step("c", type: "noop"))
        let line = try decode(Workflow("w", a >>> b >>> c))
        #expect(line["b"]?["depends_on"] as? [String] == ["a"])
        #expect(line["c"]?["depends_on"] as? [String] == ["b"])
        #expect(try Workflow("w", a >>> b >>> c).definitionJSON() == Workflow("w") { a; b; c }.definitionJSON())
        let side = try decode(Workflow("w", a | b | c))
        #expect(side.values.allSatisfy { $0["depends_on"] == nil })
    }

    @Test("what types cannot check is refused when the definition is made, with every problem")
    func runtime_shape_checks() throws {
        // label reused after a fan-in: it would receive ParentOutputs, but it takes a Quote.
        let reused = Workflow("w", (Step(price) >>> Step(labelling)) | (Step(price) >>> Step(audit) >>> Step("x", type: "echo")))
        #expect(throws: Never.self) { try reused.definitionJSON() }  // consistent reuse is fine
        let label = Step(labelling)
        let twoParents = Workflow("w", (Step(price) >>> label) | (Step(TaskType<Order, Quote>("price2")) >>> label))
        let error = #expect(throws: WeftError.self) { try twoParents.definitionJSON() }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("step 'label' has 2 parents (price, price2), so it receives ParentOutputs") == true, "\(String(describing: error))")
        // Two different steps with one name.
        let clash = Workflow("w", Step("a", type: "noop") >>> Step("a", type: "echo"))
        let clashError = #expect(throws: WeftError.self) { try clash.definitionJSON() }
        #expect(clashError?.message.contains("two different steps are named 'a'") == true)
    }

    @Test("ParentOutputs gives each parent's output typed by the parent step")
    func parent_outputs() throws {
        let outputs = try JSONDecoder().decode(ParentOutputs.self, from: Data(#"{"label":{"text":"x"},"audit":true}"#.utf8))
        #expect(try outputs.output(of: Step(labelling)) == Label(text: "x"))
        #expect(try outputs.output(of: Step(audit)) == true)
        #expect(outputs.contains("label") && !outputs.contains("price"))
        #expect(throws: DecodingError.self) { try outputs.output(of: Step(price)) }
        #expect(outputs["audit"] == .bool(true))
    }

    @Test("JSONValue round-trips any JSON")
    func json_value() throws {
        let text = #"{"a":[1,2.5,"x",null,true,{"b":{}}],"c":"\u00e9\n"}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let again = try JSONDecoder().decode(JSONValue.self, from: Data(value.serialized()))
        #expect(value == again)
        #expect(value == ["a": [1, 2.5, "x", nil, true, ["b": [:]]], "c": "é\n"])
    }
}
