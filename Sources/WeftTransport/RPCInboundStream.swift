import DequeModule
import WeftCore
import WeftWire

/// The messages of a stream as they arrive from the peer: an `AsyncSequence` of payloads that ends
/// when the peer finishes the stream, or throws the call's `RPCError`.
///
/// Bounded: once `capacity` messages wait unread, the connection stops reading from the socket
/// (TCP flow control then slows the sender) until the consumer has caught up to half of that.
/// Because one connection carries many calls, a stalled consumer stalls the other calls of the same
/// connection too (per-stream windows are future work); keep consumers moving or use a separate
/// client for long-lived streams.
///
/// Dropping the stream before it ended, or cancelling the task that iterates it, cancels the call.
public final class RPCInboundStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    private struct State {
        var buffer = Deque<[UInt8]>()
        var terminal: RPCError??  // nil: open; .some(nil): finished; .some(error): failed
        var waiter: CheckedContinuation<[UInt8]?, any Error>?
        var paused = false
    }

    private let state = Locked(State())
    private let capacity: Int
    /// Called (on the loop) when the consumer caught up after a pause.
    private let onResume: @Sendable () -> Void
    /// Called (from any thread) when the consumer gives up on an unfinished stream.
    private let onAbandon: @Sendable () -> Void

    init(capacity: Int, onResume: @escaping @Sendable () -> Void, onAbandon: @escaping @Sendable () -> Void) {
        self.capacity = Swift.max(capacity, 1)
        self.onResume = onResume
        self.onAbandon = onAbandon
    }

    deinit {
        let unfinished = state.withLock { $0.terminal == nil }
        if unfinished { onAbandon() }
    }

    // MARK: Producer side (the loop)

    /// Delivers one message. Returns true when the stream just became full and the caller should
    /// pause reading.
    func deliver(_ message: [UInt8]) -> Bool {
        let (waiter, pause) = state.withLock { state -> (CheckedContinuation<[UInt8]?, any Error>?, Bool) in
            guard state.terminal == nil else { return (nil, false) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, false)
            }
            state.buffer.append(message)
            if state.buffer.count >= capacity && !state.paused {
                state.paused = true
                return (nil, true)
            }
            return (nil, false)
        }
        waiter?.resume(returning: message)
        return pause
    }

    /// Ends the stream (nil: finished normally). Returns true when it was paused (the caller owes
    /// the connection a resume).
    @discardableResult
    func finish(_ error: RPCError?) -> Bool {
        let (waiter, wasPaused) = state.withLock { state -> (CheckedContinuation<[UInt8]?, any Error>?, Bool) in
            guard state.terminal == nil else { return (nil, false) }
            state.terminal = .some(error)
            let waiter = state.waiter
            state.waiter = nil
            let wasPaused = state.paused
            state.paused = false
            return (waiter, wasPaused)
        }
        if let waiter {
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }
        return wasPaused
    }

    // MARK: Consumer side

    /// The next message, nil at the end of the stream.
    public func next() async throws -> [UInt8]? {
        if let ready = poll(waiter: nil) { return try ready.get() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
                if let immediate = poll(waiter: continuation) { continuation.resume(with: immediate) }
            }
        } onCancel: {
            onAbandon()
        }
    }

    /// A buffered message or the terminal outcome; otherwise registers `waiter` (if any) and
    /// returns nil. Resumes a paused connection once the consumer has caught up to half capacity.
    private func poll(waiter: CheckedContinuation<[UInt8]?, any Error>?) -> Result<[UInt8]?, any Error>? {
        let (result, resume) = state.withLock { state -> (Result<[UInt8]?, any Error>?, Bool) in
            if let message = state.buffer.popFirst() {
                var resume = false
                if state.paused && state.buffer.count <= capacity / 2 {
                    state.paused = false
                    resume = true
                }
                return (.success(message), resume)
            }
            if let terminal = state.terminal {
                if let error = terminal { return (.failure(error), false) }
                return (.success(nil), false)
            }
            if let waiter { state.waiter = waiter }
            return (nil, false)
        }
        if resume { onResume() }
        return result
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: RPCInboundStream
        public mutating func next() async throws -> [UInt8]? { try await stream.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }

    /// Decodes each message as `M`.
    public func messages<M: WireMessage>(of type: M.Type = M.self) -> AsyncThrowingMapSequence<RPCInboundStream, M> {
        map { try M(serializedBytes: $0) }
    }
}

/// Sends the messages of a stream to the peer, waiting while the connection's write buffer is full.
public struct RPCStreamWriter: Sendable {
    let sink: any RPCStreamSink

    /// Sends one message. Suspends while the connection's write buffer is above its high-water mark;
    /// throws `CANCELLED`/`UNAVAILABLE` once the call or connection ended.
    public func send(_ message: [UInt8]) async throws {
        try await sink.write(message)
    }

    public func send(_ message: some WireMessage) async throws {
        try await sink.write(message.serializedBytes())
    }
}

protocol RPCStreamSink: Sendable {
    func write(_ message: [UInt8]) async throws
}
