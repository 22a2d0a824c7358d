import WeftCore

extension RunStateMachine {
    /// Rebuilds the machine of a run from its durable state (after a scheduler restart or a
    /// partition handoff) and returns the actions that resume it:
    ///
    /// - every open attempt (scheduled or started) is queued again under the same attempt number:
    ///   ``HistoryEvent/attemptScheduled(node:attempt:)`` is recorded again, the attempt is
    ///   dispatched, and its schedule-to-start clock restarts at `now`. The worker that ran it
    ///   before is unknown to the new machine; if it still reports a result, that result is for the
    ///   open attempt and is accepted, and the queued copy is cancelled;
    /// - every pending retry timer is armed again at its recorded deadline (a past deadline fires at
    ///   once);
    /// - inputs are recomputed from the parents' recorded outputs (they are not stored per attempt);
    ///   under `any` / `at_least(N)` a re-queued attempt may therefore see more parents than the
    ///   original attempt did;
    /// - if both the pre-restart worker and a new one end up running the same attempt, the first
    ///   result is recorded and the other is ignored as stale;
    /// - then outcomes are propagated as usual, so a snapshot taken between a node's completion and
    ///   its children's scheduling (which the engine's records never produce, but a store might)
    ///   still makes progress.
    ///
    /// A closed run comes back closed, with its outcome and its nodes' final states, and yields no
    /// actions; a pending run comes back pending.
    ///
    /// - Parameter seed: seeds the backoff jitter from here on.
    /// - Throws: ``RecoveryError`` when the snapshot names nodes the workflow lacks or describes a
    ///   state the engine never produces.
    public static func recover(
        runID: RunID,
        workflow: ValidatedWorkflow,
        snapshot: RunSnapshot,
        configuration: Configuration = Configuration(),
        seed: UInt64,
        now: EngineInstant
    ) throws(RecoveryError) -> (machine: RunStateMachine, actions: [Action]) {
        var machine = RunStateMachine(runID: runID, workflow: workflow, configuration: configuration, seed: seed)
        machine.pendingSignals = snapshot.signals
        machine.nextSignalSeq = snapshot.nextSignalSeq
        let graph = workflow.graph

        var plain: [Int: NodeSnapshot] = [:]
        var elements: [Int: [Int: NodeSnapshot]] = [:]
        for (key, node) in snapshot.nodes {
            guard let index = graph.indexByName[key.name] else {
                throw RecoveryError(.unknownNode, node: key, "workflow \(workflow) has no such node")
            }
            if let element = key.index {
                guard graph.tasks[index].map else {
                    throw RecoveryError(.unknownNode, node: key, "'\(key.name)' is not a map node, so it has no elements")
                }
                elements[index, default: [:]][element] = node
            } else {
                plain[index] = node
            }
        }

        switch snapshot.status {
        case .pending:
            guard snapshot.nodes.isEmpty, snapshot.input == nil else {
                throw RecoveryError(.inconsistentSnapshot, "a pending run has neither input nor node states")
            }
            return (machine, [])
        case .succeeded:
            guard let output = snapshot.output else { throw RecoveryError(.inconsistentSnapshot, "a succeeded run has an output") }
            try machine.restoreClosed(as: .succeeded(output: output), snapshot: snapshot, plain: plain)
            return (machine, [])
        case .failed:
            guard let failure = snapshot.failure else { throw RecoveryError(.inconsistentSnapshot, "a failed run has a failure") }
            try machine.restoreClosed(as: .failed(failure), snapshot: snapshot, plain: plain)
            return (machine, [])
        case .cancelled:
            guard let reason = snapshot.cancelReason else { throw RecoveryError(.inconsistentSnapshot, "a cancelled run has a reason") }
            try machine.restoreClosed(as: .cancelled(reason: reason), snapshot: snapshot, plain: plain)
            return (machine, [])
        case .running:
            break
        }
        guard let input = snapshot.input else { throw RecoveryError(.inconsistentSnapshot, "a running run has an input") }
        machine.state = .running
        machine.input = input
        var actions: [Action] = []
        if let deadline = machine.runDeadline { actions.append(.schedule(.run, at: deadline)) }  // fires at once if past

        // Pass 1: finished nodes, so that the inputs of open ones can be computed.
        for (index, node) in plain {
            switch node.status {
            case .succeeded(let output): machine.nodes[index] = .succeeded(output: output, attempts: node.attempts)
            case .failed(let failure): machine.nodes[index] = .failed(failure, attempts: node.attempts)
            case .cancelled: machine.nodes[index] = .cancelled(attempts: node.attempts)  // cancelled on request; the run goes on
            case .scheduled, .started, .backingOff, .awaitingSignal, .mapping: break
            }
        }

        // Pass 2, in topological order: open nodes and map fan-outs.
        for index in graph.tasks.indices {
            let task = graph.tasks[index]
            let key = NodeKey(task.name)
            guard let node = plain[index] else {
                if elements[index] != nil { throw RecoveryError(.inconsistentSnapshot, node: key, "elements of a map node that is waiting") }
                continue
            }
            switch node.status {
            case .succeeded, .failed, .cancelled:
                // Elements of a finished map node are history; a store may still list them.
                continue
            case .awaitingSignal(let deadline):
                guard task.waitSignal != nil, node.attempts == 1 else {
                    throw RecoveryError(.inconsistentSnapshot, node: key, "only a signal node waits for a signal, as attempt 1")
                }
                if let deadline { actions.append(.schedule(TimerID(.timeout(.startToClose), node: key, attempt: 1), at: deadline)) }
                machine.nodes[index] = .active(Execution(attempt: 1, input: machine.input(of: index), phase: .awaitingSignal(deadline: deadline)))
            case .scheduled, .started, .backingOff:
                guard !task.map else { throw RecoveryError(.inconsistentSnapshot, node: key, "a map node has no attempts of its own") }
                guard machine.joinSatisfied(index) else {
                    throw RecoveryError(.inconsistentSnapshot, node: key, "an attempt of a node whose join is not satisfied")
                }
                let execution = try machine.restoredExecution(.node(index), node, input: machine.input(of: index), now: now, into: &actions)
                machine.nodes[index] = .active(execution)
            case .mapping(let width):
                guard task.map else { throw RecoveryError(.inconsistentSnapshot, node: key, "only map nodes fan out") }
                guard machine.joinSatisfied(index) else {
                    throw RecoveryError(.inconsistentSnapshot, node: key, "a fan-out of a node whose join is not satisfied")
                }
                let list: [[UInt8]]
                do {
                    list = try machine.mapUnits(of: task, input: machine.input(of: index), maxElements: .max)
                } catch {
                    throw RecoveryError(.inconsistentSnapshot, node: key, "the input no longer splits into a list: \(error)")
                }
                let entries = elements[index] ?? [:]
                // With max_concurrency, elements that had not started have no rows: they start again
                // in order once recovered.
                let capped = task.mapOptions?.maxConcurrency != nil
                guard width > 0, list.count == width, entries.count == width || (capped && entries.count < width) else {
                    throw RecoveryError(
                        .inconsistentSnapshot, node: key,
                        "mapping over \(width) elements, but the input has \(list.count) and the snapshot \(entries.count)"
                    )
                }
                var progress = MapProgress(elements: [], remaining: 0)
                progress.elements.reserveCapacity(width)
                for element in 0..<width {
                    let elementKey = NodeKey(task.name, index: element)
                    guard let entry = entries[element] else {
                        guard capped else {
                            throw RecoveryError(.inconsistentSnapshot, node: elementKey, "an element of a mapping node is missing")
                        }
                        progress.elements.append(.pending(input: list[element]))
                        progress.remaining += 1
                        continue
                    }
                    if progress.nextPending == element { progress.nextPending += 1 }
                    switch entry.status {
                    case .succeeded(let output):
                        progress.elements.append(.succeeded(output: output, attempts: entry.attempts))
                    case .scheduled, .started, .backingOff:
                        let execution = try machine.restoredExecution(.element(index, element), entry, input: list[element], now: now, into: &actions)
                        progress.elements.append(.active(execution))
                        progress.remaining += 1
                        progress.open += 1
                    case .mapping, .awaitingSignal, .failed, .cancelled:
                        throw RecoveryError(.inconsistentSnapshot, node: elementKey, "an element of a mapping node is \(entry.status)")
                    }
                }
                guard progress.remaining > 0 else {
                    throw RecoveryError(.inconsistentSnapshot, node: key, "every element succeeded but the map node is still mapping")
                }
                machine.nodes[index] = .mapping(progress)
                machine.startPendingElements(of: index, now: now, into: &actions)
            }
        }

        machine.unfinished = machine.nodes.reduce(0) { $0 + ($1.isTerminal ? 0 : 1) }
        let finished = graph.tasks.indices.filter { machine.nodes[$0].isTerminal }
        machine.settle(finished, now: now, into: &actions)
        machine.deliverPendingSignals(now: now, into: &actions)
        return (machine, actions)
    }

