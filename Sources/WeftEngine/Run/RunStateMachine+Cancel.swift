import WeftCore

extension RunStateMachine {
    /// Someone asked to cancel node `name` of the running run — with `subtree`, the node and every
    /// node that depends on it, directly or not. Each cancelled node's open attempt is told to stop
    /// and its timers are disarmed; a map node's elements end with it. Then the run goes on
    /// without them: a child whose join can no longer be met is cancelled too (so cancelling a
    /// node under `join: all` takes its descendants with it, while a `join: any` child with
    /// another parent that succeeds still runs); a child doomed by a *failed* parent fails the
    /// run as usual. The run succeeds with the outputs of its leaves that succeeded, or closes as
    /// cancelled when every leaf was cancelled.
    ///
    /// Ignored (nothing changes): a run that is not running, an unknown node (map elements are
    /// cancelled with their map node, not one by one), a node that already finished.
    public mutating func nodeCancelRequested(node name: String, subtree: Bool, reason: String, now: EngineInstant) -> [Action] {
        guard case .running = state else { return [.ignored(IgnoredEvent(.runNotRunning, node: NodeKey(name)))] }
        guard let index = workflow.graph.indexByName[name] else { return [.ignored(IgnoredEvent(.unknownNode, node: NodeKey(name)))] }
        guard !nodes[index].isTerminal else { return [.ignored(IgnoredEvent(.nodeFinished, node: NodeKey(name)))] }
        var targets = [index]
        if subtree {
            var seen: Set<Int> = [index]
            var next = 0
            while next < targets.count {
                for child in workflow.graph.children[targets[next]] where seen.insert(child).inserted { targets.append(child) }
                next += 1
            }
        }
        var actions: [Action] = []
        var cancelled: [Int] = []
        for target in targets where !nodes[target].isTerminal {
            cancelNode(target, reason: reason, into: &actions)
            cancelled.append(target)
        }
        settle(cancelled, now: now, into: &actions)
        return actions
    }

    /// Ends node `index` (not finished) as cancelled: stops its attempts, records it, and counts it
    /// finished. The caller settles it.
    mutating func cancelNode(_ index: Int, reason: String, into actions: inout [Action]) {
        let name = workflow.graph.tasks[index].name
        let key = NodeKey(name)
        let attempts = nodeSnapshot(index)?.attempts ?? 0
        let row: Int?
        switch nodes[index] {
        case .active(let execution):
            stop(execution, node: key, into: &actions)
            if case .backingOff = execution.phase { row = execution.attempt + 1 } else { row = execution.attempt }  // the retry_wait row
        case .mapping(let progress):
            for (element, state) in progress.elements.enumerated() {
                if case .active(let execution) = state { stop(execution, node: NodeKey(name, index: element), into: &actions) }
            }
            row = 1  // the map node's own row
        case .waiting:
            row = nil
        case .succeeded, .failed, .cancelled:
            preconditionFailure("cancelling node '\(name)', which already finished: \(nodes[index])")
        }
        actions.append(.record(.nodeCancelled(node: key, attempt: row, reason: reason)))
        nodes[index] = .cancelled(attempts: attempts)
        unfinished -= 1
    }
}
