import CWeftSystem
import Glibc
import WeftCore

/// A non-blocking UDP socket on an `EventLoop` (the SWIM gossip transport): datagrams in through a
/// handler, out with `send`. Loop-confined: create, send and close on the loop thread.
///
/// What a peer may cost is bounded: each wake-up reads at most `maxDatagramsPerWakeup` datagrams
/// (the loop serves everything else between bursts), each into one reused 64 KiB buffer, and a
/// send that would block is dropped and counted (UDP may lose packets; SWIM is built for it).
public final class UDPSocket: EpollHandler {
    public typealias Handler = (_ bytes: UnsafeRawBufferPointer, _ from: SocketAddress) -> Void

    public let loop: EventLoop
    /// Where it is bound (port 0 resolved).
    public let localAddress: SocketAddress
    private let fd: Int32
    private var registration: UInt64 = 0
    private let handler: Handler
    private var buffer = [UInt8](repeating: 0, count: 65_536)
    private var isClosed = false
    static let maxDatagramsPerWakeup = 64

    /// Datagrams that were dropped because the socket's send buffer was full, or sending failed.
    public private(set) var sendFailures = 0

    /// Binds to `address` (port 0: any free port) and starts delivering datagrams to `handler`.
    public init(bindingTo address: SocketAddress, on loop: EventLoop, handler: @escaping Handler) throws(TransportError) {
        loop.assertInEventLoop()
        let fd = cweft_socket_udp(address.family)
        guard fd >= 0 else { throw TransportError(.ioError, "socket(SOCK_DGRAM) failed: \(errnoDescription())") }
        let bound = address.withSockAddr { bind(fd, $0, $1) }
        guard bound == 0 else {
            let error = errnoDescription()
            Glibc.close(fd)
            throw TransportError(.ioError, "cannot bind UDP \(address): \(error)")
        }
        guard let local = Socket.localAddress(of: fd) else {
            Glibc.close(fd)
            throw TransportError(.ioError, "getsockname failed for UDP \(address)")
        }
        self.fd = fd
        self.loop = loop
        self.localAddress = local
        self.handler = handler
        do {
            registration = try loop.register(fd: fd, events: UInt32(EPOLLIN.rawValue), handler: self)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Sends one datagram; false when it was dropped (full buffer, unreachable, too large).
    @discardableResult
    public func send(_ bytes: [UInt8], to address: SocketAddress) -> Bool {
        loop.assertInEventLoop()
        guard !isClosed else { return false }
        let sent = bytes.withUnsafeBytes { raw in
            address.withSockAddr { sendto(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, $1) }
        }
        if sent != bytes.count {
            sendFailures += 1
            return false
        }
        return true
    }

    public func close() {
        loop.assertInEventLoop()
        guard !isClosed else { return }
        isClosed = true
        loop.unregister(fd: fd, registration: registration)
        Glibc.close(fd)
    }

    func handleEvents(_ events: UInt32) {
        for _ in 0..<Self.maxDatagramsPerWakeup {
            guard !isClosed else { return }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutableBytes(of: &storage) { address in
                    recvfrom(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), address.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
                }
            }
            guard count >= 0 else { return }  // EAGAIN: drained (errors of earlier sends also land here)
            let from = SocketAddress(storage: storage, length: length)
            buffer.withUnsafeBytes { handler(UnsafeRawBufferPointer(rebasing: $0.prefix(count)), from) }
        }
    }
}
