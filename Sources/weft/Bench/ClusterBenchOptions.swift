import ArgumentParser
import Weft
import WeftCLISupport
import WeftCore

/// The flags every cluster scenario of `weft bench` takes (ARCHITECTURE.md §10):
/// `weft bench SCENARIO [--address HOST:PORT | --postgres URL --redis URL] [--runs N] [--concurrency C] [--json]`.
struct ClusterBenchOptions: ParsableArguments {
    @Option(help: "Drive this running cluster (its coordinator, HOST:PORT) instead of starting one. [env: WEFT_ADDRESS]")
    var address: String?

    @Option(help: "Postgres server for the bench's own cluster; it creates (and drops) a database weft_bench_<pid> there. With --address: only read for the fsync setting shown in the report. [env: WEFT_POSTGRES_URL]")
    var postgres: String?

    @Option(help: "Redis URL handed to the bench's scheduler and coordinator (not used by them yet). [env: WEFT_REDIS_URL]")
    var redis: String?

    @Option(help: "Runs to measure (default: the scenario's, see its help).")
    var runs: Int?

    @Option(help: "Runs in flight at once (default: the scenario's, see its help).")
    var concurrency: Int?

    @Flag(help: "Print one JSON object on the last line.")
    var json = false

    @Option(help: "Workers of the bench's own cluster.")
    var workers = 2

    @Option(name: .customLong("worker-concurrency"), help: "--concurrency of each worker of the bench's own cluster (attempts it runs at once).")
    var workerConcurrency = 128

    @Option(help: "Noop runs (16 in flight) before measuring, to open connections and warm caches; 0 skips.")
    var warmup = 100

    @Option(help: "How long each run may take from its start call to its completion before it counts as lost.")
    var timeout = "120s"

    @Flag(name: .customLong("keep-logs"), help: "Keep the child processes' logs (always kept after a failure).")
    var keepLogs = false

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let runs, runs < 1 { throw ValidationError("--runs must be at least 1") }
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        guard (1...16).contains(workers) else { throw ValidationError("--workers must be from 1 to 16") }
        guard (1...10_000).contains(workerConcurrency) else { throw ValidationError("--worker-concurrency must be from 1 to 10000") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        guard try runTimeout() > .zero else { throw ValidationError("--timeout must be positive") }
        if let address = resolvedAddress {
            _ = try parseEndpoint(address, flag: "address")
        } else if resolvedPostgres == nil {
            throw ValidationError("give --postgres URL (or WEFT_POSTGRES_URL) to start a bench cluster, or --address HOST:PORT to drive a running one")
        }
    }

    var resolvedAddress: String? { WeftEnvironment.resolve(address, flag: "address") }
    var resolvedPostgres: String? { WeftEnvironment.resolve(postgres, flag: "postgres") }
    var resolvedRedis: String? { WeftEnvironment.resolve(redis, flag: "redis") }

    func runTimeout() throws -> Duration {
        try parseDuration(timeout, flag: "timeout")
    }
}
