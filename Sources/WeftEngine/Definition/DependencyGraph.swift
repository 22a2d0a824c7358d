/// The dependency graph of a (not yet validated) definition, indexed by file position, used by
/// validation to order the nodes and to find cycles.
///
/// Only the first task with a given name is a node; edges to unknown names and self edges are left
/// out (validation reports them separately), so the graph is well-formed for any input.
struct DependencyGraph {
    let tasks: [TaskDefinition]
    /// File positions of the nodes (first occurrences of each name).
    let nodes: [Int]
    /// Per file position: parents' positions, without duplicates.
    let parents: [[Int]]
    /// Per file position: children's positions.
    let children: [[Int]]
    /// Per file position: rank of the task's name in byte order (ties between duplicates broken by
    /// position), the tie-breaker of the topological order.
    let rank: [Int]

    init(tasks: [TaskDefinition], positionByName: [String: Int]) {
        self.tasks = tasks
        var parents = [[Int]](repeating: [], count: tasks.count)
        var children = [[Int]](repeating: [], count: tasks.count)
        var nodes: [Int] = []
        for (position, task) in tasks.enumerated() where positionByName[task.name] == position {
            nodes.append(position)
            var seen: Set<Int> = []
            for dependency in task.dependsOn {
                guard let parent = positionByName[dependency], parent != position, seen.insert(parent).inserted else { continue }
                parents[position].append(parent)
                children[parent].append(position)
            }
        }
        let byName = tasks.indices.sorted { a, b in
            let (x, y) = (tasks[a].name.utf8, tasks[b].name.utf8)
            if x.elementsEqual(y) { return a < b }
            return x.lexicographicallyPrecedes(y)
        }
        var rank = [Int](repeating: 0, count: tasks.count)
        for (r, position) in byName.enumerated() { rank[position] = r }
        self.nodes = nodes
        self.parents = parents
        self.children = children
        self.rank = rank
    }

    var nodeCount: Int { nodes.count }

    /// Kahn's algorithm, always taking the ready node whose name sorts first. Returns the positions
    /// in order; fewer than ``nodeCount`` when there is a cycle.
    func topologicalOrder() -> [Int] {
        var remaining = [Int](repeating: 0, count: tasks.count)
        var ready = MinHeap()
        for position in nodes {
            remaining[position] = parents[position].count
            if remaining[position] == 0 { ready.insert(rank[position], position) }
        }
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        while let position = ready.popMin() {
            order.append(position)
            for child in children[position] {
                remaining[child] -= 1
                if remaining[child] == 0 { ready.insert(rank[child], child) }
            }
        }
        return order
    }

    /// Up to `limit` distinct cycles among the nodes not in `ordered` (every such node lies on or
    /// after a cycle). Each cycle lists positions along the edges (parent before child), starting at
    /// the node whose name sorts first. Iterative depth-first search: no recursion, so deep graphs
    /// cannot overflow the stack.
    func cycles(excluding ordered: [Int], limit: Int) -> [[Int]] {
        var inOrder = [Bool](repeating: false, count: tasks.count)
        for position in ordered { inOrder[position] = true }
        // 0 unvisited, 1 on the current path, 2 done.
        var color = [UInt8](repeating: 0, count: tasks.count)
        var found: [[Int]] = []
        var seen: Set<[Int]> = []
        let starts = nodes.filter { !inOrder[$0] }.sorted { rank[$0] < rank[$1] }
        for start in starts where color[start] == 0 {
            var path: [Int] = [start]
            var nextChild: [Int] = [0]
            color[start] = 1
            while let top = path.last {
                let edges = children[top]
                let i = nextChild[nextChild.count - 1]
                guard i < edges.count else {
                    color[top] = 2
                    path.removeLast()
                    nextChild.removeLast()
                    continue
                }
                nextChild[nextChild.count - 1] = i + 1
                let child = edges[i]
                guard !inOrder[child] else { continue }
                switch color[child] {
                case 0:
                    color[child] = 1
                    path.append(child)
                    nextChild.append(0)
                case 1:
                    guard let from = path.lastIndex(of: child) else { preconditionFailure("node \(child) is marked on the path but is not on it: \(path)") }
                    var cycle = Array(path[from...])
                    let smallest = cycle.indices.min { rank[cycle[$0]] < rank[cycle[$1]] } ?? 0
                    cycle = Array(cycle[smallest...] + cycle[..<smallest])
                    if seen.insert(cycle).inserted {
                        found.append(cycle)
                        if found.count >= limit { return found }
                    }
                default:
                    break
                }
            }
        }
        return found
    }

    /// The engine's graph, numbered in topological `order` (which must cover every node).
    func validatedGraph(definition: WorkflowDefinition, order: [Int]) -> ValidatedWorkflow.Graph {
        precondition(order.count == nodes.count && nodes.count == tasks.count, "validatedGraph needs a complete order of unique tasks: \(order.count) of \(nodes.count) nodes, \(tasks.count) tasks")
        var indexOfPosition = [Int](repeating: -1, count: tasks.count)
        for (index, position) in order.enumerated() { indexOfPosition[position] = index }
        let ordered = order.map { tasks[$0] }
        let parentIndices = order.map { position in
            parents[position].sorted { rank[$0] < rank[$1] }.map { indexOfPosition[$0] }
        }
        let childIndices = order.map { position in
            children[position].map { indexOfPosition[$0] }.sorted()
        }
        return ValidatedWorkflow.Graph(definition: definition, tasks: ordered, parents: parentIndices, children: childIndices)
    }
}
