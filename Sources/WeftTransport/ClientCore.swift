import CWeftSystem
import Glibc
import Logging
import WeftCore
import WeftWire

/// The loop-confined connection manager behind `RPCClient`.
///
/// Connection states:
///
///     idle ──call──▶ resolving ──▶ connecting ──▶ handshaking ──OK──▶ ready
///       ▲                 │             │               │                │
///       │                 └─────────────┴──── failure ──┴────────────────┘ (lost)
///       │                                          ▼
///       └──────────── backoff timer ───────── backingOff(lastError)
///     any ──close()──▶ closing (drain calls) ──▶ closed
///
/// Invariants: calls are in `pending` only while the state is not `ready`; `active` holds exactly
/// the calls whose REQUEST went out on the current channel; every call is completed exactly once.
final class ClientCore: RPCChannelOwner, @unchecked Sendable {
    // @unchecked Sendable: all mutable state is touched only on `loop`.
    private enum State {
        case idle
        case resolving
        case connecting(PendingConnect)
        case handshaking(RPCChannel)
        case ready(RPCChannel, HelloAck)
        case backingOff(timer: UInt64, lastError: RPCError)
        case closed
    }

    let target: Endpoint
    let configuration: RPCClientConfiguration
    let loop: EventLoop
    let logger: Logger
    private var state = State.idle
    private var pending: [ClientCall] = []
    private var active: [UInt64: ClientCall] = [:]
    private var nextCallID: UInt64 = 1
    private var currentBackoff: Duration
    private var connectTimer: UInt64?
    private var everConnected = false
    private var readyWaiters: [(deadline: ContinuousClock.Instant?, continuation: CheckedContinuation<HelloAck, any Error>)] = []
    private var closing = false
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []

    init(target: Endpoint, configuration: RPCClientConfiguration, loop: EventLoop, logger: Logger) {
        self.target = target
        self.configuration = configuration
        self.loop = loop
        var logger = logger
        logger[metadataKey: "peer.address"] = "\(target)"
        self.logger = logger
        self.currentBackoff = configuration.initialBackoff
    }

    // MARK: Calls

