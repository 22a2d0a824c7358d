/// A workflow as its author wrote it: a name and a DAG of task nodes (ARCHITECTURE.md §4).
///
/// This is what `weftctl workflow apply FILE` decodes (YAML or JSON, field names in snake case:
/// `name`, `tasks`, `timeout`) and what the Swift DSL builds. It is plain data: nothing is checked until
/// ``validated(limits:)`` turns it into a ``ValidatedWorkflow`` — the only form the engine runs, and
/// the one that carries the content hash (``WorkflowVersion``) a run pins.
///
/// Decoding is strict: an unknown field is an error naming it (a misspelt `depends_on` must not
/// silently drop a dependency), and a bad duration is an error naming its field.
public struct WorkflowDefinition: Hashable, Sendable {
    /// The workflow's name: 1–128 characters from `A–Z a–z 0–9 _ . -`.
    public var name: String
    /// The task nodes. Their order in the file carries no meaning: two files that list the same
    /// tasks in different orders define the same workflow (and hash to the same version).
    public var tasks: [TaskDefinition]
    /// The longest a run may take, from its creation (the time in its id) to its close: past it,
    /// the run fails with ``TaskFailure/runTimeoutKind`` and its open attempts are cancelled. nil:
    /// no limit. File field `timeout`.
    public var timeout: Duration?

    public init(name: String, tasks: [TaskDefinition], timeout: Duration? = nil) {
        self.name = name
        self.tasks = tasks
        self.timeout = timeout
    }
}
