import ArgumentParser
import WeftCLISupport

/// `weft`: every server role of a Weft cluster, and its benchmarks (ARCHITECTURE.md §10).
struct Weft: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weft",
        abstract: "Weft: a distributed, durable workflow engine.",
        version: WeftVersion.current,
        subcommands: [MigrateCommand.self, CoordinatorCommand.self, SchedulerCommand.self, WorkerCommand.self, DevCommand.self, BenchCommand.self, InternalCommand.self, StartRunsCommand.self])
}

await CommandMain.run(Weft.self, leadingOptions: ["cluster", "token-file", "log-level", "log-format"])
