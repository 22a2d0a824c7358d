import WeftCore
import WeftTransport
import WeftWire

// The run API of the SDK: register workflows, start runs, wait for results, inspect, cancel, list.
// Every call goes to the coordinator, which forwards writes to the owner of the run's partition.
// Every call throws `WeftError`.

/// A started run of a workflow whose output is `Output`: what ``WeftClient/start(_:input:options:)``
/// returns and ``WeftClient/result(of:timeout:)`` takes. Keep ``id`` to find the run again later
/// (`RunHandle<Quote>(id: storedID)`).
public struct RunHandle<Output: Codable & Sendable>: Sendable, Hashable, CustomStringConvertible {
    /// The run's id.
    public let id: RunID

    /// The handle of the run `id` (whose output is `Output`).
    public init(id: RunID) {
        self.id = id
    }

    /// The run id.
    public var description: String { id.description }
}

/// Options of ``WeftClient/start(_:input:options:)``.
public struct StartOptions: Sendable {
    /// Starting twice with the same key returns the first run (kept for the retention period).
    public var idempotencyKey: String?
    /// A specific registered version; nil runs the latest.
    public var version: String?
    /// The priority of the run's tasks (a step's own priority wins); nil is `normal`.
    public var priority: Priority?
    /// The run's id, chosen by the caller so that repeating the start (after a lost answer) is
    /// safe: a start naming an existing run returns that run and never runs it again. Must be a
    /// UUIDv7 dated within an hour before and five minutes after the server's clock; nil lets the
    /// server choose.
    public var runID: RunID?

    /// Options; every one defaults to the server's choice.
    public init(idempotencyKey: String? = nil, version: String? = nil, priority: Priority? = nil, runID: RunID? = nil) {
        self.idempotencyKey = idempotencyKey
        self.version = version
        self.priority = priority
        self.runID = runID
    }
}

extension WeftClient {
    /// Registers `workflow` (idempotent: the same content is the same version). Throws
    /// ``WeftError`` `INVALID_ARGUMENT` with every problem the definition has.
    @discardableResult
    public func register<Input, Output>(_ workflow: Workflow<Input, Output>) async throws -> RegisterWorkflowResponse {
        try await register(definitionJSON: workflow.definitionJSON())
    }

    /// Registers a definition in the file format of ARCHITECTURE.md §4, given as JSON.
    @discardableResult
    public func register(definitionJSON: [UInt8]) async throws -> RegisterWorkflowResponse {
        try await call(ClientMethods.registerWorkflow, RegisterWorkflowRequest(definitionJSON: definitionJSON))
    }

    /// Every registered workflow's latest version.
    public func workflows() async throws -> [WorkflowSummary] {
        let response: ListWorkflowsResponse = try await call(ClientMethods.listWorkflows, ListWorkflowsRequest())
        return response.workflows
    }

    /// The definition of workflow `name` at `version` (nil: the latest), as canonical JSON, with
    /// the list of its versions (the 200 latest, newest first). Throws `NOT_FOUND`.
    public func workflow(_ name: String, version: String? = nil) async throws -> GetWorkflowResponse {
        try await call(ClientMethods.getWorkflow, GetWorkflowRequest(name: name, version: version ?? ""))
    }

    /// Starts a run of `workflow` with `input`; returns once the run is durable (it will run to its
    /// end whatever process dies afterwards).
    ///
    /// - Throws: ``WeftError``: `NOT_FOUND` (workflow not registered), `INVALID_ARGUMENT` (input
    ///   over the limit, bad run id), `ALREADY_EXISTS` (the run id names another workflow's run),
    ///   `UNAVAILABLE` (cluster unreachable; retryable: repeat with the same `runID` or
    ///   `idempotencyKey` to be sure the run starts once).
    public func start<Input, Output>(_ workflow: Workflow<Input, Output>, input: Input, options: StartOptions = StartOptions()) async throws -> RunHandle<Output> {
        RunHandle(id: try await start(workflow: workflow.name, input: input, options: options))
    }

    /// Starts a run of the workflow named `workflow` with a JSON-encoded input; returns once the run
    /// is durable. Throws as ``start(_:input:options:)``.
    public func start(workflow: String, input: some Encodable, options: StartOptions = StartOptions()) async throws -> RunID {
        let bytes: [UInt8]
        do {
            bytes = try JSONCoding.encode(input)
        } catch {
            throw WeftError(.invalidArgument, "the input does not encode as JSON: \(error)")
        }
        return try await start(workflow: workflow, inputJSON: bytes, options: options)
    }

