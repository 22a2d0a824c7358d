import CProtobufC
import CWeftProtos
import WeftCore

// Codecs of weft/api/v1/worker.proto. Only this folder sees protobuf-c types.

extension DiscoverRequest: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__DiscoverRequest()
        weft__api__v1__discover_request__init(&m)
        (m.n_queues, m.queues) = a.strings(queues)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__discover_request__get_packed_size, pack: weft__api__v1__discover_request__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "DiscoverRequest", unpack: weft__api__v1__discover_request__unpack, free: weft__api__v1__discover_request__free_unpacked
        ) { (m: borrowing Weft__Api__V1__DiscoverRequest) throws(WireError) -> DiscoverRequest in
            DiscoverRequest(
                queues: swiftStrings(m.n_queues, m.queues))
        }
    }
}

extension SchedulerEndpoint {
    func cMessage(_ a: CArena) -> Weft__Api__V1__SchedulerEndpoint {
        var m = Weft__Api__V1__SchedulerEndpoint()
        weft__api__v1__scheduler_endpoint__init(&m)
        m.node_id = a.string(nodeID)
        m.address = a.string(address)
        return m
    }

    init(c m: Weft__Api__V1__SchedulerEndpoint) throws(WireError) {
        self.init(
                nodeID: swiftString(m.node_id),
                address: swiftString(m.address))
    }
}

extension SchedulerEndpoint: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__scheduler_endpoint__get_packed_size, pack: weft__api__v1__scheduler_endpoint__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "SchedulerEndpoint", unpack: weft__api__v1__scheduler_endpoint__unpack, free: weft__api__v1__scheduler_endpoint__free_unpacked
        ) { (m: borrowing Weft__Api__V1__SchedulerEndpoint) throws(WireError) -> SchedulerEndpoint in
            try SchedulerEndpoint(c: m)
        }
    }
}

extension DiscoverResponse: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__DiscoverResponse()
        weft__api__v1__discover_response__init(&m)
        (m.n_schedulers, m.schedulers) = a.repeated(schedulers) { $0.cMessage(a) }
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__discover_response__get_packed_size, pack: weft__api__v1__discover_response__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "DiscoverResponse", unpack: weft__api__v1__discover_response__unpack, free: weft__api__v1__discover_response__free_unpacked
        ) { (m: borrowing Weft__Api__V1__DiscoverResponse) throws(WireError) -> DiscoverResponse in
            DiscoverResponse(
                schedulers: try swiftArray(m.n_schedulers, m.schedulers) { (c) throws(WireError) in try SchedulerEndpoint(c: c) })
        }
    }
}

extension AttemptReference {
    func cMessage(_ a: CArena) -> Weft__Api__V1__AttemptRef {
        var m = Weft__Api__V1__AttemptRef()
        weft__api__v1__attempt_ref__init(&m)
        m.run_id = a.bytes(runID.bytes)
        m.node = a.string(node)
        m.attempt = attempt
        m.fence = fence
        return m
    }

    init(c m: Weft__Api__V1__AttemptRef) throws(WireError) {
        self.init(
                runID: try decodeRunID(m.run_id, field: "AttemptReference.run_id"),
                node: swiftString(m.node),
                attempt: m.attempt,
                fence: m.fence)
    }
}

extension AttemptReference: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__attempt_ref__get_packed_size, pack: weft__api__v1__attempt_ref__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "AttemptReference", unpack: weft__api__v1__attempt_ref__unpack, free: weft__api__v1__attempt_ref__free_unpacked
        ) { (m: borrowing Weft__Api__V1__AttemptRef) throws(WireError) -> AttemptReference in
            try AttemptReference(c: m)
        }
    }
}

extension WorkerHelloMessage {
    func cMessage(_ a: CArena) -> Weft__Api__V1__WorkerHello {
        var m = Weft__Api__V1__WorkerHello()
        weft__api__v1__worker_hello__init(&m)
        m.worker_id = a.string(workerID)
        (m.n_queues, m.queues) = a.strings(queues)
        (m.n_task_types, m.task_types) = a.strings(taskTypes)
        return m
    }

