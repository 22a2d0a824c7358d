// expect: compiles
import Weft
struct Order: Codable, Sendable { var id: String }
struct Quote: Codable, Sendable { var total: Int }
struct Label: Codable, Sendable { var text: String }
let price = TaskType<Order, Quote>("price")
let label = TaskType<Quote, Label>("label")
let audit = TaskType<Quote, Bool>("audit")
let report = TaskType<ParentOutputs, String>("report")
let a: Workflow<Order, Label> = Workflow("shipping", Step(price) >>> Step(label))
let b: Workflow<Order, String> = Workflow("audited", Step(price) >>> (Step(label) | Step(audit)) >>> Step(report))
let c: Workflow<Order, String> = Workflow("stages") {
    Step(price).retry(maxAttempts: 3, initialBackoff: .seconds(1))
    Step(label) | Step(audit)
    Step(report)
}
let d = Workflow("logged", Step(price) >>> Step("log", type: "echo"))  // untyped takes anything
var registry = TaskRegistry()
registry.register(price) { order, context in Quote(total: order.id.count + context.attempt) }
