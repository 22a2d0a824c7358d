import CProtobufC
import CWeftProtos
import WeftCore

// Codecs of weft/api/v1/client.proto. Only this folder sees protobuf-c types.

extension RegisterWorkflowRequest: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__RegisterWorkflowRequest()
        weft__api__v1__register_workflow_request__init(&m)
        m.definition_json = a.bytes(definitionJSON)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__register_workflow_request__get_packed_size, pack: weft__api__v1__register_workflow_request__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "RegisterWorkflowRequest", unpack: weft__api__v1__register_workflow_request__unpack, free: weft__api__v1__register_workflow_request__free_unpacked
        ) { (m: borrowing Weft__Api__V1__RegisterWorkflowRequest) throws(WireError) -> RegisterWorkflowRequest in
            RegisterWorkflowRequest(
                definitionJSON: swiftBytes(m.definition_json))
        }
    }
}

extension RegisterWorkflowResponse: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__RegisterWorkflowResponse()
        weft__api__v1__register_workflow_response__init(&m)
        m.name = a.string(name)
        m.version = a.string(version)
        m.created = created ? 1 : 0
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__register_workflow_response__get_packed_size, pack: weft__api__v1__register_workflow_response__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "RegisterWorkflowResponse", unpack: weft__api__v1__register_workflow_response__unpack, free: weft__api__v1__register_workflow_response__free_unpacked
        ) { (m: borrowing Weft__Api__V1__RegisterWorkflowResponse) throws(WireError) -> RegisterWorkflowResponse in
            RegisterWorkflowResponse(
                name: swiftString(m.name),
                version: swiftString(m.version),
                created: m.created != 0)
        }
    }
}

extension ListWorkflowsRequest: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__ListWorkflowsRequest()
        weft__api__v1__list_workflows_request__init(&m)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__list_workflows_request__get_packed_size, pack: weft__api__v1__list_workflows_request__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "ListWorkflowsRequest", unpack: weft__api__v1__list_workflows_request__unpack, free: weft__api__v1__list_workflows_request__free_unpacked
        ) { (m: borrowing Weft__Api__V1__ListWorkflowsRequest) throws(WireError) -> ListWorkflowsRequest in
            ListWorkflowsRequest()
        }
    }
}

extension WorkflowSummary {
    func cMessage(_ a: CArena) -> Weft__Api__V1__WorkflowSummary {
        var m = Weft__Api__V1__WorkflowSummary()
        weft__api__v1__workflow_summary__init(&m)
        m.name = a.string(name)
        m.version = a.string(version)
        m.task_count = taskCount
        m.created_at_ms = createdAtMilliseconds
        return m
    }

    init(c m: Weft__Api__V1__WorkflowSummary) throws(WireError) {
        self.init(
                name: swiftString(m.name),
                version: swiftString(m.version),
                taskCount: m.task_count,
                createdAtMilliseconds: m.created_at_ms)
    }
}

extension WorkflowSummary: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__workflow_summary__get_packed_size, pack: weft__api__v1__workflow_summary__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "WorkflowSummary", unpack: weft__api__v1__workflow_summary__unpack, free: weft__api__v1__workflow_summary__free_unpacked
        ) { (m: borrowing Weft__Api__V1__WorkflowSummary) throws(WireError) -> WorkflowSummary in
            try WorkflowSummary(c: m)
        }
    }
}

extension ListWorkflowsResponse: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__ListWorkflowsResponse()
        weft__api__v1__list_workflows_response__init(&m)
        (m.n_workflows, m.workflows) = a.repeated(workflows) { $0.cMessage(a) }
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__list_workflows_response__get_packed_size, pack: weft__api__v1__list_workflows_response__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "ListWorkflowsResponse", unpack: weft__api__v1__list_workflows_response__unpack, free: weft__api__v1__list_workflows_response__free_unpacked
        ) { (m: borrowing Weft__Api__V1__ListWorkflowsResponse) throws(WireError) -> ListWorkflowsResponse in
            ListWorkflowsResponse(
                workflows: try swiftArray(m.n_workflows, m.workflows) { (c) throws(WireError) in try WorkflowSummary(c: c) })
        }
    }
}