    /// Starts a run with raw input bytes (JSON by convention); returns once the run is durable.
    public func start(workflow: String, inputJSON: [UInt8], options: StartOptions = StartOptions()) async throws -> RunID {
        let priority: WirePriority = switch options.priority {
        case .none: .unspecified
        case .low: .low
        case .normal: .normal
        case .high: .high
        case .critical: .critical
        }
        let response: StartRunResponse = try await call(
            ClientMethods.startRun,
            StartRunRequest(
                workflow: workflow, version: options.version ?? "", input: inputJSON,
                idempotencyKey: options.idempotencyKey ?? "", priority: priority, runID: options.runID),
            runID: options.runID)
        return response.runID
    }

    /// The run's state now, with its tasks. Throws `NOT_FOUND` for an unknown run.
    public func describe(_ run: RunID, includeTasks: Bool = true) async throws -> RunInfo {
        try await call(ClientMethods.getRun, GetRunRequest(runID: run, includeTasks: includeTasks), runID: run)
    }

    /// What happened in the run so far, oldest first: started, each attempt scheduled, started (on
    /// which worker) and ended, failures and timeouts with their errors, retries, map expansion,
    /// the close. Throws `NOT_FOUND` for an unknown run.
    public func history(of run: RunID) async throws -> GetRunHistoryResponse {
        try await call(ClientMethods.getRunHistory, GetRunHistoryRequest(runID: run), runID: run)
    }

    /// Waits until the run is closed and returns it, whatever its outcome.
    ///
    /// Waiting is safe to repeat, so a wait cut by a coordinator restart or a lost connection is
    /// made again, until `timeout` passes (then `DEADLINE_EXCEEDED`; the run goes on).
    public func wait(for run: RunID, timeout: Duration = .seconds(60)) async throws -> RunInfo {
        let deadline = ContinuousClock.now + timeout
        var pause: Duration = .milliseconds(50)
        while true {
            let remaining = deadline - .now
            do {
                return try await call(ClientMethods.waitRun, WaitRunRequest(runID: run), timeout: max(remaining, .milliseconds(1)), runID: run)
            } catch let error as WeftError where error.code == .unavailable && deadline - .now > pause {
                // The coordinator went away mid-wait (restart, rolling update): ask again.
                do { try await Task.sleep(for: pause) } catch { throw WeftError(.cancelled, "the calling task was cancelled", runID: run) }
                pause = min(pause * 2, .seconds(1))
            } catch let error as WeftError where error.code == .unavailable {
                throw WeftError(.deadlineExceeded, "run \(run) still open when the wait's \(DurationText.format(timeout)) passed; the cluster was unreachable at the end: \(error.message)", runID: run)
            }
        }
    }

    /// Waits for the run and returns its output. Retried across coordinator restarts like
    /// ``wait(for:timeout:)``.
    ///
    /// - Throws: ``WeftError`` with ``WeftError/Code/runFailed`` or ``WeftError/Code/runCancelled``
    ///   (``WeftError/run`` holds the run and its tasks), ``WeftError/Code/outputMismatch`` when the
    ///   output does not decode as `Output`, `DEADLINE_EXCEEDED` when the run is still open after
    ///   `timeout`.
    public func result<Output>(of run: RunHandle<Output>, timeout: Duration = .seconds(60)) async throws -> Output {
        try await result(of: run.id, as: Output.self, timeout: timeout)
    }

    /// Waits for the run and decodes its output as `type`. Throws as ``result(of:timeout:)``.
    public func result<Output: Decodable>(of run: RunID, as type: Output.Type, timeout: Duration = .seconds(60)) async throws -> Output {
        let info = try await wait(for: run, timeout: timeout)
        switch info.status {
        case .succeeded:
            do {
                return try JSONCoding.decode(Output.self, from: info.output)
            } catch {
                throw WeftError(
                    .outputMismatch, "run \(run) succeeded, but its output does not decode as \(Output.self): \(error)", run: info)
            }
        case .cancelled:
            throw WeftError(.runCancelled, "run \(run) of \(info.workflow) was cancelled\(info.error.isEmpty ? "" : ": \(info.error)")", run: info)
        default:
            throw WeftError(.runFailed, "run \(run) of \(info.workflow) failed: \(info.error.isEmpty ? "no error message" : info.error)", run: info)
        }
    }

