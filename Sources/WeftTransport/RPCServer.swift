import CWeftSystem
import Glibc
import Logging
import WeftCore
import WeftWire

/// Configuration of an `RPCServer`.
public struct RPCServerConfiguration: Sendable {
    /// The cluster this server belongs to; a client naming another is refused (`UNAUTHENTICATED`).
    public var cluster: String
    public var role: NodeRole
    public var nodeID: String
    /// The shared secret clients must present; nil disables authentication (development only).
    public var authToken: [UInt8]?
    /// Frames above this are refused before allocation and the connection is closed. Default 4 MiB.
    public var maxFrameBytes = 4 * 1024 * 1024
    /// Calls in flight on one client or worker connection (like HTTP/2's max concurrent streams).
    /// At the limit the server stops reading that connection until a call ends, so a peer that
    /// pipelines requests without reading the replies costs at most this many handlers and replies.
    /// Default 128 (nginx's HTTP/2 default); the trade-off is memory per slow peer (limit × reply size) against how many
    /// calls one connection can keep busy (clients that need more open more connections).
    public var maxConcurrentCallsPerConnection = 128
    /// The same limit for peers that introduce themselves as coordinators or schedulers: one
    /// coordinator connection carries the calls of all its clients to a scheduler (long `WaitRun`s
    /// among them), so it needs more room. Default 4,096.
    public var maxConcurrentCallsPerClusterPeer = 4_096
    /// Open connections; a connection accepted beyond this is closed at once. Default 16,384.
    public var maxConnections = 16_384
    /// A frame whose first byte arrived must be complete within this, or the connection is closed
    /// (slowloris). Default 30 s: a 4 MiB frame then needs ≥ 140 KB/s. nil: no limit.
    public var frameTimeout: Duration? = .seconds(30)
    /// When `accept` fails for want of file descriptors (`EMFILE`), accepting pauses this long,
    /// doubling while it keeps failing, up to `maxAcceptBackoff`. Default 50 ms … 1 s.
    public var acceptBackoff: Duration = .milliseconds(50)
    public var maxAcceptBackoff: Duration = .seconds(1)
    /// Unsent bytes per connection above which the connection stops reading and stream writers
    /// wait; they resume below `writeLowWaterBytes`. Bounds memory per slow peer to about this much.
    public var writeHighWaterBytes = 1 << 20
    public var writeLowWaterBytes = 256 << 10
    /// Unread messages per inbound stream before the connection stops reading.
    public var inboundStreamCapacity = 64
    /// A connection that has not completed the handshake by then is closed.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Told of every call's end (metrics); nil: nobody is.
    public var observer: (any RPCServerObserver)?

    public init(cluster: String = "weft", role: NodeRole, nodeID: String, authToken: [UInt8]? = nil) {
        self.cluster = cluster
        self.role = role
        self.nodeID = nodeID
        self.authToken = authToken
    }
}

/// Hears how each call on an `RPCServer` ended, for metrics. Called on the event loop thread: it
/// must return quickly and never block.
public protocol RPCServerObserver: Sendable {
    /// `method` is the one the client named (also for `UNIMPLEMENTED`); `duration` runs from the
    /// request's arrival to the response (zero for calls refused on arrival). A call the client
    /// cancelled, or whose connection closed, ends `CANCELLED`.
    func callEnded(method: String, code: StatusCode, duration: Duration)
    /// Something happened to a connection or the listener that an operator should be able to
    /// count (a bound was hit, a peer misbehaved). Default: nothing.
    func serverEvent(_ event: RPCServerEvent)
}

extension RPCServerObserver {
    public func serverEvent(_ event: RPCServerEvent) {}
}

/// What `RPCServerObserver.serverEvent` reports: the bounds of ARCHITECTURE.md §3 at work.
public enum RPCServerEvent: String, Sendable, Hashable, CaseIterable {
    /// `accept` failed for want of file descriptors or memory; accepting pauses (backs off).
    case acceptFailed = "accept_failed"
    /// A connection was accepted and closed at once: the fd limit (reserve descriptor) or
    /// `maxConnections` was reached.
    case connectionShed = "connection_shed"
    /// A connection did not complete the handshake in time.
    case handshakeTimeout = "handshake_timeout"
    /// A peer began a frame and did not finish it in time.
    case frameTimeout = "frame_timeout"
    /// A peer broke the protocol (bad frame, oversized frame, wrong envelope).
    case protocolViolation = "protocol_violation"
    /// A connection reached its calls-in-flight limit; its reading paused.
    case callLimitReached = "call_limit_reached"
}

/// Serves an `RPCRouter`'s methods on a TCP listener (ARCHITECTURE.md §3): the `Hello` handshake,
/// many concurrent calls per connection, all four call shapes, deadlines, cancellation, bounded
/// buffers, graceful shutdown. Handlers run as tasks that prefer the event loop as their executor,
/// so a unary call never leaves the loop thread unless its handler awaits something elsewhere.
public final class RPCServer: Sendable {
    let core: ServerCore
    public let loop: EventLoop

