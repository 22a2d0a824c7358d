// expect-error: operator function '|' requires the types 'Order' and 'Quote' be equivalent
import Weft
struct Order: Codable, Sendable { var id: String }
struct Quote: Codable, Sendable { var total: Int }
struct Label: Codable, Sendable { var text: String }
let price = TaskType<Order, Quote>("price")
let label = TaskType<Quote, Label>("label")
// Side by side, both receive the same input: an Order cannot also be a Quote.
_ = Workflow("w", Step(price) | Step(label))
