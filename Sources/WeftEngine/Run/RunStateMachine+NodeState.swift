extension RunStateMachine {
    /// Where one workflow node stands.
    ///
    /// Transitions: `waiting → active → succeeded | failed` (plain nodes; `active` covers queued,
    /// running and backing-off attempts), `waiting → mapping → succeeded | failed` (map nodes),
    /// `waiting → succeeded | failed` (a map node whose list is empty or invalid), and `active |
    /// mapping → cancelled` when the run closes. Terminal states never change.
    enum NodeState: Hashable, Sendable {
        case waiting
        case active(Execution)
        case mapping(MapProgress)
        case succeeded(output: [UInt8], attempts: Int)
        case failed(TaskFailure, attempts: Int)
        case cancelled(attempts: Int)

        var isTerminal: Bool {
            switch self {
            case .waiting, .active, .mapping: false
            case .succeeded, .failed, .cancelled: true
            }
        }
    }

    /// The attempts of one executable unit (a plain node or a map element) while it is neither
    /// waiting nor finished.
    ///
    /// Phases: `queued → running → (finished: the unit leaves this type)`, `queued | running →
    /// backingOff → queued` (failure with a retry left; `attempt` grows by one on re-queueing).
    /// Invariant: exactly the timers whose deadlines are set here are armed in the shell.
    struct Execution: Hashable, Sendable {
        /// Where the latest attempt stands, with the deadlines of its armed timers.
        enum Phase: Hashable, Sendable {
            /// Dispatched to the ready queue, not yet taken by a worker.
            case queued(scheduleToStart: EngineInstant?)
            /// Taken by `worker`.
            case running(worker: String, startToClose: EngineInstant?, heartbeat: EngineInstant?)
            /// Attempt `attempt` failed; attempt `attempt + 1` is due at `until`.
            case backingOff(until: EngineInstant)
            /// A signal node's wait (attempt 1), timed out at `deadline` if it has one. No worker
            /// runs it: results from workers are stale.
            case awaitingSignal(deadline: EngineInstant?)
        }

        /// The latest attempt's number (1-based).
        var attempt: Int
        /// The unit's input, fixed when it first became ready and reused by every retry.
        var input: [UInt8]
        var phase: Phase

        /// `true` while attempt `attempt` is queued or running (its results are accepted).
        var isOpen: Bool {
            switch phase {
            case .queued, .running: true
            case .backingOff, .awaitingSignal: false
            }
        }

        /// The deadline of the armed timeout of `kind`, if any.
        func deadline(_ kind: TimeoutKind) -> EngineInstant? {
            switch (phase, kind) {
            case (.queued(let scheduleToStart), .scheduleToStart): scheduleToStart
            case (.running(_, let startToClose, _), .startToClose): startToClose
            case (.running(_, _, let heartbeat), .heartbeat): heartbeat
            case (.awaitingSignal(let deadline), .startToClose): deadline
            default: nil
            }
        }

        /// The timers armed for this unit, named for `node`.
        func armedTimers(node: NodeKey) -> [TimerID] {
            switch phase {
            case .queued(let scheduleToStart):
                return scheduleToStart == nil ? [] : [TimerID(.timeout(.scheduleToStart), node: node, attempt: attempt)]
            case .running(_, let startToClose, let heartbeat):
                var timers: [TimerID] = []
                if startToClose != nil { timers.append(TimerID(.timeout(.startToClose), node: node, attempt: attempt)) }
                if heartbeat != nil { timers.append(TimerID(.timeout(.heartbeat), node: node, attempt: attempt)) }
                return timers
            case .backingOff:
                return [TimerID(.retryBackoff, node: node, attempt: attempt + 1)]
            case .awaitingSignal(let deadline):
                return deadline == nil ? [] : [TimerID(.timeout(.startToClose), node: node, attempt: attempt)]
            }
        }

        /// The durable view of this unit.
        var snapshot: NodeSnapshot {
            switch phase {
            case .queued: NodeSnapshot(.scheduled, attempts: attempt)
            case .running(let worker, _, _): NodeSnapshot(.started(worker: worker), attempts: attempt)
            case .backingOff(let until): NodeSnapshot(.backingOff(until: until), attempts: attempt)
            case .awaitingSignal(let deadline): NodeSnapshot(.awaitingSignal(deadline: deadline), attempts: attempt)
            }
        }
    }

    /// A map node's fan-out. Invariant: `remaining` counts the `active` and `pending` elements,
    /// and is positive (the map node finishes when it reaches 0); `open` counts the `active` ones.
    /// Elements start in order: those from `nextPending` on have not started (with
    /// `max_concurrency`, at most that many are open at once). A failed element fails the map
    /// node at once, so no element here has failed.
    struct MapProgress: Hashable, Sendable {
        var elements: [ElementState]
        var remaining: Int
        var open = 0
        var nextPending = 0
    }

    /// One element of a map node's fan-out (with `batch_size`, one batch of list elements).
    enum ElementState: Hashable, Sendable {
        case active(Execution)
        case succeeded(output: [UInt8], attempts: Int)
        /// Not started yet: the map node's `max_concurrency` holds it back.
        case pending(input: [UInt8])
    }

    /// Where a unit's state lives: node `i`, or element `e` of map node `i`.
    enum Slot: Hashable, Sendable {
        case node(Int)
        case element(Int, Int)

        var nodeIndex: Int {
            switch self {
            case .node(let index), .element(let index, _): index
            }
        }
    }
}
