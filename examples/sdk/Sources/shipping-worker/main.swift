// snippet:start worker
import Logging
import ServiceLifecycle
import Shipping
import Weft

// A worker process: runs the shipping task types until SIGTERM, then drains its attempts.
let coordinator = try Endpoint(parsing: CommandLine.arguments.dropFirst().first ?? "127.0.0.1:7400")
var registry = TaskRegistry()
Shipping.register(into: &registry)
let worker = WeftWorker(configuration: .init(coordinator: coordinator, workerID: "shipping-1"), registry: registry)
let logger = Logger(label: "shipping")
let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
try await group.run()
// snippet:end worker