extension StartRunRequest: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__StartRunRequest()
        weft__api__v1__start_run_request__init(&m)
        m.workflow = a.string(workflow)
        m.version = a.string(version)
        m.input = a.bytes(input)
        m.idempotency_key = a.string(idempotencyKey)
        m.priority = Weft__Api__V1__Priority(rawValue: priority.rawValue)
        m.run_id = a.bytes(runID?.bytes ?? [])
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__start_run_request__get_packed_size, pack: weft__api__v1__start_run_request__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "StartRunRequest", unpack: weft__api__v1__start_run_request__unpack, free: weft__api__v1__start_run_request__free_unpacked
        ) { (m: borrowing Weft__Api__V1__StartRunRequest) throws(WireError) -> StartRunRequest in
            StartRunRequest(
                workflow: swiftString(m.workflow),
                version: swiftString(m.version),
                input: swiftBytes(m.input),
                idempotencyKey: swiftString(m.idempotency_key),
                priority: try wireEnum(WirePriority.self, m.priority.rawValue, field: "StartRunRequest.priority"),
                runID: m.run_id.len == 0 ? nil : try decodeRunID(m.run_id, field: "StartRunRequest.run_id"))
        }
    }
}

extension StartRunResponse: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__StartRunResponse()
        weft__api__v1__start_run_response__init(&m)
        m.run_id = a.bytes(runID.bytes)
        m.created = created ? 1 : 0
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__start_run_response__get_packed_size, pack: weft__api__v1__start_run_response__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "StartRunResponse", unpack: weft__api__v1__start_run_response__unpack, free: weft__api__v1__start_run_response__free_unpacked
        ) { (m: borrowing Weft__Api__V1__StartRunResponse) throws(WireError) -> StartRunResponse in
            StartRunResponse(
                runID: try decodeRunID(m.run_id, field: "StartRunResponse.run_id"),
                created: m.created != 0)
        }
    }
}

extension TaskInfo {
    func cMessage(_ a: CArena) -> Weft__Api__V1__TaskInfo {
        var m = Weft__Api__V1__TaskInfo()
        weft__api__v1__task_info__init(&m)
        m.node = a.string(node)
        m.attempt = attempt
        m.status = Weft__Api__V1__TaskStatus(rawValue: status.rawValue)
        m.worker = a.string(worker)
        m.scheduled_at_ms = scheduledAtMilliseconds
        m.started_at_ms = startedAtMilliseconds
        m.finished_at_ms = finishedAtMilliseconds
        m.output = a.bytes(output)
        m.error = a.string(error)
        return m
    }

    init(c m: Weft__Api__V1__TaskInfo) throws(WireError) {
        self.init(
                node: swiftString(m.node),
                attempt: m.attempt,
                status: try wireEnum(TaskStatus.self, m.status.rawValue, field: "TaskInfo.status"),
                worker: swiftString(m.worker),
                scheduledAtMilliseconds: m.scheduled_at_ms,
                startedAtMilliseconds: m.started_at_ms,
                finishedAtMilliseconds: m.finished_at_ms,
                output: swiftBytes(m.output),
                error: swiftString(m.error))
    }
}

extension TaskInfo: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__task_info__get_packed_size, pack: weft__api__v1__task_info__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "TaskInfo", unpack: weft__api__v1__task_info__unpack, free: weft__api__v1__task_info__free_unpacked
        ) { (m: borrowing Weft__Api__V1__TaskInfo) throws(WireError) -> TaskInfo in
            try TaskInfo(c: m)
        }
    }
}

extension RunInfo {
    func cMessage(_ a: CArena) -> Weft__Api__V1__RunInfo {
        var m = Weft__Api__V1__RunInfo()
        weft__api__v1__run_info__init(&m)
        m.run_id = a.bytes(runID.bytes)
        m.workflow = a.string(workflow)
        m.version = a.string(version)
        m.status = Weft__Api__V1__RunStatus(rawValue: status.rawValue)
        m.input = a.bytes(input)
        m.output = a.bytes(output)
        m.error = a.string(error)
        m.created_at_ms = createdAtMilliseconds
        m.closed_at_ms = closedAtMilliseconds
        (m.n_tasks, m.tasks) = a.repeated(tasks) { $0.cMessage(a) }
        return m
    }

