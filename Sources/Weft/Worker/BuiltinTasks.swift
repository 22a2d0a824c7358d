import Foundation
import WeftCore

/// The task types `weft worker` hosts without user code (ARCHITECTURE.md §1):
///
/// | type | input | output |
/// |---|---|---|
/// | `noop` | anything | `null` |
/// | `echo` | anything | the input, unchanged |
/// | `sleep` | `{"duration": "250ms"}` or `{"ms": 250}` | `null`, after that long (cancellable) |
/// | `exec` | `{"command": ["ls", "-l"], "timeout": "30s"}` | `{"exit_code", "stdout", "stderr"}`; a non-zero exit fails with kind `NonZeroExit` |
///
/// `exec` runs arbitrary commands as the worker's user, so it is registered only with
/// `--allow-exec`.
public enum BuiltinTasks {
    public static func register(into registry: inout TaskRegistry, allowExec: Bool) {
        registry.register("noop") { _, _ in Array("null".utf8) }
        registry.register("echo") { input, _ in input }
        registry.register("sleep", input: SleepInput.self, output: Nothing.self) { input, _ in
            try await Task.sleep(for: try input.resolvedDuration())
            return Nothing()
        }
        if allowExec {
            registry.register("exec", input: ExecInput.self, output: ExecOutput.self) { input, context in
                try await runCommand(input, context: context)
            }
        }
    }

    struct Nothing: Codable, Sendable {
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        }
        init() {}
        init(from decoder: any Decoder) throws {}
    }

    struct SleepInput: Codable, Sendable {
        var duration: String?
        var ms: Int?

        func resolvedDuration() throws -> Duration {
            if let ms {
                guard ms >= 0 else { throw TaskError(kind: "BadInput", message: "sleep: ms must not be negative", retryable: false) }
                return .milliseconds(ms)
            }
            guard let duration else {
                throw TaskError(kind: "BadInput", message: #"sleep needs {"duration": "250ms"} or {"ms": 250}"#, retryable: false)
            }
            do {
                return try DurationText.parse(duration)
            } catch {
                throw TaskError(kind: "BadInput", message: "sleep: \(error)", retryable: false)
            }
        }
    }

    struct ExecInput: Codable, Sendable {
        var command: [String]
        var timeout: String?
    }

    struct ExecOutput: Codable, Sendable {
        var exit_code: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the command with no shell, collects its output (up to 1 MiB each), and kills it on
    /// cancellation or timeout.
    static func runCommand(_ input: ExecInput, context: TaskContext) async throws -> ExecOutput {
        guard let executable = input.command.first, !executable.isEmpty else {
            throw TaskError(kind: "BadInput", message: #"exec needs {"command": ["program", "arg", ...]}"#, retryable: false)
        }
        let timeout: Duration
        do {
            timeout = try input.timeout.map { try DurationText.parse($0) } ?? .seconds(300)
        } catch {
            throw TaskError(kind: "BadInput", message: "exec: \(error)", retryable: false)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.contains("/") ? executable : "/usr/bin/env")
        process.arguments = executable.contains("/") ? Array(input.command.dropFirst()) : input.command
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw TaskError(kind: "ExecFailed", message: "cannot start \(executable): \(error)", retryable: false)
        }
        let deadline = ContinuousClock.now + timeout
        let stdout = Task.detached { out.fileHandleForReading.readDataToEndOfFile() }
        let stderr = Task.detached { err.fileHandleForReading.readDataToEndOfFile() }
        while process.isRunning {
            if Task.isCancelled || ContinuousClock.now > deadline {
                process.terminate()
                process.waitUntilExit()
                if Task.isCancelled { throw CancellationError() }
                throw TaskError(kind: "Timeout", message: "\(executable) ran longer than \(DurationText.format(timeout))")
            }
            // Cancellation is checked above on the next turn; a cancelled sleep returns at once.
            try? await Task.sleep(for: .milliseconds(10))
        }
        let output = ExecOutput(
            exit_code: process.terminationStatus,
            stdout: String(decoding: (await stdout.value).prefix(1 << 20), as: UTF8.self),
            stderr: String(decoding: (await stderr.value).prefix(1 << 20), as: UTF8.self))
        guard output.exit_code == 0 else {
            throw TaskError(kind: "NonZeroExit", message: "\(executable) exited with \(output.exit_code): \(output.stderr.suffix(500))")
        }
        return output
    }
}