    init(c m: Weft__Api__V1__WorkerHello) throws(WireError) {
        self.init(
                workerID: swiftString(m.worker_id),
                queues: swiftStrings(m.n_queues, m.queues),
                taskTypes: swiftStrings(m.n_task_types, m.task_types))
    }
}

extension WorkerHelloMessage: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__worker_hello__get_packed_size, pack: weft__api__v1__worker_hello__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "WorkerHelloMessage", unpack: weft__api__v1__worker_hello__unpack, free: weft__api__v1__worker_hello__free_unpacked
        ) { (m: borrowing Weft__Api__V1__WorkerHello) throws(WireError) -> WorkerHelloMessage in
            try WorkerHelloMessage(c: m)
        }
    }
}

extension CreditGrant {
    func cMessage(_ a: CArena) -> Weft__Api__V1__CreditGrant {
        var m = Weft__Api__V1__CreditGrant()
        weft__api__v1__credit_grant__init(&m)
        m.credits = credits
        return m
    }

    init(c m: Weft__Api__V1__CreditGrant) throws(WireError) {
        self.init(
                credits: m.credits)
    }
}

extension CreditGrant: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__credit_grant__get_packed_size, pack: weft__api__v1__credit_grant__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "CreditGrant", unpack: weft__api__v1__credit_grant__unpack, free: weft__api__v1__credit_grant__free_unpacked
        ) { (m: borrowing Weft__Api__V1__CreditGrant) throws(WireError) -> CreditGrant in
            try CreditGrant(c: m)
        }
    }
}

extension HeartbeatMessage {
    func cMessage(_ a: CArena) -> Weft__Api__V1__Heartbeat {
        var m = Weft__Api__V1__Heartbeat()
        weft__api__v1__heartbeat__init(&m)
        (m.n_attempts, m.attempts) = a.repeated(attempts) { $0.cMessage(a) }
        m.details = a.bytes(details)
        return m
    }

    init(c m: Weft__Api__V1__Heartbeat) throws(WireError) {
        self.init(
                attempts: try swiftArray(m.n_attempts, m.attempts) { (c) throws(WireError) in try AttemptReference(c: c) },
                details: swiftBytes(m.details))
    }
}

extension HeartbeatMessage: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__heartbeat__get_packed_size, pack: weft__api__v1__heartbeat__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "HeartbeatMessage", unpack: weft__api__v1__heartbeat__unpack, free: weft__api__v1__heartbeat__free_unpacked
        ) { (m: borrowing Weft__Api__V1__Heartbeat) throws(WireError) -> HeartbeatMessage in
            try HeartbeatMessage(c: m)
        }
    }
}

extension TaskCompletedMessage {
    func cMessage(_ a: CArena) -> Weft__Api__V1__TaskCompleted {
        var m = Weft__Api__V1__TaskCompleted()
        weft__api__v1__task_completed__init(&m)
        m.ref = a.message { ref.cMessage(a) }
        m.output = a.bytes(output)
        return m
    }

    init(c m: Weft__Api__V1__TaskCompleted) throws(WireError) {
        self.init(
                ref: try requiredMessage(m.ref, field: "TaskCompletedMessage.ref") { (c) throws(WireError) in try AttemptReference(c: c) },
                output: swiftBytes(m.output))
    }
}

extension TaskCompletedMessage: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__task_completed__get_packed_size, pack: weft__api__v1__task_completed__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "TaskCompletedMessage", unpack: weft__api__v1__task_completed__unpack, free: weft__api__v1__task_completed__free_unpacked
        ) { (m: borrowing Weft__Api__V1__TaskCompleted) throws(WireError) -> TaskCompletedMessage in
            try TaskCompletedMessage(c: m)
        }
    }
}

extension TaskFailedMessage {
    func cMessage(_ a: CArena) -> Weft__Api__V1__TaskFailed {
        var m = Weft__Api__V1__TaskFailed()
        weft__api__v1__task_failed__init(&m)
        m.ref = a.message { ref.cMessage(a) }
        m.kind = a.string(kind)
        m.message = a.string(message)
        m.retryable = retryable ? 1 : 0
        return m
    }

