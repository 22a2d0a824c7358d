import Logging
import Metrics
import Prometheus
import WeftCore
import WeftTransport

/// `--metrics HOST:PORT` (ARCHITECTURE.md §10): Prometheus text at `/metrics`, liveness at
/// `/healthz` (the process answers) and readiness at `/readyz` (200 once the node can do its job,
/// 503 with the reason before that and while it shuts down), on an `HTTPProbeServer`.
///
/// The process's swift-metrics backend is a Prometheus registry, bootstrapped once by
/// ``bootstrap()`` before any service creates its metrics (a metric made before the bootstrap
/// stays a no-op). Without `--metrics` nothing is bootstrapped and every metric is a no-op.
public final class MetricsEndpoint: Sendable {
    private static let shared = Locked<PrometheusCollectorRegistry?>(nil)

    /// Makes a Prometheus registry the process's metrics backend (idempotent) and returns it.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        shared.withLock { registry in
            if let registry { return registry }
            let created = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: created)
            factory.defaultDurationHistogramBuckets = [
                .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
            ]
            MetricsSystem.bootstrap(factory)
            registry = created
            return created
        }
    }

    /// Whether ``bootstrap()`` ran in this process.
    public static var isBootstrapped: Bool { shared.withLock { $0 != nil } }

    public let readiness: Readiness
    private let server: HTTPProbeServer

    public init(readiness: Readiness, logger: Logger) {
        self.readiness = readiness
        let registry = Self.bootstrap()
        server = HTTPProbeServer(logger: logger) { path in
            switch path {
            case "/metrics":
                HTTPProbeServer.Response(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: registry.emitToBuffer())
            case "/healthz":
                HTTPProbeServer.Response(status: 200, text: "ok\n")
            case "/readyz":
                switch readiness.state {
                case .ready: HTTPProbeServer.Response(status: 200, text: "ready\n")
                case .notReady(let reason): HTTPProbeServer.Response(status: 503, text: "not ready: \(reason)\n")
                }
            default:
                HTTPProbeServer.Response(status: 404, text: "not found; try /metrics, /healthz or /readyz\n")
            }
        }
    }

    /// Starts serving; returns the bound address.
    public func start(listen: Endpoint) async throws -> SocketAddress {
        try await server.start(listen: listen)
    }

    public func stop() { server.stop() }
}

/// Whether a node can do its job, for `/readyz` (set by the service as it starts and stops).
public final class Readiness: Sendable {
    public enum State: Sendable, Equatable {
        case ready
        case notReady(String)
    }

    private let current = Locked<State>(.notReady("starting"))

    public init() {}

    public var state: State { current.withLock { $0 } }

    public func set(_ state: State) { current.withLock { $0 = state } }
}

/// RPC metrics of a server (`RPCServerObserver`): `weft_rpc_server_calls_total{method,code}`,
/// `weft_rpc_server_call_seconds{method}` and `weft_rpc_server_events_total{event}` (the bounds of
/// ARCHITECTURE.md §3 at work: `accept_failed`, `connection_shed`, `handshake_timeout`,
/// `frame_timeout`, `protocol_violation`, `call_limit_reached`). A method the router does not serve
/// is counted as `method="unknown"`, so clients cannot grow the label set.
public final class RPCMetrics: RPCServerObserver {
    private struct Series {
        var calls: [StatusCode: Metrics.Counter] = [:]
        var seconds: Metrics.Timer
    }

    private let series = Locked<[String: Series]>([:])
    private let events: [RPCServerEvent: Metrics.Counter]

    public init() {
        var events: [RPCServerEvent: Metrics.Counter] = [:]
        for event in RPCServerEvent.allCases {
            events[event] = Metrics.Counter(label: "weft_rpc_server_events_total", dimensions: [("event", event.rawValue)])
        }
        self.events = events
    }

    public func serverEvent(_ event: RPCServerEvent) {
        events[event]?.increment()
    }

    /// An observer when `--metrics` bootstrapped a backend, nil otherwise (nothing to record).
    public static var ifEnabled: RPCMetrics? { MetricsEndpoint.isBootstrapped ? RPCMetrics() : nil }

    public func callEnded(method: String, code: StatusCode, duration: Duration) {
        let label = code == .unimplemented ? "unknown" : method
        let (counter, timer) = series.withLock { all in
            var entry = all[label] ?? Series(seconds: Metrics.Timer(label: "weft_rpc_server_call_seconds", dimensions: [("method", label)]))
            let counter = entry.calls[code] ?? Metrics.Counter(
                label: "weft_rpc_server_calls_total", dimensions: [("method", label), ("code", "\(code)")])
            entry.calls[code] = counter
            all[label] = entry
            return (counter, entry.seconds)
        }
        counter.increment()
        timer.record(duration: duration)
    }
}
