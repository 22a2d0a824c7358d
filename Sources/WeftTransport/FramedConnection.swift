import CWeftSystem
import Glibc
import WeftWire

/// What a `FramedConnection` reports to its owner, on the loop thread.
protocol FramedConnectionDelegate: AnyObject {
    /// One complete frame body. The pointer is valid only during the call.
    func connection(_ connection: FramedConnection, didReceiveFrame body: UnsafeRawBufferPointer)
    /// The connection is writable again, as asked with `notifyWhenWritable()`.
    func connectionBecameWritable(_ connection: FramedConnection)
    /// The connection is closed; `error` is nil for an orderly close. Called exactly once.
    func connectionDidClose(_ connection: FramedConnection, error: TransportError?)
}

/// A TCP socket that speaks frames: reads are decoded with `FrameDecoder`, writes are appended to
/// a buffer and flushed once per loop iteration. Loop-confined: every method runs on `loop`.
///
/// Lifecycle: `open → closing (flush, then half-close and wait for the peer's EOF) → closed`, or
/// `open → closed` on error. `connectionDidClose` is called once, when `closed` is reached.
///
/// Backpressure (both directions bounded):
/// - Outbound: when unsent bytes exceed `writeHighWaterBytes`, the connection stops reading from the
///   peer (a peer that does not read its responses cannot make us buffer without bound) and
///   `isWritable` turns false so stream writers wait. Below `writeLowWaterBytes` both resume.
/// - Inbound: an owner whose consumer is slow calls `pauseReading(.inbound)`; TCP flow control then
///   pushes back on the peer.
/// EPOLLOUT is only registered after a write returned EAGAIN.
final class FramedConnection: EpollHandler, EventLoopFlushable {
    struct Configuration {
        var maxFrameBytes: Int
        var writeHighWaterBytes: Int
        var writeLowWaterBytes: Int
        /// Bytes read per readiness event before giving other connections a turn. Also bounds how
        /// far a peer that does not read can push us past `writeHighWaterBytes`: the requests of one
        /// event's reads are admitted before their responses show up in the write buffer.
        var maxReadBytesPerEvent = 256 << 10
        /// A frame whose first byte arrived must be complete within this (nil: no limit), or the
        /// connection is closed: a peer cannot hold a connection (and its buffer) open by sending
        /// a frame slowly or never finishing it. The clock stops while we paused reading ourselves.
        var frameTimeout: Duration? = nil
    }

    struct PauseReasons: OptionSet {
        let rawValue: UInt8
        static let writeBackpressure = PauseReasons(rawValue: 1)
        static let inbound = PauseReasons(rawValue: 2)
        static let closing = PauseReasons(rawValue: 4)
        /// The server session has as many calls in flight as the connection may have.
        static let callLimit = PauseReasons(rawValue: 8)
    }

    private enum State {
        case open
        case closing
        case draining
        case closed
    }

    let loop: EventLoop
    let fd: Int32
    let peerDescription: String
    private let configuration: Configuration
    private var registration: UInt64 = 0
    private var state = State.open
    private var decoder: FrameDecoder
    private var writeBuffer: [UInt8] = []
    private var writeOffset = 0
    private var flushRequested = false
    private var waitingForWritable = false
    private var pauseReasons: PauseReasons = []
    private var registeredEvents: UInt32 = 0
    private var drainTimer: UInt64?
    /// Someone waits for `connectionBecameWritable` (see `notifyWhenWritable`).
    private var writableWanted = false
    /// When the frame now partly buffered began (monotonic ns), and the timer that checks it.
    private var partialFrameSince: UInt64?
    private var frameTimer: UInt64?
    weak var delegate: (any FramedConnectionDelegate)?

    /// The most unsent bytes this connection ever held (for tests of bounded memory).
    private(set) var maxPendingWriteBytes = 0

    init(loop: EventLoop, fd: Int32, configuration: Configuration) {
        self.loop = loop
        self.fd = fd
        self.configuration = configuration
        self.decoder = FrameDecoder(configuration: .init(maxFrameBytes: configuration.maxFrameBytes))
        self.peerDescription = Socket.peerAddress(of: fd)?.description ?? "fd \(fd)"
    }

    /// Registers with the loop and starts reading. On failure the fd is closed.
    func start() throws(TransportError) {
        _ = cweft_set_nodelay(fd)
        registeredEvents = CWEFT_EPOLLIN
        do {
            registration = try loop.register(fd: fd, events: registeredEvents, handler: self)
        } catch {
            close(fd)
            state = .closed
            throw error
        }
    }

