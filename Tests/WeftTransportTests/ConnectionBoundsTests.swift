import Glibc
import Testing
import WeftCore
import WeftTransport
import WeftWire
import _WeftTestKit

/// What one connection may cost a server (ARCHITECTURE.md §3 "What a peer may cost is bounded by
/// configuration"): calls in flight, replies queued, time to finish a frame.
@Suite("Connection bounds")
struct ConnectionBoundsTests {
    /// A raw socket that has completed the handshake as `role`.
    static func handshaken(_ server: TestServer, role: NodeRole = .client) throws -> RawSocket {
        let raw = try RawSocket(server.address)
        var hello: [UInt8] = []
        Envelope(
            callID: 0, kind: .request, method: "weft.wire.v1/Hello",
            payload: Hello(protocolVersions: 1...1, cluster: "test", role: role, nodeID: "raw", authToken: TestServer.token).serializedBytes()
        ).appendFrame(to: &hello)
        raw.write(hello)
        return raw
    }

    static func request(_ id: Int, _ method: String, _ payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = []
        Envelope(callID: UInt64(id), kind: .request, method: method, payload: payload).appendFrame(to: &frame)
        return frame
    }

    @Test("requests past the call limit wait (reading pauses) and then all complete, in order")
    func callLimit_pipelinedRequests_heldThenServed() async throws {
        let server = try await TestServer.start { $0.maxConcurrentCallsPerConnection = 4 }
        let client = server.client()
        let calls = (0..<12).map { i in Task { try await client.unary("test.Echo/Hold", request: [UInt8(i)]) } }
        #expect(try await eventually { server.holding.withLock { $0.now } == 4 })
        // The others are held, not refused: give them a moment to (wrongly) start.
        try await Task.sleep(for: .milliseconds(100))
        #expect(server.holding.withLock { $0.now } == 4)
        server.holding.withLock { $0.open = true }
        for (i, call) in calls.enumerated() { #expect(try await call.value == [UInt8(i)]) }
        #expect(server.holding.withLock { $0.most } == 4)
        let stats = await server.server.statistics()
        #expect(stats.events[.callLimitReached, default: 0] >= 1)
        await client.close()
        await server.server.shutdown()
    }

    @Test("a peer that introduces itself as a coordinator gets the cluster-peer call limit")
    func callLimit_clusterPeer_higherLimit() async throws {
        let server = try await TestServer.start {
            $0.maxConcurrentCallsPerConnection = 2
            $0.maxConcurrentCallsPerClusterPeer = 6
        }
        let client = server.client { $0.role = .coordinator }
        let calls = (0..<8).map { i in Task { try await client.unary("test.Echo/Hold", request: [UInt8(i)]) } }
        #expect(try await eventually { server.holding.withLock { $0.now } == 6 })
        server.holding.withLock { $0.open = true }
        for call in calls { _ = try await call.value }
        #expect(server.holding.withLock { $0.most } == 6)
        await client.close()
        await server.server.shutdown()
    }

    @Test("pipelined calls with big replies, never read: the server's buffered bytes stay within limit × reply")
    func slowReader_bigReplies_boundedByCallLimit() async throws {
        let limit = 8
        let reply = 256 * 1024
        let highWater = 64 * 1024
        let server = try await TestServer.start {
            $0.maxConcurrentCallsPerConnection = limit
            $0.writeHighWaterBytes = highWater
            $0.writeLowWaterBytes = 16 * 1024
        }
        let raw = try Self.handshaken(server)
        raw.setReceiveBuffer(bytes: 4096)
        // 300 requests (a few KB in all), each asking for a 256 KiB reply: 75 MiB if all were served.
        var frames: [UInt8] = []
        for id in 1...300 { frames += Self.request(id, "test.Echo/Big", Array(String(reply).utf8)) }
        raw.write(frames)
        #expect(try await eventually { await server.server.statistics().events[.callLimitReached, default: 0] >= 1 })
        try await Task.sleep(for: .milliseconds(300))  // let whatever would be served be served
        let stats = await server.server.statistics()
        #expect(stats.maxPendingWriteBytes <= highWater + limit * (reply + 64), "max pending \(stats.maxPendingWriteBytes)")
        #expect(stats.activeCalls <= limit)
        // Other clients are served meanwhile.
        let other = server.client()
        #expect(try await other.unary("test.Echo/Echo", request: [9]) == [9])
        raw.close()
        await other.close()
        await server.server.shutdown()
    }

    @Test("a frame that stops arriving closes its connection after the frame timeout; others are served")
    func frameTimeout_partialFrame_closesConnection() async throws {
        let server = try await TestServer.start { $0.frameTimeout = .milliseconds(300) }
        let raw = try Self.handshaken(server)
        let frame = Self.request(1, "test.Echo/Echo", [1, 2, 3, 4, 5, 6, 7, 8])
        raw.write(Array(frame.prefix(frame.count - 3)))  // all but the last 3 bytes, then silence
        let (_, closed) = await raw.readUntilClosed()
        #expect(closed, "the server kept the connection open")
        let stats = await server.server.statistics()
        #expect(stats.events[.frameTimeout] == 1)
        #expect(server.capture.records.contains { $0.message.contains("frame stopped arriving") })
        let other = server.client()
        #expect(try await other.unary("test.Echo/Echo", request: [9]) == [9])
        raw.close()
        await other.close()
        await server.server.shutdown()
    }

    @Test("frames that keep completing are never timed out, however long the connection lives")
    func frameTimeout_steadyTraffic_staysOpen() async throws {
        let server = try await TestServer.start { $0.frameTimeout = .milliseconds(200) }
        let client = server.client()
        let until = ContinuousClock.now + .milliseconds(600)
        while ContinuousClock.now < until {
            #expect(try await client.unary("test.Echo/Echo", request: [1]) == [1])
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await server.server.statistics().events[.frameTimeout, default: 0] == 0)
        await client.close()
        await server.server.shutdown()
    }

    @Test("connections past maxConnections are closed at once and counted; the rest are served")
    func maxConnections_excess_shed() async throws {
        let server = try await TestServer.start { $0.maxConnections = 2 }
        let first = try Self.handshaken(server)
        let second = try Self.handshaken(server)
        #expect(try await eventually { await server.server.statistics().openConnections == 2 })
        let third = try RawSocket(server.address)
        #expect(await third.readUntilClosed().closed)
        #expect(await server.server.statistics().events[.connectionShed] == 1)
        first.close()
        #expect(try await eventually { await server.server.statistics().openConnections == 1 })
        let client = server.client()
        #expect(try await client.unary("test.Echo/Echo", request: [3]) == [3])
        second.close()
        third.close()
        await client.close()
        await server.server.shutdown()
    }
}
