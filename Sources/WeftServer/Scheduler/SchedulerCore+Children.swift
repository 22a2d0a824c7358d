import Logging
import WeftCore
import WeftEngine
import WeftTransport
import WeftWire

/// How a scheduler reaches the partitions of child and parent runs: the owner of a partition, this
/// scheduler or another (`SchedulerService` builds them: the local core, or an RPC to the owner the
/// ring or `partition_owners` names), and the Redis barrier when there is a Redis.
struct ChildLinks: Sendable {
    /// Starts a run in `partition` (a child workflow).
    var start: @Sendable (StartRunRequest, PartitionID) async throws -> StartRunResponse
    /// Cancels a run in `partition` (a child whose parent node was cancelled).
    var cancel: @Sendable (CancelRunRequest, PartitionID) async throws -> Void
    /// Tells the owner of `partition` (a parent's) that children of its node closed.
    var notify: @Sendable (ChildRunsClosedRequest, PartitionID) async throws -> Void
    /// The barrier: records `member` under `key` (Lua `SADD` + `SCARD`) and returns how many
    /// members it has; nil when there is no Redis (every close is then reported).
    var arrive: @Sendable (_ key: String, _ member: String) async throws -> Int?
}

/// Child workflows (issue 11 item 4). A node with `workflow: W` (or a map of them) is an attempt
/// whose "worker" is a run of W:
///
/// - **Start.** The parent's owner starts the child run in whatever partition its new id falls
///   (another shard's, in a cluster), keyed `child/<parent>/<node>#<attempt>` so a repeat — after
///   a crash, a failover — finds the same child. The child's link to its parent (`child_runs`)
///   is written with it. The attempt then runs, with the child's id as its worker.
/// - **Close.** When a child closes, its owner tells the parent's owner (`ChildRunsClosed`). For a
///   map of children the successes go through a Redis barrier first — `SADD` of the element and
///   `SCARD` in one Lua script, keyed by parent run and node — so only the last one sends the
///   message; a failure is told at once.
/// - **Outcome.** The parent's owner never trusts the message or Redis for the outcome: it reads
///   the closed children from Postgres (`child_runs` joined to `runs`) and completes (or fails)
///   their attempts. It does so too after recovering a run, and every few seconds for runs with
///   children out (`sweepChildren`), so a lost message, a Redis restart that forgot the barrier
///   or a parent owner that was down when a child closed loses nothing.
extension SchedulerCore {
    /// How deep child workflows may nest: a workflow that starts itself stops here, not never.
    static let maxChildDepth = 32

    /// The idempotency key of a child start.
    static func childKey(parent: RunID, node: NodeKey, attempt: Int) -> String { "child/\(parent)/\(node)#\(attempt)" }

    /// The parent named by a start (only schedulers set it); nil when none.
    static func childLink(of request: StartRunRequest) throws(RPCError) -> ChildLink? {
        guard request.namesParent else { return nil }
        guard let parent = try? RunID(bytes: request.parentRun), NodeKey(parsing: request.parentNode) != nil,
              request.parentAttempt >= 1, request.parentWidth >= 1, request.parentWidth <= 1_000_000,
              (1...UInt32(maxChildDepth)).contains(request.parentDepth)
        else {
            throw RPCError(
                .invalidArgument,
                "a child start needs parent_run (16 bytes), parent_node, parent_attempt >= 1, parent_width >= 1 and parent_depth 1…\(maxChildDepth)")
        }
        return ChildLink(
            parentRun: parent, node: request.parentNode, attempt: Int(request.parentAttempt), width: Int(request.parentWidth),
            depth: Int(request.parentDepth))
    }

    func setChildLinks(_ links: ChildLinks) { childLinks = links }

