import DequeModule
import Logging
import WeftCore

/// A coordinator's Postgres sessions for client reads (`RunStore`s), shared fairly.
typealias ReadPool = FairPool<RunStore>

/// A few resources (a coordinator's Postgres sessions for reads) shared **fairly between callers**.
///
/// A session runs one statement at a time, so on a single one every read queues behind every
/// other: a client with 128 reads of large runs in flight (the per-connection limit) kept another
/// client's one small read waiting 10–25 s. Here a read takes a free session; when none is free
/// it waits in its caller's own line, and a session that comes free goes to the next caller in
/// round-robin order — one caller's backlog delays another by at most one read per session.
///
/// A waiter whose task is cancelled (its caller went away) leaves its line at once.
final class FairPool<Resource: Sendable>: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Resource, any Error>
    }

    private enum Outcome {
        case granted(Resource), cancelled, queued
    }

    private struct State {
        var free: [Resource]
        /// Each caller's waiting reads, oldest first.
        var lines: [String: Deque<Waiter>] = [:]
        /// Callers with a line, in the order they are served.
        var turns: Deque<String> = []
        var nextID: UInt64 = 0
    }

    private let state: Locked<State>
    let size: Int

    init(stores: [Resource]) {
        precondition(!stores.isEmpty, "a read pool needs at least one session")
        state = Locked(State(free: stores))
        size = stores.count
    }

    /// Sessions free now.
    var idle: Int { state.withLock { $0.free.count } }

    /// Reads waiting for a session now.
    var waiting: Int { state.withLock { $0.lines.values.reduce(0) { $0 + $1.count } } }

    /// Runs `body` with a session of its own, waiting in `caller`'s line for one when all are busy.
    func withStore<T: Sendable>(for caller: String, _ body: (Resource) async throws -> T) async throws -> T {
        let store = try await acquire(for: caller)
        defer { release(store) }
        return try await body(store)
    }

    private func acquire(for caller: String) async throws -> Resource {
        if let store = state.withLock({ $0.free.popLast() }) { return store }
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // Decided under the lock: once queued, only `onCancel` or `release` resumes it.
                let outcome = state.withLock { state -> Outcome in
                    if let store = state.free.popLast() { return .granted(store) }  // freed meanwhile
                    if Task.isCancelled { return .cancelled }
                    if state.lines[caller] == nil { state.turns.append(caller) }
                    state.lines[caller, default: []].append(Waiter(id: id, continuation: continuation))
                    return .queued
                }
                switch outcome {
                case .granted(let store): continuation.resume(returning: store)
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .queued: break
                }
            }
        } onCancel: {
            let removed = state.withLock { state -> Waiter? in
                guard var line = state.lines[caller], let index = line.firstIndex(where: { $0.id == id }) else { return nil }
                let waiter = line.remove(at: index)
                if line.isEmpty {
                    state.lines[caller] = nil
                    state.turns.removeAll { $0 == caller }
                } else {
                    state.lines[caller] = line
                }
                return waiter
            }
            removed?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Hands `store` to the next caller in turn, or back to the free list.
    private func release(_ store: Resource) {
        let next = state.withLock { state -> Waiter? in
            guard let caller = state.turns.popFirst(), var line = state.lines[caller], let waiter = line.popFirst() else {
                state.free.append(store)
                return nil
            }
            if line.isEmpty {
                state.lines[caller] = nil
            } else {
                state.lines[caller] = line
                state.turns.append(caller)  // its next read waits for the others' turns
            }
            return waiter
        }
        next?.continuation.resume(returning: store)
    }
}
