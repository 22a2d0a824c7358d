import Foundation
import WeftCore
import WeftEngine
import WeftTransport
import WeftWire

/// The client service on a coordinator (ARCHITECTURE.md §1, §4): definitions and reads are served
/// from Postgres; run-changing calls are forwarded to the owner of the run's partition (retried
/// once after re-reading the owner map). Every acknowledgement a scheduler gives follows a commit,
/// so reads here see the caller's own writes.
enum CoordinatorHandlers {
    static func register(store: RunStore, directory: OwnerDirectory, maxInputBytes: Int, into router: inout RPCRouter) {
        router.unary(ClientMethods.registerWorkflow, request: RegisterWorkflowRequest.self, response: RegisterWorkflowResponse.self) { request, _ in
            let workflow = try WorkflowCatalog.decode(request.definitionJSON, registering: true)
            let created = try await store.saveDefinition(
                name: workflow.name, version: workflow.version.description, body: workflow.canonicalJSON)
            return RegisterWorkflowResponse(name: workflow.name, version: workflow.version.description, created: created)
        }
        router.unary(ClientMethods.listWorkflows, request: ListWorkflowsRequest.self, response: ListWorkflowsResponse.self) { _, _ in
            let definitions = try await store.latestDefinitions()
            return ListWorkflowsResponse(workflows: definitions.map { definition in
                let tasks = (try? WorkflowCatalog.decode(definition.body))?.tasks.count ?? 0  // stored bodies were validated on the way in
                return WorkflowSummary(
                    name: definition.name, version: definition.version, taskCount: UInt32(tasks),
                    createdAtMilliseconds: definition.createdAtMilliseconds)
            })
        }
        router.unary(ClientMethods.startRun, request: StartRunRequest.self, response: StartRunResponse.self) { request, context in
            guard request.input.count <= maxInputBytes else {
                throw RPCError(.invalidArgument, "the run input is \(request.input.count) bytes; the limit is \(maxInputBytes)")
            }
            guard !request.workflow.isEmpty else { throw RPCError(.invalidArgument, "StartRun needs a workflow name") }
            var forwarded = request
            if forwarded.runID == nil {
                var random = SystemRandomNumberGenerator()
                forwarded.runID = RunID(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000), using: &random)
            }
            let start = forwarded
            let partition = start.runID!.partition(count: try await directory.partitions())
            return try await forward(partition, directory: directory, context: context) { client, options in
                try await client.unary(ClientMethods.startRun, request: start, response: StartRunResponse.self, options: options)
            }
        }
        router.unary(ClientMethods.getRun, request: GetRunRequest.self, response: RunInfo.self) { request, _ in
            guard let info = try await store.run(request.runID, includeTasks: request.includeTasks) else {
                throw RPCError(.notFound, "no run \(request.runID)")
            }
            return info
        }
        router.unary(ClientMethods.listRuns, request: ListRunsRequest.self, response: ListRunsResponse.self) { request, _ in
            try await store.listRuns(request)
        }
        router.unary(ClientMethods.waitRun, request: WaitRunRequest.self, response: RunInfo.self) { request, context in
            // The owner answers: from memory when it saw the run close, else from Postgres. Looking
            // at Postgres here first would cost a query per wait to save a hop only for closed runs.
            let partition = request.runID.partition(count: try await directory.partitions())
            return try await forward(partition, directory: directory, context: context) { client, options in
                try await client.unary(ClientMethods.waitRun, request: request, response: RunInfo.self, options: options)
            }
        }
        router.unary(ClientMethods.cancelRun, request: CancelRunRequest.self, response: CancelRunResponse.self) { request, context in
            let partition = request.runID.partition(count: try await directory.partitions())
            return try await forward(partition, directory: directory, context: context) { client, options in
                try await client.unary(ClientMethods.cancelRun, request: request, response: CancelRunResponse.self, options: options)
            }
        }
        router.unary(ClientMethods.retryRun, request: RetryRunRequest.self, response: StartRunResponse.self) { request, context in
            guard let previous = try await store.run(request.runID, includeTasks: false) else {
                throw RPCError(.notFound, "no run \(request.runID)")
            }
            var random = SystemRandomNumberGenerator()
            let runID = RunID(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000), using: &random)
            let start = StartRunRequest(workflow: previous.workflow, version: previous.version, input: previous.input, runID: runID)
            let partition = runID.partition(count: try await directory.partitions())
            return try await forward(partition, directory: directory, context: context) { client, options in
                try await client.unary(ClientMethods.startRun, request: start, response: StartRunResponse.self, options: options)
            }
        }
        router.unary(WorkerMethods.discover, request: DiscoverRequest.self, response: DiscoverResponse.self) { _, _ in
            let addresses = try await directory.schedulerAddresses()
            return DiscoverResponse(schedulers: addresses.map { SchedulerEndpoint(nodeID: "", address: $0) })
        }
    }

    /// Calls the owner of `partition`. On `FAILED_PRECONDITION` (not the owner: the partition
    /// moved) re-reads the owner map and tries once more. On `UNAVAILABLE` — the owner is
    /// restarting, or still recovering its open runs — keeps trying, re-reading the owner map, with
    /// backoff, while the caller's deadline allows: a scheduler restart is then a pause for
    /// clients, not a failure. Every forwarded call may be repeated: a start carries the run id
    /// the coordinator chose (a repeat finds the run), waits and cancels are idempotent.
    static func forward<R: Sendable>(
        _ partition: PartitionID, directory: OwnerDirectory, context: ServerContext,
        _ call: @Sendable (RPCClient, CallOptions) async throws -> R
    ) async throws -> R {
        let deadline = context.deadline ?? ContinuousClock.now + .seconds(60)
        let options = CallOptions(deadline: deadline, waitForReady: true)
        var delay: Duration = .milliseconds(25)
        var refresh = false
        var movedOnce = false
        while true {
            do {
                return try await call(try await directory.client(for: partition, forceRefresh: refresh), options)
            } catch let error as RPCError where error.code == .failedPrecondition && !movedOnce {
                movedOnce = true
            } catch let error as RPCError where error.code == .unavailable {
                guard ContinuousClock.now + delay < deadline else { throw error }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            }
            refresh = true
        }
    }
}