    /// Starts the child run of attempt `assignment` of run `parentID`, retrying while its partition
    /// is out of reach; then the attempt runs with the child as its worker. A start refused for
    /// good (no such workflow, an input it cannot take) fails the attempt, not retryable.
    func startChild(_ parentID: RunID, _ assignment: TaskAssignment) async {
        let key = AttemptKey(node: assignment.node, attempt: assignment.attempt)
        guard let workflow = assignment.childWorkflow, let run = runs[parentID] else { return }
        guard let links = childLinks else {
            await failChildAttempt(parentID, key, TaskFailure(kind: "ChildStartFailed", message: "this scheduler cannot start child workflows", retryable: false))
            return
        }
        let depth = (run.parent?.depth ?? 0) + 1
        guard depth <= Self.maxChildDepth else {
            await failChildAttempt(parentID, key, TaskFailure(
                kind: "ChildStartFailed",
                message: "child workflows would nest deeper than \(Self.maxChildDepth) levels (does workflow \(MessageText.quoted(workflow)) start itself?)",
                retryable: false))
            return
        }
        var width = 1
        if assignment.node.index != nil, case .mapping(let count)? = run.machine.node(NodeKey(assignment.node.name))?.status { width = count }
        var random = SystemRandomNumberGenerator()
        let childID = RunID(unixMilliseconds: UInt64(clock.nowMilliseconds()), using: &random)
        let request = StartRunRequest(
            workflow: workflow, input: assignment.input, idempotencyKey: Self.childKey(parent: parentID, node: assignment.node, attempt: assignment.attempt),
            runID: childID, parentRun: parentID.bytes, parentNode: assignment.node.description, parentAttempt: UInt32(assignment.attempt),
            parentWidth: UInt32(width), parentDepth: UInt32(depth))
        var delay: Duration = .milliseconds(100)
        var response: StartRunResponse?
        while response == nil {
            guard case .child(nil, _)? = runs[parentID]?.attempts[key] else { return }  // cancelled, or the run left
            do {
                response = try await links.start(request, childID.partition(count: partitionCount))
            } catch let error as RPCError where [.notFound, .invalidArgument, .alreadyExists].contains(error.code) {
                await failChildAttempt(parentID, key, TaskFailure(
                    kind: "ChildStartFailed", message: "child workflow \(MessageText.quoted(workflow)) cannot start: \(error.message)", retryable: false))
                return
            } catch {
                logger.warning("cannot start a child run yet; retrying", metadata: ["run.id": "\(parentID)", "node.id": "\(assignment.node)", "error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        guard let started = response else { return }
        guard let run = runs[parentID], case .child(nil, _)? = run.attempts[key] else {
            cancelChild(started.runID, reason: "its parent node was cancelled")  // cancelled while the start was in flight
            return
        }
        let worker = "run \(started.runID)"
        run.attempts[key] = .child(started.runID, start: RunRecorder.AttemptStart(worker: worker, startedAt: clock.nowMicroseconds()))
        await process(parentID, run.machine.taskDispatched(node: key.node, attempt: key.attempt, worker: worker, now: now()))
        // A start that found its child already there (a repeat after a restart) may find it closed.
        if !started.created { await reconcileChildren(of: [parentID]) }
    }

    private func failChildAttempt(_ parentID: RunID, _ key: AttemptKey, _ failure: TaskFailure) async {
        guard let run = runs[parentID] else { return }
        run.attempts[key] = nil
        await process(parentID, run.machine.taskFailed(node: key.node, attempt: key.attempt, failure: failure, now: now()))
    }

    /// Cancels child run `child` (best effort: its own owner may be down; then it runs on, and its
    /// late outcome is ignored as stale).
    func cancelChild(_ child: RunID, reason: String) {
        guard let links = childLinks else { return }
        let partition = child.partition(count: partitionCount)
        Task { try? await links.cancel(CancelRunRequest(runID: child, reason: reason), partition) }
    }

    /// Run `runID`, a child, closed here (committed): tell its parent's owner — through the barrier
    /// for a success in a map, at once otherwise.
    func childClosed(_ runID: RunID, parent: ChildLink, status: WeftEngine.RunStatus) {
        guard let links = childLinks, let node = NodeKey(parsing: parent.node) else { return }
        let count = partitionCount
        let logger = self.logger
        Task {
            if status == .succeeded, parent.width > 1, let element = node.index {
                let key = "barrier:\(parent.parentRun):\(node.name)"
                if let arrived = try? await links.arrive(key, String(element)), arrived < parent.width { return }  // not the last one
            }
            let request = ChildRunsClosedRequest(runID: parent.parentRun, node: node.name)
            do {
                try await links.notify(request, parent.parentRun.partition(count: count))
            } catch {
                // The parent's owner reads closed children in its sweep and after any recovery.
                logger.info("could not tell a parent that its child closed; its sweep will", metadata: [
                    "run.id": "\(runID)", "parent.run.id": "\(parent.parentRun)", "error": "\(error)",
                ])
            }
        }
    }

    /// `ChildRunsClosed`: read the closed children of the run from Postgres.
    func childRunsClosed(_ request: ChildRunsClosedRequest) async throws {
        try requireServing(request.runID.partition(count: partitionCount))
        await reconcileChildren(of: [request.runID])
    }

    /// Completes or fails the child attempts of `parents` whose child runs have closed, from
    /// Postgres. Children of attempts that are no longer open are ignored.
    func reconcileChildren(of parents: [RunID]) async {
        let closed: [ClosedChild]
        do {
            closed = try await store.closedChildren(of: parents)
        } catch {
            logger.warning("cannot read closed child runs; the sweep retries", metadata: ["error": "\(error)"])
            return
        }
        for child in closed {
            guard let node = NodeKey(parsing: child.node), let run = runs[child.parent] else { continue }
            let key = AttemptKey(node: node, attempt: child.attempt)
            guard case .child(child.child?, _)? = run.attempts[key] else { continue }
            let actions: [RunStateMachine.Action]
            switch child.status {
            case .succeeded:
                actions = run.machine.taskCompleted(node: node, attempt: child.attempt, output: child.output, now: now())
            case .cancelled:
                actions = run.machine.taskFailed(node: node, attempt: child.attempt, failure: TaskFailure(
                    kind: "ChildCancelled", message: "child run \(child.child) was cancelled: \(child.error)", retryable: false), now: now())
            default:
                // Final for the node: the child's tasks had their own retries, and retrying whole
                // children would multiply at every level of nesting.
                actions = run.machine.taskFailed(node: node, attempt: child.attempt, failure: TaskFailure(
                    kind: "ChildFailed", message: "child run \(child.child) failed: \(child.error)", retryable: false), now: now())
            }
            await process(child.parent, actions)
            if case .child? = runs[child.parent]?.attempts[key] { runs[child.parent]?.attempts[key] = nil }
        }
    }

    /// The open runs here with children out (started, not reported closed).
    func runsWaitingForChildren() -> [RunID] {
        runs.compactMap { id, run in
            run.attempts.values.contains { if case .child(_?, _) = $0 { true } else { false } } ? id : nil
        }
    }

    /// Every `interval`, reads the closed children of the runs waiting for some: the safety net
    /// under the barrier's messages. Runs until cancelled.
    func sweepChildren(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let waiting = runsWaitingForChildren()
            for chunk in stride(from: 0, to: waiting.count, by: 500) {
                await reconcileChildren(of: Array(waiting[chunk..<min(chunk + 500, waiting.count)]))
            }
        }
    }
}
