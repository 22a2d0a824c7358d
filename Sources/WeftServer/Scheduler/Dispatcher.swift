/// Matches ready tasks to workers (ARCHITECTURE.md §4 "Dispatch"): one `ReadyQueue` per queue
/// name, and the workers connected to this scheduler with the credits they granted.
///
/// Rules:
/// - A worker receives tasks only from the queues it named, and never more than the credits it
///   granted (each assignment spends one; the worker grants one back per finished attempt).
/// - Workers of a queue are served round-robin, so load spreads over all of them.
/// - A queue is a contract: every worker of a queue must run every task type sent to it (a worker
///   that cannot reports `UnknownTaskType`, which the retry policy sends elsewhere).
/// Pure: time is passed in; the shell sends the assignments.
public struct Dispatcher<Item: Sendable>: Sendable {
    public struct WorkerID: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt64
        public init(_ rawValue: UInt64) { self.rawValue = rawValue }
        public var description: String { "worker#\(rawValue)" }
    }

    struct WorkerEntry: Sendable {
        var queues: [String]
        var credits: Int
    }

    struct QueueEntry: Sendable {
        var ready: ReadyQueue<Item>
        var workers: [WorkerID] = []
        var cursor = 0
    }

    private var workers: [WorkerID: WorkerEntry] = [:]
    private var queues: [String: QueueEntry] = [:]
    private let agingIntervalMilliseconds: Int64

    public init(agingIntervalMilliseconds: Int64 = 2_000) {
        self.agingIntervalMilliseconds = agingIntervalMilliseconds
    }

    // MARK: Workers

    public mutating func workerConnected(_ id: WorkerID, queues names: [String]) {
        precondition(workers[id] == nil, "worker \(id) connected twice: \(self)")
        let unique = Array(Set(names)).sorted()
        workers[id] = WorkerEntry(queues: unique, credits: 0)
        for name in unique { queues[name, default: QueueEntry(ready: ReadyQueue(agingIntervalMilliseconds: agingIntervalMilliseconds))].workers.append(id) }
    }

    /// Adds credits (a worker's promise to take that many more tasks). Unknown workers are ignored.
    public mutating func creditsGranted(_ id: WorkerID, _ credits: Int) {
        guard credits > 0, workers[id] != nil else { return }
        workers[id]!.credits += credits
    }

    public mutating func workerDisconnected(_ id: WorkerID) {
        guard let entry = workers.removeValue(forKey: id) else { return }
        for name in entry.queues {
            queues[name]?.workers.removeAll { $0 == id }
        }
    }

    public func credits(of id: WorkerID) -> Int { workers[id]?.credits ?? 0 }

    // MARK: Tasks

    /// Queues a ready task. Returns a ticket for `remove`.
    @discardableResult
    public mutating func enqueue(_ item: Item, queue name: String, level: Int, now: Int64) -> UInt64 {
        queues[name, default: QueueEntry(ready: ReadyQueue(agingIntervalMilliseconds: agingIntervalMilliseconds))]
            .ready.push(item, level: level, now: now)
    }

    @discardableResult
    public mutating func remove(queue name: String, ticket: UInt64) -> Bool {
        queues[name]?.ready.remove(ticket) ?? false
    }

    /// Ready tasks per queue name (the autoscaling signal of ARCHITECTURE.md §7).
    public var queueDepths: [String: Int] { queues.mapValues { $0.ready.count } }

    /// Hands out as many ready tasks as the workers' credits allow.
    public mutating func nextAssignments(now: Int64) -> [(worker: WorkerID, item: Item)] {
        var out: [(worker: WorkerID, item: Item)] = []
        for name in queues.keys.sorted() {
            guard queues[name]?.ready.isEmpty == false, queues[name]?.workers.isEmpty == false else { continue }
            // Take the entry out of the dictionary so that it is uniquely referenced: mutating a
            // copy that the dictionary still shares would copy the whole queue on every call.
            guard var entry = queues.removeValue(forKey: name) else { continue }
            while !entry.ready.isEmpty {
                guard let worker = nextWorker(in: &entry) else { break }
                guard let item = entry.ready.pop(now: now) else { break }
                workers[worker]!.credits -= 1
                out.append((worker, item))
            }
            queues[name] = entry
        }
        return out
    }

    /// The next worker of the queue with credits left, round-robin; nil when none has any.
    private func nextWorker(in entry: inout QueueEntry) -> WorkerID? {
        let count = entry.workers.count
        for step in 0..<count {
            let index = (entry.cursor + step) % count
            let id = entry.workers[index]
            if let worker = workers[id], worker.credits > 0 {
                entry.cursor = (index + 1) % count
                return id
            }
        }
        return nil
    }
}
