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
    /// Registers `noop`, `echo`, `sleep`, and `exec` when `allowExec`.
    public static func register(into registry: inout TaskRegistry, allowExec: Bool) {
        registry.register(TaskType<JSONValue, JSONValue>.noop.name) { _, _ in Array("null".utf8) }
        registry.register(TaskType<JSONValue, JSONValue>.echo.name) { input, _ in input }
        registry.register(sleep) { input, _ in
            try await Task.sleep(for: try input.resolvedDuration())
            return Nothing()
        }
        if allowExec {
            registry.register(exec) { input, context in
                try await runCommand(input, context: context)
            }
        }
    }

    static let sleep = TaskType<SleepInput, Nothing>("sleep")
    static let exec = TaskType<ExecInput, ExecOutput>("exec")

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

    /// Runs the command with no shell (`ChildCommand`), collects its output (up to 1 MiB each),
    /// and kills it (and what it started) on cancellation or timeout.
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
        let child: ChildCommand
        do {
            child = try ChildCommand(input.command)
        } catch {
            throw TaskError(kind: "ExecFailed", message: "cannot start \(executable): \(error)", retryable: false)
        }
        // The child is awaited on a thread of its own (see `ChildCommand`); this task only waits
        // for whichever comes first: the exit, the timeout, or cancellation.
        let finished = Task { await child.wait() }
        let timedOut = Locked(false)
        let result = await withTaskCancellationHandler {
            await withTaskGroup(of: ChildCommand.Result?.self) { group in
                group.addTask { await finished.value }
                group.addTask {
                    try? await Task.sleep(for: timeout)  // cancelled when the child exits first
                    return nil
                }
                let first = await group.next()!
                group.cancelAll()
                if let first { return first }
                timedOut.withLock { $0 = true }
                child.kill()
                return await finished.value
            }
        } onCancel: {
            child.kill(grace: context.isTerminated ? .zero : .seconds(2))  // terminated: SIGKILL at once
        }
        if Task.isCancelled { throw CancellationError() }
        if timedOut.withLock({ $0 }) {
            throw TaskError(kind: "Timeout", message: "\(executable) ran longer than \(DurationText.format(timeout))")
        }
        let output = ExecOutput(
            exit_code: result.exitCode,
            stdout: String(decoding: result.stdout, as: UTF8.self),
            stderr: String(decoding: result.stderr, as: UTF8.self))
        guard output.exit_code == 0 else {
            throw TaskError(kind: "NonZeroExit", message: "\(executable) exited with \(output.exit_code): \(output.stderr.suffix(500))")
        }
        return output
    }
}
