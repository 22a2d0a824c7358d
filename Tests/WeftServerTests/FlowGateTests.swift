import Testing
@testable import WeftServer

@Suite("FlowGate")
struct FlowGateTests {
    typealias G = FlowGate<String, Int>

    @Test("one question per bucket at a time, asking for those that wait; count grants release the oldest first")
    func oneQuestion_fifoRelease() {
        var gate = G()
        _ = gate.enqueue("a", bucket: "api", member: "ma", queue: "q", limit: 2)
        _ = gate.enqueue("b", bucket: "api", member: "mb", queue: "q", limit: 2)
        _ = gate.enqueue("x", bucket: "other", queue: "q2", limit: 1)
        #expect(gate.count == 3 && gate.countsByQueue == ["q": 2, "q2": 1])
        let question = gate.nextAcquire("api", max: 10)
        #expect(question == G.Acquire(bucket: "api", limit: 2, members: ["ma", "mb"]))
        let busy = gate.nextAcquire("api", max: 10)
        #expect(busy == nil, "busy while a question is in flight")
        _ = gate.enqueue("c", bucket: "api", member: "mc", queue: "q", limit: 3)
        let first = gate.granted("api", count: 1)
        #expect(first == ["a"])
        let second = gate.nextAcquire("api", max: 10)
        #expect(second?.members == ["mb", "mc"] && second?.limit == 3, "the latest limit")
        let rest = gate.granted("api", count: 5)
        #expect(rest == ["b", "c"])
        let none = gate.nextAcquire("api", max: 10)
        #expect(none == nil, "nothing waits")
        #expect(gate.count == 1 && gate.countsByQueue == ["q2": 1] && gate.bucketCount == 1)
    }

    @Test("member grants release exactly the granted tasks in order; the others keep their places at the head")
    func memberGrants() {
        var gate = G()
        for name in ["a", "b", "c", "d"] { _ = gate.enqueue(name, bucket: "k", member: "m" + name, queue: "q", limit: 2) }
        let question = gate.nextAcquire("k", max: 3)
        #expect(question?.members == ["ma", "mb", "mc"])
        let released = gate.granted("k", members: ["mb", "md"], asked: 3)
        #expect(released == ["b"], "md was not asked about: it stays")
        let next = gate.nextAcquire("k", max: 10)
        #expect(next?.members == ["ma", "mc", "md"])
        let all = gate.granted("k", members: ["ma", "mc", "md"], asked: 3)
        #expect(all == ["a", "c", "d"])
        #expect(gate.count == 0 && gate.bucketCount == 0)
    }

    @Test("a refused question leaves the bucket busy until retry; removed tasks are skipped and not counted")
    func retryAndRemove() {
        var gate = G()
        let a = gate.enqueue("a", bucket: "api", queue: "q", limit: 1)
        _ = gate.enqueue("b", bucket: "api", queue: "q", limit: 1)
        let q1 = gate.nextAcquire("api", max: 5)

        #expect(q1 != nil)
        let q2 = gate.remove(a)

        #expect(q2)
        let again = gate.remove(a)
        #expect(!again, "removed once")
        #expect(gate.count == 1)
        let busy = gate.nextAcquire("api", max: 5)
        #expect(busy == nil)
        let generation = gate.wait("api")
        gate.retry("api", generation: generation)
        let question = gate.nextAcquire("api", max: 5)
        #expect(question?.wanted == 1)
        let granted = gate.granted("api", count: 2)
        #expect(granted == ["b"], "a grant asked for a removed task goes to the next one")
        #expect(gate.count == 0 && gate.countsByQueue.isEmpty && gate.bucketCount == 0)
    }

    @Test("a wait ends with its own timer or a wake; a stale timer does nothing; a wake during a question says so")
    func waitWakeRetry() {
        var gate = G()
        _ = gate.enqueue("a", bucket: "k", member: "ma", queue: "q", limit: 1)
        _ = gate.enqueue("b", bucket: "k", member: "mb", queue: "q", limit: 1)
        #expect(gate.nextAcquire("k", max: 1) != nil)
        let woken = gate.wake("k")
        #expect(!woken, "a question is out: its answer decides")
        let first = gate.wait("k")
        let asleep = gate.nextAcquire("k", max: 1)
        #expect(asleep == nil, "waiting")
        let awake = gate.wake("k")
        #expect(awake, "a slot came back: ask now")
        let asked = gate.nextAcquire("k", max: 1)
        #expect(asked?.members == ["ma"])
        gate.retry("k", generation: first)  // the first wait's timer fires late
        let duplicate = gate.nextAcquire("k", max: 1)
        #expect(duplicate == nil, "a stale timer never lets a second question out")
        let released = gate.granted("k", members: ["ma"], asked: 1)
        #expect(released == ["a"])
    }

    @Test("a bucket whose last task is removed is forgotten, unless a question is in flight")
    func bucketsAreForgotten() {
        var gate = G()
        let a = gate.enqueue("a", bucket: "api", queue: "q", limit: 1)
        gate.remove(a)
        #expect(gate.bucketCount == 0)
        let b = gate.enqueue("b", bucket: "api", queue: "q", limit: 1)
        let q3 = gate.nextAcquire("api", max: 5)

        #expect(q3 != nil)
        gate.remove(b)
        #expect(gate.bucketCount == 1)
        let granted = gate.granted("api", count: 1)
        #expect(granted.isEmpty)
        #expect(gate.bucketCount == 0)
    }

    @Test("a question asks for at most max; a grant looks only at the asked head, whatever the queue's length")
    func boundedWork() {
        var gate = G()
        for i in 0..<10_005 { _ = gate.enqueue("\(i)", bucket: "big", member: "m\(i)", queue: "q", limit: 4) }
        let question = gate.nextAcquire("big", max: 4)
        #expect(question?.members == ["m0", "m1", "m2", "m3"])
        let released = gate.granted("big", members: ["m0"], asked: 4)
        #expect(released == ["0"])
        let next = gate.nextAcquire("big", max: 4)
        #expect(next?.members == ["m1", "m2", "m3", "m4"])
    }
}
