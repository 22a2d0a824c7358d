import ArgumentParser
import Logging
import ServiceLifecycle
import UnixSignals
import Weft
import WeftCLISupport
import WeftCore
import WeftPostgres
import WeftServer
import WeftTransport

/// `weft dev`: migrate, then coordinator + scheduler + a worker with the built-in task types in one
/// process, for development and demos (ARCHITECTURE.md §1).
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev", abstract: "Migrate and run coordinator, scheduler and a worker in one process.")

    @Option(help: "Coordinator address. [env: WEFT_LISTEN] (default: 127.0.0.1:7400)")
    var listen: String?

    @Option(help: "Postgres URL. [env: WEFT_POSTGRES_URL]")
    var postgres: String?

    @Option(help: "Redis URL: rate limits (without it, workflows with a rate_limit are refused). [env: WEFT_REDIS_URL]")
    var redis: String?

    @Flag(name: .customLong("allow-exec"), help: "Register the exec task type in the worker.")
    var allowExec = false

    @Option(help: "Worker concurrency. (default: 8)")
    var concurrency: Int = 8

    @OptionGroup var metrics: MetricsOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        _ = try parseEndpoint(WeftEnvironment.resolve(listen, flag: "listen") ?? "127.0.0.1:7400", flag: "listen")
        guard WeftEnvironment.resolve(postgres, flag: "postgres") != nil else {
            throw ValidationError("--postgres URL (or WEFT_POSTGRES_URL) is required")
        }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be positive") }
    }

    func run() async throws {
        try common.bootstrapLogging()
        let logger = Logger(label: "weft.dev")
        let url = WeftEnvironment.resolve(postgres, flag: "postgres")!
        let token = try common.resolvedToken()
        let coordinatorEndpoint = try parseEndpoint(WeftEnvironment.resolve(listen, flag: "listen") ?? "127.0.0.1:7400", flag: "listen")
        let connection = try await PostgresConnection.connect(url: url, logger: logger)
        let report = try await WeftSchema.migrate(
            connection: connection, configuration: WeftSchema.Configuration(clusterName: common.resolvedCluster), logger: logger)
        await connection.close()
        logger.notice("schema ready", metadata: ["schema.version": "\(report.schemaVersion)", "partitions": "\(report.cluster.partitionCount)"])

        var schedulerConfiguration = SchedulerService.Configuration(
            listen: Endpoint(host: coordinatorEndpoint.host, port: 0), nodeID: "dev-scheduler", cluster: common.resolvedCluster,
            authToken: token, postgresURL: url, version: WeftVersion.current)
        schedulerConfiguration.shutdownGracePeriod = .seconds(5)
        schedulerConfiguration.redisURL = WeftEnvironment.resolve(redis, flag: "redis")
        // One endpoint for the process; /readyz follows the scheduler (the coordinator is ready first).
        let readiness = try await metrics.start(logger: logger)
        let scheduler = SchedulerService(configuration: schedulerConfiguration, logger: Logger(label: "weft.scheduler"), readiness: readiness)
        var coordinatorConfiguration = CoordinatorService.Configuration(
            listen: coordinatorEndpoint, cluster: common.resolvedCluster, nodeID: "dev-coordinator", authToken: token,
            version: WeftVersion.current)
        coordinatorConfiguration.postgresURL = url
        coordinatorConfiguration.redisURL = schedulerConfiguration.redisURL
        // The built-in worker dials the coordinator where it actually listens (`--listen HOST:0`
        // picks a free port): it starts once the coordinator has bound.
        let (bound, reportBound) = AsyncStream<SocketAddress>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let coordinator = CoordinatorService(configuration: coordinatorConfiguration, logger: Logger(label: "weft.coordinator")) { address in
            print("listening on \(address)")
            flushStandardOutput()
            reportBound.yield(address)
        }
        var registry = TaskRegistry()
        BuiltinTasks.register(into: &registry, allowExec: allowExec)
        var workerConfiguration = WeftWorker.Configuration(coordinator: coordinatorEndpoint, workerID: "dev-worker")
        workerConfiguration.cluster = common.resolvedCluster
        workerConfiguration.authToken = token ?? []
        workerConfiguration.concurrency = concurrency
        workerConfiguration.rediscoverInterval = .seconds(1)
        let devWorker = DevWorkerService(bound: bound) { [workerConfiguration, registry] address in
            var configuration = workerConfiguration
            let wildcard = ["0.0.0.0", "::", ""].contains(address.host)
            configuration.coordinator = Endpoint(host: wildcard ? "127.0.0.1" : address.host, port: address.port)
            return WeftWorker(configuration: configuration, registry: registry, logger: Logger(label: "weft.worker"))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: scheduler), .init(service: coordinator), .init(service: devWorker)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// `weft dev`'s worker: started once the coordinator reports where it listens.
private struct DevWorkerService: Service {
    let bound: AsyncStream<SocketAddress>
    let makeWorker: @Sendable (Endpoint) -> WeftWorker

    init(bound: AsyncStream<SocketAddress>, makeWorker: @escaping @Sendable (Endpoint) -> WeftWorker) {
        self.bound = bound
        self.makeWorker = makeWorker
    }

    func run() async throws {
        // Graceful shutdown before the coordinator bound ends the wait: nothing to stop then.
        let address = await cancelWhenGracefulShutdown { () async -> SocketAddress? in
            var addresses = bound.makeAsyncIterator()
            return await addresses.next()
        }
        guard let address else { return }
        try await WorkerService(worker: makeWorker(address.endpoint)).run()
    }
}