    /// A closed run: its outcome and its nodes' final states (every node of a closed run is
    /// finished or never left "waiting"; map elements are not kept).
    private mutating func restoreClosed(as state: State, snapshot: RunSnapshot, plain: [Int: NodeSnapshot]) throws(RecoveryError) {
        self.state = state
        self.input = snapshot.input
        for (index, node) in plain {
            switch node.status {
            case .succeeded(let output): nodes[index] = .succeeded(output: output, attempts: node.attempts)
            case .failed(let failure): nodes[index] = .failed(failure, attempts: node.attempts)
            case .cancelled: nodes[index] = .cancelled(attempts: node.attempts)
            case .scheduled, .started, .backingOff, .awaitingSignal, .mapping:
                throw RecoveryError(
                    .inconsistentSnapshot, node: NodeKey(workflow.graph.tasks[index].name),
                    "a node of a closed run is \(node.status)"
                )
            }
        }
        unfinished = nodes.reduce(0) { $0 + ($1.isTerminal ? 0 : 1) }
    }

    /// The attempts of a unit that was open or backing off, and the actions that resume it.
    private func restoredExecution(
        _ slot: Slot,
        _ node: NodeSnapshot,
        input: [UInt8],
        now: EngineInstant,
        into actions: inout [Action]
    ) throws(RecoveryError) -> Execution {
        let key = key(for: slot)
        let maxAttempts = task(at: slot).retry.maxAttempts
        // 0 attempts: a node waiting out its start_after or sleep (attempt 1 is due).
        let delayedStart: Bool
        if case .backingOff = node.status, node.attempts == 0, task(at: slot).readyDelay != nil { delayedStart = true } else { delayedStart = false }
        guard node.attempts >= 1 || delayedStart, node.attempts <= maxAttempts else {
            throw RecoveryError(.inconsistentSnapshot, node: key, "attempt \(node.attempts) is outside 1…\(maxAttempts)")
        }
        switch node.status {
        case .scheduled, .started:
            return beginAttempt(slot, attempt: node.attempts, input: input, now: now, into: &actions)
        case .backingOff(let until):
            guard node.attempts < maxAttempts else {
                throw RecoveryError(.inconsistentSnapshot, node: key, "a retry is pending after the last allowed attempt")
            }
            actions.append(.schedule(TimerID(.retryBackoff, node: key, attempt: node.attempts + 1), at: until))
            return Execution(attempt: node.attempts, input: input, phase: .backingOff(until: until))
        case .mapping, .awaitingSignal, .succeeded, .failed, .cancelled:
            preconditionFailure("restoring attempts of '\(key)' from status \(node.status)")
        }
    }
}