    init(c m: Weft__Api__V1__TaskFailed) throws(WireError) {
        self.init(
                ref: try requiredMessage(m.ref, field: "TaskFailedMessage.ref") { (c) throws(WireError) in try AttemptReference(c: c) },
                kind: swiftString(m.kind),
                message: swiftString(m.message),
                retryable: m.retryable != 0)
    }
}

extension TaskFailedMessage: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__task_failed__get_packed_size, pack: weft__api__v1__task_failed__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "TaskFailedMessage", unpack: weft__api__v1__task_failed__unpack, free: weft__api__v1__task_failed__free_unpacked
        ) { (m: borrowing Weft__Api__V1__TaskFailed) throws(WireError) -> TaskFailedMessage in
            try TaskFailedMessage(c: m)
        }
    }
}

extension TaskAssignmentMessage {
    func cMessage(_ a: CArena) -> Weft__Api__V1__TaskAssignment {
        var m = Weft__Api__V1__TaskAssignment()
        weft__api__v1__task_assignment__init(&m)
        m.ref = a.message { ref.cMessage(a) }
        m.task_type = a.string(taskType)
        m.input = a.bytes(input)
        m.start_to_close_ms = startToCloseMilliseconds
        m.heartbeat_ms = heartbeatMilliseconds
        m.workflow = a.string(workflow)
        return m
    }

    init(c m: Weft__Api__V1__TaskAssignment) throws(WireError) {
        self.init(
                ref: try requiredMessage(m.ref, field: "TaskAssignmentMessage.ref") { (c) throws(WireError) in try AttemptReference(c: c) },
                taskType: swiftString(m.task_type),
                input: swiftBytes(m.input),
                startToCloseMilliseconds: m.start_to_close_ms,
                heartbeatMilliseconds: m.heartbeat_ms,
                workflow: swiftString(m.workflow))
    }
}

extension TaskAssignmentMessage: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__task_assignment__get_packed_size, pack: weft__api__v1__task_assignment__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "TaskAssignmentMessage", unpack: weft__api__v1__task_assignment__unpack, free: weft__api__v1__task_assignment__free_unpacked
        ) { (m: borrowing Weft__Api__V1__TaskAssignment) throws(WireError) -> TaskAssignmentMessage in
            try TaskAssignmentMessage(c: m)
        }
    }
}

extension CancelAttemptMessage {
    func cMessage(_ a: CArena) -> Weft__Api__V1__CancelAttempt {
        var m = Weft__Api__V1__CancelAttempt()
        weft__api__v1__cancel_attempt__init(&m)
        m.ref = a.message { ref.cMessage(a) }
        m.reason = a.string(reason)
        return m
    }

    init(c m: Weft__Api__V1__CancelAttempt) throws(WireError) {
        self.init(
                ref: try requiredMessage(m.ref, field: "CancelAttemptMessage.ref") { (c) throws(WireError) in try AttemptReference(c: c) },
                reason: swiftString(m.reason))
    }
}

extension CancelAttemptMessage: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = cMessage(a)
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__cancel_attempt__get_packed_size, pack: weft__api__v1__cancel_attempt__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "CancelAttemptMessage", unpack: weft__api__v1__cancel_attempt__unpack, free: weft__api__v1__cancel_attempt__free_unpacked
        ) { (m: borrowing Weft__Api__V1__CancelAttempt) throws(WireError) -> CancelAttemptMessage in
            try CancelAttemptMessage(c: m)
        }
    }
}