    /// Sends signal `name` with `payload` (encoded as JSON) to run `run`: the first of its
    /// `wait_signal: name` nodes that waits takes it and succeeds with the payload as its output; a
    /// signal that arrives before such a node is reached is kept until one is. Returns once the
    /// signal is stored: true when a waiting node took it now.
    ///
    /// - Throws: `NOT_FOUND` (no such run), `FAILED_PRECONDITION` (the run is closed),
    ///   `INVALID_ARGUMENT` (no node of the run's workflow waits for `name`, or the payload is over
    ///   the limit). A repeated signal is a second signal: after a lost answer, check the run
    ///   before sending again.
    @discardableResult
    public func signal(_ run: RunID, _ name: String, payload: some Encodable) async throws -> Bool {
        let bytes: [UInt8]
        do {
            bytes = try JSONCoding.encode(payload)
        } catch {
            throw WeftError(.invalidArgument, "the signal payload does not encode as JSON: \(error)", runID: run)
        }
        let response: SignalRunResponse = try await call(
            ClientMethods.signalRun, SignalRunRequest(runID: run, name: name, payload: bytes), runID: run)
        return response.delivered
    }

    /// Cancels a run: it closes as cancelled, and its attempts in flight are asked to stop
    /// (handlers see task cancellation; `exec` children get SIGTERM, then SIGKILL 2 s later).
    /// Returns the status afterwards; a closed run keeps its status.
    @discardableResult
    public func cancel(_ run: RunID, reason: String = "") async throws -> RunStatus {
        let response: CancelRunResponse = try await call(ClientMethods.cancelRun, CancelRunRequest(runID: run, reason: reason), runID: run)
        return response.status
    }

    /// Terminates a run: closed as cancelled at once, like ``cancel(_:reason:)``, but its attempts
    /// in flight are killed without a grace period (`TaskContext.isTerminated`; `exec` children get
    /// SIGKILL) and the history says `run_terminated`.
    @discardableResult
    public func terminate(_ run: RunID, reason: String = "") async throws -> RunStatus {
        let response: CancelRunResponse = try await call(
            ClientMethods.cancelRun, CancelRunRequest(runID: run, reason: reason, terminate: true), runID: run)
        return response.status
    }

    /// Cancels node `node` of a running run (its attempt in flight is asked to stop) — with
    /// `subtree`, every node that depends on it too. The run goes on without them: a node that
    /// needs a cancelled parent (`join: all`) is cancelled in turn; one whose join other parents
    /// can still meet runs. The run succeeds with the outputs of its leaves that succeeded, or
    /// closes as cancelled when every leaf was cancelled. Returns the run's status afterwards.
    ///
    /// - Throws: `INVALID_ARGUMENT` (no such node; map elements are cancelled with their map node),
    ///   `FAILED_PRECONDITION` (the node already finished, or the run is closed), `NOT_FOUND`.
    @discardableResult
    public func cancel(_ run: RunID, node: String, subtree: Bool = false, reason: String = "") async throws -> RunStatus {
        let response: CancelRunResponse = try await call(
            ClientMethods.cancelRun, CancelRunRequest(runID: run, reason: reason, node: node, subtree: subtree), runID: run)
        return response.status
    }

    /// Starts a new run of the same workflow version with the same input. With `fromFailed`, the
    /// new run reuses the outputs of the nodes of `run` that succeeded (they do not run again) and
    /// runs the rest; `run` must have failed or been cancelled (else `FAILED_PRECONDITION`). The
    /// old run stays as it was; the new one's history names it (`output_reused`).
    public func retry(_ run: RunID, fromFailed: Bool = false) async throws -> RunID {
        let response: StartRunResponse = try await call(ClientMethods.retryRun, RetryRunRequest(runID: run, fromFailed: fromFailed), runID: run)
        return response.runID
    }

    /// One page of runs, newest first.
    public func list(_ request: ListRunsRequest = ListRunsRequest()) async throws -> ListRunsResponse {
        try await call(ClientMethods.listRuns, request)
    }

    func call<Request: WireMessage, Response: WireMessage>(
        _ method: String, _ request: Request, timeout: Duration? = nil, runID: RunID? = nil
    ) async throws -> Response {
        do {
            let wait = callWait
            var options = CallOptions(timeout: timeout ?? configuration.defaultTimeout, waitForReady: wait.waitForReady)
            options.readyWaitLimit = wait.limit
            return try await rpc.unary(method, request: request, response: Response.self, options: options)
        } catch {
            throw WeftError.from(error, runID: runID)
        }
    }
}