    public init(router: RPCRouter, configuration: RPCServerConfiguration, loop: EventLoop = .shared, logger: Logger) {
        self.loop = loop
        self.core = ServerCore(router: router, configuration: configuration, loop: loop, logger: logger)
    }

    /// Binds and starts accepting. Port 0 picks a free port; the bound address is returned.
    @discardableResult
    public func start(listen endpoint: Endpoint) async throws -> SocketAddress {
        let addresses = try await SocketAddress.resolve(endpoint)
        let core = self.core
        return try await withCheckedThrowingContinuation { continuation in
            loop.run {
                continuation.resume(with: Result { () throws(TransportError) -> SocketAddress in
                    try core.startListening(on: addresses[0])
                })
            }
        }
    }

    /// Stops accepting, refuses new calls with `UNAVAILABLE`, ends streaming calls at once (they are
    /// long-lived by nature: a worker's stream would hold the shutdown for the whole grace period,
    /// and its peer reconnects elsewhere), waits up to `gracePeriod` for unary calls in flight,
    /// cancels the rest, then closes every connection.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        let core = self.core
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.run { core.shutdown(gracePeriod: gracePeriod, continuation) }
        }
    }

    /// A snapshot of counters, for tests and metrics.
    public func statistics() async -> RPCServerStatistics {
        let core = self.core
        return await withCheckedContinuation { continuation in
            loop.run { continuation.resume(returning: core.statistics()) }
        }
    }
}

public struct RPCServerStatistics: Sendable {
    public var openConnections: Int
    public var activeCalls: Int
    public var acceptedConnections: Int
    public var protocolViolations: Int
    /// The most unsent bytes any connection ever held.
    public var maxPendingWriteBytes: Int
    /// How often each `RPCServerEvent` happened.
    public var events: [RPCServerEvent: Int]
}

/// The loop-confined part of `RPCServer`.
///
/// Accepting under pressure: a listener that cannot accept (`EMFILE`: the process is out of file
/// descriptors) would be reported readable again at once, forever — a busy loop that serves
/// nobody. Instead the core keeps one descriptor in reserve: it closes it, accepts the waiting
/// connection and closes that at once (the client learns immediately instead of hanging in the
/// backlog), re-opens the reserve, and stops watching the listener for `acceptBackoff` (doubling
/// while the failures continue). One log line per `logInterval` says how many were shed.
final class ServerCore: EpollHandler, @unchecked Sendable {
    // @unchecked Sendable: every property is touched only on `loop` (or immutable).
    let router: RPCRouter
    let configuration: RPCServerConfiguration
    let loop: EventLoop
    let logger: Logger
    private var listenFD: Int32 = -1
    private var registration: UInt64 = 0
    private(set) var sessions: [ObjectIdentifier: ServerSession] = [:]
    private(set) var isShuttingDown = false
    private var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    private var acceptedConnections = 0
    var maxPendingWriteBytesOfClosed = 0
    private var events: [RPCServerEvent: Int] = [:]
    /// A descriptor kept open to be given up when `accept` fails with `EMFILE` (see above).
    private var reserveFD: Int32 = -1
    private var acceptPause: Duration?
    private var acceptTimer: UInt64?
    private var lastWarning: UInt64 = 0
    private var unreportedWarnings = 0
    private static let logInterval: UInt64 = 10_000_000_000

    init(router: RPCRouter, configuration: RPCServerConfiguration, loop: EventLoop, logger: Logger) {
        self.router = router
        self.configuration = configuration
        self.loop = loop
        self.logger = logger
    }

    func startListening(on address: SocketAddress) throws(TransportError) -> SocketAddress {
        precondition(listenFD < 0, "RPCServer.start called twice")
        let fd = try Socket.listen(on: address)
        do {
            registration = try loop.register(fd: fd, events: CWEFT_EPOLLIN, handler: self)
        } catch {
            close(fd)
            throw error
        }
        listenFD = fd
        reserveFD = Self.openReserve()
        let bound = Socket.localAddress(of: fd) ?? address
        logger.debug("listening", metadata: ["listen.address": "\(bound)"])
        return bound
    }

    private static func openReserve() -> Int32 { open("/dev/null", O_RDONLY | O_CLOEXEC) }

    func handleEvents(_ events: UInt32) {
        // Accept everything pending (bounded per wake-up so established connections get turns).
        for _ in 0..<256 {
            guard listenFD >= 0 else { return }
            let fd = cweft_accept4(listenFD, nil, nil, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
            if fd < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK { return }
                if code == EINTR || code == ECONNABORTED || code == EPROTO { continue }
                acceptFailed(code)
                return
            }
            acceptPause = nil
            acceptedConnections += 1
            guard sessions.count < configuration.maxConnections else {
                close(fd)
                record(.connectionShed)
                warnRateLimited("refusing connections: the connection limit is reached", ["limit": "\(configuration.maxConnections)"])
                continue
            }
            var connectionConfiguration = FramedConnection.Configuration(
                maxFrameBytes: configuration.maxFrameBytes, writeHighWaterBytes: configuration.writeHighWaterBytes,
                writeLowWaterBytes: configuration.writeLowWaterBytes)
            connectionConfiguration.frameTimeout = configuration.frameTimeout
            let connection = FramedConnection(loop: loop, fd: fd, configuration: connectionConfiguration)
            let session = ServerSession(core: self, channel: RPCChannel(connection: connection, logger: logger))
            do {
                try connection.start()
            } catch {
                logger.warning("cannot register accepted connection", metadata: ["error": "\(error)"])
                continue
            }
            sessions[ObjectIdentifier(session)] = session
            session.started()
        }
    }

