import Testing
@testable import WeftServer

@Suite("Dispatcher")
struct DispatcherTests {
    typealias D = Dispatcher<String>

    @Test("no worker, no assignment; tasks wait in their queue")
    func noWorkers_tasksWait() {
        var dispatcher = D()
        dispatcher.enqueue("a", queue: "default", level: 1, now: 0)
        #expect(dispatcher.nextAssignments(now: 0).isEmpty)
        #expect(dispatcher.queueDepths["default"] == 1)
    }

    @Test("a worker gets at most its credits, and more after granting more")
    func credits_bound_assignments() {
        var dispatcher = D()
        let w = D.WorkerID(1)
        dispatcher.workerConnected(w, queues: ["default"])
        for i in 0..<5 { dispatcher.enqueue("t\(i)", queue: "default", level: 1, now: 0) }
        #expect(dispatcher.nextAssignments(now: 0).isEmpty)  // no credits yet
        dispatcher.creditsGranted(w, 2)
        #expect(dispatcher.nextAssignments(now: 0).map(\.item) == ["t0", "t1"])
        #expect(dispatcher.credits(of: w) == 0)
        dispatcher.creditsGranted(w, 10)
        #expect(dispatcher.nextAssignments(now: 0).map(\.item) == ["t2", "t3", "t4"])
        #expect(dispatcher.credits(of: w) == 7)
    }

    @Test("workers of a queue share its tasks round-robin; other queues stay apart")
    func roundRobin_andQueueIsolation() {
        var dispatcher = D()
        let a = D.WorkerID(1), b = D.WorkerID(2), gpu = D.WorkerID(3)
        dispatcher.workerConnected(a, queues: ["default"])
        dispatcher.workerConnected(b, queues: ["default"])
        dispatcher.workerConnected(gpu, queues: ["gpu"])
        for id in [a, b, gpu] { dispatcher.creditsGranted(id, 10) }
        for i in 0..<4 { dispatcher.enqueue("d\(i)", queue: "default", level: 1, now: 0) }
        dispatcher.enqueue("g0", queue: "gpu", level: 1, now: 0)
        let assignments = dispatcher.nextAssignments(now: 0)
        #expect(Set(assignments.filter { $0.worker == a }.map(\.item)).count == 2)
        #expect(Set(assignments.filter { $0.worker == b }.map(\.item)).count == 2)
        #expect(assignments.filter { $0.worker == gpu }.map(\.item) == ["g0"])
    }

    @Test("a disconnected worker gets nothing more")
    func disconnect_stopsAssignments() {
        var dispatcher = D()
        let a = D.WorkerID(1)
        dispatcher.workerConnected(a, queues: ["default"])
        dispatcher.creditsGranted(a, 5)
        dispatcher.workerDisconnected(a)
        dispatcher.enqueue("x", queue: "default", level: 1, now: 0)
        #expect(dispatcher.nextAssignments(now: 0).isEmpty)
        dispatcher.creditsGranted(a, 5)  // late credits of a gone worker are ignored
        #expect(dispatcher.nextAssignments(now: 0).isEmpty)
    }

    @Test("priority order holds across dispatch")
    func priority_respected() {
        var dispatcher = D(agingIntervalMilliseconds: 1_000_000)
        let w = D.WorkerID(1)
        dispatcher.workerConnected(w, queues: ["q"])
        dispatcher.enqueue("low", queue: "q", level: 0, now: 0)
        dispatcher.enqueue("critical", queue: "q", level: 3, now: 0)
        dispatcher.creditsGranted(w, 1)
        #expect(dispatcher.nextAssignments(now: 0).map(\.item) == ["critical"])
    }
}
