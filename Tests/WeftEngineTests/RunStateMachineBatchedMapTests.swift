import Foundation
import Testing
import WeftCore
@testable import WeftEngine

@Suite("RunStateMachine batched map and max_concurrency")
struct RunStateMachineBatchedMapTests {
    typealias F = Fixtures

    static func workflow(batch: Int? = nil, cap: Int? = nil, retry: RetryPolicy = RetryPolicy()) throws -> ValidatedWorkflow {
        var shard = F.task("shard", ["list"], type: "echo", retry: retry, map: true)
        shard.mapOptions = MapOptions(batchSize: batch, maxConcurrency: cap)
        return try F.workflow("batched", [F.task("list"), shard, F.task("load", ["shard"])])
    }

    /// Workers that echo their input (a batch gets its array back).
    static func echo(_ assignment: TaskAssignment) -> RunDriver.Behaviour { .complete(assignment.input) }

    @Test("batch_size groups consecutive elements into one task each; the node's output is the batches' outputs concatenated in order")
    func batches() throws {
        var run = RunDriver(workflow: try Self.workflow(batch: 3))
        run.start("null")
        run.take(F.k("list"))
        let actions = run.complete(F.k("list"), "[1,2,3,4,5,6,7]")
        #expect(actions.contains(.record(.mapExpanded(node: F.k("shard"), width: 3))))
        #expect(run.queued[F.k("shard", 0)]?.input == F.b("[1,2,3]"))
        #expect(run.queued[F.k("shard", 1)]?.input == F.b("[4,5,6]"))
        #expect(run.queued[F.k("shard", 2)]?.input == F.b("[7]"))
        for index in [2, 0, 1] {
            run.take(F.k("shard", index))
            // Batch 1 answers with doubled elements; the others echo theirs.
            run.complete(F.k("shard", index), index == 1 ? "[8,10,12]" : String(decoding: run.running[F.k("shard", index)]?.input ?? [], as: UTF8.self))
        }
        #expect(run.queued[F.k("load")]?.input == F.b("[1,2,3,8,10,12,7]"))
    }

    @Test("max_concurrency keeps at most N elements open; the next starts when one succeeds, in order; retries stay within the cap")
    func cap() throws {
        var run = RunDriver(workflow: try Self.workflow(cap: 2, retry: RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(10))))
        run.start("null")
        run.take(F.k("list"))
        run.complete(F.k("list"), "[10,11,12,13,14]")
        #expect(Set(run.queued.keys) == [F.k("shard", 0), F.k("shard", 1)])
        #expect(run.machine.node(F.k("shard", 2)) == nil, "not started: no state, no rows")
        run.take(F.k("shard", 0))
        run.take(F.k("shard", 1))
        run.fail(F.k("shard", 1), TaskFailure(kind: "Flaky", message: "once"))
        #expect(run.queued.isEmpty, "a failed attempt that will retry keeps its place: nothing new starts")
        run.complete(F.k("shard", 0), "0")
        #expect(Set(run.queued.keys) == [F.k("shard", 2)])
        run.advance(by: 100)  // the retry of element 1 comes due
        #expect(Set(run.queued.keys) == [F.k("shard", 1), F.k("shard", 2)])
        let steps = run.runToEnd(Self.echo)
        #expect(steps > 0)
        #expect(run.queued.isEmpty && run.running.isEmpty)
        guard case .completed = run.outcome else {
            Issue.record("\(String(describing: run.outcome))")
            return
        }
        #expect(run.machine.snapshot().nodes[F.k("shard")] == NodeSnapshot(.succeeded(output: F.b("[0,11,12,13,14]")), attempts: 0))
    }

    @Test("a capped, batched map recovers at every step and ends like the uninterrupted run; no more than the cap ever open")
    func recovery() throws {
        let workflow = try Self.workflow(batch: 2, cap: 2)
        var reference = RunDriver(workflow: workflow)
        reference.start("null")
        func behaviour(_ assignment: TaskAssignment) -> RunDriver.Behaviour {
            assignment.node.name == "list" ? .complete(F.b("[1,2,3,4,5,6,7,8,9]")) : .complete(assignment.input)
        }
        let steps = reference.runToEnd(behaviour)
        guard case .completed = reference.outcome else {
            Issue.record("\(String(describing: reference.outcome))")
            return
        }
        #expect(reference.machine.snapshot().nodes[F.k("shard")] == NodeSnapshot(.succeeded(output: F.b("[1,2,3,4,5,6,7,8,9]")), attempts: 0))
        let final = reference.machine.snapshot()
        for crashAt in 0...steps {
            var run = RunDriver(workflow: workflow)
            run.start("null")
            for _ in 0..<crashAt where run.outcome == nil {
                _ = run.step(behaviour)
                let open = (run.queued.keys.filter { $0.name == "shard" } + run.running.keys.filter { $0.name == "shard" }).count
                #expect(open <= 2, "crash after \(crashAt): \(open) elements open")
            }
            try run.crashAndRecover(seed: UInt64(crashAt))
            let open = (run.queued.keys.filter { $0.name == "shard" } + run.running.keys.filter { $0.name == "shard" }).count
            #expect(open <= 2, "recovered after \(crashAt): \(open) elements open")
            run.runToEnd(behaviour)
            #expect(run.outcome == reference.outcome, "crash after step \(crashAt)")
            #expect(run.machine.snapshot() == final, "crash after step \(crashAt)")
        }
    }

    @Test("map options decode from an object, round-trip, keep map: true's version when empty, and are validated")
    func definitions() throws {
        func decode(_ map: String) throws -> WorkflowDefinition {
            try JSONDecoder().decode(WorkflowDefinition.self, from: Data(
                #"{"name":"w","tasks":[{"name":"a","type":"echo"},{"name":"b","type":"echo","depends_on":["a"],"map":\#(map)}]}"#.utf8))
        }
        let plain = try decode("true").validated()
        let empty = try decode("{}").validated()
        #expect(plain.version == empty.version)
        let options = try decode(#"{"batch_size":100,"max_concurrency":8}"#)
        #expect(options.tasks[1].map && options.tasks[1].mapOptions == MapOptions(batchSize: 100, maxConcurrency: 8))
        #expect(try JSONDecoder().decode(WorkflowDefinition.self, from: JSONEncoder().encode(options)) == options)
        #expect(String(decoding: try options.validated().canonicalJSON, as: UTF8.self).contains(#""map":{"batch_size":100,"max_concurrency":8}"#))
        #expect(try decode("false").tasks[1].map == false)
        for bad in [#"{"batch_size":0}"#, #"{"max_concurrency":20000}"#] {
            do {
                _ = try decode(bad).validated()
                Issue.record("\(bad) validated")
            } catch let error as DefinitionError { #expect(error.codes == [.invalidMap], "\(bad): \(error)") }
        }
        #expect(throws: (any Error).self) { try decode(#"{"batch":3}"#) }
        // A batch's input is an array: a key path on it would find nothing.
        let pathKey = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(
            #"{"name":"w","tasks":[{"name":"a","type":"echo"},{"name":"b","type":"echo","depends_on":["a"],"map":{"batch_size":2},"cache":{"key":"$.url","ttl":"1h"}}]}"#.utf8))
        do {
            _ = try pathKey.validated()
            Issue.record("a path key on a batched map validated")
        } catch { #expect(error.codes == [.invalidMap] && "\(error)".contains("constant key"), "\(error)") }
        #expect(throws: (any Error).self) { try decode(#""yes""#) }
    }
}
