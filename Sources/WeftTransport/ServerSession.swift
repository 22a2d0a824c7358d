import DequeModule
import Logging
import WeftCore
import WeftWire

/// One accepted connection on the server side. Loop-confined.
///
/// States: `awaitingHello → ready → closed`, or `awaitingHello → rejected → closed` (an error
/// response to the handshake, then a graceful close). In `ready`, envelopes are routed by call id:
/// `REQUEST` starts a call, `STREAM_MESSAGE`/`STREAM_END` feed its inbound stream, `CANCEL` cancels
/// its handler. Anything else (a second `REQUEST` for a live id, a `RESPONSE` from a client, an
/// undecodable frame) is a protocol violation and closes this connection only.
///
/// Calls in flight are bounded per connection (like HTTP/2's max concurrent streams): at the limit
/// the session stops reading, and envelopes already decoded wait in `held`, in order, until a call
/// ends. A peer that pipelines requests without reading replies therefore costs at most `callLimit`
/// handlers and their replies, plus one read's worth of held frames, whatever it sends.
final class ServerSession: RPCChannelOwner {
    private enum State {
        case awaitingHello(timer: UInt64)
        case ready(PeerIdentity)
        case rejected
        case closed
    }

    /// Strong: the core ↔ session cycle ends when the session leaves `core.sessions` on close.
    let core: ServerCore
    let channel: RPCChannel
    private var state: State = .rejected
    private var calls: [UInt64: ServerCall] = [:]
    /// Envelopes decoded while the call limit was reached, in arrival order (reading is paused
    /// while any wait, so this holds at most what one read delivered).
    private var held = Deque<Envelope>()
    /// Calls in flight allowed on this connection, set by the handshake from the peer's role.
    private var callLimit = 0
    private var releasing = false

    init(core: ServerCore, channel: RPCChannel) {
        self.core = core
        self.channel = channel
        channel.owner = self
    }

    var activeCalls: Int { calls.count }
    var loop: EventLoop { core.loop }
    var logger: Logger { channel.logger }

    func started() {
        let timer = loop.scheduleTimer(after: core.configuration.handshakeTimeout) { [weak self] in
            guard let self, case .awaitingHello = self.state else { return }
            self.channel.logger.warning("closing connection: no handshake in time")
            self.channel.connection.closeNow(TransportError(.handshakeFailed, "no Hello within the handshake timeout"))
        }
        state = .awaitingHello(timer: timer)
    }

    // MARK: RPCChannelOwner

    func channel(_ channel: RPCChannel, received envelope: Envelope) {
        switch state {
        case .awaitingHello(let timer):
            loop.cancelTimer(timer)
            handshake(envelope)
        case .ready(let peer):
            route(envelope, peer: peer)
        case .rejected, .closed:
            return
        }
    }

    func channelClosed(_ channel: RPCChannel, error: TransportError?) {
        if case .awaitingHello(let timer) = state { loop.cancelTimer(timer) }
        state = .closed
        held.removeAll()
        if let error { core.connectionFailed(error) }
        // The caller is gone: every handler still running is cancelled.
        let open = calls
        calls = [:]
        for call in open.values {
            call.abort(RPCError(.cancelled, "connection closed"))
            observe(call, .cancelled)
        }
        core.sessionClosed(self)
    }

    // MARK: Handshake

    private func handshake(_ envelope: Envelope) {
        guard envelope.kind == .request, envelope.callID == 0, envelope.method == ProtocolMethods.hello else {
            reject(.failedPrecondition, "expected the Hello handshake as the first frame, got \(envelope.kind) \(MessageText.quoted(envelope.method))")
            return
        }
        let hello: Hello
        do {
            hello = try Hello(serializedBytes: envelope.payload)
        } catch {
            reject(.failedPrecondition, "malformed Hello: \(error)")
            return
        }
        let ours = ProtocolMethods.supportedVersions
        guard ours.overlaps(hello.protocolVersions) else {
            reject(
                .failedPrecondition,
                "no common protocol version: server speaks \(ours.lowerBound)...\(ours.upperBound), client \(hello.protocolVersions.lowerBound)...\(hello.protocolVersions.upperBound)")
            return
        }
        let configuration = core.configuration
        guard hello.cluster == configuration.cluster else {
            reject(.unauthenticated, "cluster mismatch: this server belongs to cluster '\(configuration.cluster)', the client to \(MessageText.quoted(hello.cluster))")
            return
        }
        if let token = configuration.authToken, !ConstantTime.equals(token, hello.authToken) {
            reject(.unauthenticated, "invalid auth token")
            return
        }
        let version = min(ours.upperBound, hello.protocolVersions.upperBound)
        let ack = HelloAck(protocolVersion: version, cluster: configuration.cluster, role: configuration.role, nodeID: configuration.nodeID)
        channel.send(Envelope(callID: 0, kind: .response, payload: ack.serializedBytes()))
        let peer = PeerIdentity(role: hello.role, nodeID: hello.nodeID, address: channel.connection.peerDescription)
        callLimit = hello.role == .coordinator || hello.role == .scheduler
            ? configuration.maxConcurrentCallsPerClusterPeer : configuration.maxConcurrentCallsPerConnection
        state = .ready(peer)
        logger.debug("handshake complete", metadata: ["peer.role": "\(hello.role)", "peer.node.id": "\(hello.nodeID)"])
    }

    private func reject(_ code: StatusCode, _ message: String) {
        logger.warning("refusing connection", metadata: ["status": "\(code)", "reason": "\(message)"])
        state = .rejected
        channel.send(Envelope(callID: 0, kind: .response, status: code, statusMessage: message))
        channel.connection.closeGracefully()
    }

