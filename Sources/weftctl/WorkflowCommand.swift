import ArgumentParser
import Foundation
import Weft
import WeftCLISupport
import WeftCore
import Yams

struct WorkflowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow", abstract: "Register and list workflow definitions.",
        subcommands: [Apply.self, List.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register the workflow in FILE (YAML or JSON, the format of ARCHITECTURE.md §4).")

        @Argument(help: "A .yaml, .yml or .json file; - reads standard input.") var file: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let json = try DefinitionFile.loadJSON(path: file)
            let response = try await options.withClient { client in try await client.register(definitionJSON: json) }
            if options.json {
                printJSON(["name": response.name, "version": response.version, "created": response.created])
            } else {
                print("\(response.created ? "registered" : "unchanged") \(response.name) version \(response.version)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered workflows (latest version of each).")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let workflows = try await options.withClient { client in try await client.workflows() }
            if options.json {
                printJSON(workflows.map {
                    ["name": $0.name, "version": $0.version, "tasks": Int($0.taskCount), "created_at": isoTime($0.createdAtMilliseconds)] as [String: Any]
                })
            } else {
                print(Table(
                    headers: ["NAME", "VERSION", "TASKS", "REGISTERED"],
                    rows: workflows.map { [$0.name, $0.version, "\($0.taskCount)", isoTime($0.createdAtMilliseconds)] }
                ).render())
            }
        }
    }
}

/// Reads a definition file and turns it into the JSON the server takes.
enum DefinitionFile {
    static func loadJSON(path: String) throws -> [UInt8] {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw CommandFailure("cannot read '\(path)': no such file or not readable")
            }
            data = contents
        }
        guard data.count <= 4 << 20 else { throw CommandFailure("'\(path)' is larger than 4 MiB") }
        guard let text = String(data: data, encoding: .utf8) else { throw CommandFailure("'\(path)' is not UTF-8 text") }
        let trimmed = text.drop { $0.isWhitespace }
        if trimmed.hasPrefix("{") {
            do {
                _ = try JSONSerialization.jsonObject(with: data)
            } catch {
                throw CommandFailure("'\(path)' is not valid JSON: \(error.localizedDescription)")
            }
            return Array(data)
        }
        let object: Any?
        do {
            object = try Yams.load(yaml: text)
        } catch {
            throw CommandFailure("'\(path)' is not valid YAML: \(error)")
        }
        guard let object, JSONSerialization.isValidJSONObject(object) else {
            throw CommandFailure("'\(path)' does not hold a workflow definition (expected a mapping with name and tasks)")
        }
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }
}

func printJSON(_ object: Any) {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {  // only our own dictionaries get here
        print("{}")
        return
    }
    print(String(decoding: data, as: UTF8.self))
}

func isoTime(_ milliseconds: Int64) -> String {
    guard milliseconds != 0 else { return "-" }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
}
