import Foundation
import WeftCore
import WeftTransport
import WeftWire

// The run API of the SDK: register workflows, start runs, wait for results, inspect, cancel, list.
// Every call goes to the coordinator, which forwards writes to the owner of the run's partition.

/// A run that did not succeed, as `WeftClient.result(of:as:)` reports it.
public struct RunFailedError: Error, Sendable, CustomStringConvertible {
    public var run: RunInfo
    public var description: String {
        "run \(run.runID) of \(run.workflow) \(run.status): \(run.error.isEmpty ? "no error message" : run.error)"
    }
}

/// Options of `WeftClient.start`.
public struct StartOptions: Sendable {
    /// Starting twice with the same key returns the first run (kept for the retention period).
    public var idempotencyKey: String?
    /// A specific registered version; nil runs the latest.
    public var version: String?
    public var priority: Step.Priority?
    /// The run's id, chosen by the caller so that repeating the start (after a lost answer) is
    /// safe: a start naming an existing run returns that run and never runs it again. Must be a
    /// UUIDv7 dated within an hour before and five minutes after the server's clock; nil lets the
    /// server choose.
    public var runID: RunID?

    public init(idempotencyKey: String? = nil, version: String? = nil, priority: Step.Priority? = nil, runID: RunID? = nil) {
        self.idempotencyKey = idempotencyKey
        self.version = version
        self.priority = priority
        self.runID = runID
    }
}

extension WeftClient {
    /// Registers (or re-registers: idempotent per content) a workflow built with the DSL.
    @discardableResult
    public func register(_ workflow: Workflow) async throws -> RegisterWorkflowResponse {
        try await register(definitionJSON: workflow.definitionJSON())
    }

    /// Registers a definition in the file format of ARCHITECTURE.md §4, given as JSON.
    @discardableResult
    public func register(definitionJSON: [UInt8]) async throws -> RegisterWorkflowResponse {
        try await call(ClientMethods.registerWorkflow, RegisterWorkflowRequest(definitionJSON: definitionJSON))
    }

    public func workflows() async throws -> [WorkflowSummary] {
        let response: ListWorkflowsResponse = try await call(ClientMethods.listWorkflows, ListWorkflowsRequest())
        return response.workflows
    }

    /// Starts a run with a JSON-encoded input; returns once the run is durable.
    public func start(workflow: String, input: some Encodable, options: StartOptions = StartOptions()) async throws -> RunID {
        try await start(workflow: workflow, inputJSON: Array(JSONEncoder().encode(input)), options: options)
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
                idempotencyKey: options.idempotencyKey ?? "", priority: priority, runID: options.runID))
        return response.runID
    }

    /// The run's state now, with its tasks.
    public func describe(_ run: RunID, includeTasks: Bool = true) async throws -> RunInfo {
        try await call(ClientMethods.getRun, GetRunRequest(runID: run, includeTasks: includeTasks))
    }

    /// Waits until the run is closed (or `timeout` passes: `DEADLINE_EXCEEDED`).
    public func wait(for run: RunID, timeout: Duration = .seconds(60)) async throws -> RunInfo {
        try await call(ClientMethods.waitRun, WaitRunRequest(runID: run), timeout: timeout)
    }

    /// Waits for the run and decodes its output; a failed or cancelled run throws `RunFailedError`.
    public func result<Output: Decodable>(of run: RunID, as type: Output.Type, timeout: Duration = .seconds(60)) async throws -> Output {
        let info = try await wait(for: run, timeout: timeout)
        guard info.status == .succeeded else { throw RunFailedError(run: info) }
        return try JSONDecoder().decode(Output.self, from: Data(info.output.isEmpty ? Array("null".utf8) : info.output))
    }

    /// Cancels a run (in-flight attempts are told to stop). Returns the status afterwards.
    @discardableResult
    public func cancel(_ run: RunID, reason: String = "") async throws -> RunStatus {
        let response: CancelRunResponse = try await call(ClientMethods.cancelRun, CancelRunRequest(runID: run, reason: reason))
        return response.status
    }

    /// Starts a new run of the same workflow version with the same input.
    public func retry(_ run: RunID) async throws -> RunID {
        let response: StartRunResponse = try await call(ClientMethods.retryRun, RetryRunRequest(runID: run))
        return response.runID
    }

    /// One page of runs, newest first.
    public func list(_ request: ListRunsRequest = ListRunsRequest()) async throws -> ListRunsResponse {
        try await call(ClientMethods.listRuns, request)
    }

    func call<Request: WireMessage, Response: WireMessage>(_ method: String, _ request: Request, timeout: Duration? = nil) async throws -> Response {
        try await rpc.unary(
            method, request: request, response: Response.self,
            options: CallOptions(timeout: timeout ?? configuration.defaultTimeout, waitForReady: configuration.waitForReady))
    }
}
