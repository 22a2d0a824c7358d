import Testing
import Weft
import WeftTesting

@Suite("WeftTesting: workflows and handlers in-process, on a virtual clock")
struct WeftTestingTests {
    let flaky = TaskType<Order, Quote>("price")
    let label = TaskType<Quote, Label>("label")

    private func shipping() -> Workflow<Order, Label> {
        Workflow("shipping") {
            Step(flaky)
                .retry(maxAttempts: 3, initialBackoff: .seconds(600), maxBackoff: .seconds(3600))
                .timeouts(startToClose: .seconds(3600))
            Step(label)
        }
    }

    private func environment() -> WeftTestEnvironment {
        var env = WeftTestEnvironment()
        env.register(flaky) { order, _ in Quote(total: order.items * 10) }
        env.register(label) { quote, context in Label(text: "\(quote.total) for \(context.node)#\(context.attempt)") }
        return env
    }

    @Test("a retry after a failure and a retry after a timeout: 1.5 h of virtual time, no real waiting")
    func retry_and_timeout() async throws {
        var env = environment()
        env.inject(.fail(TaskError(kind: "Flaky", message: "try again")), into: "price", attempts: [1])
        env.inject(.hang, into: "price", attempts: [2])
        let run = try await env.run(shipping(), input: Order(id: "o-1", items: 3))
        #expect(run.status == .succeeded)
        #expect(try run.result() == Label(text: "30 for label#1"))
        let attempts = run.attempts(of: "price")
        #expect(attempts.map(\.outcome) == [.failed(kind: "Flaky", message: "try again"), .timedOut("start_to_close"), .succeeded])
        // Backoff 10 min, a 1 h timeout, backoff 20 min (each backoff ±20 % jitter): the clock
        // skipped them.
        #expect(run.elapsed >= .seconds(0.8 * 600 + 3600 + 0.8 * 1200) && run.elapsed <= .seconds(1.2 * 600 + 3600 + 1.2 * 1200), "\(run.elapsed)")
        #expect(run.history.contains("attempt_timed_out price#2 start_to_close"))
    }

    @Test("a failure past the retry policy fails the run, and result() says so with the run id")
    func failure_fails_run() async throws {
        var env = environment()
        env.inject(.fail(TaskError(kind: "Down", message: "the pricing API is down")), into: "price")
        let run = try await env.run(shipping(), input: Order(id: "o-2", items: 1))
        #expect(run.status == .failed)
        #expect(run.attempts(of: "price").count == 3)
        #expect(run.attempts(of: "label").isEmpty)
        let error = #expect(throws: WeftError.self) { try run.result() }
        #expect(error?.code == .runFailed && error?.runID == run.runID)
        #expect(error?.message.contains("the pricing API is down") == true, "\(String(describing: error))")
    }

    @Test("a non-retryable error and a handler's thrown error")
    func handler_errors() async throws {
        var env = WeftTestEnvironment()
        struct Broken: Error {}
        env.register(flaky) { _, context in
            if context.attempt == 1 { throw Broken() }
            throw TaskError(kind: "BadOrder", message: "no items", retryable: false)
        }
        env.register(label) { _, _ in Label(text: "never") }
        let run = try await env.run(shipping(), input: Order(id: "o-3", items: 0))
        #expect(run.attempts(of: "price").map(\.outcome) == [.failed(kind: "Broken", message: "Broken()"), .failed(kind: "BadOrder", message: "no items")])
        #expect(run.status == .failed)
    }

    @Test("a delayed result past its heartbeat-free timeout is ignored; fan-out and fan-in get ParentOutputs")
    func delay_and_parents() async throws {
        let audit = TaskType<Quote, Bool>("audit")
        let summary = TaskType<ParentOutputs, String>("summary")
        var env = environment()
        env.register(audit) { quote, _ in quote.total < 100 }
        env.register(summary) { parents, _ in
            "\(try parents.output(of: Step(label)).text) / audited: \(try parents.output(of: Step(audit)))"
        }
        env.inject(.delay(.seconds(90)), into: "audit", attempts: [1])  // longer than its 60 s limit
        let workflow = Workflow("fan", Step(flaky) >>> (Step(label) | Step(audit).retry(maxAttempts: 2).timeouts(startToClose: .seconds(60))) >>> Step(summary))
        let run = try await env.run(workflow, input: Order(id: "o-4", items: 2))
        #expect(try run.result() == "20 for label#1 / audited: true")
        #expect(run.attempts(of: "audit").map(\.outcome) == [.timedOut("start_to_close"), .succeeded])
    }

    @Test("map over a list; untyped built-in steps")
    func map_and_builtins() async throws {
        let split = TaskType<Order, [Order]>("split")
        var env = environment()
        env.register(split) { order, _ in (1...order.items).map { Order(id: "\(order.id)-\($0)", items: $0) } }
        let run = try await env.run(Workflow("m", Step(split) >>> Step(flaky).map() >>> Step("log", type: "echo")), input: Order(id: "o", items: 3))
        #expect(run.attempts(of: "price").map(\.node) == ["price[0]", "price[1]", "price[2]"])
        #expect(try run.result() == JSONValue.array([["total": 10], ["total": 20], ["total": 30]]))
    }

