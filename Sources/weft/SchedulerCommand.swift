import ArgumentParser
import Logging
import ServiceLifecycle
import UnixSignals
import Weft
import WeftCLISupport
import WeftCore
import WeftMembership
import WeftServer

struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Run a scheduler: owns the partitions of runs, dispatches their tasks to workers.")

    @Option(help: "Address to listen on, HOST:PORT. [env: WEFT_LISTEN] (default: 0.0.0.0:7401)")
    var listen: String?

    @Option(help: "Address others reach this scheduler at, written with the partition fence. [env: WEFT_ADVERTISE] (default: the listen address)")
    var advertise: String?

    @Option(name: .customLong("node-id"), help: "This node's id. [env: WEFT_NODE_ID] (default: scheduler-<pid>)")
    var nodeID: String?

    @Option(help: "Postgres URL. [env: WEFT_POSTGRES_URL]")
    var postgres: String?

    @Option(help: "Redis URL: rate limits, and partition leases in cluster mode. [env: WEFT_REDIS_URL]")
    var redis: String?

    @OptionGroup var gossip: GossipOptions

    @Option(name: .customLong("debug-gossip-cut-file"), help: .hidden)
    var gossipCutFile: String?

    @Option(name: .customLong("shutdown-grace"), help: "How long calls in flight may run after SIGTERM. [env: WEFT_SHUTDOWN_GRACE] (default: 10s)")
    var shutdownGrace: String?

    @Option(name: .customLong("history-retention"), help: "Drop history (and idempotency keys) older than this. [env: WEFT_HISTORY_RETENTION] (default: 30d)")
    var historyRetention: String?

    @Option(
        name: .customLong("run-retention"),
        help: "Drop runs and their attempts (whole months, never one with an open run) older than this, or 'off'. [env: WEFT_RUN_RETENTION] (default: 30d)")
    var runRetention: String?

    @Option(
        name: .customLong("memory-limit"),
        help: "Refuse new runs (RESOURCE_EXHAUSTED) while resident memory is above this (e.g. 2GiB), or 'off'. [env: WEFT_MEMORY_LIMIT] (default: 80% of the cgroup's memory limit, else of the machine's memory)")
    var memoryLimit: String?

    @Option(name: .customLong("debug-recovery-pause"), help: .hidden)
    var recoveryPause: String?

    @OptionGroup var metrics: MetricsOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        _ = try makeConfiguration(token: nil)
    }

    func makeConfiguration(token: [UInt8]?) throws -> SchedulerService.Configuration {
        let endpoint = try parseEndpoint(WeftEnvironment.resolve(listen, flag: "listen") ?? "0.0.0.0:7401", flag: "listen")
        guard let url = WeftEnvironment.resolve(postgres, flag: "postgres") else {
            throw ValidationError("--postgres URL (or WEFT_POSTGRES_URL) is required")
        }
        var configuration = SchedulerService.Configuration(
            listen: endpoint, nodeID: WeftEnvironment.resolve(nodeID, flag: "node-id") ?? "scheduler-\(processID())",
            cluster: common.resolvedCluster, authToken: token, postgresURL: url, version: WeftVersion.current)
        if let advertise = WeftEnvironment.resolve(advertise, flag: "advertise") {
            configuration.advertise = try parseEndpoint(advertise, flag: "advertise").description
        }
        configuration.historyRetention = try parseDuration(
            WeftEnvironment.resolve(historyRetention, flag: "history-retention") ?? "30d", flag: "history-retention")
        configuration.shutdownGracePeriod = try parseDuration(
            WeftEnvironment.resolve(shutdownGrace, flag: "shutdown-grace") ?? "10s", flag: "shutdown-grace")
        if let retention = WeftEnvironment.resolve(runRetention, flag: "run-retention") {
            if retention.lowercased() == "off" {
                configuration.runRetention = nil
            } else {
                let duration = try parseDuration(retention, flag: "run-retention")
                guard duration >= .seconds(86_400) else { throw ValidationError("--run-retention must be at least 1d (or off)") }
                configuration.runRetention = duration
            }
        }
        if let limit = WeftEnvironment.resolve(memoryLimit, flag: "memory-limit") {
            configuration.memoryLimitBytes = limit.lowercased() == "off" ? nil : try parseBytes(limit, flag: "memory-limit")
        }
        if let recoveryPause { configuration.recoveryPause = try parseDuration(recoveryPause, flag: "debug-recovery-pause") }
        configuration.redisURL = WeftEnvironment.resolve(redis, flag: "redis")
        if let resolved = try gossip.resolve() {
            guard let redis = WeftEnvironment.resolve(redis, flag: "redis") else {
                throw ValidationError("cluster mode (--gossip) needs --redis URL (or WEFT_REDIS_URL) for the partition leases")
            }
            var mode = SchedulerService.Configuration.ClusterMode(gossip: resolved.bind, seeds: resolved.seeds, redisURL: redis)
            mode.membership = resolved.membership
            mode.ownership = resolved.ownership
            mode.cutFile = gossipCutFile
            configuration.clusterMode = mode
        }
        return configuration
    }

    func run() async throws {
        try common.bootstrapLogging()
        let logger = Logger(label: "weft.scheduler")
        let readiness = try await metrics.start(logger: logger)
        let service = SchedulerService(
            configuration: try makeConfiguration(token: try common.resolvedToken()), logger: logger, readiness: readiness
        ) { address in
            print("listening on \(address)")
            flushStandardOutput()
        }
        service.onGossip = { address in
            print("gossip on \(address)")
            flushStandardOutput()
        }
        let group = ServiceGroup(
            configuration: .init(
                // A scheduler that ends on its own (drained: `weftctl drain`) ends the process with 0.
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
