import Logging
import Metrics
import ServiceLifecycle
import WeftCore
import WeftTransport
import WeftWire

/// The worker runtime (ARCHITECTURE.md §4 "Dispatch"): asks a coordinator where the schedulers are
/// (`Worker.Discover`), opens one `Connect` stream to each, grants credits for the task slots it
/// has free, runs the assignments pushed to it, heartbeats what it runs, and reports each attempt's
/// outcome on the stream it came from.
///
/// - Flow control: a scheduler never has more assignments outstanding with this worker than the
///   credits granted; `concurrency` slots are shared out between the scheduler links.
/// - Liveness: every attempt in flight is heartbeated on its link every `heartbeatInterval` (or
///   faster when a task's heartbeat timeout asks for it).
/// - Failure: a link that breaks is reopened with backoff; results of attempts whose link is gone
///   are dropped — the scheduler times those attempts out and retries them (at-least-once).
/// - Shutdown (a graceful shutdown of the `ServiceGroup` it runs in, e.g. on SIGTERM, or `run()`'s
///   task cancelled): no more credits, attempts in flight get `shutdownGracePeriod` to finish, then
///   are cancelled and reported as retryable failures (`WorkerShutdown`) so they run again
///   elsewhere at once.
///
/// A worker is a swift-service-lifecycle `Service`:
///
/// ```swift
/// let worker = WeftWorker(configuration: .init(coordinator: address, workerID: "pricing-1"), registry: registry)
/// let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
public final class WeftWorker: Service, Sendable {
    /// Where the cluster is, and what this worker offers.
    public struct Configuration: Sendable {
        /// The coordinator to discover schedulers from.
        public var coordinator: Endpoint
        /// The cluster name; the servers refuse another.
        public var cluster: String = "weft"
        /// The shared auth token.
        public var authToken: [UInt8] = []
        /// This worker's name, unique in the cluster (shown in run histories and `weftctl`).
        public var workerID: String
        /// The queues whose tasks it takes.
        public var queues: [String] = ["default"]
        /// Attempts run at once by this process.
        public var concurrency: Int = 8
        /// How often the attempts in flight are heartbeated.
        public var heartbeatInterval: Duration = .seconds(1)
        /// How often the coordinator is asked where the schedulers are.
        public var rediscoverInterval: Duration = .seconds(5)
        /// How long attempts in flight may finish at shutdown before they are cancelled.
        public var shutdownGracePeriod: Duration = .seconds(10)

        /// A configuration with the defaults above.
        public init(coordinator: Endpoint, workerID: String) {
            self.coordinator = coordinator
            self.workerID = workerID
        }
    }

    /// The worker's configuration.
    public let configuration: Configuration
    let registry: TaskRegistry
    let logger: Logger
    let state = Locked(WorkerState())
    /// Attempts by outcome and their durations (swift-metrics; no-ops unless the process
    /// bootstrapped a backend, as `weft worker --metrics` does).
    let metrics = WorkerMetrics()

    /// A worker that runs the task types of `registry` (and only those). `logger` receives its
    /// events (connections, shutdown); by default a `Logger` labelled `weft.worker`.
    public init(configuration: Configuration, registry: TaskRegistry, logger: Logger = Logger(label: "weft.worker")) {
        precondition(configuration.concurrency > 0, "concurrency must be positive")
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
    }

    /// Attempts running now.
    public var inFlight: Int { state.withLock { $0.running.count } }

    /// Runs until a graceful shutdown of its `ServiceGroup` or until the task is cancelled, then
    /// shuts down gracefully (see the type's documentation) and returns.
    ///
    /// The set of schedulers is read from the coordinator (`Worker.Discover`) every
    /// `rediscoverInterval`, and at once when a scheduler says the cluster changed (cluster mode:
    /// each scheduler pushes its gossip view of the alive schedulers), so a scheduler that joins
    /// gets this worker's stream within moments.
    public func run() async {
        await cancelWhenGracefulShutdown { await self.serve() }
    }