    @Test("mistakes are clear errors: a missing handler, an invalid definition, a hang with no timeout")
    func clear_errors() async throws {
        let env = WeftTestEnvironment()
        let missing = await #expect(throws: WeftError.self) { try await env.run(Workflow("w", Step(flaky)), input: Order(id: "x", items: 1)) }
        #expect(missing?.message.contains("no handler for task type 'price'") == true)
        let invalid = await #expect(throws: WeftError.self) {
            try await env.run(Workflow("w", Step("bad name!", type: "noop")), input: JSONValue.null)
        }
        #expect(invalid?.code == .invalidArgument)
        var hanging = WeftTestEnvironment()
        hanging.inject(.hang, into: "a")
        let stuck = await #expect(throws: WeftError.self) { try await hanging.run(Workflow("w", Step("a", type: "noop")), input: JSONValue.null) }
        #expect(stuck?.code == .failedPrecondition && stuck?.message.contains("a#1") == true, "\(String(describing: stuck))")
    }
}

@Suite("WeftTesting: durable timers")
struct WeftTestingTimerTests {
    @Test("start_after and Sleep pass on a virtual clock: 10 min + 1 h skipped, no handler for the sleep")
    func timers_virtualTime() async throws {
        let price = TaskType<Order, Quote>("price")
        let label = TaskType<Quote, Label>("label")
        var env = WeftTestEnvironment()
        env.register(price) { order, _ in Quote(total: order.items) }
        env.register(label) { quote, _ in Label(text: "\(quote.total)") }
        let workflow = Workflow("later") {
            Step(price).startAfter(.seconds(600))
            Sleep<Quote>("cool-off", for: .seconds(3600))
            Step(label)
        }
        let definition = String(decoding: try workflow.definitionJSON(), as: UTF8.self)
        #expect(definition.contains(#"{"depends_on":["price"],"name":"cool-off","sleep":"1h"}"#), "\(definition)")
        let run = try await env.run(workflow, input: Order(id: "o", items: 4))
        #expect(try run.result() == Label(text: "4"))
        #expect(run.elapsed == .seconds(600 + 3600))
        #expect(run.history.contains("attempt_completed cool-off#1") && run.attempts(of: "cool-off").map(\.outcome) == [.succeeded])
    }
}

@Suite("WeftTesting: signals")
struct WeftTestingSignalTests {
    struct Approval: Codable, Sendable, Hashable { var by: String }

    @Test("a signal sent at a virtual time completes the waiting step; none: a clear error; early: kept")
    func signals_virtualTime() async throws {
        let publish = TaskType<ParentOutputs, String>("publish")
        let approval = WaitSignal<Approval>("approval", signal: "approve", timeout: .seconds(86_400))
        var env = WeftTestEnvironment()
        env.register(publish) { parents, _ in "published, approved by \(try parents.output(of: approval).by)" }
        let workflow = Workflow("review", (Step("draft", type: "echo") | approval) >>> Step(publish))
        try env.signal("approve", payload: Approval(by: "ann"), after: .seconds(3600))
        let run = try await env.run(workflow, input: JSONValue.null)
        #expect(try run.result() == "published, approved by ann")
        #expect(run.elapsed == .seconds(3600))
        #expect(run.history.contains("signal_consumed #0 by approval"))
        // No signal: the run cannot progress (no timeout) — said clearly.
        var silent = WeftTestEnvironment()
        silent.register(publish) { _, _ in "" }
        let stuck = await #expect(throws: WeftError.self) {
            try await silent.run(Workflow("w", Step("draft", type: "echo") >>> WaitSignal<Approval>("approval", signal: "approve")), input: JSONValue.null)
        }
        #expect(stuck?.message.contains("wait for a signal that never comes") == true, "\(String(describing: stuck))")
        // The timeout fails the step.
        let late = try await silent.run(Workflow("w", WaitSignal<Approval>("approval", timeout: .seconds(60))), input: JSONValue.null)
        #expect(late.status == .failed && late.elapsed == .seconds(60))
    }
}

@Suite("WeftTesting: the workflow's timeout")
struct WeftTestingRunTimeoutTests {
    @Test("a hanging step fails the run at the workflow's timeout, on the virtual clock")
    func runTimeout() async throws {
        var env = WeftTestEnvironment()
        env.inject(.hang, into: "a")
        let workflow = Workflow("w", Step("a", type: "echo")).timeout(.seconds(600))
        #expect(String(decoding: try workflow.definitionJSON(), as: UTF8.self).hasSuffix(#","timeout":"10m"}"#))
        let run = try await env.run(workflow, input: JSONValue.null)
        #expect(run.status == .failed && run.elapsed == .seconds(600))
        #expect(run.error.contains("RunTimeout"), "\(run.error)")
    }
}
