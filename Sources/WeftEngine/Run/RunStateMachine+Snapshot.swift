extension RunStateMachine {
    /// The run's durable state: equal to folding every record emitted so far with
    /// ``RunSnapshot/apply(_:)``. Feed it to
    /// ``recover(runID:workflow:snapshot:configuration:seed:now:)`` to rebuild the machine.
    public func snapshot() -> RunSnapshot {
        var snapshot = RunSnapshot(status: status, input: input)
        snapshot.signals = pendingSignals
        snapshot.nextSignalSeq = nextSignalSeq
        switch state {
        case .pending, .running: break
        case .succeeded(let output): snapshot.output = output
        case .failed(let failure): snapshot.failure = failure
        case .cancelled(let reason): snapshot.cancelReason = reason
        }
        for index in nodes.indices {
            let name = workflow.graph.tasks[index].name
            if let node = nodeSnapshot(index) { snapshot.nodes[NodeKey(name)] = node }
            if case .mapping(let progress) = nodes[index] {
                for (element, state) in progress.elements.enumerated() {
                    if let node = Self.snapshot(of: state) { snapshot.nodes[NodeKey(name, index: element)] = node }
                }
            }
        }
        return snapshot
    }

    /// The state of one node or map element; `nil` while it waits for its parents, or when the
    /// run has no such node (or the map node has no such element right now).
    public func node(_ key: NodeKey) -> NodeSnapshot? {
        guard let slot = resolve(key) else { return nil }
        switch slot {
        case .node(let index):
            return nodeSnapshot(index)
        case .element(let index, let element):
            guard case .mapping(let progress) = nodes[index], element < progress.elements.count else { return nil }
            return Self.snapshot(of: progress.elements[element])
        }
    }

    /// The run's output, once succeeded.
    public var output: [UInt8]? {
        guard case .succeeded(let output) = state else { return nil }
        return output
    }

    func nodeSnapshot(_ index: Int) -> NodeSnapshot? {
        switch nodes[index] {
        case .waiting: nil
        case .active(let execution): execution.snapshot
        case .mapping(let progress): NodeSnapshot(.mapping(width: progress.elements.count), attempts: 0)
        case .succeeded(let output, let attempts): NodeSnapshot(.succeeded(output: output), attempts: attempts)
        case .failed(let failure, let attempts): NodeSnapshot(.failed(failure), attempts: attempts)
        case .cancelled(let attempts): NodeSnapshot(.cancelled, attempts: attempts)
        }
    }

    /// nil for an element that has not started (it has no rows yet).
    private static func snapshot(of element: ElementState) -> NodeSnapshot? {
        switch element {
        case .active(let execution): execution.snapshot
        case .succeeded(let output, let attempts): NodeSnapshot(.succeeded(output: output), attempts: attempts)
        case .pending: nil
        }
    }
}
