import Testing
@testable import WeftServer

@Suite("RateGate")
struct RateGateTests {
    typealias G = RateGate<String>

    @Test("one question per bucket at a time, asking for all that wait; grants release the oldest first")
    func oneQuestion_fifoRelease() {
        var gate = G()
        _ = gate.enqueue("a", bucket: "api", queue: "q", emissionMicroseconds: 100, burst: 2)
        _ = gate.enqueue("b", bucket: "api", queue: "q", emissionMicroseconds: 100, burst: 2)
        _ = gate.enqueue("x", bucket: "other", queue: "q2", emissionMicroseconds: 5, burst: 1)
        #expect(gate.count == 3 && gate.countsByQueue == ["q": 2, "q2": 1])
        let question = gate.nextAcquire("api")
        #expect(question == G.Acquire(bucket: "api", emissionMicroseconds: 100, burst: 2, wanted: 2))
        let r1 = gate.nextAcquire("api")

        #expect(r1 == nil, "busy while a question is in flight")
        _ = gate.enqueue("c", bucket: "api", queue: "q", emissionMicroseconds: 100, burst: 2)
        let r2 = gate.granted("api", count: 1)

        #expect(r2 == ["a"])
        let r3 = gate.nextAcquire("api")

        #expect(r3?.wanted == 2)
        let r4 = gate.granted("api", count: 5)

        #expect(r4 == ["b", "c"])
        let r5 = gate.nextAcquire("api")

        #expect(r5 == nil, "nothing waits")
        #expect(gate.count == 1 && gate.countsByQueue == ["q2": 1])
        #expect(gate.bucketCount == 1)
    }

    @Test("a refused question leaves the bucket busy until retry; removed tasks are skipped and not counted")
    func retryAndRemove() {
        var gate = G()
        let a = gate.enqueue("a", bucket: "api", queue: "q", emissionMicroseconds: 100, burst: 1)
        _ = gate.enqueue("b", bucket: "api", queue: "q", emissionMicroseconds: 100, burst: 1)
        let r6 = gate.nextAcquire("api")

        #expect(r6 != nil)
        let r7 = gate.granted("api", count: 0)

        #expect(r7.isEmpty)
        // granted(0) ends the question; the shell arms a timer before asking again via retry.
        let r8 = gate.remove(a)

        #expect(r8)
        let again = gate.remove(a)
        #expect(!again, "removed once")
        #expect(gate.count == 1)
        let r9 = gate.nextAcquire("api")

        #expect(r9?.wanted == 1)
        gate.retry("api")
        let r10 = gate.nextAcquire("api")

        #expect(r10 != nil)
        let r11 = gate.granted("api", count: 1)

        #expect(r11 == ["b"])
        #expect(gate.count == 0 && gate.countsByQueue.isEmpty && gate.bucketCount == 0)
    }

    @Test("a bucket whose last task is removed is forgotten, unless a question is in flight")
    func bucketsAreForgotten() {
        var gate = G()
        let a = gate.enqueue("a", bucket: "api", queue: "q", emissionMicroseconds: 100, burst: 1)
        gate.remove(a)
        #expect(gate.bucketCount == 0)
        let b = gate.enqueue("b", bucket: "api", queue: "q", emissionMicroseconds: 100, burst: 1)
        let r12 = gate.nextAcquire("api")

        #expect(r12 != nil)
        gate.remove(b)
        #expect(gate.bucketCount == 1)
        let r13 = gate.granted("api", count: 1)

        #expect(r13.isEmpty, "a grant for a removed task goes unused")
        #expect(gate.bucketCount == 0)
    }

    @Test("a question asks for at most maxWanted")
    func wantedIsBounded() {
        var gate = G()
        for i in 0..<(G.maxWanted + 5) { _ = gate.enqueue("\(i)", bucket: "api", queue: "q", emissionMicroseconds: 1, burst: 1) }
        let r14 = gate.nextAcquire("api")

        #expect(r14?.wanted == G.maxWanted)
    }
}
