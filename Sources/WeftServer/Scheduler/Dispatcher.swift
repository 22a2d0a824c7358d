/// Matches ready tasks to workers (ARCHITECTURE.md §4 "Dispatch"): ready tasks wait in lanes, one
/// per (queue name, task type), and the workers connected to this scheduler serve the lanes of the
/// queues they named and the task types they registered, within the credits they granted.
///
/// Rules:
/// - A worker receives a task only from a queue it named and of a type it registered (a worker
///   that registered no types — an old or generic worker — is taken to run any). A task whose type
///   no connected worker of its queue runs waits in its lane (``unservedDepth`` counts them)
///   instead of going to a worker that would only answer `UnknownTaskType`.
/// - Never more than the credits a worker granted (each assignment spends one; the worker grants
///   one back per finished attempt).
/// - The workers of a lane are served round-robin; lanes are served one task at a time in turn
///   (starting from a different lane each call), so one busy task type cannot starve another.
///   Priorities and aging order the tasks of a lane (see ``ReadyQueue``), not across lanes.
/// Pure: time is passed in; the shell sends the assignments.
public struct Dispatcher<Item: Sendable>: Sendable {
    public struct WorkerID: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt64
        public init(_ rawValue: UInt64) { self.rawValue = rawValue }
        public var description: String { "worker#\(rawValue)" }
    }

    /// Where a queued task is, for ``remove(_:)``.
    public struct Ticket: Hashable, Sendable {
        let lane: LaneKey
        let id: UInt64
    }

    struct LaneKey: Hashable, Sendable, Comparable {
        var queue: String
        var taskType: String

        static func < (a: LaneKey, b: LaneKey) -> Bool { (a.queue, a.taskType) < (b.queue, b.taskType) }
    }

    struct WorkerEntry: Sendable {
        var queues: Set<String>
        /// nil: any type.
        var taskTypes: Set<String>?
        var credits: Int

        func serves(_ lane: LaneKey) -> Bool {
            queues.contains(lane.queue) && (taskTypes?.contains(lane.taskType) ?? true)
        }
    }

    struct Lane: Sendable {
        var ready: ReadyQueue<Item>
        var workers: [WorkerID] = []
        var cursor = 0
    }

    private var workers: [WorkerID: WorkerEntry] = [:]
    private var lanes: [LaneKey: Lane] = [:]
    /// Lanes in a stable order, and where the next call starts in it.
    private var laneOrder: [LaneKey] = []
    private var laneCursor = 0
    private let agingIntervalMilliseconds: Int64

    public init(agingIntervalMilliseconds: Int64 = 2_000) {
        self.agingIntervalMilliseconds = agingIntervalMilliseconds
    }

    // MARK: Workers

    /// A worker connected, serving `queues` and the task types `taskTypes` (empty: any type).
    public mutating func workerConnected(_ id: WorkerID, queues names: [String], taskTypes: [String] = []) {
        precondition(workers[id] == nil, "worker \(id) connected twice: \(self)")
        let entry = WorkerEntry(queues: Set(names), taskTypes: taskTypes.isEmpty ? nil : Set(taskTypes), credits: 0)
        workers[id] = entry
        for key in laneOrder where entry.serves(key) { lanes[key]!.workers.append(id) }
    }

    /// Most credits a worker may hold: more than any worker has slots, and far from overflow
    /// however often a peer grants.
    public static var maxCredits: Int { 1 << 20 }

    /// Adds credits (a worker's promise to take that many more tasks). Unknown workers are ignored.
    public mutating func creditsGranted(_ id: WorkerID, _ credits: Int) {
        guard credits > 0, workers[id] != nil else { return }
        workers[id]!.credits = min(Self.maxCredits, workers[id]!.credits + min(credits, Self.maxCredits))
    }

    public mutating func workerDisconnected(_ id: WorkerID) {
        guard let entry = workers.removeValue(forKey: id) else { return }
        for key in laneOrder where entry.serves(key) {
            lanes[key]!.workers.removeAll { $0 == id }
        }
    }

    public func credits(of id: WorkerID) -> Int { workers[id]?.credits ?? 0 }

    // MARK: Tasks

    /// Queues a ready task of `taskType` in queue `name`. Returns a ticket for ``remove(_:)``.
    @discardableResult
    public mutating func enqueue(_ item: Item, queue name: String, taskType: String = "", level: Int, now: Int64) -> Ticket {
        let key = LaneKey(queue: name, taskType: taskType)
        if lanes[key] == nil {
            var lane = Lane(ready: ReadyQueue(agingIntervalMilliseconds: agingIntervalMilliseconds))
            lane.workers = workers.filter { $0.value.serves(key) }.map(\.key).sorted { $0.rawValue < $1.rawValue }
            lanes[key] = lane
            let at = laneOrder.firstIndex { key < $0 } ?? laneOrder.count
            laneOrder.insert(key, at: at)
        }
        return Ticket(lane: key, id: lanes[key]!.ready.push(item, level: level, now: now))
    }

    @discardableResult
    public mutating func remove(_ ticket: Ticket) -> Bool {
        lanes[ticket.lane]?.ready.remove(ticket.id) ?? false
    }

    /// Ready tasks per queue name (the autoscaling signal of ARCHITECTURE.md §7).
    public var queueDepths: [String: Int] {
        var depths: [String: Int] = [:]
        for (key, lane) in lanes { depths[key.queue, default: 0] += lane.ready.count }
        return depths
    }

    /// One queue's ready tasks, summed over its lanes (`weftctl queues`).
    public struct QueueBacklog: Sendable, Hashable {
        /// Ready tasks per base priority level (0 = low … 3 = critical).
        public var byLevel = [0, 0, 0, 0]
        /// When the longest-waiting one was queued (milliseconds).
        public var oldestEnqueuedAt: Int64?
        /// Those that no connected worker of the queue can run.
        public var unserved = 0
    }

    /// Ready tasks per queue name, by priority, with the oldest one's age and the unserved ones.
    public var backlogs: [String: QueueBacklog] {
        var out: [String: QueueBacklog] = [:]
        for (key, lane) in lanes {
            var backlog = out[key.queue] ?? QueueBacklog()
            for level in 0..<ReadyQueue<Item>.levels { backlog.byLevel[level] += lane.ready.countsByLevel[level] }
            if let oldest = lane.ready.oldestEnqueuedAt {
                backlog.oldestEnqueuedAt = min(backlog.oldestEnqueuedAt ?? oldest, oldest)
            }
            if lane.workers.isEmpty { backlog.unserved += lane.ready.count }
            out[key.queue] = backlog
        }
        return out
    }

    /// Ready tasks that no connected worker can run (no worker of their queue registered their type).
    public var unservedDepth: Int {
        lanes.values.reduce(0) { $0 + ($1.workers.isEmpty ? $1.ready.count : 0) }
    }

    /// Hands out as many ready tasks as the workers' credits allow.
    public mutating func nextAssignments(now: Int64) -> [(worker: WorkerID, item: Item)] {
        var out: [(worker: WorkerID, item: Item)] = []
        guard !laneOrder.isEmpty else { return out }
        let start = laneCursor % laneOrder.count
        laneCursor = (start + 1) % laneOrder.count
        var active: [LaneKey] = []
        for offset in 0..<laneOrder.count {
            let key = laneOrder[(start + offset) % laneOrder.count]
            if let lane = lanes[key], !lane.ready.isEmpty, !lane.workers.isEmpty { active.append(key) }
        }
        if active.count == 1 {
            _ = serve(active[0], limit: .max, now: now, into: &out)
            return out
        }
        // Several lanes: one task each per round, until no lane can hand out more.
        while !active.isEmpty {
            active = active.filter { serve($0, limit: 1, now: now, into: &out) }
        }
        return out
    }

    /// Hands out up to `limit` tasks of one lane. Returns whether it could hand out more.
    private mutating func serve(_ key: LaneKey, limit: Int, now: Int64, into out: inout [(worker: WorkerID, item: Item)]) -> Bool {
        // Take the lane out of the dictionary so that it is uniquely referenced: mutating a copy
        // that the dictionary still shares would copy the whole queue on every call.
        guard var lane = lanes.removeValue(forKey: key) else { return false }
        defer { lanes[key] = lane }
        var handed = 0
        while handed < limit, !lane.ready.isEmpty {
            guard let worker = nextWorker(in: &lane) else { return false }
            guard let item = lane.ready.pop(now: now) else { return false }
            workers[worker]!.credits -= 1
            out.append((worker, item))
            handed += 1
        }
        return !lane.ready.isEmpty && lane.workers.contains { workers[$0]!.credits > 0 }
    }

    /// The next worker of the lane with credits left, round-robin; nil when none has any.
    private func nextWorker(in lane: inout Lane) -> WorkerID? {
        let count = lane.workers.count
        for step in 0..<count {
            let index = (lane.cursor + step) % count
            let id = lane.workers[index]
            if let worker = workers[id], worker.credits > 0 {
                lane.cursor = (index + 1) % count
                return id
            }
        }
        return nil
    }
}