    /// `accept` failed for a reason other than "nothing pending": out of descriptors or memory.
    private func acceptFailed(_ code: Int32) {
        record(.acceptFailed)
        if code == EMFILE || code == ENFILE, reserveFD >= 0 {
            // Give the reserve up to take the waiting connection and close it: the client hears
            // at once, and the backlog does not keep the listener readable.
            close(reserveFD)
            let fd = cweft_accept4(listenFD, nil, nil, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
            if fd >= 0 {
                close(fd)
                record(.connectionShed)
            }
            reserveFD = Self.openReserve()
        }
        warnRateLimited("accept failed; shedding connections and pausing accepts", ["error": "\(errnoDescription(code))"])
        let pause = acceptPause.map { min($0 * 2, configuration.maxAcceptBackoff) } ?? configuration.acceptBackoff
        acceptPause = pause
        loop.modify(fd: listenFD, registration: registration, events: 0)
        acceptTimer = loop.scheduleTimer(after: pause) { [weak self] in
            guard let self, self.listenFD >= 0 else { return }
            self.acceptTimer = nil
            self.loop.modify(fd: self.listenFD, registration: self.registration, events: CWEFT_EPOLLIN)
        }
    }

    /// At most one warning per `logInterval`, saying how many such events happened since.
    private func warnRateLimited(_ message: Logger.Message, _ metadata: Logger.Metadata) {
        unreportedWarnings += 1
        let now = cweft_monotonic_ns()
        guard lastWarning == 0 || now &- lastWarning >= Self.logInterval else { return }
        var metadata = metadata
        metadata["occurrences"] = "\(unreportedWarnings)"
        logger.warning(message, metadata: metadata)
        lastWarning = now
        unreportedWarnings = 0
    }

    func record(_ event: RPCServerEvent) {
        events[event, default: 0] += 1
        configuration.observer?.serverEvent(event)
    }

    func callLimitReached() { record(.callLimitReached) }

    /// A session's connection ended with `error`: counts what the peer did wrong.
    func connectionFailed(_ error: TransportError) {
        if error.code == .protocolViolation {
            record(.protocolViolation)
        } else if error.code == .frameTimeout {
            record(.frameTimeout)
        } else if error.code == .handshakeFailed {
            record(.handshakeTimeout)
        }
    }

    func sessionClosed(_ session: ServerSession) {
        sessions[ObjectIdentifier(session)] = nil
        maxPendingWriteBytesOfClosed = max(maxPendingWriteBytesOfClosed, session.channel.connection.maxPendingWriteBytes)
        checkShutdownProgress()
    }

    func statistics() -> RPCServerStatistics {
        RPCServerStatistics(
            openConnections: sessions.count,
            activeCalls: sessions.values.reduce(0) { $0 + $1.activeCalls },
            acceptedConnections: acceptedConnections,
            protocolViolations: events[.protocolViolation, default: 0],
            maxPendingWriteBytes: sessions.values.reduce(maxPendingWriteBytesOfClosed) {
                max($0, $1.channel.connection.maxPendingWriteBytes)
            },
            events: events)
    }

    // MARK: Shutdown

    func shutdown(gracePeriod: Duration, _ continuation: CheckedContinuation<Void, Never>) {
        shutdownWaiters.append(continuation)
        guard !isShuttingDown else { return }
        isShuttingDown = true
        if listenFD >= 0 {
            loop.unregister(fd: listenFD, registration: registration)
            close(listenFD)
            listenFD = -1
        }
        if let acceptTimer { loop.cancelTimer(acceptTimer) }
        if reserveFD >= 0 {
            close(reserveFD)
            reserveFD = -1
        }
        logger.debug("shutting down", metadata: ["calls.active": "\(statistics().activeCalls)"])
        for session in sessions.values { session.cancelAllCalls(streamingOnly: true) }
        loop.scheduleTimer(after: gracePeriod) { [self] in
            for session in sessions.values { session.cancelAllCalls() }
            for session in sessions.values { session.channel.connection.closeGracefully() }
        }
        checkShutdownProgress()
    }

    /// While shutting down: sessions with no calls left are closed; when none remain, waiters go.
    func checkShutdownProgress() {
        guard isShuttingDown else { return }
        for session in sessions.values where session.activeCalls == 0 {
            session.channel.connection.closeGracefully()
        }
        if sessions.isEmpty {
            let waiters = shutdownWaiters
            shutdownWaiters = []
            for waiter in waiters { waiter.resume() }
        }
    }
}
