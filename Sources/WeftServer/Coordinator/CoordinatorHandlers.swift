import Foundation
import WeftCore
import WeftEngine
import WeftTransport
import WeftWire

/// The client service on a coordinator (ARCHITECTURE.md §1, §4): definitions and reads are served
/// from Postgres; run-changing calls are forwarded to the owner of the run's partition (see
/// `forward`). Every acknowledgement a scheduler gives follows a commit, so reads here see the
/// caller's own writes.
enum CoordinatorHandlers {
    /// The most versions `GetWorkflow` lists (the latest ones).
    static let maxVersionsListed = 200
    /// The most entries `GetRunHistory` returns.
    static let maxHistoryEntries = 20_000

    static func register(
        reads: ReadPool, directory: OwnerDirectory, maxInputBytes: Int, runIDPolicy: RunIDPolicy, clock: any WallClock,
        into router: inout RPCRouter
    ) {
        router.unary(ClientMethods.registerWorkflow, request: RegisterWorkflowRequest.self, response: RegisterWorkflowResponse.self) { request, context in
            let workflow = try WorkflowCatalog.decode(request.definitionJSON, registering: true)
            let created = try await reads.withStore(for: context.peer.address) { store in
                try await store.saveDefinition(name: workflow.name, version: workflow.version.description, body: workflow.canonicalJSON)
            }
            return RegisterWorkflowResponse(name: workflow.name, version: workflow.version.description, created: created)
        }
        router.unary(ClientMethods.listWorkflows, request: ListWorkflowsRequest.self, response: ListWorkflowsResponse.self) { _, context in
            let definitions = try await reads.withStore(for: context.peer.address) { try await $0.latestDefinitions() }
            return ListWorkflowsResponse(workflows: definitions.map { definition in
                let tasks = (try? WorkflowCatalog.decode(definition.body))?.tasks.count ?? 0  // stored bodies were validated on the way in
                return WorkflowSummary(
                    name: definition.name, version: definition.version, taskCount: UInt32(tasks),
                    createdAtMilliseconds: definition.createdAtMilliseconds)
            })
        }
        router.unary(ClientMethods.getWorkflow, request: GetWorkflowRequest.self, response: GetWorkflowResponse.self) { request, context in
            guard !request.name.isEmpty, request.name.utf8.count <= 256, request.version.utf8.count <= 256 else {
                throw RPCError(.invalidArgument, "GetWorkflow needs a workflow name (at most 256 bytes) and a version of at most 256 bytes")
            }
            let (versions, pinned) = try await reads.withStore(for: context.peer.address) { store in
                let versions = try await store.definitionVersions(name: request.name, limit: Self.maxVersionsListed)
                let wanted = request.version.isEmpty || versions.contains { $0.version == request.version }
                    ? nil : try await store.definition(name: request.name, version: request.version)
                return (versions, wanted)
            }
            guard let latest = versions.first else {
                throw RPCError(.notFound, "no workflow \(MessageText.quoted(request.name))")
            }
            let shown: (version: String, body: [UInt8], appliedAtMilliseconds: Int64)
            if request.version.isEmpty {
                shown = latest
            } else if let listed = versions.first(where: { $0.version == request.version }) {
                shown = listed
            } else if let pinned {
                shown = (pinned.version, pinned.body, 0)  // older than the versions listed
            } else {
                throw RPCError(.notFound, "workflow \(MessageText.quoted(request.name)) has no version \(MessageText.quoted(request.version))")
            }
            return GetWorkflowResponse(
                name: request.name, version: shown.version, definitionJSON: shown.body, appliedAtMilliseconds: shown.appliedAtMilliseconds,
                versions: versions.map { version in
                    WorkflowVersionSummary(
                        version: version.version, taskCount: UInt32((try? WorkflowCatalog.decode(version.body))?.tasks.count ?? 0),
                        appliedAtMilliseconds: version.appliedAtMilliseconds)
                })
        }
        router.unary(ClientMethods.startRun) { payload, context in
            let request = try StartRunRequest(serializedBytes: payload)
            try RequestChecks.check(request, maxInputBytes: maxInputBytes)
            guard !request.namesParent else {
                throw RPCError(.invalidArgument, "parent_* fields are set by schedulers starting child workflows, not by clients")
            }
            var forwarded = request
            if let chosen = request.runID {
                try runIDPolicy.check(chosen, nowMilliseconds: clock.nowMilliseconds())
            } else {
                // The coordinator picks the id, so that a repeat of the forwarded call finds the run.
                var random = SystemRandomNumberGenerator()
                forwarded.runID = RunID(unixMilliseconds: UInt64(clock.nowMilliseconds()), using: &random)
            }
            let start = request.runID == nil ? forwarded.serializedBytes() : payload
            let partition = forwarded.runID!.partition(count: try await directory.partitions())
            return try await forward(partition, directory: directory, context: context) { client, options in
                try await client.unary(ClientMethods.startRun, request: start, options: options)
            }
        }
        router.unary(ClientMethods.getRun, request: GetRunRequest.self, response: RunInfo.self) { request, context in
            let found = try await reads.withStore(for: context.peer.address) { try await $0.run(request.runID, includeTasks: request.includeTasks) }
            guard let info = found else {
                throw RPCError(.notFound, "no run \(request.runID)")
            }
            return info
        }
        router.unary(ClientMethods.getRunHistory, request: GetRunHistoryRequest.self, response: GetRunHistoryResponse.self) { request, context in
            let found = try await reads.withStore(for: context.peer.address) { try await $0.history(request.runID, limit: Self.maxHistoryEntries) }
            guard let history = found else { throw RPCError(.notFound, "no run \(request.runID)") }
            return history
        }
        router.unary(ClientMethods.listRuns, request: ListRunsRequest.self, response: ListRunsResponse.self) { request, context in
            try RequestChecks.check(request)
            return try await reads.withStore(for: context.peer.address) { try await $0.listRuns(request) }
        }
        router.unary(ClientMethods.waitRun) { payload, context in
            // The owner answers: from memory when it saw the run close, else from Postgres. Looking
            // at Postgres here first would cost a query per wait to save a hop only for closed runs.
            // The request is decoded for its run id; the owner's answer (a whole run, with its
            // tasks) is passed back as the bytes it came in, not decoded and encoded again.
            let request = try WaitRunRequest(serializedBytes: payload)
            let partition = request.runID.partition(count: try await directory.partitions())
            return try await forward(partition, directory: directory, context: context) { client, options in
                try await client.unary(ClientMethods.waitRun, request: payload, options: options)
            }
        }
        router.unary(ClientMethods.cancelRun, request: CancelRunRequest.self, response: CancelRunResponse.self) { request, context in
            try RequestChecks.check(request)
            let partition = request.runID.partition(count: try await directory.partitions())
            return try await forward(partition, directory: directory, context: context) { client, options in
                try await client.unary(ClientMethods.cancelRun, request: request, response: CancelRunResponse.self, options: options)
            }
        }
        router.unary(ClientMethods.signalRun, request: SignalRunRequest.self, response: SignalRunResponse.self) { request, context in
            try RequestChecks.check(request, maxInputBytes: maxInputBytes)
            let partition = request.runID.partition(count: try await directory.partitions())
            // Not repeated after an attempt's deadline: the owner may have recorded the signal.
            return try await forward(partition, directory: directory, context: context, repeatAfterDeadline: false) { client, options in
                try await client.unary(ClientMethods.signalRun, request: request, response: SignalRunResponse.self, options: options)
            }
        }
        router.unary(ClientMethods.retryRun, request: RetryRunRequest.self, response: StartRunResponse.self) { request, context in
            let found = try await reads.withStore(for: context.peer.address) { try await $0.run(request.runID, includeTasks: false) }
            guard let previous = found else {
                throw RPCError(.notFound, "no run \(request.runID)")
            }
            if request.fromFailed, previous.status != .failed, previous.status != .cancelled {
                throw RPCError(
                    .failedPrecondition,
                    "run \(request.runID) is \(previous.status): only a failed or cancelled run is retried from its failed nodes (retry without --from-failed runs it again)")
            }
            var random = SystemRandomNumberGenerator()
            let runID = RunID(unixMilliseconds: UInt64(clock.nowMilliseconds()), using: &random)
            let start = StartRunRequest(
                workflow: previous.workflow, version: previous.version, input: previous.input, runID: runID,
                resumeOf: request.fromFailed ? request.runID.bytes : [])
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

    /// Calls the owner of `partition` and follows it while the caller's deadline allows:
    ///
    /// - `NOT_OWNER` (the partition moved): call the owner it names, or re-read the owner map when
    ///   it names none. Any other `FAILED_PRECONDITION` is about the request and goes back to the
    ///   caller as is.
    /// - `UNAVAILABLE` — the owner is unreachable, restarting (on the same address or another one),
    ///   recovering, or waiting for Postgres; or the connection broke with the call in flight —
    ///   re-read the owner map (a restarted owner may have a new address) and call again, with
    ///   backoff. Calls never wait for a connection to a dead address: a refused or broken
    ///   connection fails at once and the map is read again.
    ///
    /// - No answer within `attemptTimeout` (an owner paused by SIGSTOP or a long GC keeps its
    ///   connections open and answers nothing): re-read the owner map and call again — the
    ///   cluster moves a paused owner's partitions elsewhere within seconds. (A wait for a run
    ///   that runs longer is simply made again: each attempt is a fresh, cancellable wait.)
    ///
    /// Every forwarded call may be repeated: a start carries the run id the coordinator chose (a
    /// repeat finds the run, never starts it twice), waits and cancels are idempotent. A signal is
    /// not (`repeatAfterDeadline: false`): an attempt that timed out may have been recorded, so its
    /// `DEADLINE_EXCEEDED` goes back to the caller; `NOT_OWNER` and `UNAVAILABLE` (nothing
    /// recorded) are still retried. When the deadline does not leave room for another try, the
    /// last error is returned as it is.
    static func forward<R: Sendable>(
        _ partition: PartitionID, directory: OwnerDirectory, context: ServerContext, attemptTimeout: Duration = .seconds(3),
        repeatAfterDeadline: Bool = true,
        _ call: @Sendable (RPCClient, CallOptions) async throws -> R
    ) async throws -> R {
        try await forward(
            partition, directory: directory, deadline: context.deadline, attemptTimeout: attemptTimeout, repeatAfterDeadline: repeatAfterDeadline, call)
    }

    /// `forward` with an explicit deadline (nil: 60 s from now), for calls a server makes itself
    /// (a scheduler starting a child run on another shard).
    static func forward<R: Sendable>(
        _ partition: PartitionID, directory: OwnerDirectory, deadline: ContinuousClock.Instant?, attemptTimeout: Duration = .seconds(3),
        repeatAfterDeadline: Bool = true,
        _ call: @Sendable (RPCClient, CallOptions) async throws -> R
    ) async throws -> R {
        let deadline = deadline ?? ContinuousClock.now + .seconds(60)
        var delay: Duration = .milliseconds(25)
        var target = try await directory.route(for: partition)
        var redirects = 0
        while true {
            let error: RPCError
            var pause = delay
            let attemptDeadline = min(deadline, ContinuousClock.now + attemptTimeout)
            do {
                return try await call(target.client, CallOptions(deadline: attemptDeadline, waitForReady: false))
            } catch let failure as RPCError where failure.isNotOwner || failure.code == .unavailable {
                error = failure
            } catch let failure as RPCError where failure.code == .deadlineExceeded && attemptDeadline < deadline && repeatAfterDeadline {
                error = failure
                pause = .zero  // the attempt already waited: read the owner map again at once
            }
            guard ContinuousClock.now + pause < deadline else { throw error }
            redirects += 1
            if redirects <= 2, let owner = error.ownerAddress, let named = try? await directory.client(at: owner) {
                target = .init(client: named, address: owner)  // the owner it named: no wait (twice at most: two rings that
                continue                                        // disagree for a moment must not bounce a call without a pause)
            }
            redirects = 0
            if pause > .zero {
                try await Task.sleep(for: pause)
                delay = min(delay * 2, .seconds(1))
            }
            // The ring's owner failed (not the owner yet, unreachable, silent): ask the recorded
            // owner next, and the ring again after that — neither view is trusted twice in a row.
            target = try await directory.route(for: partition, avoiding: target.address, forceRefresh: true)
        }
    }
}
