import ArgumentParser
import Logging
import WeftCLISupport
import Weft
import WeftCore
import WeftServer

/// `--metrics HOST:PORT` of the long-running `weft` commands (ARCHITECTURE.md §10).
struct MetricsOptions: ParsableArguments {
    @Option(help: "Serve Prometheus metrics (/metrics) and probes (/healthz, /readyz) over HTTP on HOST:PORT. [env: WEFT_METRICS] (default: off)")
    var metrics: String?

    func validate() throws {
        _ = try endpoint()
    }

    func endpoint() throws -> Endpoint? {
        guard let text = WeftEnvironment.resolve(metrics, flag: "metrics") else { return nil }
        return try parseEndpoint(text, flag: "metrics")
    }

    /// Without `--metrics`, a readiness nobody reads. With it: makes Prometheus the metrics backend
    /// (before the services create their metrics), starts the endpoint, and prints
    /// `metrics on HOST:PORT` for scripts that pass port 0.
    func start(logger: Logger) async throws -> Readiness {
        let readiness = Readiness()
        guard let endpoint = try endpoint() else { return readiness }
        let server = MetricsEndpoint(readiness: readiness, logger: logger)
        let bound = try await server.start(listen: endpoint)
        logger.notice("metrics endpoint listening", metadata: ["metrics.address": "\(bound)"])
        print("metrics on \(bound)")
        flushStandardOutput()
        return readiness
    }
}
