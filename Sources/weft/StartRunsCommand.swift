import ArgumentParser
import Foundation
import Weft
import WeftCLISupport
import WeftCore

/// `weft start-runs` (hidden): starts N runs as fast as C concurrent calls allow and does not wait
/// for them — to load a cluster with open runs (memory and recovery measurements).
struct StartRunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start-runs", shouldDisplay: false)

    @Option var address: String
    @Option var workflow: String
    @Option var runs: Int = 1000
    @Option var concurrency: Int = 256
    @Option var input: String = "null"
    @OptionGroup var common: CommonOptions

    func run() async throws {
        var configuration = WeftClient.Configuration(address: try parseEndpoint(address, flag: "address"))
        configuration.cluster = common.resolvedCluster
        configuration.authToken = try common.resolvedToken() ?? []
        configuration.connectionWait = configuration.defaultTimeout  // a load through restarts: wait, then retry
        let client = WeftClient(configuration: configuration)
        let remaining = WorkCounter(runs)
        let started = ContinuousClock.now
        let payload = Array(input.utf8)
        let workflow = self.workflow
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while remaining.take() {
                        _ = try await client.start(workflow: workflow, inputJSON: payload)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        print("started \(runs) runs in \(String(format: "%.1f", seconds)) s (\(Int(Double(runs) / seconds)) runs/s)")
        await client.close()
    }
}
