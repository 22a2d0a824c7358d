import ArgumentParser
import Weft
import WeftCLISupport
import WeftCore

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