    var isOpen: Bool { state == .open }
    var pendingWriteBytes: Int { writeBuffer.count - writeOffset }
    var isWritable: Bool { state == .open && pendingWriteBytes < configuration.writeHighWaterBytes }

    /// Asks for one `connectionBecameWritable` once the connection is writable again (below the
    /// high-water mark and, after backpressure set in, back down to the low-water mark). Whoever
    /// found `isWritable` false calls this; the next write attempt checks it, so no wake-up is
    /// lost — also not when the buffer drained below the mark without ever passing above it.
    func notifyWhenWritable() {
        writableWanted = true
        if pendingWriteBytes == 0 && !flushRequested && !waitingForWritable && state == .open {
            flushRequested = true
            loop.requestFlush(self)  // nothing to write: the flush only delivers the notification
        }
    }

    // MARK: Writing

    /// Appends one envelope as a frame; it leaves with the next flush.
    func send(_ envelope: Envelope) {
        guard state == .open else { return }
        envelope.appendFrame(to: &writeBuffer)
        afterAppend()
    }

    private func afterAppend() {
        let pending = pendingWriteBytes
        if pending > maxPendingWriteBytes { maxPendingWriteBytes = pending }
        if !flushRequested && !waitingForWritable {
            flushRequested = true
            loop.requestFlush(self)
        }
    }

    func flushNow() {
        flushRequested = false
        writePending()
    }

