// expect-error: cannot conform to 'WorkflowGraph'
import Weft
struct Order: Codable, Sendable { var id: String }
struct Quote: Codable, Sendable { var total: Int }
struct Label: Codable, Sendable { var text: String }
let price = TaskType<Order, Quote>("price")
let ship = TaskType<Label, Bool>("ship")
_ = Workflow("w") {
    Step(price)
    Step(ship)
}
