import CWeftSystem
import Dispatch
import Glibc
import WeftCore

/// An IPv4 or IPv6 socket address (a `sockaddr_storage` and its length).
public struct SocketAddress: Sendable, CustomStringConvertible {
    var storage: sockaddr_storage
    var length: socklen_t

    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    var family: Int32 { Int32(storage.ss_family) }

    /// A numeric IPv4 or IPv6 address, or nil when `host` is a name that needs resolving.
    public init?(numericHost host: String, port: UInt16) {
        var storage = sockaddr_storage()
        if host.contains(":") {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &addr.sin6_addr) == 1 else { return nil }
            withUnsafeBytes(of: addr) { src in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) }
            }
            self.init(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return nil }
            withUnsafeBytes(of: addr) { src in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) }
            }
            self.init(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }

    public var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                return UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
            }
            return UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
    }

    public var host: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                var addr = raw.load(as: sockaddr_in6.self).sin6_addr
                inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
            } else {
                var addr = raw.load(as: sockaddr_in.self).sin_addr
                inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
            }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public var endpoint: Endpoint { Endpoint(host: host, port: port) }
    public var description: String { endpoint.description }

    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    /// Resolves `endpoint`. Numeric hosts are parsed in place; names go through `getaddrinfo` on a
    /// dispatch thread, never on the event loop or the cooperative pool (it blocks).
    public static func resolve(_ endpoint: Endpoint) async throws(TransportError) -> [SocketAddress] {
        if let numeric = SocketAddress(numericHost: endpoint.host, port: endpoint.port) { return [numeric] }
        let result: Result<[SocketAddress], TransportError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: getaddrinfoBlocking(endpoint))
            }
        }
        return try result.get()
    }

    /// Callback form of `resolve`: `completion` runs on a dispatch thread (or inline for numeric hosts).
    public static func resolve(_ endpoint: Endpoint, completion: @escaping @Sendable (Result<[SocketAddress], TransportError>) -> Void) {
        if let numeric = SocketAddress(numericHost: endpoint.host, port: endpoint.port) {
            completion(.success([numeric]))
            return
        }
        DispatchQueue.global().async { completion(getaddrinfoBlocking(endpoint)) }
    }

    private static func getaddrinfoBlocking(_ endpoint: Endpoint) -> Result<[SocketAddress], TransportError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard rc == 0, let first = list else {
            let reason = rc == 0 ? "no addresses" : String(cString: gai_strerror(rc))
            return .failure(TransportError(.addressResolution, "cannot resolve '\(endpoint.host)': \(reason)"))
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let addr = info.pointee.ai_addr, info.pointee.ai_family == AF_INET || info.pointee.ai_family == AF_INET6 {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: Int(info.pointee.ai_addrlen)))
                }
                addresses.append(SocketAddress(storage: storage, length: info.pointee.ai_addrlen))
            }
            cursor = info.pointee.ai_next
        }
        // Prefer IPv4 first: loopback names resolve to both and most of our listeners bind IPv4.
        addresses.sort { $0.family == AF_INET && $1.family != AF_INET }
        return addresses.isEmpty
            ? .failure(TransportError(.addressResolution, "cannot resolve '\(endpoint.host)': no addresses"))
            : .success(addresses)
    }
}

/// Thin, throwing wrappers over the socket system calls the transport uses.
enum Socket {
    static func listen(on address: SocketAddress, backlog: Int32 = 1024) throws(TransportError) -> Int32 {
        let fd = cweft_socket_tcp(address.family)
        guard fd >= 0 else { throw TransportError(.ioError, "socket() failed: \(errnoDescription())") }
        _ = cweft_set_reuseaddr(fd)
        let bound = address.withSockAddr { bind(fd, $0, $1) }
        guard bound == 0 else {
            let error = errnoDescription()
            close(fd)
            throw TransportError(.ioError, "cannot listen on \(address): bind failed: \(error)")
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let error = errnoDescription()
            close(fd)
            throw TransportError(.ioError, "cannot listen on \(address): \(error)")
        }
        return fd
    }

    /// Starts a non-blocking connect. Returns the fd and whether the connect is still in progress.
    static func startConnect(to address: SocketAddress) throws(TransportError) -> (fd: Int32, inProgress: Bool) {
        let fd = cweft_socket_tcp(address.family)
        guard fd >= 0 else { throw TransportError(.ioError, "socket() failed: \(errnoDescription())") }
        _ = cweft_set_nodelay(fd)
        let rc = address.withSockAddr { connect(fd, $0, $1) }
        if rc == 0 { return (fd, false) }
        let code = errno
        if code == EINPROGRESS { return (fd, true) }
        close(fd)
        throw connectError(code, address)
    }

    static func connectError(_ code: Int32, _ address: SocketAddress) -> TransportError {
        if code == ECONNREFUSED {
            return TransportError(.connectionRefused, "connection to \(address) refused (is a server listening there?)")
        }
        return TransportError(.ioError, "cannot connect to \(address): \(errnoDescription(code))")
    }

    static func localAddress(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutableBytes(of: &storage) { raw in
            getsockname(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        return rc == 0 ? SocketAddress(storage: storage, length: length) : nil
    }

    static func peerAddress(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutableBytes(of: &storage) { raw in
            getpeername(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        return rc == 0 ? SocketAddress(storage: storage, length: length) : nil
    }
}