    // MARK: Calls

    private func route(_ envelope: Envelope, peer: PeerIdentity) {
        if !held.isEmpty || (envelope.kind == .request && !canStartCall) {
            hold(envelope)
            return
        }
        dispatch(envelope, peer: peer)
    }

    private func dispatch(_ envelope: Envelope, peer: PeerIdentity) {
        switch envelope.kind {
        case .request:
            startCall(envelope, peer: peer)
        case .streamMessage:
            // A message for a call that already ended (cancelled, deadline) is dropped.
            calls[envelope.callID]?.receivedMessage(envelope.payload)
        case .streamEnd:
            calls[envelope.callID]?.receivedEnd()
        case .cancel:
            if let call = calls.removeValue(forKey: envelope.callID) {
                call.abort(RPCError(.cancelled, "cancelled by the client"))
                observe(call, .cancelled)
                core.checkShutdownProgress()
                releaseHeld()
            }
        case .response:
            channel.closeForViolation("a client sent a RESPONSE (call \(envelope.callID))")
        }
    }

    private func startCall(_ envelope: Envelope, peer: PeerIdentity) {
        let id = envelope.callID
        guard id != 0, calls[id] == nil else {
            channel.closeForViolation("REQUEST reuses call id \(id), which is \(id == 0 ? "reserved" : "still active")")
            return
        }
        if core.isShuttingDown {
            respond(id, method: envelope.method, status: .unavailable, message: "server is shutting down")
            return
        }
        guard let handler = core.router.handler(for: envelope.method) else {
            respond(id, method: envelope.method, status: .unimplemented, message: "unknown method \(MessageText.quoted(envelope.method))")
            return
        }
        let deadline: ContinuousClock.Instant? =
            envelope.deadlineMilliseconds > 0 ? ContinuousClock.now + .milliseconds(envelope.deadlineMilliseconds) : nil
        let context = ServerContext(method: envelope.method, metadata: envelope.metadata, deadline: deadline, peer: peer)
        let call = ServerCall(id: id, method: envelope.method, session: self)
        calls[id] = call
        if envelope.deadlineMilliseconds > 0 {
            call.deadlineTimer = loop.scheduleTimer(after: .milliseconds(envelope.deadlineMilliseconds)) { [weak self, weak call] in
                guard let self, let call, self.calls[id] === call else { return }
                self.finish(call, .failure(RPCError(.deadlineExceeded, "deadline of \(envelope.deadlineMilliseconds) ms exceeded on the server")))
                call.cancelHandler()
            }
        }
        call.start(handler: handler, request: envelope.payload, context: context)
    }

    // MARK: The call limit

    /// Whether a new call may start now: fewer calls in flight than the limit, and the replies
    /// already queued below the write high-water mark (a peer that does not read its replies gets
    /// no new handlers to produce more).
    private var canStartCall: Bool { calls.count < callLimit && channel.connection.isWritable }

    func channelBecameWritable(_ channel: RPCChannel) { releaseHeld() }

    /// Keeps `envelope` for later: the call limit is reached, replies wait to be sent, or earlier
    /// envelopes wait.
    private func hold(_ envelope: Envelope) {
        held.append(envelope)
        if !channel.connection.isWritable { channel.connection.notifyWhenWritable() }
        if held.count == 1 {
            channel.connection.pauseReading(.callLimit)
            core.callLimitReached()
        }
    }

    /// A call ended: routes held envelopes until the limit is reached again or none is left.
    private func releaseHeld() {
        guard !releasing, !held.isEmpty, case .ready(let peer) = state else { return }
        releasing = true
        defer { releasing = false }
        while let next = held.first {
            if next.kind == .request && !canStartCall {
                if !channel.connection.isWritable { channel.connection.notifyWhenWritable() }
                return
            }
            held.removeFirst()
            dispatch(next, peer: peer)
            guard case .ready = state else { return }  // a held frame broke the protocol
        }
        channel.connection.resumeReading(.callLimit)
    }

    /// Sends the call's final RESPONSE (once) and forgets it.
    func finish(_ call: ServerCall, _ result: Result<[UInt8], RPCError>) {
        guard calls[call.id] === call else { return }
        calls[call.id] = nil
        call.ended()
        defer { releaseHeld() }
        switch result {
        case .success(let payload):
            channel.send(Envelope(callID: call.id, kind: .response, payload: payload))
            observe(call, .ok)
        case .failure(let error):
            channel.send(Envelope(
                callID: call.id, kind: .response, status: error.code, statusMessage: MessageText.statusMessage(error.message),
                metadata: error.metadata))
            observe(call, error.code)
        }
        core.checkShutdownProgress()
    }

    /// Ends every call (or only the streaming ones) with `UNAVAILABLE` and cancels its handler.
    func cancelAllCalls(streamingOnly: Bool = false) {
        let open = calls
        for call in open.values where !streamingOnly || call.isStreaming {
            finish(call, .failure(RPCError(.unavailable, "server shut down before the call finished")))
            call.cancelHandler()
        }
    }

    private func observe(_ call: ServerCall, _ code: StatusCode) {
        core.configuration.observer?.callEnded(method: call.method, code: code, duration: ContinuousClock.now - call.arrived)
    }

    private func respond(_ id: UInt64, method: String, status: StatusCode, message: String) {
        core.configuration.observer?.callEnded(method: method, code: status, duration: .zero)
        channel.send(Envelope(callID: id, kind: .response, status: status, statusMessage: MessageText.statusMessage(message)))
    }
}
