// How a run moves forward: attempts begin and end, units succeed or fail, readiness propagates
// down the DAG, and the run closes. Every function here appends to the caller's action list.
import WeftCore

extension RunStateMachine {
    /// The outcome of looking up an event's attempt.
    enum AttemptLookup {
        case open(Slot, Execution)
        case ignored(IgnoredEvent)
    }

    /// The open attempt `attempt` of `node`, or why the event must be ignored.
    func lookUpOpenAttempt(_ node: NodeKey, _ attempt: Int) -> AttemptLookup {
        guard case .running = state else { return .ignored(IgnoredEvent(.runNotRunning, node: node, attempt: attempt)) }
        guard let slot = resolve(node) else { return .ignored(IgnoredEvent(.unknownNode, node: node, attempt: attempt)) }
        guard let execution = execution(at: slot), execution.attempt == attempt, execution.isOpen else {
            return .ignored(IgnoredEvent(.staleAttempt, node: node, attempt: attempt))
        }
        return .open(slot, execution)
    }

    /// Where `key`'s state lives, if the workflow has such a node: a plain key names a node; an
    /// indexed key names an element of a map node (whether that element exists right now is for
    /// ``execution(at:)`` to say).
    func resolve(_ key: NodeKey) -> Slot? {
        guard let index = workflow.graph.indexByName[key.name] else { return nil }
        guard let element = key.index else { return .node(index) }
        guard workflow.graph.tasks[index].map, element >= 0 else { return nil }
        return .element(index, element)
    }

    /// The unit's attempts, when it is active.
    func execution(at slot: Slot) -> Execution? {
        switch slot {
        case .node(let index):
            guard case .active(let execution) = nodes[index] else { return nil }
            return execution
        case .element(let index, let element):
            guard case .mapping(let progress) = nodes[index], element < progress.elements.count,
                  case .active(let execution) = progress.elements[element]
            else { return nil }
            return execution
        }
    }

    /// Replaces the active unit's attempts.
    mutating func store(_ execution: Execution, at slot: Slot) {
        switch slot {
        case .node(let index):
            guard case .active = nodes[index] else { preconditionFailure("storing attempts of node '\(key(for: slot))' in state \(nodes[index])") }
            nodes[index] = .active(execution)
        case .element(_, let element):
            let node = key(for: slot)
            modifyMap(slot.nodeIndex) { progress in
                guard case .active = progress.elements[element] else {
                    preconditionFailure("storing attempts of '\(node)' in state \(progress.elements[element])")
                }
                progress.elements[element] = .active(execution)
            }
        }
    }

    /// Mutates a mapping node's progress in place. The node is parked as `.waiting` meanwhile so that
    /// the elements array is uniquely referenced and not copied (a wide fan-out would otherwise cost
    /// O(width) per event).
    @discardableResult
    mutating func modifyMap<Result>(_ index: Int, _ body: (inout MapProgress) -> Result) -> Result {
        guard case .mapping(var progress) = nodes[index] else {
            preconditionFailure("node '\(workflow.graph.tasks[index].name)' is not mapping: \(nodes[index])")
        }
        nodes[index] = .waiting
        let result = body(&progress)
        nodes[index] = .mapping(progress)
        return result
    }

    /// The definition a unit runs: its node's (a map element runs its map node's).
    func task(at slot: Slot) -> TaskDefinition { workflow.graph.tasks[slot.nodeIndex] }

    /// The unit's key.
    func key(for slot: Slot) -> NodeKey {
        switch slot {
        case .node(let index): NodeKey(workflow.graph.tasks[index].name)
        case .element(let index, let element): NodeKey(workflow.graph.tasks[index].name, index: element)
        }
    }

    /// Disarms the attempt's timers and, if it is still queued (a result reported by someone other
    /// than a worker the scheduler handed it to: the worker from before a recovery, or a cache
    /// hit), removes the queued copy.
    func closingActions(for execution: Execution, node: NodeKey) -> [Action] {
        var actions = execution.armedTimers(node: node).map(Action.cancelTimer)
        if case .queued = execution.phase { actions.append(.cancelAttempt(node: node, attempt: execution.attempt)) }
        return actions
    }

