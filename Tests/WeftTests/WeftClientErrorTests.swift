import Testing
import Weft
import WeftCore
#if canImport(Glibc)
import Glibc
#endif

@Suite("WeftClient errors a caller can act on")
struct WeftClientErrorTests {
    /// A loopback port nobody listens on (bound, then closed).
    private func deadPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        close(fd)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test("an unreachable coordinator is UNAVAILABLE (retryable) after connectionWait, not a 30 s DEADLINE_EXCEEDED")
    func unreachable_isUnavailable() async throws {
        var configuration = WeftClient.Configuration(address: try Endpoint(parsing: "127.0.0.1:\(try deadPort())"))
        configuration.connectionWait = .milliseconds(300)
        configuration.defaultTimeout = .seconds(30)
        let error = await #expect(throws: WeftError.self) {
            try await withWeftClient(configuration) { client in
                try await client.start(workflow: "w", input: JSONValue.null)
            }
        }
        #expect(error?.code == .unavailable && error?.isRetryable == true, "\(String(describing: error))")
        #expect(error?.message.contains("could not reach 127.0.0.1:") == true && error?.message.contains("within 300ms") == true, "\(String(describing: error))")
        // health() does not wait at all.
        let health = await #expect(throws: WeftError.self) {
            try await withWeftClient(configuration) { client in try await client.health() }
        }
        #expect(health?.code == .unavailable)
    }

    @Test("a closed client refuses calls with UNAVAILABLE; codes keep unknown names")
    func closed_client() async throws {
        let client = WeftClient(configuration: .init(address: try Endpoint(parsing: "127.0.0.1:\(try deadPort())")))
        await client.close()
        let error = await #expect(throws: WeftError.self) { try await client.workflows() }
        #expect(error?.code == .unavailable)
        let future = WeftError(WeftError.Code(rawValue: "SOMETHING_NEW"), "from a newer server")
        #expect(!future.isRetryable && future.description == "SOMETHING_NEW: from a newer server")
    }
}