extension RunStateMachine {
    /// Consumes kept signals for which a signal node now waits (after a recovery from a store
    /// whose snapshot has both; the engine's own records never do).
    mutating func deliverPendingSignals(now: EngineInstant, into actions: inout [Action]) {
        var index = 0
        while index < pendingSignals.count, case .running = state {
            if deliver(pendingSignals[index], now: now, into: &actions) {
                pendingSignals.remove(at: index)
            } else {
                index += 1
            }
        }
    }

    /// Gives `signal` to the first signal node (in topological order) waiting for its name, which
    /// succeeds with the payload. Returns false when none waits.
    mutating func deliver(_ signal: PendingSignal, now: EngineInstant, into actions: inout [Action]) -> Bool {
        for index in workflow.graph.tasks.indices where workflow.graph.tasks[index].waitSignal == signal.name {
            guard case .active(let execution) = nodes[index], case .awaitingSignal = execution.phase else { continue }
            let node = NodeKey(workflow.graph.tasks[index].name)
            actions += closingActions(for: execution, node: node)
            actions.append(.record(.signalConsumed(seq: signal.seq, node: node)))
            actions.append(.record(.attemptCompleted(node: node, attempt: execution.attempt, output: signal.payload)))
            unitSucceeded(.node(index), output: signal.payload, attempts: execution.attempt, now: now, into: &actions)
            return true
        }
        return false
    }
}
