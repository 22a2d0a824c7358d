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
        subcommands: [HealthCommand.self])
}

/// Flags of every weftctl command.
struct ClientOptions: ParsableArguments {
    @Option(help: "Coordinator address HOST:PORT. [env: WEFT_ADDRESS] (default: 127.0.0.1:7400)")
    var address: String?

    @Option(help: "Give up after this long (e.g. 500ms, 5s). [env: WEFT_TIMEOUT] (default: 10s)")
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

    func timeoutDuration() throws -> Duration {
        try parseDuration(WeftEnvironment.resolve(timeout, flag: "timeout") ?? "10s", flag: "timeout")
    }

    func makeClient() throws -> WeftClient {
        var configuration = WeftClient.Configuration(address: try endpoint())
        configuration.cluster = common.resolvedCluster
        configuration.authToken = try common.resolvedToken() ?? []
        configuration.defaultTimeout = try timeoutDuration()
        configuration.nodeID = "weftctl"
        return WeftClient(configuration: configuration)
    }
}

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check that the server at --address serves; exits 1 when it does not or cannot be reached.")

    @OptionGroup var options: ClientOptions

    @Option(help: "Ask about one service (e.g. weft.api.v1.Health) instead of the whole server.")
    var service: String = ""

    func run() async throws {
        let client = try options.makeClient()
        let address = try options.endpoint()
        let report: HealthReport
        do {
            report = try await client.health(service: service)
        } catch {
            await client.close()
            if options.json {
                print(#"{"address":"\#(address)","status":"UNREACHABLE","error":\#(jsonString("\(error)"))}"#)
            }
            throw CommandFailure("\(address): \(error)")
        }
        await client.close()
        if options.json {
            print(#"{"address":"\#(address)","status":"\#(report.status.rawValue)","role":"\#(report.role)","node_id":\#(jsonString(report.nodeID)),"version":\#(jsonString(report.version)),"uptime_ms":\#(report.uptimeMilliseconds),"message":\#(jsonString(report.message))}"#)
        } else {
            print(Table(
                headers: ["ADDRESS", "STATUS", "ROLE", "NODE", "VERSION", "UPTIME"],
                rows: [[
                    "\(address)", report.status.rawValue, report.role, report.nodeID, report.version,
                    DurationText.format(.milliseconds(report.uptimeMilliseconds)),
                ]]).render())
            if !report.message.isEmpty { print("message: \(report.message)") }
        }
        guard report.isServing else { throw CommandFailure("\(address) is \(report.status.rawValue)") }
    }
}

await CommandMain.run(
    Weftctl.self, leadingOptions: ["address", "timeout", "cluster", "token-file", "log-level", "log-format"])
