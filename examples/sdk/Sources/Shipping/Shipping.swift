// snippet:start declarations
import Weft

/// What the workflow takes: an order to ship.
public struct Order: Codable, Sendable, Hashable {
    public var id: String
    public var weightKg: Double
    public init(id: String, weightKg: Double) { (self.id, self.weightKg) = (id, weightKg) }
}

/// A carrier's price for it.
public struct Quote: Codable, Sendable, Hashable {
    public var carrier: String
    public var cents: Int
}

/// What the workflow gives: the shipping label.
public struct Label: Codable, Sendable, Hashable {
    public var tracking: String
    public var cents: Int
    public init(tracking: String, cents: Int) { (self.tracking, self.cents) = (tracking, cents) }
}

/// The task types, declared once: workers register handlers for them, workflows use them.
public enum Shipping {
    public static let price = TaskType<Order, Quote>("shipping.price")
    public static let label = TaskType<Quote, Label>("shipping.label")

    /// price >>> label: `Step(label)` takes a `Quote`, which is what `Step(price)` gives. Wiring
    /// them the other way round does not compile.
    public static let workflow = Workflow("shipping") {
        Step(price)
            .retry(maxAttempts: 5, initialBackoff: .milliseconds(200), nonRetryable: ["BadOrder"])
            .timeouts(startToClose: .seconds(30))
        Step(label)
    }
}
// snippet:end declarations

// snippet:start run-control
/// Someone's approval, the payload of the `approve` signal.
public struct Approval: Codable, Sendable, Hashable {
    public var by: String
    public init(by: String) { self.by = by }
}

extension Shipping {
    public static let refund = TaskType<Approval, Label>("shipping.refund")

    /// A refund waits for a person's approval (a signal: `client.signal(run, "approve", payload:)`),
    /// cools off for a day (a durable timer: no worker slot held), then pays; the whole run may take
    /// a week at most.
    public static let refundWorkflow = Workflow("refund") {
        WaitSignal<Approval>("approval", signal: "approve", timeout: .seconds(72 * 3600))
        Sleep<Approval>("cool-off", for: .seconds(86_400))
        Step(refund).startAfter(.seconds(60))
    }.timeout(.seconds(7 * 86_400))
}
// snippet:end run-control

// snippet:start child-workflows
extension Shipping {
    public static let orders = TaskType<[Order], [Order]>("echo")  // the built-in echo, typed

    /// Ships a batch: one child run of `workflow` per order (on whatever shard its id falls), the
    /// labels in the orders' order. A child that runs over an hour is cancelled and started again.
    public static let batchWorkflow = Workflow("ship-batch") {
        Step("orders", orders)
        Step("ship-each", child: workflow).timeouts(startToClose: .seconds(3600)).retry(maxAttempts: 2).map()
    }
}
// snippet:end child-workflows

// snippet:start handlers
extension Shipping {
    /// The task handlers, as a worker (or a test) registers them.
    public static func register(into registry: inout TaskRegistry) {
        registry.register(price) { order, context in
            guard order.weightKg > 0 else {
                throw TaskError(kind: "BadOrder", message: "order \(order.id) weighs nothing", retryable: false)
            }
            // context.runID, context.attempt: make side effects idempotent (execution is at-least-once).
            return Quote(carrier: "acme", cents: Int((order.weightKg * 400).rounded()))
        }
        registry.register(label) { quote, context in
            Label(tracking: "\(quote.carrier.uppercased())-\(context.runID.description.suffix(8))", cents: quote.cents)
        }
        registry.register(refund) { approval, _ in Label(tracking: "REFUND-\(approval.by)", cents: 0) }
    }
}
// snippet:end handlers
