import Testing
import WeftCore
@testable import WeftWire

@Suite("API message codecs")
struct APIMessageTests {
    private let run = try! RunID(parsing: "0190f3c4-1d2e-7abc-8def-0123456789ab")
    private let other = try! RunID(parsing: "0190f3c4-1d2e-7abc-9def-0123456789ac")

    private func roundTrip<M: WireMessage & Equatable>(_ message: M, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try M(serializedBytes: message.serializedBytes()) == message, sourceLocation: sourceLocation)
    }

    @Test("every client-service message survives a round trip")
    func clientMessages_roundTrip() throws {
        try roundTrip(RegisterWorkflowRequest(definitionJSON: Array(#"{"name":"x"}"#.utf8)))
        try roundTrip(RegisterWorkflowResponse(name: "ingest", version: "0123456789abcdef", created: true))
        try roundTrip(ListWorkflowsRequest())
        try roundTrip(ListWorkflowsResponse(workflows: [
            WorkflowSummary(name: "a", version: "v1", taskCount: 3, createdAtMilliseconds: 1_700_000_000_000),
            WorkflowSummary(name: "b", version: "v2", taskCount: 1, createdAtMilliseconds: -1),
        ]))
        try roundTrip(StartRunRequest(workflow: "ingest", version: "", input: [1, 2, 0, 3], idempotencyKey: "k-1", priority: .high))
        try roundTrip(StartRunRequest(workflow: "ingest", runID: run))
        try roundTrip(StartRunResponse(runID: run, created: false))
        let tasks = [
            TaskInfo(node: "extract", attempt: 2, status: .succeeded, worker: "w-1", scheduledAtMilliseconds: 1, startedAtMilliseconds: 2, finishedAtMilliseconds: 3, output: [9]),
            TaskInfo(node: "load", attempt: 1, status: .retryWait, error: "Timeout: no heartbeat"),
        ]
        try roundTrip(RunInfo(runID: run, workflow: "ingest", version: "v", status: .running, input: [1], createdAtMilliseconds: 5, tasks: tasks))
        try roundTrip(GetRunRequest(runID: run, includeTasks: false))
        try roundTrip(WaitRunRequest(runID: run))
        try roundTrip(CancelRunRequest(runID: run, reason: "operator"))
        try roundTrip(CancelRunResponse(status: .cancelled))
        try roundTrip(RetryRunRequest(runID: run))
        try roundTrip(ListRunsRequest(workflow: "w", status: .failed, sinceMilliseconds: 1, untilMilliseconds: 2, limit: 10, pageToken: "p"))
        try roundTrip(ListRunsResponse(runs: [
            RunSummary(runID: run, workflow: "w", status: .succeeded, createdAtMilliseconds: 1, closedAtMilliseconds: 2),
            RunSummary(runID: other, workflow: "w", status: .pending, createdAtMilliseconds: 3),
        ], nextPageToken: "next"))
    }

    @Test("every worker-service message survives a round trip")
    func workerMessages_roundTrip() throws {
        let ref = AttemptReference(runID: run, node: "shard[3]", attempt: 2, fence: 41)
        try roundTrip(DiscoverRequest(queues: ["default", "gpu"]))
        try roundTrip(DiscoverResponse(schedulers: [SchedulerEndpoint(nodeID: "s-0", address: "10.0.0.1:7401")]))
        try roundTrip(WorkerMessage.hello(WorkerHelloMessage(workerID: "w", queues: ["default"], taskTypes: ["noop", "echo"])))
        try roundTrip(WorkerMessage.credits(CreditGrant(credits: 64)))
        try roundTrip(WorkerMessage.heartbeat(HeartbeatMessage(attempts: [ref, ref], details: [1])))
        try roundTrip(WorkerMessage.completed(TaskCompletedMessage(ref: ref, output: Array("{}".utf8))))
        try roundTrip(WorkerMessage.failed(TaskFailedMessage(ref: ref, kind: "BadInput", message: "no", retryable: false)))
        try roundTrip(SchedulerMessage.assignment(TaskAssignmentMessage(ref: ref, taskType: "noop", input: [], startToCloseMilliseconds: 5000, heartbeatMilliseconds: 1000, workflow: "w")))
        try roundTrip(SchedulerMessage.cancel(CancelAttemptMessage(ref: ref, reason: "run cancelled")))
    }

    @Test("a run id that is not 16 bytes of UUIDv7 is an invalid field")
    func runID_invalidBytes_rejected() throws {
        // GetRunRequest{run_id: 3 bytes}
        do {
            _ = try GetRunRequest(serializedBytes: [0x0A, 0x03, 1, 2, 3])
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidField)
            #expect(error.description.contains("run_id"))
        }
    }

    @Test("a oneof with no body and a missing nested message are rejected")
    func oneof_empty_rejected() throws {
        #expect(throws: WireError.self) { _ = try WorkerMessage(serializedBytes: [UInt8]()) }
        #expect(throws: WireError.self) { _ = try SchedulerMessage(serializedBytes: [UInt8]()) }
        // WorkerMessage{completed: TaskCompleted{}} — no ref.
        #expect(throws: WireError.self) { _ = try WorkerMessage(serializedBytes: [0x22, 0x00]) }
    }

    @Test("an unknown enum value is an invalid field")
    func enum_unknownValue_rejected() {
        // CancelRunResponse{status: 42}
        #expect(throws: WireError.self) { _ = try CancelRunResponse(serializedBytes: [0x08, 42]) }
    }
}