    /// Queues attempt `attempt` of the unit and returns its new state.
    func beginAttempt(_ slot: Slot, attempt: Int, input: [UInt8], now: EngineInstant, into actions: inout [Action]) -> Execution {
        let node = key(for: slot)
        let task = task(at: slot)
        actions.append(.record(.attemptScheduled(node: node, attempt: attempt)))
        actions.append(.dispatch(TaskAssignment(
            runID: runID, node: node, attempt: attempt, type: task.type, queue: task.queue,
            priority: task.priority, input: input, timeouts: task.timeouts,
            concurrencyKey: task.concurrencyKey, cacheKey: task.cacheKey, childWorkflow: task.workflow
        )))
        var deadline: EngineInstant?
        if let limit = task.timeouts.scheduleToStart {
            let at = now.advanced(by: limit)
            deadline = at
            actions.append(.schedule(TimerID(.timeout(.scheduleToStart), node: node, attempt: attempt), at: at))
        }
        return Execution(attempt: attempt, input: input, phase: .queued(scheduleToStart: deadline))
    }

    /// The open attempt ended in `failure` (its timers are already disarmed and the failure
    /// recorded): wait and retry if the policy allows, otherwise the unit fails.
    mutating func attemptEnded(_ slot: Slot, _ execution: Execution, failure: TaskFailure, now: EngineInstant, into actions: inout [Action]) {
        let node = key(for: slot)
        let policy = task(at: slot).retry
        // A signal node's wait that timed out is over: there is nothing to retry.
        guard task(at: slot).waitSignal == nil, policy.allowsRetry(after: failure, attempt: execution.attempt) else {
            actions.append(.record(.nodeFailed(node: node, failure: failure)))
            unitFailed(slot, failure: failure, attempts: execution.attempt, now: now, into: &actions)
            return
        }
        let delay = policy.backoff(afterAttempt: execution.attempt, randomUnit: random.nextUnit())
        let at = now.advanced(by: delay)
        actions.append(.record(.retryScheduled(node: node, attempt: execution.attempt + 1, at: at)))
        actions.append(.schedule(TimerID(.retryBackoff, node: node, attempt: execution.attempt + 1), at: at))
        var waiting = execution
        waiting.phase = .backingOff(until: at)
        store(waiting, at: slot)
    }

    /// The unit succeeded. A plain node finishes; an element finishes, and its map node with it
    /// when it was the last one.
    mutating func unitSucceeded(_ slot: Slot, output: [UInt8], attempts: Int, now: EngineInstant, into actions: inout [Action]) {
        switch slot {
        case .node(let index):
            finish(index, as: .succeeded(output: output, attempts: attempts))
            settle([index], now: now, into: &actions)
        case .element(let index, let element):
            let allDone = modifyMap(index) { progress in
                progress.elements[element] = .succeeded(output: output, attempts: attempts)
                progress.remaining -= 1
                progress.open -= 1
                return progress.remaining == 0
            }
            guard allDone else {
                startPendingElements(of: index, now: now, into: &actions)
                return
            }
            guard case .mapping(let progress) = nodes[index] else { preconditionFailure("map node lost its progress: \(nodes[index])") }
            let outputs = progress.elements.map { element -> [UInt8] in
                guard case .succeeded(let output, _) = element else {
                    preconditionFailure("map node '\(workflow.graph.tasks[index].name)' has no active element left but \(element)")
                }
                return output
            }
            let combined = workflow.graph.tasks[index].mapOptions?.batchSize == nil ? JSONPayload.array(outputs) : Self.concatenated(outputs)
            actions.append(.record(.mapCompleted(node: NodeKey(workflow.graph.tasks[index].name), output: combined)))
            finish(index, as: .succeeded(output: combined, attempts: 0))
            settle([index], now: now, into: &actions)
        }
    }

    /// The unit failed for good (already recorded). A plain node finishes as failed; an element
    /// fails its map node, whose other elements are cancelled.
    mutating func unitFailed(_ slot: Slot, failure: TaskFailure, attempts: Int, now: EngineInstant, into actions: inout [Action]) {
        switch slot {
        case .node(let index):
            finish(index, as: .failed(failure, attempts: attempts))
            settle([index], now: now, into: &actions)
        case .element(let index, let failedElement):
            guard case .mapping(let progress) = nodes[index] else { preconditionFailure("element failed outside a mapping node: \(nodes[index])") }
            let name = workflow.graph.tasks[index].name
            for (element, state) in progress.elements.enumerated() where element != failedElement {
                if case .active(let execution) = state { stop(execution, node: NodeKey(name, index: element), into: &actions) }
            }
            let mapFailure = TaskFailure(
                kind: TaskFailure.mapElementFailedKind,
                message: "element \(failedElement) failed after \(attempts) attempt(s): \(failure)",
                retryable: false
            )
            actions.append(.record(.nodeFailed(node: NodeKey(name), failure: mapFailure)))
            finish(index, as: .failed(mapFailure, attempts: 0))
            settle([index], now: now, into: &actions)
        }
    }

