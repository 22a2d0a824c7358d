import Logging
import Synchronization
import Testing
import WeftCore
import WeftTransport
import WeftWire
import _WeftTestKit

@Suite("RPC over loopback")
struct RPCTests {
    @Test("a unary call returns the handler's response")
    func unary_echo_returnsResponse() async throws {
        let server = try await TestServer.start()
        let client = server.client()
        let response = try await client.unary("test.Echo/Echo", request: Array("hello".utf8))
        #expect(response == Array("hello".utf8))
        await client.close()
        await server.server.shutdown()
    }

    @Test("1,000 concurrent calls on one connection each get their own answer")
    func unary_thousandConcurrent_matchedToCaller() async throws {
        let server = try await TestServer.start()
        let client = server.client()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<1000 {
                group.addTask {
                    let request = Array("call-\(i)".utf8) + [UInt8](repeating: UInt8(i % 251), count: i % 300)
                    let response = try await client.unary("test.Echo/Echo", request: request)
                    #expect(response == request)
                }
            }
            try await group.waitForAll()
        }
        let stats = await server.server.statistics()
        #expect(stats.acceptedConnections == 1)
        await client.close()
        await server.server.shutdown()
    }

    @Test("an unknown method is UNIMPLEMENTED and the connection keeps working")
    func unary_unknownMethod_unimplemented() async throws {
        let server = try await TestServer.start()
        let client = server.client()
        await #expect(throws: RPCError(.unimplemented, "unknown method 'test.Nope/Nope'")) {
            _ = try await client.unary("test.Nope/Nope", request: [])
        }
        #expect(try await client.unary("test.Echo/Echo", request: [1]) == [1])
        await client.close()
        await server.server.shutdown()
    }

    @Test("a handler's RPCError reaches the caller with code, message and metadata")
    func unary_handlerError_propagates() async throws {
        let server = try await TestServer.start()
        let client = server.client()
        do {
            _ = try await client.unary("test.Echo/Fail", request: [])
            Issue.record("expected an error")
        } catch let error as RPCError {
            #expect(error.code == .failedPrecondition)
            #expect(error.message == "not the owner")
            #expect(error.metadata["weft-owner"] == "10.1.2.3:7400")
        }
        await client.close()
        await server.server.shutdown()
    }

    @Test("a deadline fires DEADLINE_EXCEEDED and the server's handler is cancelled")
    func unary_deadline_exceededAndHandlerCancelled() async throws {
        let server = try await TestServer.start()
        let client = server.client()
        // Connect first, and give the call a deadline long enough to reach the handler on a loaded
        // machine: a call whose deadline passes before it is sent (rightly) never reaches the server.
        #expect(try await client.unary("test.Echo/Echo", request: [0]) == [0])
        let start = ContinuousClock.now
        do {
            // 8 s: a full test run once kept this 2-core machine so busy that a 3 s call expired
            // before the server's loop read it.
            _ = try await client.unary("test.Echo/Slow", request: [], options: CallOptions(timeout: .seconds(8)))
            Issue.record("expected DEADLINE_EXCEEDED")
        } catch let error as RPCError {
            #expect(error.code == .deadlineExceeded)
        }
        #expect(ContinuousClock.now - start < .seconds(20))
        #expect(server.handlerStarted.fired)
        #expect(try await eventually { server.handlerCancelled.fired })
        #expect(try await eventually { await server.server.statistics().activeCalls == 0 })
        await client.close()
        await server.server.shutdown()
    }

    @Test("the deadline propagates: the handler sees the caller's remaining budget")
    func unary_deadline_propagatesToHandler() async throws {
        let server = try await TestServer.start()
        let client = server.client()
        let bytes = try await client.unary("test.Echo/Deadline", request: [], options: CallOptions(timeout: .seconds(20)))
        let remaining = Int(String(decoding: bytes, as: UTF8.self)) ?? -1
        #expect(remaining > 0 && remaining <= 20_000)
        let none = try await client.unary("test.Echo/Deadline", request: [])
        #expect(String(decoding: none, as: UTF8.self) == "-1")
        await client.close()
        await server.server.shutdown()
    }

    @Test("cancelling the calling task cancels the server's handler")
    func unary_callerCancelled_handlerObservesCancellation() async throws {
        let server = try await TestServer.start()
        let client = server.client()
        let task = Task { try await client.unary("test.Echo/Slow", request: []) }
        await server.handlerStarted.wait()
        task.cancel()
        do {
            _ = try await task.value
            Issue.record("expected CANCELLED")
        } catch let error as RPCError {
            #expect(error.code == .cancelled)
        }
        #expect(try await eventually { server.handlerCancelled.fired })
        await client.close()
        await server.server.shutdown()
    }

    @Test("a wrong token is UNAUTHENTICATED and other clients keep working")
    func handshake_wrongToken_unauthenticated() async throws {
        let server = try await TestServer.start()
        let bad = server.client(token: Array("guess".utf8))
        do {
            _ = try await bad.unary("test.Echo/Echo", request: [1])
            Issue.record("expected UNAUTHENTICATED")
        } catch let error as RPCError {
            #expect(error.code == .unauthenticated)
            #expect(error.message.contains("invalid auth token"))
        }
        let good = server.client()
        #expect(try await good.unary("test.Echo/Echo", request: [2]) == [2])
        #expect(server.capture.records.contains { $0.message == "refusing connection" && $0.level >= .warning })
        await bad.close()
        await good.close()
        await server.server.shutdown()
    }

    @Test("a client of another cluster is UNAUTHENTICATED")
    func handshake_wrongCluster_unauthenticated() async throws {
        let server = try await TestServer.start()
        let other = server.client(cluster: "staging")
        do {
            try await other.connect()
            Issue.record("expected UNAUTHENTICATED")
        } catch let error as RPCError {
            #expect(error.code == .unauthenticated)
            #expect(error.message.contains("cluster mismatch"))
        }
        await other.close()
        await server.server.shutdown()
    }

    @Test("an oversized frame closes that connection with a clear log line; others keep working")
    func frame_oversize_closesOnlyThatConnection() async throws {
        let server = try await TestServer.start { $0.maxFrameBytes = 64 * 1024 }
        let good = server.client()
        #expect(try await good.unary("test.Echo/Echo", request: [1]) == [1])
        let raw = try RawSocket(server.address)
        raw.write([0x7F, 0xFF, 0xFF, 0xFF])  // announces ~2 GiB
        #expect(await raw.readUntilClosed().closed)
        raw.close()
        #expect(try await eventually { await server.server.statistics().protocolViolations == 1 })
        #expect(server.capture.records.contains {
            $0.message == "closing connection: protocol violation" && ($0.metadata["reason"] ?? "").contains("frame too large")
        })
        #expect(try await good.unary("test.Echo/Echo", request: [2]) == [2])
        await good.close()
        await server.server.shutdown()
    }

    @Test("a garbage frame closes that connection; others keep working")
    func frame_garbage_closesOnlyThatConnection() async throws {
        let server = try await TestServer.start()
        let good = server.client()
        #expect(try await good.unary("test.Echo/Echo", request: [1]) == [1])
        let raw = try RawSocket(server.address)
        raw.write([0, 0, 0, 5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(await raw.readUntilClosed().closed)
        raw.close()
        #expect(try await eventually { await server.server.statistics().protocolViolations == 1 })
        #expect(try await good.unary("test.Echo/Echo", request: [2]) == [2])
        await good.close()
        await server.server.shutdown()
    }

    @Test("a frame before the handshake is refused")
    func handshake_missing_refused() async throws {
        let server = try await TestServer.start()
        let raw = try RawSocket(server.address)
        var frame: [UInt8] = []
        Envelope(callID: 1, kind: .request, method: "test.Echo/Echo").appendFrame(to: &frame)
        raw.write(frame)
        let (bytes, closed) = await raw.readUntilClosed()
        #expect(closed)
        var decoder = FrameDecoder()
        let frames = try decoder.feed(bytes)
        let response = try Envelope(serializedBytes: try #require(frames.first))
        #expect(response.status == .failedPrecondition)
        raw.close()
        await server.server.shutdown()
    }

    @Test("a server stream of 100k messages to a slow reader stays within bounded buffers")
    func serverStreaming_slowReader_boundedMemory() async throws {
        let highWater = 64 * 1024
        let server = try await TestServer.start {
            $0.writeHighWaterBytes = highWater
            $0.writeLowWaterBytes = 16 * 1024
        }
        let client = server.client { $0.inboundStreamCapacity = 32 }
        let stream = client.serverStreaming("test.Echo/Count", request: Array("100000".utf8))
        var expected: UInt32 = 0
        for try await message in stream {
            let index = message.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(index == expected)
            expected += 1
            if expected % 5000 == 0 { try await Task.sleep(for: .milliseconds(20)) }  // a slow consumer
        }
        #expect(expected == 100_000)
        let stats = await server.server.statistics()
        // At most one 100-byte message over the mark per writer: 100k messages never piled up.
        #expect(stats.maxPendingWriteBytes <= highWater + 1024, "max pending \(stats.maxPendingWriteBytes)")
        await client.close()
        await server.server.shutdown()
    }

    @Test("client streaming sums what the client sent")
    func clientStreaming_sum() async throws {
        let server = try await TestServer.start()
        let client = server.client()
        let call = client.clientStreaming("test.Echo/Sum")
        for i in 1...100 { try await call.send(Array(String(i).utf8)) }
        let response = try await call.finish()
        #expect(String(decoding: response, as: UTF8.self) == "5050")
        await client.close()
        await server.server.shutdown()
    }

    @Test("bidirectional streaming answers every message")
    func bidirectional_chat() async throws {
        let server = try await TestServer.start()
        let client = server.client()
        let call = client.bidirectionalStreaming("test.Echo/Chat")
        for i in 0..<10 { try await call.send(Array("m\(i)".utf8)) }
        try await call.finish()
        var replies: [String] = []
        for try await reply in call.responses { replies.append(String(decoding: reply, as: UTF8.self)) }
        #expect(replies == (0..<10).map { "re:m\($0)" })
        await client.close()
        await server.server.shutdown()
    }

    @Test("after the server restarts the client reconnects")
    func client_serverRestart_reconnects() async throws {
        let first = try await TestServer.start()
        let client = first.client { $0.initialBackoff = .milliseconds(20) }
        #expect(try await client.unary("test.Echo/Echo", request: [1]) == [1])
        await first.server.shutdown(gracePeriod: .milliseconds(100))
        // A call while the server is gone fails with UNAVAILABLE (no hang).
        do {
            _ = try await client.unary("test.Echo/Echo", request: [2], options: CallOptions(timeout: .seconds(5)))
            Issue.record("expected UNAVAILABLE")
        } catch let error as RPCError {
            #expect(error.code == .unavailable)
        }
        // A new server on the same port: the client finds it again.
        var router = RPCRouter()
        router.unary("test.Echo/Echo") { request, _ in request }
        let second = RPCServer(
            router: router, configuration: RPCServerConfiguration(cluster: "test", role: .coordinator, nodeID: "srv-2", authToken: TestServer.token),
            logger: Logger(label: "second") { _ in SwiftLogNoOpLogHandler() })
        try await second.start(listen: first.address)
        let answer = try await client.unary("test.Echo/Echo", request: [3], options: CallOptions(timeout: .seconds(10), waitForReady: true))
        #expect(answer == [3])
        await client.close()
        await second.shutdown()
    }

    @Test("graceful shutdown lets a call in flight finish and refuses new ones")
    func server_gracefulShutdown_finishesInFlight() async throws {
        let server = try await TestServer.start()
        let client = server.client()
        let inFlight = Task { try await client.unary("test.Echo/Deadline", request: []) }
        _ = try await inFlight.value
        let slow = Task { try await client.unary("test.Echo/Slow", request: []) }
        await server.handlerStarted.wait()
        await server.server.shutdown(gracePeriod: .milliseconds(300))
        do {
            _ = try await slow.value
            Issue.record("expected the slow call to be ended by the shutdown")
        } catch let error as RPCError {
            #expect(error.code == .unavailable)
        }
        await client.close()
    }
}

@Suite("Backpressure")
struct BackpressureTests {
    @Test("a client that never reads its responses cannot make the server buffer without bound")
    func server_peerNotReading_stopsReadingThatPeer() async throws {
        let highWater = 64 * 1024
        let server = try await TestServer.start {
            $0.writeHighWaterBytes = highWater
            $0.writeLowWaterBytes = 16 * 1024
        }
        let raw = try RawSocket(server.address)
        raw.setSendTimeout(seconds: 1)
        var hello: [UInt8] = []
        Envelope(
            callID: 0, kind: .request, method: "weft.wire.v1/Hello",
            payload: Hello(protocolVersions: 1...1, cluster: "test", role: .client, nodeID: "raw", authToken: TestServer.token).serializedBytes()
        ).appendFrame(to: &hello)
        raw.write(hello)
        // 400 requests of 32 KiB (12.5 MiB) and not one response read: once kernel buffers fill up
        // the server must stop reading instead of queueing 12.5 MiB of responses.
        let payload = [UInt8](repeating: 1, count: 32 * 1024)
        var sentBytes = 0
        for id in 1...400 {
            var frame: [UInt8] = []
            Envelope(callID: UInt64(id), kind: .request, method: "test.Echo/Echo", payload: payload).appendFrame(to: &frame)
            let n = raw.writeSome(frame)
            sentBytes += max(0, n)
            if n < frame.count { break }  // the server stopped reading: our send buffer is full
        }
        let stats = await server.server.statistics()
        // Only the server's own buffer is asserted: how much the kernel's socket buffers absorb
        // (and so how much the client could send) moves with machine load and tuning.
        // Bound: the high-water mark plus the responses to one event's reads (256 KiB of requests).
        #expect(stats.maxPendingWriteBytes <= highWater + 256 * 1024 + 40 * 1024, "max pending \(stats.maxPendingWriteBytes) after \(sentBytes) bytes sent")
        // Other clients are served meanwhile.
        let other = server.client()
        #expect(try await other.unary("test.Echo/Echo", request: [9]) == [9])
        raw.close()
        await other.close()
        await server.server.shutdown()
    }
}

/// Records `callEnded` for the observer test.
final class RecordingObserver: RPCServerObserver {
    let ended = Locked<[(method: String, code: StatusCode)]>([])
    func callEnded(method: String, code: StatusCode, duration: Duration) {
        ended.withLock { $0.append((method, code)) }
    }
    func codes(of method: String) -> [StatusCode] { ended.withLock { $0.filter { $0.method == method }.map(\.code) } }
}

@Suite("RPC server observer")
struct RPCServerObserverTests {
    @Test("every call's end is observed with its method and code: ok, error, unknown method, deadline")
    func observer_seesEveryEnd() async throws {
        let observer = RecordingObserver()
        let server = try await TestServer.start { $0.observer = observer }
        let client = server.client()
        _ = try await client.unary("test.Echo/Echo", request: [1])
        _ = try? await client.unary("test.Echo/Fail", request: [])
        _ = try? await client.unary("test.Nope/Nope", request: [])
        // The deadline is long enough for the request to reach the handler on a loaded machine
        // (a call whose deadline passes before it is sent never reaches the server at all).
        let slow = Task { try? await client.unary("test.Echo/Slow", request: [], options: CallOptions(timeout: .seconds(3))) }
        #expect(try await eventually { server.handlerStarted.fired })
        _ = await slow.value
        // Whichever side noticed first: the server's deadline timer, or the client's CANCEL.
        #expect(try await eventually { observer.codes(of: "test.Echo/Slow") == [.deadlineExceeded] || observer.codes(of: "test.Echo/Slow") == [.cancelled] })
        #expect(observer.codes(of: "test.Echo/Echo") == [.ok])
        #expect(observer.codes(of: "test.Echo/Fail") == [.failedPrecondition])
        #expect(observer.codes(of: "test.Nope/Nope") == [.unimplemented])
        await client.close()
        await server.server.shutdown()
    }
}
