import ArgumentParser
import Foundation
import Weft
import WeftCLISupport
import WeftCore
import Yams

struct WorkflowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow", abstract: "Register, list and show workflow definitions.",
        subcommands: [Apply.self, List.self, Get.self, Versions.self])

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

extension WorkflowCommand {
    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show workflow NAME's definition (the latest version, or --version V) as registered: canonical JSON.")
        @Argument(help: "The workflow's name.") var name: String
        @Option(help: "A version (see `weftctl workflow versions NAME`); default: the latest.") var version: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let response = try await options.withClient { client in try await client.workflow(name, version: version) }
            let definition = (try? JSONSerialization.jsonObject(with: Data(response.definitionJSON))) ?? NSNull()
            if options.json {
                printJSON([
                    "name": response.name, "version": response.version, "latest": response.version == response.versions.first?.version,
                    "applied_at": response.appliedAtMilliseconds == 0 ? NSNull() : isoTime(response.appliedAtMilliseconds) as Any,
                    "definition": definition,
                ] as [String: Any])
            } else {
                let latest = response.version == response.versions.first?.version ? " (latest)" : ""
                print("workflow  \(response.name)")
                print("version   \(response.version)\(latest)")
                print("applied   \(isoTime(response.appliedAtMilliseconds))")
                let pretty = (try? JSONSerialization.data(withJSONObject: definition, options: [.prettyPrinted, .sortedKeys]))
                    .map { String(decoding: $0, as: UTF8.self) } ?? String(decoding: response.definitionJSON, as: UTF8.self)
                print(pretty)
            }
        }
    }

    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List workflow NAME's versions, the latest first (at most 200).",
            discussion: "A version is the content hash of the canonical definition; a run pins the version it started with.")
        @Argument(help: "The workflow's name.") var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let response = try await options.withClient { client in try await client.workflow(name) }
            if options.json {
                printJSON(response.versions.enumerated().map { index, version in
                    ["version": version.version, "tasks": Int(version.taskCount), "applied_at": isoTime(version.appliedAtMilliseconds),
                     "latest": index == 0] as [String: Any]
                })
            } else {
                print(Table(
                    headers: ["VERSION", "TASKS", "APPLIED", ""],
                    rows: response.versions.enumerated().map { index, version in
                        [version.version, "\(version.taskCount)", isoTime(version.appliedAtMilliseconds), index == 0 ? "latest" : ""]
                    }
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
        let object = try yamlObject(text, path: path)
        guard JSONSerialization.isValidJSONObject(object) else {
            throw CommandFailure("'\(path)' does not hold a workflow definition (expected a mapping with name and tasks)")
        }
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }
}

extension DefinitionFile {
    /// Most YAML nodes one definition may expand to. A definition of 10,000 tasks with every
    /// option is a few hundred thousand nodes.
    static let maxYAMLNodes = 2_000_000
    /// Deepest nesting of flow collections (`[[[…`) accepted before parsing (the parser recurses).
    static let maxFlowNesting = 256

    /// Parses YAML into JSON-compatible values with bounded work. Aliases let a small file name an
    /// exponentially large tree ("billion laughs": 1 KB expanding to gigabytes); the YAML library
    /// shares aliased nodes while parsing, and the expansion happens here, node by node, within
    /// `maxYAMLNodes`.
    static func yamlObject(_ text: String, path: String) throws -> Any {
        var depth = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                depth += 1
                guard depth <= maxFlowNesting else {
                    throw CommandFailure("'\(path)' nests brackets more than \(maxFlowNesting) deep")
                }
            } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                depth = max(0, depth - 1)
            }
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw CommandFailure("'\(path)' is not valid YAML: \(error)")
        }
        guard let root else { throw CommandFailure("'\(path)' is empty") }
        var budget = maxYAMLNodes
        return try jsonValue(root, budget: &budget, path: path)
    }

    private static func jsonValue(_ node: Node, budget: inout Int, path: String) throws -> Any {
        budget -= 1
        guard budget >= 0 else {
            throw CommandFailure(
                "'\(path)' expands to more than \(maxYAMLNodes) YAML nodes (aliases repeating aliases?); refusing it")
        }
        switch node {
        case .scalar:
            return node.any
        case .sequence(let sequence):
            var out: [Any] = []
            for element in sequence { out.append(try jsonValue(element, budget: &budget, path: path)) }
            return out
        case .mapping(let mapping):
            var out: [String: Any] = [:]
            for (key, value) in mapping {
                guard case .scalar = key, let name = key.string else {
                    throw CommandFailure("'\(path)' has a mapping key that is not a plain string")
                }
                out[name] = try jsonValue(value, budget: &budget, path: path)
            }
            return out
        case .alias:
            throw CommandFailure("'\(path)' has an unresolved alias")
        }
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
