import Logging
import WeftCore
import WeftWire

/// Configuration of an `RPCClient`.
public struct RPCClientConfiguration: Sendable {
    public var cluster: String
    public var role: NodeRole
    public var nodeID: String
    /// Presented in the handshake; empty when the server runs without authentication.
    public var authToken: [UInt8]
    public var maxFrameBytes = 4 * 1024 * 1024
    /// A TCP connect plus handshake that takes longer fails with `UNAVAILABLE`.
    public var connectTimeout: Duration = .seconds(5)
    /// Reconnect backoff: the first retry waits `initialBackoff`, each next one `backoffMultiplier`
    /// times longer up to `maxBackoff`, each randomised by ±`backoffJitter` so that many clients
    /// that lost the same server do not return in lockstep.
    public var initialBackoff: Duration = .milliseconds(100)
    public var maxBackoff: Duration = .seconds(5)
    public var backoffMultiplier = 1.6
    public var backoffJitter = 0.2
    public var writeHighWaterBytes = 1 << 20
    public var writeLowWaterBytes = 256 << 10
    /// Unread messages per inbound stream before the connection stops reading.
    public var inboundStreamCapacity = 64

    public init(cluster: String = "weft", role: NodeRole = .client, nodeID: String = "", authToken: [UInt8] = []) {
        self.cluster = cluster
        self.role = role
        self.nodeID = nodeID
        self.authToken = authToken
    }
}

/// A client of one server address: one TCP connection carrying any number of concurrent calls,
/// connected lazily on the first call, reconnected with exponential backoff when it breaks.
///
/// - Calls made while the connection is being set up wait for it; calls made while it is backing
///   off after a failure fail fast with `UNAVAILABLE` (or the handshake's error, e.g.
///   `UNAUTHENTICATED`) unless `CallOptions.waitForReady` is set.
/// - A broken connection fails its calls in flight with `UNAVAILABLE`; it is not retried here
///   (only the caller knows whether a call is safe to repeat).
/// - A caller's task cancellation or deadline sends `CANCEL` so the server stops the handler.
///
/// For the lowest latency call it from a task that prefers `loop` as its executor
/// (`withTaskExecutorPreference(client.loop)`): the call then never leaves the loop thread.
public final class RPCClient: Sendable {
    public let target: Endpoint
    public let loop: EventLoop
    let core: ClientCore

    public init(target: Endpoint, configuration: RPCClientConfiguration = .init(), loop: EventLoop = .shared, logger: Logger) {
        self.target = target
        self.loop = loop
        self.core = ClientCore(target: target, configuration: configuration, loop: loop, logger: logger)
    }

    /// Connects and completes the handshake now (calls do this lazily). Returns the server's identity.
    @discardableResult
    public func connect(timeout: Duration? = nil) async throws -> HelloAck {
        let core = self.core
        let deadline = timeout.map { ContinuousClock.now + $0 }
        return try await withCheckedThrowingContinuation { continuation in
            loop.run { core.waitUntilReady(deadline: deadline, continuation) }
        }
    }