    /// Moves node `index` to a terminal state.
    mutating func finish(_ index: Int, as terminal: NodeState) {
        precondition(terminal.isTerminal, "finish needs a terminal state, not \(terminal)")
        precondition(!nodes[index].isTerminal, "node '\(workflow.graph.tasks[index].name)' finished twice: \(nodes[index]) then \(terminal)")
        nodes[index] = terminal
        unfinished -= 1
    }

    /// Propagates the outcome of newly finished nodes, in order, without recursion: children of a
    /// succeeded node whose join is now satisfied become ready (a map child may finish at once and
    /// is propagated in turn); a failed node fails the run if it is a leaf or leaves a waiting child
    /// unable to satisfy its join. Finally, a run with every node finished succeeds.
    mutating func settle(_ finished: [Int], now: EngineInstant, into actions: inout [Action]) {
        var work = finished
        var next = 0
        while next < work.count {
            guard case .running = state else { return }
            let index = work[next]
            next += 1
            let children = workflow.graph.children[index]
            switch nodes[index] {
            case .succeeded:
                for child in children where nodes[child] == .waiting && joinSatisfied(child) {
                    if activate(child, now: now, into: &actions) { work.append(child) }
                }
            case .failed(let failure, _):
                let node = NodeKey(workflow.graph.tasks[index].name)
                if children.isEmpty {
                    failRun(RunFailure(node: node, failure: failure), into: &actions)
                    return
                }
                for child in children where nodes[child] == .waiting && !joinSatisfiable(child) {
                    failRun(RunFailure(node: node, failure: failure, blockedNode: workflow.graph.tasks[child].name), into: &actions)
                    return
                }
            case .cancelled:
                // Cancelled on request (or a parent was): a child whose join can no longer be met
                // is cancelled in turn, unless a failed parent is what dooms it (the run fails).
                for child in children where nodes[child] == .waiting && !joinSatisfiable(child) {
                    if let failed = workflow.graph.parents[child].first(where: { if case .failed = nodes[$0] { true } else { false } }),
                       case .failed(let failure, _) = nodes[failed] {
                        let blocker = NodeKey(workflow.graph.tasks[failed].name)
                        failRun(RunFailure(node: blocker, failure: failure, blockedNode: workflow.graph.tasks[child].name), into: &actions)
                        return
                    }
                    cancelNode(child, reason: "its parent '\(workflow.graph.tasks[index].name)' was cancelled", into: &actions)
                    work.append(child)
                }
            default:
                preconditionFailure("settling node '\(workflow.graph.tasks[index].name)' that has not finished: \(nodes[index])")
            }
        }
        if case .running = state, unfinished == 0 { completeRun(into: &actions) }
    }

