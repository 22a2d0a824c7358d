import ArgumentParser
import Logging
import ServiceLifecycle
import UnixSignals
import Weft
import WeftCLISupport
import WeftCore
import WeftMembership
import WeftServer

struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run a coordinator: the stateless front door for clients, weftctl and workers.")

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one). [env: WEFT_LISTEN] (default: 0.0.0.0:7400)")
    var listen: String?

    @Option(name: .customLong("node-id"), help: "This node's id in logs and health. [env: WEFT_NODE_ID] (default: coordinator-<pid>)")
    var nodeID: String?

    @Option(help: "Postgres URL; without it the coordinator serves health only. [env: WEFT_POSTGRES_URL]")
    var postgres: String?

    @Option(help: "Redis URL: the result cache (weftctl cache purge). [env: WEFT_REDIS_URL]")
    var redis: String?

    @Option(help: "Address others reach this coordinator at, announced in gossip. [env: WEFT_ADVERTISE] (default: the listen address)")
    var advertise: String?

    @OptionGroup var gossip: GossipOptions

    @Option(name: .customLong("shutdown-grace"), help: "How long calls in flight may run after SIGTERM. [env: WEFT_SHUTDOWN_GRACE] (default: 10s)")
    var shutdownGrace: String?

    @Option(
        name: .customLong("read-connections"),
        help: "Postgres sessions for client reads, shared fairly between callers (1-64). [env: WEFT_READ_CONNECTIONS] (default: 4)")
    var readConnections: String?

    @OptionGroup var metrics: MetricsOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        _ = try listenEndpoint()
        _ = try grace()
        _ = try gossipConfiguration()
        _ = try readSessions()
    }

    private func readSessions() throws -> Int {
        let text = WeftEnvironment.resolve(readConnections, flag: "read-connections") ?? "4"
        guard let value = Int(text), (1...64).contains(value) else {
            throw ValidationError("--read-connections: expected a number from 1 to 64, got \(MessageText.quoted(text))")
        }
        return value
    }

    private func gossipConfiguration() throws -> CoordinatorService.Configuration.Gossip? {
        guard let resolved = try gossip.resolve() else { return nil }
        var configuration = CoordinatorService.Configuration.Gossip(bind: resolved.bind, seeds: resolved.seeds)
        configuration.settings = resolved.membership
        return configuration
    }

    private func listenEndpoint() throws -> Endpoint {
        try parseEndpoint(WeftEnvironment.resolve(listen, flag: "listen") ?? "0.0.0.0:7400", flag: "listen")
    }

    private func grace() throws -> Duration {
        try parseDuration(WeftEnvironment.resolve(shutdownGrace, flag: "shutdown-grace") ?? "10s", flag: "shutdown-grace")
    }

    func run() async throws {
        try common.bootstrapLogging()
        let logger = Logger(label: "weft.coordinator")
        let token = try common.resolvedToken()
        if token == nil {
            logger.warning("no auth token configured (--token-file or WEFT_AUTH_TOKEN): any client may connect")
        }
        var configuration = CoordinatorService.Configuration(
            listen: try listenEndpoint(), cluster: common.resolvedCluster,
            nodeID: WeftEnvironment.resolve(nodeID, flag: "node-id") ?? "coordinator-\(processID())",
            authToken: token, version: WeftVersion.current)
        configuration.shutdownGracePeriod = try grace()
        configuration.postgresURL = WeftEnvironment.resolve(postgres, flag: "postgres")
        configuration.redisURL = WeftEnvironment.resolve(redis, flag: "redis")
        configuration.gossip = try gossipConfiguration()
        configuration.readConnections = try readSessions()
        if let advertise = WeftEnvironment.resolve(advertise, flag: "advertise") {
            configuration.advertise = try parseEndpoint(advertise, flag: "advertise").description
        }
        let readiness = try await metrics.start(logger: logger)
        let service = CoordinatorService(configuration: configuration, logger: logger, readiness: readiness) { address in
            // A machine-readable line for scripts and tests that start us on port 0.
            print("listening on \(address)")
            flushStandardOutput()
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}