    /// A unary call: one request, one response. Throws `RPCError`.
    public func unary(_ method: String, request: [UInt8], options: CallOptions = CallOptions()) async throws -> [UInt8] {
        let call = ClientCall(method: method, kind: .unary, request: request, options: options)
        let core = self.core
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
                loop.run {
                    call.completion = .unary(continuation)
                    core.start(call)
                }
            }
        } onCancel: {
            loop.run { core.cancel(call, RPCError(.cancelled, "the caller cancelled the call")) }
        }
    }

    /// A unary call with typed messages.
    public func unary<Request: WireMessage, Response: WireMessage>(
        _ method: String, request: Request, response: Response.Type = Response.self, options: CallOptions = CallOptions()
    ) async throws -> Response {
        let bytes = try await unary(method, request: request.serializedBytes(), options: options)
        do {
            return try Response(serializedBytes: bytes)
        } catch {
            throw RPCError(.internal, "the server's response to \(method) does not decode: \(error)")
        }
    }

    /// A server-streaming call: the returned stream yields the server's messages, ends when the
    /// server finished with OK, or throws its error.
    public func serverStreaming(_ method: String, request: [UInt8], options: CallOptions = CallOptions()) -> RPCInboundStream {
        let call = ClientCall(method: method, kind: .serverStreaming, request: request, options: options)
        let stream = makeInbound(for: call)
        let core = self.core
        loop.run {
            call.completion = .stream(stream)
            core.start(call)
        }
        return stream
    }

    /// A client-streaming call: send messages, then `finish()` returns the server's single response.
    public func clientStreaming(_ method: String, options: CallOptions = CallOptions()) -> RPCClientStreamingCall {
        let call = ClientCall(method: method, kind: .clientStreaming, request: [], options: options)
        let response = ResponsePromise()
        let core = self.core
        loop.run {
            call.completion = .response(response)
            core.start(call)
        }
        return RPCClientStreamingCall(call: call, core: core, response: response)
    }

    /// A bidirectional call: send messages and read the server's concurrently.
    public func bidirectionalStreaming(_ method: String, options: CallOptions = CallOptions()) -> RPCBidirectionalCall {
        let call = ClientCall(method: method, kind: .bidirectionalStreaming, request: [], options: options)
        let stream = makeInbound(for: call)
        let core = self.core
        loop.run {
            call.completion = .stream(stream)
            core.start(call)
        }
        return RPCBidirectionalCall(call: call, core: core, responses: stream)
    }

    deinit {
        // A client dropped without close(): close once the calls still in flight are done.
        let core = self.core
        loop.execute { core.close(nil) }
    }

    /// Waits for calls in flight, then closes the connection. Later calls fail with `UNAVAILABLE`.
    public func close() async {
        let core = self.core
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.run { core.close(continuation) }
        }
    }

    private func makeInbound(for call: ClientCall) -> RPCInboundStream {
        let core = self.core
        let loop = self.loop
        return RPCInboundStream(
            capacity: core.configuration.inboundStreamCapacity,
            onResume: { loop.run { core.inboundResumed(call) } },
            onAbandon: { loop.run { core.cancel(call, RPCError(.cancelled, "the caller stopped reading the stream")) } })
    }
}

/// The sending half of a streaming call, shared by the two client-side streaming shapes.
public struct RPCClientStreamSender: Sendable {
    let call: ClientCall
    let core: ClientCore

    /// Sends one message; suspends while the connection's write buffer is full. Throws once the
    /// call has ended (the server answered, the deadline passed, the connection broke).
    public func send(_ message: [UInt8]) async throws {
        let core = self.core
        let call = self.call
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            core.loop.run { core.send(message, on: call, continuation) }
        }
    }

    public func send(_ message: some WireMessage) async throws {
        try await send(message.serializedBytes())
    }

    /// Half-closes: tells the server no more messages follow.
    public func finish() async throws {
        let core = self.core
        let call = self.call
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            core.loop.run { core.finishSending(call, continuation) }
        }
    }

    /// Abandons the call; the server's handler is cancelled.
    public func cancel() {
        let core = self.core
        let call = self.call
        core.loop.run { core.cancel(call, RPCError(.cancelled, "the caller cancelled the call")) }
    }
}

/// A client-streaming call in progress.
public struct RPCClientStreamingCall: Sendable {
    public let sender: RPCClientStreamSender
    let response: ResponsePromise

    init(call: ClientCall, core: ClientCore, response: ResponsePromise) {
        self.sender = RPCClientStreamSender(call: call, core: core)
        self.response = response
    }

    public func send(_ message: [UInt8]) async throws { try await sender.send(message) }

    /// Half-closes and waits for the server's response.
    public func finish() async throws -> [UInt8] {
        try await sender.finish()
        return try await response.value()
    }
}

/// A bidirectional call in progress.
public struct RPCBidirectionalCall: Sendable {
    public let sender: RPCClientStreamSender
    /// The server's messages; ends when the server finishes the call with OK.
    public let responses: RPCInboundStream

    init(call: ClientCall, core: ClientCore, responses: RPCInboundStream) {
        self.sender = RPCClientStreamSender(call: call, core: core)
        self.responses = responses
    }

    public func send(_ message: [UInt8]) async throws { try await sender.send(message) }
    public func finish() async throws { try await sender.finish() }
}

/// A one-shot result that any number of tasks can await.
final class ResponsePromise: Sendable {
    private let state = Locked<(result: Result<[UInt8], RPCError>?, waiters: [CheckedContinuation<[UInt8], any Error>])>((nil, []))

    func fulfil(_ result: Result<[UInt8], RPCError>) {
        let waiters = state.withLock { state -> [CheckedContinuation<[UInt8], any Error>] in
            guard state.result == nil else { return [] }
            state.result = result
            let waiters = state.waiters
            state.waiters = []
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result.mapError { $0 as any Error }) }
    }

    func value() async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            let result = state.withLock { state -> Result<[UInt8], RPCError>? in
                if let result = state.result { return result }
                state.waiters.append(continuation)
                return nil
            }
            if let result { continuation.resume(with: result.mapError { $0 as any Error }) }
        }
    }
}
