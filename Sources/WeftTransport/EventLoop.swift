import CWeftSystem
import DequeModule
import Glibc
import HeapModule
import Logging
import Synchronization
import WeftCore

/// Something registered with an `EventLoop` for readiness events on a file descriptor.
/// Called on the loop thread only.
protocol EpollHandler: AnyObject {
    func handleEvents(_ events: UInt32)
}

/// One epoll thread: readiness events, timers and work submitted from other threads
/// (STYLE.md §5 "The I/O thread").
///
/// - Every socket is owned by exactly one loop, and all of a socket's state is touched only on that
///   loop's thread ("loop-confined"). Other threads submit closures with `execute(_:)`, which wakes
///   the loop through an eventfd only when it may be asleep.
/// - The loop is also a `SerialExecutor` and `TaskExecutor`. Code that runs under
///   `withTaskExecutorPreference(loop)` (the server's handlers, benchmark callers) resumes on the loop
///   thread itself, so a call's frames, continuations and handler never hop threads.
/// - Timers live in a min-heap; cancelled timers are dropped lazily when they reach the top.
/// - Writes are coalesced: connections ask for a flush and are flushed once per iteration, after
///   all the work of that iteration ran, so many small frames leave in one `write(2)`.
/// - Nothing blocking ever runs on the loop: libpq and hiredis calls have their own executors, and
///   name resolution runs on a dispatch thread.
public final class EventLoop: @unchecked Sendable {
    // @unchecked Sendable: mutable state is either confined to the loop thread (documented per
    // property) or inside `inbox` (a lock); `loopThread` is an Atomic.

    enum Work: Sendable {
        case closure(@Sendable () -> Void)
        case job(UnownedJob)
    }

    private struct Inbox {
        var work: [Work] = []
        var wakeupPending = false
        var stopRequested = false
    }

    struct TimerEntry: Comparable {
        var deadline: UInt64
        var id: UInt64
        static func < (a: TimerEntry, b: TimerEntry) -> Bool {
            a.deadline != b.deadline ? a.deadline < b.deadline : a.id < b.id
        }
    }

    public let name: String
    private let epollFD: Int32
    private let wakeupFD: Int32
    private static let wakeupToken: UInt64 = 0
    private let inbox = Locked(Inbox())
    private let loopThread = Atomic<UInt>(0)
    private let threadExited = Locked<[CheckedContinuation<Void, Never>]?>([])

    // Loop-confined state.
    private var localWork = Deque<Work>()
    private var handlers: [UInt64: any EpollHandler] = [:]
    private var nextRegistrationID: UInt64 = 1
    private var timers = Heap<TimerEntry>()
    private var timerCallbacks: [UInt64: () -> Void] = [:]
    private var nextTimerID: UInt64 = 1
    private var flushQueue: [any EventLoopFlushable] = []
    /// Scratch buffer every connection of this loop reads into.
    var readBuffer: UnsafeMutableRawBufferPointer

    /// A loop shared by everything in this process that does not bring its own. Started on first use,
    /// never stopped.
    public static let shared = EventLoop(name: "weft-loop")

