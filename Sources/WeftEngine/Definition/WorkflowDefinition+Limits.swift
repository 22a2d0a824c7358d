extension WorkflowDefinition {
    /// Upper bounds that keep one definition from costing the scheduler unbounded memory or time.
    /// A definition over a limit is rejected by ``WorkflowDefinition/validated(limits:)`` with a clear
    /// error; it is never truncated.
    public struct Limits: Hashable, Sendable {
        /// Most task nodes in one workflow. Default 10,000: each node costs every open run a few
        /// dozen bytes of state, and validation is O(nodes + dependencies).
        public var maxTasks: Int
        /// Most entries in one task's `depends_on`. Default 1,000. A wider fan-in belongs in a
        /// `map` node, whose join is one node whatever the width.
        public var maxDependenciesPerTask: Int
        /// Most dependency edges in the whole workflow. Default 100,000.
        public var maxTotalDependencies: Int
        /// Longest workflow, task or queue name, in characters. Default 128.
        public var maxNameLength: Int
        /// Longest duration accepted for a timeout or backoff. Default 366 days: longer values are
        /// almost certainly typos, and instants stay far from `Int64` overflow.
        public var maxDuration: Duration
        /// Refuse fields the format reserves but the engine does not carry out yet
        /// (`concurrency_key`, `cache_key`) as ``DefinitionError/Code/unsupported``. Registration
        /// sets it; definitions stored earlier still load for their runs. Default false.
        public var refuseReservedFields = false

        public init(
            maxTasks: Int = 10_000,
            maxDependenciesPerTask: Int = 1_000,
            maxTotalDependencies: Int = 100_000,
            maxNameLength: Int = 128,
            maxDuration: Duration = .seconds(366 * 86_400)
        ) {
            self.maxTasks = maxTasks
            self.maxDependenciesPerTask = maxDependenciesPerTask
            self.maxTotalDependencies = maxTotalDependencies
            self.maxNameLength = maxNameLength
            self.maxDuration = maxDuration
        }
    }
}
