extension RunStateMachine {
    /// What the shell must do after an event, in order (STYLE.md §2: the machine decides, the shell
    /// only executes).
    ///
    /// Durability rule: every ``record(_:)`` in a returned list must be committed before any other
    /// action of the same list takes effect outside the process (ARCHITECTURE.md §5: acknowledge or
    /// dispatch only after the commit). Timer actions are local and may be applied at once.
    public enum Action: Hashable, Sendable {
        /// Persist this fact (group commit).
        case record(HistoryEvent)
        /// Queue this attempt in its ready queue; push it to a worker when one has credit.
        case dispatch(TaskAssignment)
        /// Stop this attempt wherever it is: remove it from the ready queue if still queued, or tell
        /// the worker running it to stop. Whatever the worker reports for it later is stale.
        case cancelAttempt(node: NodeKey, attempt: Int)
        /// Arm (or move) the timer `id` to fire at `at`; report it with
        /// ``RunStateMachine/timerFired(_:now:)``. A deadline in the past fires at once.
        case schedule(TimerID, at: EngineInstant)
        /// Disarm the timer `id` (if it already fired, its report is ignored as stale).
        case cancelTimer(TimerID)
        /// The run succeeded: answer waiters with `output`, then drop the machine.
        case completeRun(output: [UInt8])
        /// The run failed: answer waiters, then drop the machine.
        case failRun(RunFailure)
        /// The run was cancelled: answer waiters, then drop the machine.
        case cancelRun(reason: String)
        /// The event changed nothing (a stale result, an unknown node, …). Tell the reporter if it
        /// waits for an answer; log or count it. Always the only action in its list.
        case ignored(IgnoredEvent)
    }
}
