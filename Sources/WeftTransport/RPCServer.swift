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
    /// Calls in flight on one connection; more are refused with `RESOURCE_EXHAUSTED`.
    public var maxConcurrentCallsPerConnection = 10_000
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

    /// Stops accepting, refuses new calls with `UNAVAILABLE`, waits up to `gracePeriod` for calls in
    /// flight, cancels the rest, then closes every connection.
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
}

/// The loop-confined part of `RPCServer`.
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
    var protocolViolations = 0
    var maxPendingWriteBytesOfClosed = 0

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
        let bound = Socket.localAddress(of: fd) ?? address
        logger.debug("listening", metadata: ["listen.address": "\(bound)"])
        return bound
    }

    func handleEvents(_ events: UInt32) {
        // Accept everything pending (bounded per wake-up so established connections get turns).
        for _ in 0..<256 {
            let fd = cweft_accept4(listenFD, nil, nil, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
            if fd < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK { return }
                if code == EINTR || code == ECONNABORTED { continue }
                // EMFILE and friends: log and let the next readiness event retry.
                logger.warning("accept failed", metadata: ["error": "\(errnoDescription(code))"])
                return
            }
            acceptedConnections += 1
            let connection = FramedConnection(
                loop: loop, fd: fd,
                configuration: .init(
                    maxFrameBytes: configuration.maxFrameBytes, writeHighWaterBytes: configuration.writeHighWaterBytes,
                    writeLowWaterBytes: configuration.writeLowWaterBytes))
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
            protocolViolations: protocolViolations,
            maxPendingWriteBytes: sessions.values.reduce(maxPendingWriteBytesOfClosed) {
                max($0, $1.channel.connection.maxPendingWriteBytes)
            })
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
        logger.debug("shutting down", metadata: ["calls.active": "\(statistics().activeCalls)"])
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