    /// Starts a loop thread named `name`.
    public init(name: String) {
        self.name = name
        epollFD = cweft_epoll_create()
        precondition(epollFD >= 0, "epoll_create1 failed: errno \(errno)")
        wakeupFD = cweft_eventfd()
        precondition(wakeupFD >= 0, "eventfd failed: errno \(errno)")
        readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        let rc = cweft_epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeupFD, CWEFT_EPOLLIN, Self.wakeupToken)
        precondition(rc == 0, "epoll_ctl(eventfd) failed: errno \(errno)")
        startThread()
    }

    deinit {
        readBuffer.deallocate()
        close(epollFD)
        close(wakeupFD)
    }

    /// True on this loop's thread.
    public var inEventLoop: Bool {
        loopThread.load(ordering: .relaxed) == UInt(bitPattern: Int(bitPattern: UInt(pthread_self())))
    }

    /// Runs `work` on the loop thread, later (never inline).
    public func execute(_ work: @escaping @Sendable () -> Void) {
        submit(.closure(work))
    }

    /// Runs `work` on the loop thread: inline when already there, otherwise later.
    func run(_ work: @escaping @Sendable () -> Void) {
        if inEventLoop { work() } else { submit(.closure(work)) }
    }

    private func submit(_ work: Work) {
        if inEventLoop {
            localWork.append(work)
            return
        }
        let mustWake = inbox.withLock { inbox -> Bool in
            inbox.work.append(work)
            if inbox.wakeupPending { return false }
            inbox.wakeupPending = true
            return true
        }
        if mustWake { _ = cweft_eventfd_signal(wakeupFD) }
    }

    /// Stops the loop thread after the work already submitted ran. Sockets still registered are
    /// abandoned; close them first.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyExited = threadExited.withLock { waiters -> Bool in
                guard waiters != nil else { return true }
                waiters!.append(continuation)
                return false
            }
            if alreadyExited {
                continuation.resume()
                return
            }
            let mustWake = inbox.withLock { inbox -> Bool in
                inbox.stopRequested = true
                let wake = !inbox.wakeupPending
                inbox.wakeupPending = true
                return wake
            }
            if mustWake { _ = cweft_eventfd_signal(wakeupFD) }
        }
    }

    // MARK: Registration (loop thread only)

    func register(fd: Int32, events: UInt32, handler: any EpollHandler) throws(TransportError) -> UInt64 {
        assertInEventLoop()
        let id = nextRegistrationID
        nextRegistrationID += 1
        guard cweft_epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, events, id) == 0 else {
            throw TransportError(.ioError, "epoll_ctl(ADD) failed: \(errnoDescription())")
        }
        handlers[id] = handler
        return id
    }

    func modify(fd: Int32, registration: UInt64, events: UInt32) {
        assertInEventLoop()
        let rc = cweft_epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, events, registration)
        // MOD fails only for a fd that is not registered, which would be a bug in the caller.
        assert(rc == 0, "epoll_ctl(MOD) failed: \(errnoDescription())")
    }

    func unregister(fd: Int32, registration: UInt64) {
        assertInEventLoop()
        // The fd is closed right after; DEL failing (already closed) changes nothing.
        _ = cweft_epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, 0, registration)
        handlers[registration] = nil
    }

    // MARK: Timers (loop thread only)

    /// Calls `callback` on the loop after `delay`. Returns an id for `cancelTimer`.
    /// Call on the loop thread only (from loop-confined code or an actor whose executor is the loop).
    @discardableResult
    public func scheduleTimer(after delay: Duration, _ callback: @escaping () -> Void) -> UInt64 {
        assertInEventLoop()
        let id = nextTimerID
        nextTimerID += 1
        let deadline = cweft_monotonic_ns() &+ delay.nanoseconds
        timers.insert(TimerEntry(deadline: deadline, id: id))
        timerCallbacks[id] = callback
        return id
    }

    /// Cancels a timer; call on the loop thread only. Unknown or fired ids are ignored.
    ///
    /// The heap entry stays until it reaches the top; most timers (call deadlines) are cancelled
    /// long before they are due, so when cancelled entries outnumber live ones the heap is rebuilt
    /// from the live ones (amortised O(1) per cancel; without it a busy server's heap held every
    /// deadline of the last minute and each insert paid for its depth).
    public func cancelTimer(_ id: UInt64) {
        assertInEventLoop()
        guard timerCallbacks.removeValue(forKey: id) != nil else { return }
        if timers.count > 1024 && timers.count > 2 * timerCallbacks.count {
            timers = Heap(timers.unordered.filter { timerCallbacks[$0.id] != nil })
        }
    }

    // MARK: Write coalescing

    /// Asks for `flushable.flushNow()` once, after the work of the current iteration.
    func requestFlush(_ flushable: any EventLoopFlushable) {
        assertInEventLoop()
        flushQueue.append(flushable)
    }

    @inline(__always)
    func assertInEventLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(inEventLoop, "called off the event loop thread", file: file, line: line)
    }

    // MARK: The loop

    private func startThread() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, eventLoopThreadMain, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        pthread_detach(thread)
    }

    fileprivate func runLoop() {
        loopThread.store(UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))), ordering: .relaxed)
        cweft_set_thread_name(name)
        let maxEvents: Int32 = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Int(maxEvents))
        defer { events.deallocate() }
        var stop = false
        while !stop {
            let timeout = nextTimeoutMilliseconds()
            let n = cweft_epoll_wait(epollFD, events, maxEvents, timeout)
            if n > 0 {
                for i in 0..<Int(n) {
                    let token = cweft_epoll_event_data(events + i)
                    if token == Self.wakeupToken {
                        _ = cweft_eventfd_drain(wakeupFD)
                        continue
                    }
                    // A handler unregistered earlier in this batch is skipped.
                    handlers[token]?.handleEvents(cweft_epoll_event_flags(events + i))
                }
            }
            fireTimers()
            stop = runPendingWork()
            flushAll()
        }
        // Drain what is left so that no continuation is lost, then let waiters go.
        _ = runPendingWork()
        flushAll()
        let waiters = threadExited.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            let list = waiters ?? []
            waiters = nil
            return list
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Runs submitted closures and jobs until none are left (bounded, so events are not starved).
    /// Returns true when a stop was requested.
    private func runPendingWork() -> Bool {
        var stop = false
        var rounds = 0
        while rounds < 64 {
            rounds += 1
            let (remote, stopRequested) = inbox.withLock { inbox -> ([Work], Bool) in
                let taken = inbox.work
                inbox.work.removeAll(keepingCapacity: true)
                inbox.wakeupPending = false
                return (taken, inbox.stopRequested)
            }
            stop = stopRequested
            localWork.append(contentsOf: remote)
            if localWork.isEmpty { break }
            var budget = localWork.count
            while budget > 0, let work = localWork.popFirst() {
                budget -= 1
                switch work {
                case .closure(let body): body()
                case .job(let job): job.runSynchronously(isolatedTo: asUnownedSerialExecutor(), taskExecutor: asUnownedTaskExecutor())
                }
            }
        }
        return stop
    }

    private func flushAll() {
        while !flushQueue.isEmpty {
            let queue = flushQueue
            flushQueue.removeAll(keepingCapacity: true)
            for item in queue { item.flushNow() }
        }
    }

    private func fireTimers() {
        guard !timers.isEmpty else { return }
        let now = cweft_monotonic_ns()
        while let top = timers.min, top.deadline <= now {
            _ = timers.removeMin()
            if let callback = timerCallbacks.removeValue(forKey: top.id) { callback() }
        }
    }

    private func nextTimeoutMilliseconds() -> Int32 {
        if !localWork.isEmpty || !flushQueue.isEmpty { return 0 }
        while let top = timers.min, timerCallbacks[top.id] == nil { _ = timers.removeMin() }
        guard let top = timers.min else { return -1 }
        let now = cweft_monotonic_ns()
        if top.deadline <= now { return 0 }
        let ms = (top.deadline - now + 999_999) / 1_000_000
        return Int32(min(ms, 60_000))
    }
}

/// Called by the loop once per iteration after `requestFlush`.
protocol EventLoopFlushable: AnyObject {
    func flushNow()
}

private func eventLoopThreadMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let loop = Unmanaged<EventLoop>.fromOpaque(argument!).takeRetainedValue()
    loop.runLoop()
    return nil
}

extension EventLoop: SerialExecutor, TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        submit(.job(UnownedJob(job)))
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    public func checkIsolated() {
        precondition(inEventLoop, "expected to run on event loop \(name)")
    }
}

extension Duration {
    /// Whole nanoseconds, saturating at 0 for negative durations.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }

    var milliseconds: UInt64 { nanoseconds / 1_000_000 }
}

func errnoDescription(_ code: Int32 = errno) -> String {
    "\(String(cString: strerror(code))) (errno \(code))"
}
