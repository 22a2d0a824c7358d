import Foundation
import Testing
@testable import WeftEngine

@Suite("ValidatedWorkflow")
struct ValidatedWorkflowTests {
    typealias F = Fixtures

    @Test("the §4 example (with its merge made explicit) orders its nodes topologically with roots, leaves, parents and children")
    func graph_architectureExample_derived() throws {
        let workflow = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(F.architectureExampleValidJSON.utf8)).validated()
        #expect(workflow.topologicalOrder == ["extract", "clean", "enrich", "merge", "shard", "load"])
        #expect(workflow.roots == ["extract"])
        #expect(workflow.leaves == ["load"])
        #expect(workflow.parents(of: "merge") == ["clean", "enrich"])
        #expect(workflow.children(of: "extract") == ["clean", "enrich"])
        #expect(workflow.parents(of: "nope") == nil)
        #expect(workflow.parents == [
            "extract": [], "clean": ["extract"], "enrich": ["extract"], "merge": ["clean", "enrich"], "shard": ["merge"], "load": ["shard"],
        ])
        #expect(workflow.children == [
            "extract": ["clean", "enrich"], "clean": ["merge"], "enrich": ["merge"], "merge": ["shard"], "shard": ["load"], "load": [],
        ])
        #expect(workflow.task(named: "enrich")?.concurrencyKey == "customer")
    }

    @Test("the order depends on content only: ties are broken by name, not by file order")
    func graph_ties_byName() throws {
        let one = try F.workflow([F.task("z"), F.task("m", ["z"]), F.task("a"), F.task("b", ["a", "z"])])
        let two = try F.workflow([F.task("b", ["z", "a"]), F.task("a"), F.task("m", ["z"]), F.task("z")])
        #expect(one.topologicalOrder == ["a", "z", "b", "m"])
        #expect(two.topologicalOrder == one.topologicalOrder)
        #expect(one.roots == ["a", "z"])
        #expect(one.leaves == ["b", "m"])
        #expect(one == two)
    }

    @Test("a long chain validates and orders without deep recursion")
    func graph_longChain_orders() throws {
        let tasks = (0..<10_000).map { index in
            TaskDefinition(name: "t\(index)", type: "noop", dependsOn: index == 0 ? [] : ["t\(index - 1)"])
        }
        let workflow = try WorkflowDefinition(name: "chain", tasks: tasks.reversed()).validated()
        #expect(workflow.topologicalOrder.first == "t0" && workflow.topologicalOrder.last == "t9999")
        var cyclic = tasks
        cyclic[0].dependsOn = ["t9999"]
        #expect(throws: DefinitionError.self) { try WorkflowDefinition(name: "ring", tasks: cyclic).validated() }
    }
}
