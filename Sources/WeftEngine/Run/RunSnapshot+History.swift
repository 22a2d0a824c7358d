extension RunSnapshot {
    /// Folds one history record into the snapshot. Applying a run's records in the order the
    /// engine emitted them, starting from `RunSnapshot()`, yields ``RunStateMachine/snapshot()``
    /// at that point; this is what makes the records sufficient for recovery.
    ///
    /// Records are trusted (they came from the engine through the store), so nothing is checked.
    public mutating func apply(_ event: HistoryEvent) {
        switch event {
        case .runStarted(let input):
            status = .running
            self.input = input
        case .attemptScheduled(let node, let attempt):
            nodes[node] = NodeSnapshot(.scheduled, attempts: attempt)
        case .attemptStarted(let node, let attempt, let worker):
            nodes[node] = NodeSnapshot(.started(worker: worker), attempts: attempt)
        case .attemptCompleted(let node, let attempt, let output):
            nodes[node] = NodeSnapshot(.succeeded(output: output), attempts: attempt)
        case .attemptFailed(let node, let attempt, let failure):
            nodes[node] = NodeSnapshot(.failed(failure), attempts: attempt)
        case .attemptTimedOut(let node, let attempt, let timeout):
            nodes[node] = NodeSnapshot(.failed(.timeout(timeout)), attempts: attempt)
        case .retryScheduled(let node, let attempt, let at):
            nodes[node] = NodeSnapshot(.backingOff(until: at), attempts: attempt - 1)
        case .nodeFailed(let node, let failure):
            nodes[node] = NodeSnapshot(.failed(failure), attempts: nodes[node]?.attempts ?? 0)
            if node.index == nil { removeElements(of: node.name) }
        case .mapExpanded(let node, let width):
            nodes[node] = NodeSnapshot(.mapping(width: width), attempts: 0)
        case .mapCompleted(let node, let output):
            nodes[node] = NodeSnapshot(.succeeded(output: output), attempts: 0)
            removeElements(of: node.name)
        case .outputReused(let node, let output, _):
            nodes[node] = NodeSnapshot(.succeeded(output: output), attempts: 1)
        case .signalAwaited(let node, _, let deadline):
            nodes[node] = NodeSnapshot(.awaitingSignal(deadline: deadline), attempts: 1)
        case .signalReceived(let seq, let name, let payload):
            signals.append(PendingSignal(seq: seq, name: name, payload: payload))
            nextSignalSeq = seq + 1
        case .signalConsumed(let seq, _):
            signals.removeAll { $0.seq == seq }
        case .cacheHit, .circuitBreaker:
            break  // what they did is in the attempt's own events
        case .runCompleted(let output):
            status = .succeeded
            self.output = output
            closeNodes()
        case .runFailed(let failure):
            status = .failed
            self.failure = failure
            closeNodes()
        case .runCancelled(let reason), .runTerminated(let reason):
            status = .cancelled
            cancelReason = reason
            closeNodes()
        case .nodeCancelled(let node, _, _):
            nodes[node] = NodeSnapshot(.cancelled, attempts: nodes[node]?.attempts ?? 0)
            removeElements(of: node.name)
        }
    }

    /// Folds `events` in order.
    public mutating func apply(_ events: some Sequence<HistoryEvent>) {
        for event in events { apply(event) }
    }

    private mutating func removeElements(of name: String) {
        nodes = nodes.filter { key, _ in key.name != name || key.index == nil }
    }

    /// A closed run keeps no elements, and its unfinished nodes are cancelled.
    private mutating func closeNodes() {
        var closed: [NodeKey: NodeSnapshot] = [:]
        for (key, node) in nodes where key.index == nil {
            closed[key] = node.status.isTerminal ? node : NodeSnapshot(.cancelled, attempts: node.attempts)
        }
        nodes = closed
    }
}