    init(c m: Weft__Api__V1__RunInfo) throws(WireError) {
        self.init(
                runID: try decodeRunID(m.run_id, field: "RunInfo.run_id"),
                workflow: swiftString(m.workflow),
                version: swiftString(m.version),
                status: try wireEnum(RunStatus.self, m.status.rawValue, field: "RunInfo.status"),
                input: swiftBytes(m.input),
                output: swiftBytes(m.output),
                error: swiftString(m.error),
                createdAtMilliseconds: m.created_at_ms,
                closedAtMilliseconds: m.closed_at_ms,
                tasks: try swiftArray(m.n_tasks, m.tasks) { (c) throws(WireError) in try TaskInfo(c: c) })
    }
}

extension RunInfo: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__run_info__get_packed_size, pack: weft__api__v1__run_info__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "RunInfo", unpack: weft__api__v1__run_info__unpack, free: weft__api__v1__run_info__free_unpacked
        ) { (m: borrowing Weft__Api__V1__RunInfo) throws(WireError) -> RunInfo in
            try RunInfo(c: m)
        }
    }
}

extension GetRunRequest: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__GetRunRequest()
        weft__api__v1__get_run_request__init(&m)
        m.run_id = a.bytes(runID.bytes)
        m.include_tasks = includeTasks ? 1 : 0
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__get_run_request__get_packed_size, pack: weft__api__v1__get_run_request__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "GetRunRequest", unpack: weft__api__v1__get_run_request__unpack, free: weft__api__v1__get_run_request__free_unpacked
        ) { (m: borrowing Weft__Api__V1__GetRunRequest) throws(WireError) -> GetRunRequest in
            GetRunRequest(
                runID: try decodeRunID(m.run_id, field: "GetRunRequest.run_id"),
                includeTasks: m.include_tasks != 0)
        }
    }
}

extension WaitRunRequest: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__WaitRunRequest()
        weft__api__v1__wait_run_request__init(&m)
        m.run_id = a.bytes(runID.bytes)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__wait_run_request__get_packed_size, pack: weft__api__v1__wait_run_request__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "WaitRunRequest", unpack: weft__api__v1__wait_run_request__unpack, free: weft__api__v1__wait_run_request__free_unpacked
        ) { (m: borrowing Weft__Api__V1__WaitRunRequest) throws(WireError) -> WaitRunRequest in
            WaitRunRequest(
                runID: try decodeRunID(m.run_id, field: "WaitRunRequest.run_id"))
        }
    }
}

extension CancelRunRequest: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__CancelRunRequest()
        weft__api__v1__cancel_run_request__init(&m)
        m.run_id = a.bytes(runID.bytes)
        m.reason = a.string(reason)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__cancel_run_request__get_packed_size, pack: weft__api__v1__cancel_run_request__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "CancelRunRequest", unpack: weft__api__v1__cancel_run_request__unpack, free: weft__api__v1__cancel_run_request__free_unpacked
        ) { (m: borrowing Weft__Api__V1__CancelRunRequest) throws(WireError) -> CancelRunRequest in
            CancelRunRequest(
                runID: try decodeRunID(m.run_id, field: "CancelRunRequest.run_id"),
                reason: swiftString(m.reason))
        }
    }
}

extension CancelRunResponse: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__CancelRunResponse()
        weft__api__v1__cancel_run_response__init(&m)
        m.status = Weft__Api__V1__RunStatus(rawValue: status.rawValue)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__cancel_run_response__get_packed_size, pack: weft__api__v1__cancel_run_response__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "CancelRunResponse", unpack: weft__api__v1__cancel_run_response__unpack, free: weft__api__v1__cancel_run_response__free_unpacked
        ) { (m: borrowing Weft__Api__V1__CancelRunResponse) throws(WireError) -> CancelRunResponse in
            CancelRunResponse(
                status: try wireEnum(RunStatus.self, m.status.rawValue, field: "CancelRunResponse.status"))
        }
    }
}

