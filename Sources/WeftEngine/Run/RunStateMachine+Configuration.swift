extension RunStateMachine {
    /// Knobs of the run state machine.
    public struct Configuration: Hashable, Sendable {
        /// The most elements a `map` node may fan out into. Default 10,000. Each element is a task
        /// with its own state (~100 bytes plus its input) for as long as the map node runs, and its
        /// output is kept until the map node's output is assembled. A wider list fails the map node
        /// with ``TaskFailure/mapTooWideKind`` (not retryable) before anything is dispatched.
        public var maxMapWidth: Int

        public init(maxMapWidth: Int = 10_000) {
            precondition(maxMapWidth >= 0, "maxMapWidth must not be negative")
            self.maxMapWidth = maxMapWidth
        }
    }
}
