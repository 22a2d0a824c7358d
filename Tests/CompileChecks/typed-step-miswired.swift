// expect-error: binary operator '>>>' cannot be applied to operands of type 'Step<Order, Quote>' and 'Step<Label, Bool>'
import Weft
struct Order: Codable, Sendable { var id: String }
struct Quote: Codable, Sendable { var total: Int }
struct Label: Codable, Sendable { var text: String }
let price = TaskType<Order, Quote>("price")
let ship = TaskType<Label, Bool>("ship")
// price gives a Quote; ship takes a Label.
_ = Workflow("w", Step(price) >>> Step(ship))
