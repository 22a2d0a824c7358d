/// The durable state of a run, enough to rebuild its ``RunStateMachine`` without replaying its
/// history (ARCHITECTURE.md §2: recovery loads the frontier, not whole histories).
///
/// A shell builds one either from its stored rows (the run's status and input, and each node's
/// latest attempt: number, status, worker, output or failure, retry deadline) or by folding the
/// run's records with ``apply(_:)``; ``RunStateMachine/snapshot()`` produces the same value from a
/// live machine. ``RunStateMachine/recover(runID:workflow:snapshot:configuration:seed:now:)``
/// turns it back into a machine plus the actions that resume the run.
///
/// Invariants: ``nodes`` has an entry for every node that left "waiting" (no entry = waiting);
/// element keys (`shard[2]`) appear only while their map node is `mapping`; ``input`` is set once
/// the run started; ``output`` iff succeeded, ``failure`` iff failed, ``cancelReason`` iff
/// cancelled.
public struct RunSnapshot: Hashable, Sendable {
    /// The run's lifecycle status.
    public var status: RunStatus
    /// The run's input, once started.
    public var input: [UInt8]?
    /// Every node (and map element) past "waiting".
    public var nodes: [NodeKey: NodeSnapshot]
    /// The run's output, when succeeded.
    public var output: [UInt8]?
    /// Why the run failed, when failed.
    public var failure: RunFailure?
    /// Why the run was cancelled, when cancelled.
    public var cancelReason: String?
    /// Signals received and not yet consumed by a signal node, in arrival order.
    public var signals: [PendingSignal] = []
    /// The number the next signal the run receives gets (signals received so far).
    public var nextSignalSeq = 0

    /// A snapshot of a run; the default is a pending run, the starting point for ``apply(_:)``.
    public init(
        status: RunStatus = .pending,
        input: [UInt8]? = nil,
        nodes: [NodeKey: NodeSnapshot] = [:],
        output: [UInt8]? = nil,
        failure: RunFailure? = nil,
        cancelReason: String? = nil
    ) {
        self.status = status
        self.input = input
        self.nodes = nodes
        self.output = output
        self.failure = failure
        self.cancelReason = cancelReason
    }
}

/// A signal a run received and no signal node has consumed yet.
public struct PendingSignal: Hashable, Sendable {
    /// Its number in the run (from 0, in arrival order).
    public var seq: Int
    /// Its name.
    public var name: String
    /// Its payload (JSON).
    public var payload: [UInt8]

    public init(seq: Int, name: String, payload: [UInt8]) {
        self.seq = seq
        self.name = name
        self.payload = payload
    }
}
