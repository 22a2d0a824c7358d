import Foundation
import Glibc
import Synchronization
import WeftCLISupport
import WeftCore

/// One `weft` child process of a bench cluster, with its standard output and standard error in a
/// log file (read back for the `listening on HOST:PORT` line and for diagnostics).
// @unchecked: `process` is only used through `Process`'s thread-safe members (processIdentifier,
// isRunning, terminationStatus, terminate); everything else is immutable.
final class BenchProcess: @unchecked Sendable {
    let name: String
    let logPath: String
    private let process: Process

    private init(name: String, logPath: String, process: Process) {
        self.name = name
        self.logPath = logPath
        self.process = process
    }

    /// Starts `weft ARGUMENTS…` (this very binary) with stdin from /dev/null.
    static func spawn(name: String, arguments: [String], logDirectory: String) throws -> BenchProcess {
        let logPath = logDirectory + "/" + name + ".log"
        guard FileManager.default.createFile(atPath: logPath, contents: nil),
              let log = FileHandle(forWritingAtPath: logPath)
        else { throw CommandFailure("cannot create the log file \(logPath)") }
        defer { try? log.close() }  // the child keeps its own descriptor; ours is no longer needed
        let process = Process()
        process.executableURL = URL(fileURLWithPath: currentExecutablePath())
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        do {
            try process.run()
        } catch {
            throw CommandFailure("cannot start weft \(arguments.first ?? ""): \(error)")
        }
        return BenchProcess(name: name, logPath: logPath, process: process)
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    /// The log file's text so far.
    func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""  // unreadable: nothing to show
    }

    /// The last `lines` lines of the log, indented, for error messages.
    func logTail(_ lines: Int = 15) -> String {
        let tail = log().split(separator: "\n", omittingEmptySubsequences: false).suffix(lines)
        return tail.map { "    " + $0 }.joined(separator: "\n")
    }

    /// Waits for the `listening on HOST:PORT` line the server roles print once they serve.
    func listeningEndpoint(timeout: Duration) async throws -> Endpoint {
        let deadline = ContinuousClock.now + timeout
        while true {
            for line in log().split(separator: "\n") where line.hasPrefix("listening on ") {
                let text = String(line.dropFirst("listening on ".count))
                guard let endpoint = try? Endpoint(parsing: text) else {
                    throw CommandFailure("\(name) printed an unusable address '\(text)'")
                }
                return endpoint
            }
            if let status = exitStatus {
                throw CommandFailure("\(name) exited with status \(status) before listening; its log (\(logPath)) ends:\n\(logTail())")
            }
            guard ContinuousClock.now < deadline else {
                throw CommandFailure("\(name) did not print 'listening on' within \(timeout); its log (\(logPath)) ends:\n\(logTail())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits for the process to exit by itself (as `weft migrate` does) and returns its status.
    func waitForExit(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = exitStatus { return status }
            guard ContinuousClock.now < deadline else {
                throw CommandFailure("\(name) did not finish within \(timeout); its log (\(logPath)) ends:\n\(logTail())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// SIGTERM now (graceful shutdown), without waiting.
    func terminate() {
        if process.isRunning { kill(pid, SIGTERM) }
    }

    /// SIGKILL now, without waiting.
    func forceKill() {
        if process.isRunning { kill(pid, SIGKILL) }
    }

    /// SIGTERM to every process, then SIGKILL to those still running after `grace`; returns once
    /// all are gone (at most `grace` plus a second), even when the calling task is cancelled.
    /// Returns the names of the processes that had to be killed.
    @discardableResult
    static func stopAll(_ processes: [BenchProcess], grace: Duration) async -> [String] {
        for process in processes { process.terminate() }
        let deadline = ContinuousClock.now + grace
        while processes.contains(where: \.isRunning) && ContinuousClock.now < deadline {
            await pauseIgnoringCancellation(.milliseconds(10))
        }
        let stubborn = processes.filter(\.isRunning)
        for process in stubborn { process.forceKill() }
        let killDeadline = ContinuousClock.now + .seconds(1)
        while stubborn.contains(where: \.isRunning) && ContinuousClock.now < killDeadline {
            await pauseIgnoringCancellation(.milliseconds(10))
        }
        return stubborn.map(\.name)
    }
}

/// Sleeps for `duration` even in a cancelled task (clean-up runs *because* of a cancellation).
func pauseIgnoringCancellation(_ duration: Duration) async {
    // A detached task does not inherit our cancellation; its sleep cannot fail otherwise.
    await Task.detached { try? await Task.sleep(for: duration) }.value
}