    private func serve() async {
        let coordinator = RPCClient(target: configuration.coordinator, configuration: rpcConfiguration, logger: logger)
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        state.withLock { $0.wake = wake }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [interval = configuration.rediscoverInterval] in
                while !Task.isCancelled {
                    wake.yield()
                    try? await Task.sleep(for: interval)
                }
            }
            var links: [String: Task<Void, Never>] = [:]
            for await _ in wakeups {  // ends when this task is cancelled (shutdown)
                var addresses = state.withLock { $0.pushedSchedulers }
                var complete = false  // whether `addresses` is the whole cluster (else links are only added)
                do {
                    let response = try await coordinator.unary(
                        WorkerMethods.discover, request: DiscoverRequest(queues: configuration.queues),
                        response: DiscoverResponse.self, options: CallOptions(timeout: .seconds(5)))
                    addresses.formUnion(response.schedulers.prefix(Self.maxSchedulers).map(\.address))
                    complete = true
                } catch {
                    logger.warning("scheduler discovery failed", metadata: ["error": "\(error)"])
                }
                for address in addresses where links[address] == nil {
                    guard address.utf8.count <= 300, let endpoint = try? Endpoint(parsing: address) else {
                        logger.warning("ignoring an invalid scheduler address", metadata: ["address": "\(MessageText.escaped(address, limit: 300))"])
                        continue
                    }
                    logger.info("connecting to scheduler", metadata: ["scheduler.address": "\(address)"])
                    let link = SchedulerLink(worker: self, endpoint: endpoint)
                    links[address] = Task { await link.run() }
                }
                for (address, task) in links where complete && !addresses.contains(address) {
                    logger.info("scheduler left", metadata: ["scheduler.address": "\(address)"])
                    task.cancel()
                    links[address] = nil
                }
                state.withLock { $0.linkCount = max(1, links.count) }
            }
            wake.finish()
            await shutdown(links: Array(links.values))
            group.cancelAll()
        }
        await coordinator.close()
    }

    /// The most schedulers a Discover answer or a push may name (a hostile or broken peer cannot
    /// make this worker open connections without bound).
    static let maxSchedulers = 256

    /// A scheduler pushed its view of the alive schedulers: keep it, and look again at once.
    func schedulersChanged(_ message: SchedulersChangedMessage) {
        let addresses = Set(message.schedulers.prefix(Self.maxSchedulers).map(\.address))
        let wake = state.withLock { state -> AsyncStream<Void>.Continuation? in
            guard state.pushedSchedulers != addresses else { return nil }
            state.pushedSchedulers = addresses
            return state.wake
        }
        wake?.yield()
    }

    private func shutdown(links: [Task<Void, Never>]) async {
        state.withLock { $0.shuttingDown = true }
        let running = inFlight
        logger.info("worker shutting down", metadata: ["attempts.in_flight": "\(running)"])
        let deadline = ContinuousClock.now + configuration.shutdownGracePeriod
        while inFlight > 0 && ContinuousClock.now < deadline {
            await sleepIgnoringCancellation(.milliseconds(20))
        }
        let leftovers = state.withLock { $0.running.values.map(\.task) }
        for task in leftovers { task.cancel() }
        for task in leftovers { await task.value }
        for link in links { link.cancel() }
        for link in links { await link.value }
    }

    var rpcConfiguration: RPCClientConfiguration {
        var rpc = RPCClientConfiguration(
            cluster: configuration.cluster, role: .worker, nodeID: configuration.workerID,
            authToken: configuration.authToken)
        rpc.connectTimeout = .seconds(5)
        return rpc
    }

    /// Credits each link may hold: the slots shared out between links.
    var slotsPerLink: Int {
        let links = state.withLock { $0.linkCount }
        return max(1, configuration.concurrency / max(1, links))
    }
}

/// Shared mutable state of a worker.
struct WorkerState {
    struct Running {
        var task: Task<Void, Never>
        var termination: Locked<Bool>
        var linkID: ObjectIdentifier
        var heartbeatMilliseconds: UInt64
    }

    var running: [AttemptReference: Running] = [:]
    /// An attempt pushed again under a newer reference while it ran: reported as `ref` on `link`.
    struct Adoption {
        var ref: AttemptReference
        var link: SchedulerLink
    }

    /// Running attempts adopted under a newer reference, by the reference they started with.
    var adopted: [AttemptReference: Adoption] = [:]
    /// Attempts that finished before `start` could record them (a very fast handler).
    var finishedEarly: Set<AttemptReference> = []
    var linkCount = 1
    var shuttingDown = false
    /// The latest set of alive schedulers a scheduler pushed (cluster mode).
    var pushedSchedulers: Set<String> = []
    /// Wakes the discovery loop.
    var wake: AsyncStream<Void>.Continuation?
}

/// Sleeps for `duration` even when the current task is cancelled (used during shutdown, which
/// happens *because* the task was cancelled).
func sleepIgnoringCancellation(_ duration: Duration) async {
    await Task.detached { try? await Task.sleep(for: duration) }.value  // a detached task is not cancelled with us
}

struct WorkerMetrics: Sendable {
    let succeeded = Counter(label: "weft_worker_attempts_total", dimensions: [("outcome", "succeeded")])
    let failed = Counter(label: "weft_worker_attempts_total", dimensions: [("outcome", "failed")])
    let duration = Metrics.Timer(label: "weft_worker_attempt_seconds")

    func finished(succeeded ok: Bool, after elapsed: Duration) {
        duration.record(duration: elapsed)
        (ok ? succeeded : failed).increment()
    }
}