extension RetryRunRequest: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__RetryRunRequest()
        weft__api__v1__retry_run_request__init(&m)
        m.run_id = a.bytes(runID.bytes)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__retry_run_request__get_packed_size, pack: weft__api__v1__retry_run_request__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "RetryRunRequest", unpack: weft__api__v1__retry_run_request__unpack, free: weft__api__v1__retry_run_request__free_unpacked
        ) { (m: borrowing Weft__Api__V1__RetryRunRequest) throws(WireError) -> RetryRunRequest in
            RetryRunRequest(
                runID: try decodeRunID(m.run_id, field: "RetryRunRequest.run_id"))
        }
    }
}

extension ListRunsRequest: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__ListRunsRequest()
        weft__api__v1__list_runs_request__init(&m)
        m.workflow = a.string(workflow)
        m.status = Weft__Api__V1__RunStatus(rawValue: status.rawValue)
        m.since_ms = sinceMilliseconds
        m.until_ms = untilMilliseconds
        m.limit = limit
        m.page_token = a.string(pageToken)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__list_runs_request__get_packed_size, pack: weft__api__v1__list_runs_request__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "ListRunsRequest", unpack: weft__api__v1__list_runs_request__unpack, free: weft__api__v1__list_runs_request__free_unpacked
        ) { (m: borrowing Weft__Api__V1__ListRunsRequest) throws(WireError) -> ListRunsRequest in
            ListRunsRequest(
                workflow: swiftString(m.workflow),
                status: try wireEnum(RunStatus.self, m.status.rawValue, field: "ListRunsRequest.status"),
                sinceMilliseconds: m.since_ms,
                untilMilliseconds: m.until_ms,
                limit: m.limit,
                pageToken: swiftString(m.page_token))
        }
    }
}

extension RunSummary {
    func cMessage(_ a: CArena) -> Weft__Api__V1__RunSummary {
        var m = Weft__Api__V1__RunSummary()
        weft__api__v1__run_summary__init(&m)
        m.run_id = a.bytes(runID.bytes)
        m.workflow = a.string(workflow)
        m.status = Weft__Api__V1__RunStatus(rawValue: status.rawValue)
        m.created_at_ms = createdAtMilliseconds
        m.closed_at_ms = closedAtMilliseconds
        return m
    }

    init(c m: Weft__Api__V1__RunSummary) throws(WireError) {
        self.init(
                runID: try decodeRunID(m.run_id, field: "RunSummary.run_id"),
                workflow: swiftString(m.workflow),
                status: try wireEnum(RunStatus.self, m.status.rawValue, field: "RunSummary.status"),
                createdAtMilliseconds: m.created_at_ms,
                closedAtMilliseconds: m.closed_at_ms)
    }
}

extension RunSummary: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__run_summary__get_packed_size, pack: weft__api__v1__run_summary__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "RunSummary", unpack: weft__api__v1__run_summary__unpack, free: weft__api__v1__run_summary__free_unpacked
        ) { (m: borrowing Weft__Api__V1__RunSummary) throws(WireError) -> RunSummary in
            try RunSummary(c: m)
        }
    }
}

extension ListRunsResponse: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__ListRunsResponse()
        weft__api__v1__list_runs_response__init(&m)
        (m.n_runs, m.runs) = a.repeated(runs) { $0.cMessage(a) }
        m.next_page_token = a.string(nextPageToken)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__list_runs_response__get_packed_size, pack: weft__api__v1__list_runs_response__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "ListRunsResponse", unpack: weft__api__v1__list_runs_response__unpack, free: weft__api__v1__list_runs_response__free_unpacked
        ) { (m: borrowing Weft__Api__V1__ListRunsResponse) throws(WireError) -> ListRunsResponse in
            ListRunsResponse(
                runs: try swiftArray(m.n_runs, m.runs) { (c) throws(WireError) in try RunSummary(c: c) },
                nextPageToken: swiftString(m.next_page_token))
        }
    }
}