    /// Node `index` is ready: dispatch its first attempt, fan out a map node, arm a durable timer
    /// (start_after, sleep) or wait for a signal. Returns `true` when the node finished at once (a
    /// map over an empty or invalid list, a signal that had already arrived), for the caller to
    /// settle.
    mutating func activate(_ index: Int, now: EngineInstant, into actions: inout [Action]) -> Bool {
        precondition(nodes[index] == .waiting, "activating node '\(workflow.graph.tasks[index].name)' in state \(nodes[index])")
        let task = workflow.graph.tasks[index]
        let input = input(of: index)
        if let name = task.waitSignal {
            let node = NodeKey(task.name)
            if let pending = pendingSignals.firstIndex(where: { $0.name == name }) {
                // The signal came first: consume it now.
                let signal = pendingSignals.remove(at: pending)
                actions.append(.record(.signalConsumed(seq: signal.seq, node: node)))
                actions.append(.record(.attemptCompleted(node: node, attempt: 1, output: signal.payload)))
                finish(index, as: .succeeded(output: signal.payload, attempts: 1))
                return true
            }
            let deadline = task.signalTimeout.map { now.advanced(by: $0) }
            actions.append(.record(.signalAwaited(node: node, name: name, deadline: deadline)))
            if let deadline { actions.append(.schedule(TimerID(.timeout(.startToClose), node: node, attempt: 1), at: deadline)) }
            nodes[index] = .active(Execution(attempt: 1, input: input, phase: .awaitingSignal(deadline: deadline)))
            return false
        }
        if let delay = task.readyDelay {
            // A durable timer (start_after, sleep): "attempt 1 is due at `at`", recorded like a
            // retry so that recovery re-arms it at the same deadline.
            let node = NodeKey(task.name)
            let at = now.advanced(by: delay)
            actions.append(.record(.retryScheduled(node: node, attempt: 1, at: at)))
            actions.append(.schedule(TimerID(.retryBackoff, node: node, attempt: 1), at: at))
            nodes[index] = .active(Execution(attempt: 0, input: input, phase: .backingOff(until: at)))
            return false
        }
        guard task.map else {
            nodes[index] = .active(beginAttempt(.node(index), attempt: 1, input: input, now: now, into: &actions))
            return false
        }
        let node = NodeKey(task.name)
        let elements: [[UInt8]]
        do {
            elements = try mapUnits(of: task, input: input, maxElements: configuration.maxMapWidth)
        } catch {
            let failure = if error.code == .tooManyElements {
                TaskFailure(
                    kind: TaskFailure.mapTooWideKind,
                    message: "the list to map over has more than \(configuration.maxMapWidth) elements (maxMapWidth)",
                    retryable: false
                )
            } else {
                TaskFailure(kind: TaskFailure.invalidMapInputKind, message: "the input to map over is not a JSON array: \(error)", retryable: false)
            }
            actions.append(.record(.nodeFailed(node: node, failure: failure)))
            finish(index, as: .failed(failure, attempts: 0))
            return true
        }
        actions.append(.record(.mapExpanded(node: node, width: elements.count)))
        guard !elements.isEmpty else {
            let output = JSONPayload.array([])
            actions.append(.record(.mapCompleted(node: node, output: output)))
            finish(index, as: .succeeded(output: output, attempts: 0))
            return true
        }
        nodes[index] = .mapping(MapProgress(elements: elements.map { .pending(input: $0) }, remaining: elements.count))
        startPendingElements(of: index, now: now, into: &actions)
        return false
    }

    /// The units a map node fans out into: its list's elements, or, with `batch_size`, arrays of
    /// up to that many consecutive elements. `maxElements` bounds the list (not the units).
    func mapUnits(of task: TaskDefinition, input: [UInt8], maxElements: Int) throws(JSONPayloadError) -> [[UInt8]] {
        let elements = try JSONPayload.splitArray(input, maxElements: maxElements)
        guard let size = task.mapOptions?.batchSize, size > 1 else {
            return task.mapOptions?.batchSize == 1 ? elements.map { JSONPayload.array([$0]) } : elements
        }
        return stride(from: 0, to: elements.count, by: size).map { JSONPayload.array(Array(elements[$0..<min($0 + size, elements.count)])) }
    }

    /// Starts the map node's pending elements, in order, while its `max_concurrency` allows.
    mutating func startPendingElements(of index: Int, now: EngineInstant, into actions: inout [Action]) {
        let cap = workflow.graph.tasks[index].mapOptions?.maxConcurrency ?? .max
        guard case .mapping(var progress) = nodes[index] else { return }
        nodes[index] = .waiting  // not shared while it changes (see modifyMap)
        while progress.open < cap, progress.nextPending < progress.elements.count {
            let element = progress.nextPending
            progress.nextPending += 1
            guard case .pending(let input) = progress.elements[element] else { continue }
            let execution = beginAttempt(.element(index, element), attempt: 1, input: input, now: now, into: &actions)
            progress.elements[element] = .active(execution)
            progress.open += 1
        }
        nodes[index] = .mapping(progress)
    }

    /// A batched map's output: the batches' arrays concatenated, in order (a batch output that is
    /// not an array counts as one element).
    static func concatenated(_ outputs: [[UInt8]]) -> [UInt8] {
        var all: [[UInt8]] = []
        for output in outputs {
            if let elements = try? JSONPayload.splitArray(output) { all += elements } else { all.append(output) }
        }
        return JSONPayload.array(all)
    }

