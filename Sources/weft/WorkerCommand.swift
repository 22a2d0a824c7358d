import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import Weft
import WeftServer
import WeftCLISupport
import WeftCore

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker with the built-in task types (noop, echo, sleep; exec with --allow-exec).")

    @Option(help: "Coordinator address HOST:PORT, to discover the schedulers. [env: WEFT_ADDRESS] (default: 127.0.0.1:7400)")
    var address: String?

    @Option(help: "Queues to take tasks from, comma-separated. [env: WEFT_QUEUES] (default: default)")
    var queues: String?

    @Option(help: "Attempts run at once. [env: WEFT_CONCURRENCY] (default: 8)")
    var concurrency: String?

    @Flag(name: .customLong("allow-exec"), help: "Register the exec task type (runs commands as this user). [env: WEFT_ALLOW_EXEC=true]")
    var allowExec = false

    @Option(name: .customLong("node-id"), help: "This worker's id. [env: WEFT_NODE_ID] (default: worker-<pid>)")
    var nodeID: String?

    @Option(name: .customLong("shutdown-grace"), help: "How long attempts in flight may run after SIGTERM. [env: WEFT_SHUTDOWN_GRACE] (default: 10s)")
    var shutdownGrace: String?

    @Option(
        name: .customLong("rediscover-interval"),
        help: "How often to ask the coordinator for the schedulers; in cluster mode a scheduler also tells its workers at once when one joins or leaves. [env: WEFT_REDISCOVER_INTERVAL] (default: 5s)")
    var rediscoverInterval: String?

    @OptionGroup var metrics: MetricsOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        _ = try makeConfiguration(token: nil)
    }

    private func makeConfiguration(token: [UInt8]?) throws -> WeftWorker.Configuration {
        let endpoint = try parseEndpoint(WeftEnvironment.resolve(address, flag: "address") ?? "127.0.0.1:7400", flag: "address")
        var configuration = WeftWorker.Configuration(
            coordinator: endpoint, workerID: WeftEnvironment.resolve(nodeID, flag: "node-id") ?? "worker-\(processID())")
        configuration.cluster = common.resolvedCluster
        configuration.authToken = token ?? []
        let queueList = (WeftEnvironment.resolve(queues, flag: "queues") ?? "default")
            .split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !queueList.isEmpty else { throw ValidationError("--queues: name at least one queue") }
        configuration.queues = queueList
        let concurrencyText = WeftEnvironment.resolve(concurrency, flag: "concurrency") ?? "8"
        guard let value = Int(concurrencyText), value > 0, value <= 10_000 else {
            throw ValidationError("--concurrency: expected a number from 1 to 10000, got '\(concurrencyText)'")
        }
        configuration.concurrency = value
        configuration.shutdownGracePeriod = try parseDuration(
            WeftEnvironment.resolve(shutdownGrace, flag: "shutdown-grace") ?? "10s", flag: "shutdown-grace")
        configuration.rediscoverInterval = try parseDuration(
            WeftEnvironment.resolve(rediscoverInterval, flag: "rediscover-interval") ?? "5s", flag: "rediscover-interval")
        guard configuration.rediscoverInterval >= .milliseconds(100) else {
            throw ValidationError("--rediscover-interval: at least 100ms")
        }
        return configuration
    }

    func run() async throws {
        try common.bootstrapLogging()
        let logger = Logger(label: "weft.worker")
        let configuration = try makeConfiguration(token: try common.resolvedToken())
        let execAllowed = allowExec || WeftEnvironment.resolve(nil, flag: "allow-exec") == "true"
        var registry = TaskRegistry()
        BuiltinTasks.register(into: &registry, allowExec: execAllowed)
        let readiness = try await metrics.start(logger: logger)
        let worker = WeftWorker(configuration: configuration, registry: registry, logger: logger)
        logger.notice("worker starting", metadata: [
            "node.id": "\(configuration.workerID)", "coordinator": "\(configuration.coordinator)",
            "queues": "\(configuration.queues.joined(separator: ","))", "concurrency": "\(configuration.concurrency)",
            "task.types": "\(registry.taskTypes.joined(separator: ","))",
        ])
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: WorkerService(worker: worker, readiness: readiness), successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.notice("worker stopped")
    }
}

/// Runs a `WeftWorker` (itself a service: graceful shutdown drains in-flight attempts within the
/// grace period) and reports its readiness.
struct WorkerService: Service {
    let worker: WeftWorker
    /// `/readyz`: ready while it runs, not ready once it has drained and stopped.
    var readiness = Readiness()

    func run() async throws {
        readiness.set(.ready)
        await worker.run()  // returns after a graceful shutdown has drained it
        readiness.set(.notReady("stopped"))
    }
}
