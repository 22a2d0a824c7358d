import ArgumentParser
import WeftCLISupport

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (ARCHITECTURE.md §10). Each prints a table; --json adds one JSON object on the last line.",
        subcommands: [
            RPCBenchCommand.self, ThroughputBenchCommand.self, LatencyBenchCommand.self, ChainBenchCommand.self, FanoutBenchCommand.self,
            TimersBenchCommand.self, FairnessBenchCommand.self,
        ])
}

/// Hidden helpers that other commands start as child processes.
struct InternalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "internal",
        abstract: "Helpers started by other weft commands (not for direct use).",
        shouldDisplay: false,
        subcommands: [BenchServerCommand.self])
}
