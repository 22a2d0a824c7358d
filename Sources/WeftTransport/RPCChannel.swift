import Logging
import WeftCore
import WeftWire

/// Receives decoded envelopes from an `RPCChannel` (the server or client session), on the loop.
protocol RPCChannelOwner: AnyObject {
    func channel(_ channel: RPCChannel, received envelope: Envelope)
    func channelClosed(_ channel: RPCChannel, error: TransportError?)
    /// The connection is writable again, after someone asked (`FramedConnection.notifyWhenWritable`).
    func channelBecameWritable(_ channel: RPCChannel)
}

extension RPCChannelOwner {
    func channelBecameWritable(_ channel: RPCChannel) {}
}

/// A framed connection that speaks envelopes, plus the flow-control bookkeeping shared by both
/// sides of a connection: writers waiting for the write buffer to drain, and the number of inbound
/// streams whose consumers are behind (while any is, the connection does not read).
/// Loop-confined.
final class RPCChannel: FramedConnectionDelegate {
    let connection: FramedConnection
    let logger: Logger
    weak var owner: (any RPCChannelOwner)?
    private var writableWaiters: [(RPCError?) -> Void] = []
    private var pausedInboundStreams = 0

    init(connection: FramedConnection, logger: Logger) {
        self.connection = connection
        var logger = logger
        logger[metadataKey: "peer.address"] = "\(connection.peerDescription)"
        self.logger = logger
        connection.delegate = self
    }

    var loop: EventLoop { connection.loop }
    var isOpen: Bool { connection.isOpen }

    func send(_ envelope: Envelope) {
        connection.send(envelope)
    }

    /// Calls `body(nil)` once the write buffer is below its high-water mark (at once if it is), or
    /// `body(error)` if the connection closes first.
    func whenWritable(_ body: @escaping (RPCError?) -> Void) {
        if !connection.isOpen {
            body(RPCError(.unavailable, "connection to \(connection.peerDescription) closed"))
        } else if connection.isWritable {
            body(nil)
        } else {
            writableWaiters.append(body)
            connection.notifyWhenWritable()
        }
    }

    func inboundStreamPaused() {
        pausedInboundStreams += 1
        if pausedInboundStreams == 1 { connection.pauseReading(.inbound) }
    }

    func inboundStreamResumed() {
        guard pausedInboundStreams > 0 else { return }
        pausedInboundStreams -= 1
        if pausedInboundStreams == 0 { connection.resumeReading(.inbound) }
    }

    /// Closes because the peer broke the protocol: one clear log line, then the socket goes.
    func closeForViolation(_ reason: String) {
        connection.closeNow(TransportError(.protocolViolation, reason))
    }

    // MARK: FramedConnectionDelegate

    func connection(_ connection: FramedConnection, didReceiveFrame body: UnsafeRawBufferPointer) {
        let envelope: Envelope
        do {
            envelope = try Envelope(serializedBytes: body)
        } catch {
            closeForViolation("undecodable envelope (\(body.count) bytes): \(error)")
            return
        }
        owner?.channel(self, received: envelope)
    }

    func connectionBecameWritable(_ connection: FramedConnection) {
        let waiters = writableWaiters
        writableWaiters = []
        for waiter in waiters {
            // A waiter that finds the buffer full again re-queues itself.
            if connection.isWritable { waiter(nil) } else { writableWaiters.append(waiter) }
        }
        if !writableWaiters.isEmpty { connection.notifyWhenWritable() }
        if connection.isOpen { owner?.channelBecameWritable(self) }
    }

    func connectionDidClose(_ connection: FramedConnection, error: TransportError?) {
        if let error, error.code == .protocolViolation {
            logger.warning("closing connection: protocol violation", metadata: ["reason": "\(error.detail)"])
        } else if let error, error.code == .frameTimeout {
            logger.warning("closing connection: a frame stopped arriving", metadata: ["reason": "\(error.detail)"])
        } else if let error {
            logger.debug("connection closed", metadata: ["error": "\(error)"])
        } else {
            logger.debug("connection closed")
        }
        let waiters = writableWaiters
        writableWaiters = []
        for waiter in waiters {
            waiter(RPCError(.unavailable, "connection to \(connection.peerDescription) closed"))
        }
        owner?.channelClosed(self, error: error)
    }
}
