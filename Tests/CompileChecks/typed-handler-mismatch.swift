// expect-error: cannot convert value of type 'Label' to closure result type 'Quote'
import Weft
struct Order: Codable, Sendable { var id: String }
struct Quote: Codable, Sendable { var total: Int }
struct Label: Codable, Sendable { var text: String }
let price = TaskType<Order, Quote>("price")
var registry = TaskRegistry()
// The handler of price must return a Quote.
registry.register(price) { order, _ in Label(text: order.id) }
