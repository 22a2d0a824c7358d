import WeftCore
import WeftTransport
import WeftWire

/// The RPC methods a scheduler serves: the run-changing client calls (forwarded by coordinators to
/// the partition owner) and the workers' `Connect` stream.
enum SchedulerHandlers {
    static func register(core: SchedulerCore, store: any RunReading, into router: inout RPCRouter) {
        router.unary(ClientMethods.startRun, request: StartRunRequest.self, response: StartRunResponse.self) { request, context in
            // Only another scheduler starts child runs (coordinators refuse the fields from clients).
            guard !request.namesParent || context.peer.role == .scheduler else {
                throw RPCError(.invalidArgument, "parent_* fields are set by schedulers starting child workflows, not by \(context.peer.role)s")
            }
            return try await core.startRun(request)
        }
        router.unary(ClientMethods.signalRun, request: SignalRunRequest.self, response: SignalRunResponse.self) { request, _ in
            SignalRunResponse(delivered: try await core.signalRun(request))
        }
        router.unary(ClientMethods.childRunsClosed, request: ChildRunsClosedRequest.self, response: ChildRunsClosedResponse.self) { request, context in
            guard context.peer.role == .scheduler else {
                throw RPCError(.permissionDenied, "ChildRunsClosed is sent by schedulers, not by \(context.peer.role)s")
            }
            try await core.childRunsClosed(request)
            return ChildRunsClosedResponse()
        }
        router.unary(ClientMethods.cancelRun, request: CancelRunRequest.self, response: CancelRunResponse.self) { request, _ in
            CancelRunResponse(status: try await core.cancelRun(request))
        }
        router.unary(ClientMethods.waitRun, request: WaitRunRequest.self, response: RunInfo.self) { request, _ in
            if let info = try await core.waitUntilClosed(request.runID) { return info }
            guard let info = try await store.run(request.runID, includeTasks: true) else {
                throw RPCError(.notFound, "no run \(request.runID)")
            }
            guard info.status.isClosed else {
                // This scheduler serves the partition (waitUntilClosed checked), so every open run
                // of it is in memory — except one whose changes Postgres refused to store.
                throw RPCError(.internal, "run \(request.runID) is open in Postgres but not in the memory of the scheduler that owns it")
            }
            return info
        }
        router.unary(ClientMethods.getRun, request: GetRunRequest.self, response: RunInfo.self) { request, _ in
            guard let info = try await store.run(request.runID, includeTasks: request.includeTasks) else {
                throw RPCError(.notFound, "no run \(request.runID)")
            }
            return info
        }
        router.bidirectionalStreaming(WorkerMethods.connect) { stream, _, writer in
            var messages = stream.makeAsyncIterator()
            guard let first = try await messages.next() else { return }
            guard case .hello(let hello) = try WorkerMessage(serializedBytes: first) else {
                throw RPCError(.invalidArgument, "a worker stream must start with a hello")
            }
            let id = await core.workerConnected(hello: hello, writer: writer)
            do {
                while let bytes = try await messages.next() {
                    await core.workerMessage(id, try WorkerMessage(serializedBytes: bytes))  // does not wait for commits
                }
            } catch {
                await core.workerDisconnected(id)
                throw error
            }
            await core.workerDisconnected(id)
        }
    }
}