extension WorkerMessage: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__WorkerMessage()
        weft__api__v1__worker_message__init(&m)
        switch self {
        case .hello(let body):
            m.body_case = WEFT__API__V1__WORKER_MESSAGE__BODY_HELLO
            m.hello = a.message { body.cMessage(a) }
        case .credits(let body):
            m.body_case = WEFT__API__V1__WORKER_MESSAGE__BODY_CREDITS
            m.credits = a.message { body.cMessage(a) }
        case .heartbeat(let body):
            m.body_case = WEFT__API__V1__WORKER_MESSAGE__BODY_HEARTBEAT
            m.heartbeat = a.message { body.cMessage(a) }
        case .completed(let body):
            m.body_case = WEFT__API__V1__WORKER_MESSAGE__BODY_COMPLETED
            m.completed = a.message { body.cMessage(a) }
        case .failed(let body):
            m.body_case = WEFT__API__V1__WORKER_MESSAGE__BODY_FAILED
            m.failed = a.message { body.cMessage(a) }
        }
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__worker_message__get_packed_size, pack: weft__api__v1__worker_message__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "WorkerMessage", unpack: weft__api__v1__worker_message__unpack,
            free: weft__api__v1__worker_message__free_unpacked
        ) { (m: borrowing Weft__Api__V1__WorkerMessage) throws(WireError) -> WorkerMessage in
            switch m.body_case {
            case WEFT__API__V1__WORKER_MESSAGE__BODY_HELLO:
                .hello(try requiredMessage(m.hello, field: "WorkerMessage.hello") { (c) throws(WireError) in try WorkerHelloMessage(c: c) })
            case WEFT__API__V1__WORKER_MESSAGE__BODY_CREDITS:
                .credits(try requiredMessage(m.credits, field: "WorkerMessage.credits") { (c) throws(WireError) in try CreditGrant(c: c) })
            case WEFT__API__V1__WORKER_MESSAGE__BODY_HEARTBEAT:
                .heartbeat(try requiredMessage(m.heartbeat, field: "WorkerMessage.heartbeat") { (c) throws(WireError) in try HeartbeatMessage(c: c) })
            case WEFT__API__V1__WORKER_MESSAGE__BODY_COMPLETED:
                .completed(try requiredMessage(m.completed, field: "WorkerMessage.completed") { (c) throws(WireError) in try TaskCompletedMessage(c: c) })
            case WEFT__API__V1__WORKER_MESSAGE__BODY_FAILED:
                .failed(try requiredMessage(m.failed, field: "WorkerMessage.failed") { (c) throws(WireError) in try TaskFailedMessage(c: c) })
            default:
                throw WireError(.invalidField, "WorkerMessage has no body")
            }
        }
    }
}

extension SchedulerMessage: WireMessage {
    public func serializedBytes() -> [UInt8] {
        let a = CArena()
        var m = Weft__Api__V1__SchedulerMessage()
        weft__api__v1__scheduler_message__init(&m)
        switch self {
        case .assignment(let body):
            m.body_case = WEFT__API__V1__SCHEDULER_MESSAGE__BODY_ASSIGNMENT
            m.assignment = a.message { body.cMessage(a) }
        case .cancel(let body):
            m.body_case = WEFT__API__V1__SCHEDULER_MESSAGE__BODY_CANCEL
            m.cancel = a.message { body.cMessage(a) }
        }
        return withExtendedLifetime(a) {
            packMessage(&m, size: weft__api__v1__scheduler_message__get_packed_size, pack: weft__api__v1__scheduler_message__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "SchedulerMessage", unpack: weft__api__v1__scheduler_message__unpack,
            free: weft__api__v1__scheduler_message__free_unpacked
        ) { (m: borrowing Weft__Api__V1__SchedulerMessage) throws(WireError) -> SchedulerMessage in
            switch m.body_case {
            case WEFT__API__V1__SCHEDULER_MESSAGE__BODY_ASSIGNMENT:
                .assignment(try requiredMessage(m.assignment, field: "SchedulerMessage.assignment") { (c) throws(WireError) in try TaskAssignmentMessage(c: c) })
            case WEFT__API__V1__SCHEDULER_MESSAGE__BODY_CANCEL:
                .cancel(try requiredMessage(m.cancel, field: "SchedulerMessage.cancel") { (c) throws(WireError) in try CancelAttemptMessage(c: c) })
            default:
                throw WireError(.invalidField, "SchedulerMessage has no body")
            }
        }
    }
}
