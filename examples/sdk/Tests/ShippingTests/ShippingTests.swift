// snippet:start testing
import Shipping
import Testing
import Weft
import WeftTesting

@Test func labelsAnOrderAfterARetry() async throws {
    var env = WeftTestEnvironment()  // no servers: the engine in-process, on a virtual clock
    Shipping.register(into: &env.registry)
    env.inject(.fail(TaskError(kind: "Timeout", message: "carrier API slow")), into: "shipping.price", attempts: [1])
    let run = try await env.run(Shipping.workflow, input: Order(id: "o-1", weightKg: 2))
    #expect(try run.result().cents == 800)
    #expect(run.attempts(of: "shipping.price").count == 2)  // the retry's 200 ms backoff took no real time
}

@Test func refusesAnOrderThatWeighsNothing() async throws {
    var env = WeftTestEnvironment()
    Shipping.register(into: &env.registry)
    let run = try await env.run(Shipping.workflow, input: Order(id: "o-2", weightKg: 0))
    #expect(run.status == .failed)
    #expect(run.attempts(of: "shipping.price").count == 1)  // BadOrder is not retried
}

@Test func refundWaitsForApprovalThenCoolsOff() async throws {
    var env = WeftTestEnvironment()
    Shipping.register(into: &env.registry)
    try env.signal("approve", payload: Approval(by: "ann"), after: .seconds(3600))  // an hour in
    let run = try await env.run(Shipping.refundWorkflow, input: JSONValue.null)
    #expect(try run.result() == Label(tracking: "REFUND-ann", cents: 0))
    #expect(run.elapsed == .seconds(3600 + 86_400 + 60))  // a day and a minute of timers, no real time
}
// snippet:end testing