    func start(_ call: ClientCall) {
        guard case .created = call.phase else { return }
        if let error = call.cancelledBeforeStart {
            call.complete(.failure(error), loop: loop)
            return
        }
        if closing {
            call.complete(.failure(RPCError(.unavailable, "the client is closed")), loop: loop)
            return
        }
        if let deadline = call.options.deadline {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                call.complete(.failure(RPCError(.deadlineExceeded, "deadline passed before the call started")), loop: loop)
                return
            }
            call.deadlineTimer = loop.scheduleTimer(after: remaining) { [self, call] in
                cancel(call, deadlineError(for: call, budget: remaining))
            }
        }
        switch state {
        case .ready(let channel, _):
            send(call, on: channel)
        case .backingOff(_, let lastError) where !call.options.waitForReady:
            call.complete(.failure(lastError), loop: loop)
        case .closed:
            call.complete(.failure(RPCError(.unavailable, "the client is closed")), loop: loop)
        default:
            call.phase = .pending
            pending.append(call)
            if let limit = call.options.readyWaitLimit, call.options.waitForReady {
                call.readyTimer = loop.scheduleTimer(after: limit) { [self, call] in
                    call.readyTimer = nil
                    guard case .pending = call.phase else { return }
                    // Down: fail now. Connecting or handshaking (a slow server is reachable): the
                    // call waits for that attempt's outcome; if it fails, so does the call.
                    if case .backingOff = state { cancel(call, unreachable(within: limit)) } else { call.readyWaitExpired = limit }
                }
            }
            if case .idle = state { beginConnecting() }
        }
    }

    /// A call that never got a connection: `UNAVAILABLE`, with why (`cause`, else the last
    /// connection error) when known.
    private func unreachable(within budget: Duration, cause: RPCError? = nil) -> RPCError {
        var why = cause
        if why == nil, case .backingOff(_, let lastError) = state { why = lastError }
        let text = "could not reach \(target) within \(DurationText.format(budget))"
        return RPCError(.unavailable, why.map { "\(text): \($0.message)" } ?? text)
    }

    private func send(_ call: ClientCall, on channel: RPCChannel) {
        let id = nextCallID
        nextCallID += 1
        call.id = id
        call.phase = .active(channel)
        active[id] = call
        var deadlineMilliseconds: UInt64 = 0
        if let deadline = call.options.deadline {
            let remaining = (deadline - ContinuousClock.now).nanoseconds
            deadlineMilliseconds = max(1, (remaining + 999_999) / 1_000_000)
        }
        channel.send(Envelope(
            callID: id, kind: .request, method: call.method, deadlineMilliseconds: deadlineMilliseconds,
            metadata: call.options.metadata, payload: call.request))
        for message in call.queuedOutbound {
            channel.send(Envelope(callID: id, kind: .streamMessage, payload: message))
        }
        call.queuedOutbound = []
        if call.queuedEnd { channel.send(Envelope(callID: id, kind: .streamEnd)) }
    }

    /// A call that waited for a connection (`waitForReady`) and never got one is `UNAVAILABLE`,
    /// with why.
    private func deadlineError(for call: ClientCall, budget: Duration) -> RPCError {
        if case .pending = call.phase { return unreachable(within: budget) }
        return RPCError(.deadlineExceeded, "no response from \(target) within \(DurationText.format(budget))")
    }

    /// Ends `call` with `error` (caller cancellation, deadline, abandoned stream) and tells the
    /// server, if it already knows of the call.
    func cancel(_ call: ClientCall, _ error: RPCError) {
        switch call.phase {
        case .ended:
            return
        case .created:
            call.cancelledBeforeStart = error  // `start` has not run yet; it completes the call
        case .pending:
            pending.removeAll { $0 === call }
            call.complete(.failure(error), loop: loop)
        case .active(let channel):
            active[call.id] = nil
            channel.send(Envelope(callID: call.id, kind: .cancel))
            call.complete(.failure(error), loop: loop)
            closeIfDrained()
        }
    }

    func send(_ message: [UInt8], on call: ClientCall, _ continuation: CheckedContinuation<Void, any Error>) {
        switch call.phase {
        case .ended(let error):
            continuation.resume(throwing: error ?? RPCError(.failedPrecondition, "the call has already ended"))
        case .created, .pending:
            call.queuedOutbound.append(message)
            continuation.resume()
        case .active(let channel):
            channel.whenWritable { error in
                if let error { return continuation.resume(throwing: error) }
                guard case .active = call.phase else {
                    return continuation.resume(throwing: RPCError(.cancelled, "the call has ended"))
                }
                channel.send(Envelope(callID: call.id, kind: .streamMessage, payload: message))
                continuation.resume()
            }
        }
    }

    func finishSending(_ call: ClientCall, _ continuation: CheckedContinuation<Void, any Error>) {
        switch call.phase {
        case .ended:
            continuation.resume()  // the outcome is in the response
        case .created, .pending:
            call.queuedEnd = true
            continuation.resume()
        case .active(let channel):
            channel.send(Envelope(callID: call.id, kind: .streamEnd))
            continuation.resume()
        }
    }

    func inboundResumed(_ call: ClientCall) {
        guard call.inboundPaused else { return }
        call.inboundPaused = false
        call.channel?.inboundStreamResumed()
    }

    func waitUntilReady(deadline: ContinuousClock.Instant?, _ continuation: CheckedContinuation<HelloAck, any Error>) {
        switch state {
        case .ready(_, let ack):
            continuation.resume(returning: ack)
        case .closed:
            continuation.resume(throwing: RPCError(.unavailable, "the client is closed"))
        case .backingOff(_, let error):
            continuation.resume(throwing: error)
        default:
            readyWaiters.append((deadline, continuation))
            if case .idle = state { beginConnecting() }
        }
    }

    // MARK: Connecting

    private func beginConnecting() {
        state = .resolving
        let timeout = configuration.connectTimeout
        connectTimer = loop.scheduleTimer(after: timeout) { [self] in
            connectTimer = nil
            switch state {
            case .resolving, .connecting, .handshaking:
                connectionFailed(RPCError(.unavailable, "connecting to \(target) timed out after \(timeout)"))
            default:
                break
            }
        }
        let loop = self.loop
        SocketAddress.resolve(target) { [self] result in
            loop.run { [self] in
                guard case .resolving = state else { return }
                switch result {
                case .success(let addresses): connect(to: addresses, index: 0)
                case .failure(let error): connectionFailed(RPCError(.unavailable, error.detail))
                }
            }
        }
    }

    private func connect(to addresses: [SocketAddress], index: Int) {
        do {
            let (fd, inProgress) = try Socket.startConnect(to: addresses[index])
            if !inProgress {
                connected(fd)
                return
            }
            let attempt = PendingConnect(fd: fd) { [self] error in
                guard case .connecting = state else { return }
                if let error {
                    if index + 1 < addresses.count { return connect(to: addresses, index: index + 1) }
                    connectionFailed(RPCError(.unavailable, Socket.connectError(error, addresses[index]).detail))
                } else {
                    connected(fd)
                }
            }
            state = .connecting(attempt)
            try attempt.register(on: loop)
        } catch {
            if index + 1 < addresses.count { return connect(to: addresses, index: index + 1) }
            connectionFailed(RPCError(.unavailable, error.detail))
        }
    }

    private func connected(_ fd: Int32) {
        let connection = FramedConnection(
            loop: loop, fd: fd,
            configuration: .init(
                maxFrameBytes: configuration.maxFrameBytes,
                writeHighWaterBytes: configuration.writeHighWaterBytes,
                writeLowWaterBytes: configuration.writeLowWaterBytes))
        let channel = RPCChannel(connection: connection, logger: logger)
        channel.owner = self
        do {
            try connection.start()
        } catch {
            connectionFailed(RPCError(.unavailable, error.detail))
            return
        }
        state = .handshaking(channel)
        let hello = Hello(
            protocolVersions: ProtocolMethods.supportedVersions, cluster: configuration.cluster,
            role: configuration.role, nodeID: configuration.nodeID, authToken: configuration.authToken)
        channel.send(Envelope(callID: 0, kind: .request, method: ProtocolMethods.hello, payload: hello.serializedBytes()))
    }

    private func handshakeAnswered(_ envelope: Envelope, on channel: RPCChannel) {
        guard envelope.kind == .response, envelope.callID == 0 else {
            channel.closeForViolation("expected the handshake response, got \(envelope.kind) for call \(envelope.callID)")
            return
        }
        guard envelope.status == .ok else {
            let error = RPCError(envelope.status, "\(target) refused the connection: \(envelope.statusMessage)")
            state = .idle  // so that the channel's close below is not taken for a lost connection
            channel.connection.closeNow(nil)
            connectionFailed(error)
            return
        }
        let ack: HelloAck
        do {
            ack = try HelloAck(serializedBytes: envelope.payload)
        } catch {
            channel.closeForViolation("malformed HelloAck: \(error)")
            return
        }
        if let connectTimer { loop.cancelTimer(connectTimer) }
        connectTimer = nil
        state = .ready(channel, ack)
        everConnected = true
        currentBackoff = configuration.initialBackoff
        logger.debug("connected", metadata: ["peer.node.id": "\(ack.nodeID)", "peer.role": "\(ack.role)"])
        let waiting = pending
        pending = []
        for call in waiting { send(call, on: channel) }
        let waiters = readyWaiters
        readyWaiters = []
        for waiter in waiters { waiter.continuation.resume(returning: ack) }
    }

    private func connectionFailed(_ error: RPCError) {
        if let connectTimer { loop.cancelTimer(connectTimer) }
        connectTimer = nil
        switch state {
        case .connecting(let attempt): attempt.abandon(loop: loop)
        case .handshaking(let channel):
            state = .idle
            channel.connection.closeNow(nil)
        default: break
        }
        logger.debug("connection attempt failed", metadata: ["error": "\(error)"])
        let waiters = readyWaiters
        readyWaiters = []
        for waiter in waiters { waiter.continuation.resume(throwing: error) }
        if closing {
            failPending(error)
            finishClosing()
            return
        }
        let kept = pending.filter { $0.options.waitForReady && $0.readyWaitExpired == nil }
        for call in pending {
            guard let waited = call.readyWaitExpired else { continue }
            call.complete(.failure(unreachable(within: waited, cause: error)), loop: loop)
        }
        pending.removeAll { $0.readyWaitExpired != nil }
        failPending(error, except: kept)
        pending = kept
        scheduleReconnect(after: error)
    }

    private func scheduleReconnect(after error: RPCError) {
        let jitter = 1 + Double.random(in: -configuration.backoffJitter...configuration.backoffJitter)
        let delay = currentBackoff * jitter
        currentBackoff = min(currentBackoff * configuration.backoffMultiplier, configuration.maxBackoff)
        let timer = loop.scheduleTimer(after: delay) { [self] in
            guard case .backingOff = state else { return }
            state = .idle
            if !pending.isEmpty || everConnected { beginConnecting() }
        }
        state = .backingOff(timer: timer, lastError: error)
    }

    private func failPending(_ error: RPCError, except kept: [ClientCall] = []) {
        let calls = pending
        pending = []
        for call in calls where !kept.contains(where: { $0 === call }) {
            call.complete(.failure(error), loop: loop)
        }
    }

    // MARK: RPCChannelOwner

    func channel(_ channel: RPCChannel, received envelope: Envelope) {
        switch state {
        case .handshaking(let current) where current === channel:
            handshakeAnswered(envelope, on: channel)
        case .ready(let current, _) where current === channel:
            route(envelope, on: channel)
        default:
            return
        }
    }

    private func route(_ envelope: Envelope, on channel: RPCChannel) {
        switch envelope.kind {
        case .response:
            guard let call = active.removeValue(forKey: envelope.callID) else { return }  // cancelled locally
            if envelope.status == .ok {
                call.complete(.success(envelope.payload), loop: loop)
            } else {
                call.complete(.failure(RPCError(envelope.status, envelope.statusMessage, metadata: envelope.metadata)), loop: loop)
            }
            closeIfDrained()
        case .streamMessage:
            guard let call = active[envelope.callID] else { return }
            if call.deliver(envelope.payload), !call.inboundPaused {
                call.inboundPaused = true
                channel.inboundStreamPaused()
            }
        case .request, .streamEnd, .cancel:
            channel.closeForViolation("a server sent \(envelope.kind) for call \(envelope.callID)")
        }
    }

    func channelClosed(_ channel: RPCChannel, error: TransportError?) {
        guard case .ready(let current, _) = state, current === channel else { return }
        let reason = error.map { "\($0)" } ?? "closed by the server"
        let lost = RPCError(.unavailable, "connection to \(target) lost: \(reason)")
        let calls = active
        active = [:]
        for call in calls.values { call.complete(.failure(lost), loop: loop) }
        if closing {
            finishClosing()
            return
        }
        logger.debug("connection lost", metadata: ["error": "\(reason)"])
        scheduleReconnect(after: lost)
    }

    // MARK: Closing

    func close(_ continuation: CheckedContinuation<Void, Never>?) {
        if let continuation { closeWaiters.append(continuation) }
        guard !closing else { return }
        closing = true
        failPending(RPCError(.unavailable, "the client is closed"))
        closeIfDrained()
    }

    private func closeIfDrained() {
        guard closing, active.isEmpty else { return }
        switch state {
        case .ready(let channel, _):
            state = .closed
            channel.connection.closeGracefully()
            finishClosing()
        case .handshaking, .connecting, .resolving:
            connectionFailed(RPCError(.unavailable, "the client is closed"))
        case .backingOff(let timer, _):
            loop.cancelTimer(timer)
            finishClosing()
        case .idle, .closed:
            finishClosing()
        }
    }

    private func finishClosing() {
        state = .closed
        if let connectTimer { loop.cancelTimer(connectTimer) }
        connectTimer = nil
        let waiters = closeWaiters
        closeWaiters = []
        for waiter in waiters { waiter.resume() }
    }
}

/// A non-blocking `connect(2)` in progress: waits for the socket to become writable, then reports
/// `SO_ERROR` (0 on success). Loop-confined.
final class PendingConnect: EpollHandler {
    let fd: Int32
    private var registration: UInt64 = 0
    private var onDone: ((Int32?) -> Void)?

    init(fd: Int32, onDone: @escaping (Int32?) -> Void) {
        self.fd = fd
        self.onDone = onDone
    }

    func register(on loop: EventLoop) throws(TransportError) {
        self.loop = loop
        do {
            registration = try loop.register(fd: fd, events: CWEFT_EPOLLOUT, handler: self)
        } catch {
            close(fd)
            throw error
        }
    }

    private var loop: EventLoop?

    func handleEvents(_ events: UInt32) {
        guard let loop, let onDone else { return }
        self.onDone = nil
        loop.unregister(fd: fd, registration: registration)
        let error = cweft_socket_error(fd)
        if error != 0 { close(fd) }
        onDone(error == 0 ? nil : error)
    }

    /// Gives up (timeout or close): the fd is closed and `onDone` is never called.
    func abandon(loop: EventLoop) {
        guard onDone != nil else { return }
        onDone = nil
        loop.unregister(fd: fd, registration: registration)
        close(fd)
    }
}
