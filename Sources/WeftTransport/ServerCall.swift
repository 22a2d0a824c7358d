import WeftCore
import WeftWire

/// One call on the server: its handler task, its inbound stream (streaming shapes) and its
/// deadline timer. Loop-confined, except `write`, which hops to the loop.
final class ServerCall: RPCStreamSink, @unchecked Sendable {
    // @unchecked Sendable: mutable state is touched only on the session's loop; `write` hops there.
    let id: UInt64
    let method: String
    let arrived = ContinuousClock.now
    /// Strong: a handler task may outlive the connection; the session ↔ call cycle ends when the
    /// call leaves `session.calls` (finish, cancel, connection closed).
    let session: ServerSession
    var deadlineTimer: UInt64?
    private var task: Task<Void, Never>?
    private var inbound: RPCInboundStream?
    private var inboundPaused = false
    private var isEnded = false
    /// Whether the call streams (a worker's `Connect`, a subscription): long-lived by nature.
    private(set) var isStreaming = false

    init(id: UInt64, method: String, session: ServerSession) {
        self.id = id
        self.method = method
        self.session = session
    }

    func start(handler: RPCRouter.Handler, request: [UInt8], context: ServerContext) {
        let loop = session.loop
        let writer = RPCStreamWriter(sink: self)
        let stream: RPCInboundStream?
        isStreaming = handler.kind != .unary
        switch handler.kind {
        case .clientStreaming, .bidirectionalStreaming:
            stream = RPCInboundStream(
                capacity: session.core.configuration.inboundStreamCapacity,
                onResume: { [self] in loop.run { self.inboundResumed() } },
                onAbandon: {})
        case .unary, .serverStreaming:
            stream = nil
        }
        inbound = stream
        task = Task(executorPreference: loop) { [self] in
            let result: Result<[UInt8], RPCError>
            do {
                switch handler {
                case .unary(let body):
                    result = .success(try await body(request, context))
                case .serverStreaming(let body):
                    try await body(request, context, writer)
                    result = .success([])
                case .clientStreaming(let body):
                    result = .success(try await body(stream!, context))
                case .bidirectional(let body):
                    try await body(stream!, context, writer)
                    result = .success([])
                }
            } catch {
                result = .failure(RPCError.from(error))
            }
            loop.run { self.session.finish(self, result) }
        }
    }

    func receivedMessage(_ payload: [UInt8]) {
        guard let inbound else {
            session.channel.closeForViolation("STREAM_MESSAGE for call \(id), whose method takes no stream")
            return
        }
        if inbound.deliver(payload) {
            inboundPaused = true
            session.channel.inboundStreamPaused()
        }
    }

    func receivedEnd() {
        if inbound?.finish(nil) == true { inboundResumed() }
    }

    private func inboundResumed() {
        guard inboundPaused else { return }
        inboundPaused = false
        session.channel.inboundStreamResumed()
    }

    /// The call is over (response sent or connection gone).
    func ended() {
        isEnded = true
        if let deadlineTimer { session.loop.cancelTimer(deadlineTimer) }
        deadlineTimer = nil
        if inbound?.finish(RPCError(.cancelled, "call ended")) == true { inboundResumed() }
        inboundResumed()
    }

    /// The caller gave up or the connection went away: end without a response, cancel the handler.
    func abort(_ error: RPCError) {
        ended()
        cancelHandler()
    }

    func cancelHandler() {
        task?.cancel()
    }

    // MARK: RPCStreamSink

    func write(_ message: [UInt8]) async throws {
        let loop = session.loop
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.run { [self] in
                guard !isEnded else {
                    continuation.resume(throwing: RPCError(.cancelled, "the call has ended"))
                    return
                }
                session.channel.whenWritable { [self] error in
                    if let error { return continuation.resume(throwing: error) }
                    guard !isEnded else {
                        return continuation.resume(throwing: RPCError(.cancelled, "the call has ended"))
                    }
                    session.channel.send(Envelope(callID: id, kind: .streamMessage, payload: message))
                    continuation.resume()
                }
            }
        }
    }
}
