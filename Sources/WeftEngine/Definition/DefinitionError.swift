/// Everything wrong with a workflow definition, found by ``WorkflowDefinition/validated(limits:)``.
///
/// Validation collects every problem it can find rather than stopping at the first, so that an
/// author fixes a file in one pass. ``problems`` is never empty; ``code`` is the first problem's.
/// Callers map it to `INVALID_ARGUMENT` and show ``description`` as is.
public struct DefinitionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem. A struct with static members, not an enum, so that new codes break no
    /// `switch` (STYLE.md §4).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidName = "invalid name"
            case noTasks = "no tasks"
            case duplicateTask = "duplicate task"
            case unknownDependency = "unknown dependency"
            case selfDependency = "self dependency"
            case duplicateDependency = "duplicate dependency"
            case cycle = "cycle"
            case tooManyTasks = "too many tasks"
            case tooManyDependencies = "too many dependencies"
            case invalidType = "invalid type"
            case invalidQueue = "invalid queue"
            case invalidKey = "invalid key"
            case invalidRetryPolicy = "invalid retry policy"
            case invalidTimeout = "invalid timeout"
            case invalidMap = "invalid map"
            case invalidJoin = "invalid join"
            case invalidSignal = "invalid signal"
            case unsupported = "unsupported"
            case invalidRateLimit = "invalid rate limit"
            case invalidConcurrency = "invalid concurrency"
            case invalidCache = "invalid cache"
            case invalidCircuitBreaker = "invalid circuit breaker"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A workflow or task name is empty, too long, or has characters outside `A–Z a–z 0–9 _ . -`.
        public static let invalidName = Code(.invalidName)
        /// The workflow has no tasks.
        public static let noTasks = Code(.noTasks)
        /// Two tasks share a name.
        public static let duplicateTask = Code(.duplicateTask)
        /// A task depends on a name no task has.
        public static let unknownDependency = Code(.unknownDependency)
        /// A task depends on itself.
        public static let selfDependency = Code(.selfDependency)
        /// A task lists the same dependency twice.
        public static let duplicateDependency = Code(.duplicateDependency)
        /// The dependencies form a cycle; the message shows it (`a -> b -> a`).
        public static let cycle = Code(.cycle)
        /// More tasks than ``WorkflowDefinition/Limits/maxTasks``.
        public static let tooManyTasks = Code(.tooManyTasks)
        /// More dependencies than a limit of ``WorkflowDefinition/Limits`` allows.
        public static let tooManyDependencies = Code(.tooManyDependencies)
        /// A task type is empty, too long, or contains whitespace or control characters.
        public static let invalidType = Code(.invalidType)
        /// A queue name is empty, too long, or has characters outside `A–Z a–z 0–9 _ . -`.
        public static let invalidQueue = Code(.invalidQueue)
        /// A concurrency or cache key is empty or longer than 256 characters.
        public static let invalidKey = Code(.invalidKey)
        /// `max_attempts` outside 1…1000, a non-positive or too long backoff, `max_backoff` below
        /// `initial_backoff`, a multiplier below 1, or an empty non-retryable kind.
        public static let invalidRetryPolicy = Code(.invalidRetryPolicy)
        /// A timeout that is zero, negative or too long.
        public static let invalidTimeout = Code(.invalidTimeout)
        /// A field the format reserves but the engine does not carry out yet (`concurrency_key`,
        /// `cache_key`): refused rather than accepted and ignored.
        public static let unsupported = Code(.unsupported)
        /// `map: true` on a task without exactly one parent.
        public static let invalidMap = Code(.invalidMap)
        /// A `join` on a task without parents, or `at_least(N)` with N outside 1…parents.
        public static let invalidJoin = Code(.invalidJoin)
        /// A signal node's name or options are wrong (`wait_signal`, `signal_timeout`).
        public static let invalidSignal = Code(.invalidSignal)
        /// A `rate_limit` out of range (limit, per, burst) or on a node that runs no task.
        public static let invalidRateLimit = Code(.invalidRateLimit)
        /// A `concurrency` limit out of range, beside `concurrency_key`, or on a node that runs no task.
        public static let invalidConcurrency = Code(.invalidConcurrency)
        /// A `cache` TTL out of range, beside `cache_key`, or on a node that runs no task.
        public static let invalidCache = Code(.invalidCache)
        /// A `circuit_breaker` setting out of range, or one on a node that runs no task.
        public static let invalidCircuitBreaker = Code(.invalidCircuitBreaker)

        public var description: String { base.rawValue }
    }

    /// One thing wrong with the definition.
    public struct Problem: Hashable, Sendable, CustomStringConvertible {
        /// What kind of problem.
        public var code: Code
        /// The task concerned, when there is one.
        public var task: String?
        /// A sentence for humans that names the fields and values involved.
        public var message: String

        public init(_ code: Code, task: String? = nil, _ message: String) {
            self.code = code
            self.task = task
            self.message = message
        }

        public var description: String { message }
    }

    /// The workflow's name as written (possibly itself invalid).
    public var workflow: String
    /// Every problem found, in a stable order: workflow-level first, then per task in file order,
    /// then cycles. Never empty.
    public var problems: [Problem]

    public init(workflow: String, problems: [Problem]) {
        precondition(!problems.isEmpty, "a DefinitionError lists at least one problem")
        self.workflow = workflow
        self.problems = problems
    }

    /// The first problem's code.
    public var code: Code { problems[0].code }

    /// The codes of all problems, in order.
    public var codes: [Code] { problems.map(\.code) }

    public var description: String {
        if problems.count == 1 { return "invalid workflow \(NameRules.quoted(workflow)): \(problems[0].message)" }
        var text = "invalid workflow \(NameRules.quoted(workflow)): \(problems.count) problems"
        for problem in problems { text += "\n  - \(problem.message)" }
        return text
    }
}
