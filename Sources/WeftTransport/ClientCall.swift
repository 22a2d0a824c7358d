import WeftCore
import WeftWire

/// One call on the client side. Loop-confined: created by the caller, then only touched on the
/// client's loop (`completion` is attached there, right before `start`).
final class ClientCall: @unchecked Sendable {
    // @unchecked Sendable: see above; every mutable field is touched on the client's loop only.
    enum Completion {
        case none
        case unary(CheckedContinuation<[UInt8], any Error>)
        /// Streamed messages go to the stream; the final status ends it.
        case stream(RPCInboundStream)
        /// Client streaming: the final RESPONSE carries the one response message.
        case response(ResponsePromise)
    }

    enum Phase {
        case created
        case pending
        case active(RPCChannel)
        case ended(RPCError?)
    }

    let method: String
    let kind: RPCMethodKind
    let request: [UInt8]
    let options: CallOptions
    var completion: Completion = .none
    var id: UInt64 = 0
    var phase: Phase = .created
    var deadlineTimer: UInt64?
    /// `CallOptions.readyWaitLimit` while the call waits for a connection.
    var readyTimer: UInt64?
    /// Set when that limit passed while a connection attempt was under way: the call fails if the
    /// attempt does.
    var readyWaitExpired: Duration?
    var inboundPaused = false
    /// Messages sent before the connection was ready (client/bidi streaming), and a queued half-close.
    var queuedOutbound: [[UInt8]] = []
    var queuedEnd = false
    /// A cancellation that reached the loop before the call itself did; `start` honours it.
    var cancelledBeforeStart: RPCError?

    init(method: String, kind: RPCMethodKind, request: [UInt8], options: CallOptions) {
        self.method = method
        self.kind = kind
        self.request = request
        self.options = options
    }

    var isEnded: Bool {
        if case .ended = phase { return true }
        return false
    }

    var channel: RPCChannel? {
        if case .active(let channel) = phase { return channel }
        return nil
    }

    /// Resolves the caller's side once. Returns false if it was already resolved.
    @discardableResult
    func complete(_ result: Result<[UInt8], RPCError>, loop: EventLoop) -> Bool {
        if isEnded { return false }
        let channel = self.channel
        phase = .ended(result.failureValue)
        if let deadlineTimer { loop.cancelTimer(deadlineTimer) }
        deadlineTimer = nil
        if let readyTimer { loop.cancelTimer(readyTimer) }
        readyTimer = nil
        if inboundPaused {
            inboundPaused = false
            channel?.inboundStreamResumed()
        }
        switch completion {
        case .none:
            break
        case .unary(let continuation):
            continuation.resume(with: result.mapError { $0 as any Error })
        case .stream(let stream):
            switch result {
            case .success: stream.finish(nil)
            case .failure(let error): stream.finish(error)
            }
        case .response(let promise):
            promise.fulfil(result)
        }
        completion = .none
        return true
    }

    /// Hands a streamed message to the caller. Returns true when the connection should pause.
    func deliver(_ payload: [UInt8]) -> Bool {
        guard case .stream(let stream) = completion else { return false }
        return stream.deliver(payload)
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