    /// The input of node `index` from its parents' outputs (see the type's documentation).
    func input(of index: Int) -> [UInt8] {
        let parents = workflow.graph.parents[index]
        guard !parents.isEmpty else {
            guard let input else { preconditionFailure("a root became ready before the run started: \(state)") }
            return input
        }
        if parents.count == 1 {
            guard case .succeeded(let output, _) = nodes[parents[0]] else {
                preconditionFailure("node '\(workflow.graph.tasks[index].name)' became ready but its parent is \(nodes[parents[0]])")
            }
            return output
        }
        var members: [(key: String, value: [UInt8])] = []
        members.reserveCapacity(parents.count)
        for parent in parents {
            if case .succeeded(let output, _) = nodes[parent] { members.append((workflow.graph.tasks[parent].name, output)) }
        }
        return JSONPayload.object(members)
    }

    /// Whether node `index`'s join is satisfied by its parents' outcomes so far.
    func joinSatisfied(_ index: Int) -> Bool {
        let parents = workflow.graph.parents[index]
        let succeeded = parents.reduce(0) { count, parent in
            if case .succeeded = nodes[parent] { return count + 1 }
            return count
        }
        return workflow.graph.tasks[index].effectiveJoin.isSatisfied(succeeded: succeeded, parents: parents.count)
    }

    /// Whether node `index`'s join can still be satisfied given its parents' failures and
    /// cancellations so far.
    func joinSatisfiable(_ index: Int) -> Bool {
        let parents = workflow.graph.parents[index]
        let failed = parents.reduce(0) { count, parent in
            switch nodes[parent] {
            case .failed, .cancelled: return count + 1
            default: return count
            }
        }
        return workflow.graph.tasks[index].effectiveJoin.canBeSatisfied(failed: failed, parents: parents.count)
    }

    /// Every node finished: the run succeeds with its leaves' outputs — those of the leaves that
    /// succeeded, when some were cancelled on request; when every leaf was, the run closes as
    /// cancelled (it has no output).
    mutating func completeRun(into actions: inout [Action]) {
        if runDeadline != nil { actions.append(.cancelTimer(.run)) }
        let leaves = workflow.graph.leaves.filter { if case .cancelled = nodes[$0] { false } else { true } }.sorted {
            workflow.graph.tasks[$0].name.utf8.lexicographicallyPrecedes(workflow.graph.tasks[$1].name.utf8)
        }
        guard !leaves.isEmpty else {
            let reason = "every leaf node was cancelled, so the run has no output"
            actions.append(.record(.runCancelled(reason: reason)))
            actions.append(.cancelRun(reason: reason))
            state = .cancelled(reason: reason)
            return
        }
        var members: [(key: String, value: [UInt8])] = []
        for leaf in leaves {
            guard case .succeeded(let output, _) = nodes[leaf] else {
                preconditionFailure("run completing with leaf '\(workflow.graph.tasks[leaf].name)' in state \(nodes[leaf])")
            }
            members.append((workflow.graph.tasks[leaf].name, output))
        }
        let output = members.count == 1 ? members[0].value : JSONPayload.object(members)
        actions.append(.record(.runCompleted(output: output)))
        actions.append(.completeRun(output: output))
        state = .succeeded(output: output)
    }

    /// The run cannot succeed any more: stop everything and close it as failed.
    mutating func failRun(_ failure: RunFailure, runTimerFired: Bool = false, into actions: inout [Action]) {
        if runDeadline != nil && !runTimerFired { actions.append(.cancelTimer(.run)) }
        stopEverything(into: &actions)
        actions.append(.record(.runFailed(failure)))
        actions.append(.failRun(failure))
        state = .failed(failure)
    }

    /// Cancels every open attempt and disarms every timer; active and mapping nodes become
    /// cancelled (recorded implicitly by the run's closing record).
    mutating func stopEverything(into actions: inout [Action]) {
        for index in nodes.indices {
            let name = workflow.graph.tasks[index].name
            switch nodes[index] {
            case .active(let execution):
                stop(execution, node: NodeKey(name), into: &actions)
                nodes[index] = .cancelled(attempts: execution.attempt)
                unfinished -= 1
            case .mapping(let progress):
                for (element, state) in progress.elements.enumerated() {
                    if case .active(let execution) = state { stop(execution, node: NodeKey(name, index: element), into: &actions) }
                }
                nodes[index] = .cancelled(attempts: 0)
                unfinished -= 1
            case .waiting, .succeeded, .failed, .cancelled:
                break
            }
        }
    }

    /// Disarms the unit's timers and cancels its open attempt, if any.
    func stop(_ execution: Execution, node: NodeKey, into actions: inout [Action]) {
        actions += execution.armedTimers(node: node).map(Action.cancelTimer)
        if execution.isOpen { actions.append(.cancelAttempt(node: node, attempt: execution.attempt)) }
    }
}