    private func writePending() {
        guard state == .open || state == .closing else { return }
        while writeOffset < writeBuffer.count {
            let n = writeBuffer.withUnsafeBytes { raw in
                // send(MSG_NOSIGNAL): a peer that reset must be an EPIPE error here, not a SIGPIPE
                // that kills the process.
                Glibc.send(fd, raw.baseAddress! + writeOffset, raw.count - writeOffset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                writeOffset += n
                continue
            }
            let code = errno
            if n < 0 && code == EINTR { continue }
            if n < 0 && (code == EAGAIN || code == EWOULDBLOCK) {
                waitingForWritable = true
                break
            }
            closeNow(TransportError(.ioError, "write to \(peerDescription) failed: \(errnoDescription(code))"))
            return
        }
        if writeOffset == writeBuffer.count {
            writeBuffer.removeAll(keepingCapacity: writeBuffer.capacity <= 1 << 20)
            writeOffset = 0
            waitingForWritable = false
        } else if writeOffset >= 1 << 16 && writeOffset >= writeBuffer.count / 2 {
            writeBuffer.removeSubrange(0..<writeOffset)
            writeOffset = 0
        }
        let pending = pendingWriteBytes
        if pending > configuration.writeHighWaterBytes {
            pauseReasons.insert(.writeBackpressure)
        } else if pending <= configuration.writeLowWaterBytes && pauseReasons.contains(.writeBackpressure) {
            pauseReasons.remove(.writeBackpressure)
        }
        if writableWanted && isWritable && !pauseReasons.contains(.writeBackpressure) {
            writableWanted = false
            updateInterest()
            delegate?.connectionBecameWritable(self)
            guard state == .open || state == .closing else { return }
        }
        if state == .closing && pendingWriteBytes == 0 {
            beginDraining()
            return
        }
        updateInterest()
    }

    // MARK: Reading

    func pauseReading(_ reason: PauseReasons) {
        guard !pauseReasons.contains(reason) else { return }
        pauseReasons.insert(reason)
        updateInterest()
    }

    func resumeReading(_ reason: PauseReasons) {
        guard pauseReasons.contains(reason) else { return }
        pauseReasons.remove(reason)
        // The peer could not send while we did not read: its frame gets a fresh budget.
        if pauseReasons.isEmpty, partialFrameSince != nil { partialFrameSince = cweft_monotonic_ns() }
        updateInterest()
    }

    func handleEvents(_ events: UInt32) {
        if events & CWEFT_EPOLLOUT != 0 {
            writePending()
        }
        guard state != .closed else { return }
        if events & (CWEFT_EPOLLIN | CWEFT_EPOLLHUP | CWEFT_EPOLLERR) != 0 {
            if state == .draining {
                discardUntilEOF()
            } else if pauseReasons.isEmpty || events & CWEFT_EPOLLIN == 0 {
                readFrames()
            } else if events & (CWEFT_EPOLLHUP | CWEFT_EPOLLERR) != 0 {
                // Paused, but the peer is gone for good: nothing more can be exchanged.
                closeNow(TransportError(.connectionClosed, "\(peerDescription) hung up"))
            }
        }
    }

    private func readFrames() {
        let buffer = loop.readBuffer
        var total = 0
        while state == .open && pauseReasons.isEmpty && total < configuration.maxReadBytesPerEvent
            && pendingWriteBytes <= configuration.writeHighWaterBytes
        {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                total += n
                decoder.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                var completed = false
                do {
                    try decoder.decodeFrames { body in
                        completed = true
                        guard state == .open else { return }
                        delegate?.connection(self, didReceiveFrame: body)
                    }
                } catch {
                    closeNow(TransportError(.protocolViolation, "\(peerDescription) sent a bad frame: \(error)"))
                    return
                }
                trackPartialFrame(completedFrames: completed)
                if n < buffer.count { break }
                continue
            }
            if n == 0 {
                closeNow(decoder.bufferedBytes > 0
                    ? TransportError(.connectionClosed, "\(peerDescription) closed the connection in the middle of a frame")
                    : nil)
                return
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { break }
            closeNow(TransportError(.ioError, "read from \(peerDescription) failed: \(errnoDescription(code))"))
            return
        }
    }

    // MARK: Frame timeout

    /// After a read: starts the clock for a frame that is now partly buffered (a new one if a
    /// frame completed), and stops it when nothing is buffered.
    private func trackPartialFrame(completedFrames: Bool) {
        guard let timeout = configuration.frameTimeout, state == .open else { return }
        guard decoder.bufferedBytes > 0 else {
            partialFrameSince = nil
            return
        }
        if partialFrameSince == nil || completedFrames { partialFrameSince = cweft_monotonic_ns() }
        if frameTimer == nil { armFrameTimer(after: timeout) }
    }

    private func armFrameTimer(after delay: Duration) {
        frameTimer = loop.scheduleTimer(after: delay) { [weak self] in self?.frameTimerFired() }
    }

    private func frameTimerFired() {
        frameTimer = nil
        guard state == .open, let timeout = configuration.frameTimeout, let since = partialFrameSince else { return }
        let now = cweft_monotonic_ns()
        if !pauseReasons.isEmpty {
            // We are not reading: the peer cannot be blamed. Look again later.
            armFrameTimer(after: timeout)
            return
        }
        let elapsed = Duration.nanoseconds(Int64(clamping: now &- since))
        guard elapsed >= timeout else {
            armFrameTimer(after: timeout - elapsed)
            return
        }
        closeNow(TransportError(
            .frameTimeout,
            "\(peerDescription) began a frame and did not finish it within \(timeout) (\(decoder.bufferedBytes) bytes buffered)"))
    }

    // MARK: Closing

    /// Sends what is buffered, half-closes, waits (bounded) for the peer to close, then closes.
    /// Nothing more is read or delivered.
    func closeGracefully(timeout: Duration = .seconds(2)) {
        guard state == .open else { return }
        state = .closing
        pauseReasons.insert(.closing)
        if pendingWriteBytes == 0 {
            beginDraining()
        } else {
            updateInterest()
            drainTimer = loop.scheduleTimer(after: timeout) { [weak self] in
                self?.closeNow(TransportError(.connectionClosed, "graceful close timed out"))
            }
        }
    }

    private func beginDraining() {
        state = .draining
        shutdown(fd, Int32(SHUT_WR))
        pauseReasons.remove(.closing)
        pauseReasons.remove(.writeBackpressure)
        pauseReasons.remove(.inbound)
        updateInterest()
        if drainTimer == nil {
            drainTimer = loop.scheduleTimer(after: .seconds(2)) { [weak self] in self?.closeNow(nil) }
        }
    }

    private func discardUntilEOF() {
        let buffer = loop.readBuffer
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n > 0 { continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            closeNow(nil)
            return
        }
    }

    /// Closes at once; unsent bytes are dropped.
    func closeNow(_ error: TransportError?) {
        guard state != .closed else { return }
        state = .closed
        if let drainTimer { loop.cancelTimer(drainTimer) }
        if let frameTimer { loop.cancelTimer(frameTimer) }
        loop.unregister(fd: fd, registration: registration)
        close(fd)
        writeBuffer = []
        writeOffset = 0
        let delegate = self.delegate
        self.delegate = nil
        delegate?.connectionDidClose(self, error: error)
    }

    private func updateInterest() {
        guard state != .closed else { return }
        var events: UInt32 = 0
        if pauseReasons.isEmpty || state == .draining { events |= CWEFT_EPOLLIN }
        if waitingForWritable { events |= CWEFT_EPOLLOUT }
        if events != registeredEvents {
            registeredEvents = events
            loop.modify(fd: fd, registration: registration, events: events)
        }
    }
}
