import ArgumentParser
import Weft
import WeftCLISupport
import WeftCore

/// `weftctl`: the admin tool (ARCHITECTURE.md §10). Exit codes: 0 ok, 1 operation failed, 2 usage.
struct Weftctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weftctl",
        abstract: "Administer a Weft cluster through a coordinator.",
        version: WeftVersion.current,
        subcommands: [HealthCommand.self, WorkflowCommand.self, RunCommand.self, ScheduleCommand.self, MembersCommand.self, RingCommand.self, PartitionsCommand.self, WorkersCommand.self, QueuesCommand.self, CacheCommand.self, BreakersCommand.self, ArchiveCommand.self, DrainCommand.self])
}

/// Flags of every weftctl command.
struct ClientOptions: ParsableArguments {
    @Option(help: "Coordinator address HOST:PORT. [env: WEFT_ADDRESS] (default: 127.0.0.1:7400)")
    var address: String?

    @Option(help: "Give up after this long (e.g. 500ms, 5s). [env: WEFT_TIMEOUT] (default: 10s; run wait: none)")
    var timeout: String?

    @Flag(help: "Print machine-readable JSON instead of a table.")
    var json = false

    @OptionGroup var common: CommonOptions

    func validate() throws {
        _ = try endpoint()
        _ = try timeoutDuration()
    }

    func endpoint() throws -> Endpoint {
        try parseEndpoint(WeftEnvironment.resolve(address, flag: "address") ?? "127.0.0.1:7400", flag: "address")
    }

    /// The timeout if the user set one (flag or `WEFT_TIMEOUT`), for commands whose job is to wait.
    func explicitTimeout() throws -> Duration? {
        try WeftEnvironment.resolve(timeout, flag: "timeout").map { try parseDuration($0, flag: "timeout") }
    }

    func timeoutDuration() throws -> Duration {
        try parseDuration(WeftEnvironment.resolve(timeout, flag: "timeout") ?? "10s", flag: "timeout")
    }

    /// Runs `body` with a connected client and closes it afterwards; RPC errors become exit-code-1
    /// failures with the server's message.
    func withClient<T>(_ body: (WeftClient) async throws -> T) async throws -> T {
        let client = try makeClient()
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch let error as WeftError {
            await client.close()
            throw CommandFailure("\(error)")
        } catch {
            await client.close()
            throw error
        }
    }

    func makeClient() throws -> WeftClient {
        var configuration = WeftClient.Configuration(address: try endpoint())
        configuration.cluster = common.resolvedCluster
        configuration.authToken = try common.resolvedToken() ?? []
        configuration.defaultTimeout = try timeoutDuration()
        configuration.nodeID = "weftctl"
        configuration.connectionWait = .zero  // an operator at a terminal wants "refused" now, not after a wait
        return WeftClient(configuration: configuration)
    }
}

await CommandMain.run(
    Weftctl.self, leadingOptions: ["address", "timeout", "cluster", "token-file", "log-level", "log-format"])
