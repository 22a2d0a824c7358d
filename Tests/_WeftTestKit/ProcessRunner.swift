import Foundation

/// Finds and runs the `weft` / `weftctl` executables built by SwiftPM, for tests that drive real
/// processes. `WEFT_BIN_DIR` overrides the location (scripts/test.sh sets it).
public enum WeftBinaries {
    public static func path(_ name: String, filePath: String = #filePath) throws -> String {
        if let dir = ProcessInfo.processInfo.environment["WEFT_BIN_DIR"], !dir.isEmpty {
            return dir + "/" + name
        }
        // Tests/_WeftTestKit/ProcessRunner.swift → package root.
        var root = URL(fileURLWithPath: filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        for configuration in ["debug", "release"] {
            let candidate = root.appendingPathComponent(".build/\(configuration)/\(name)").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ProcessTestError("cannot find the '\(name)' executable: build it first (swift build) or set WEFT_BIN_DIR")
    }
}

public struct ProcessTestError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// This process's environment without its `WEFT_*` settings (so a test states every setting the
/// child sees), plus `overrides`.
func childEnvironment(_ overrides: [String: String]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    for key in env.keys where key.hasPrefix("WEFT_") && key != "WEFT_BIN_DIR" { env[key] = nil }
    for (key, value) in overrides { env[key] = value }
    return env
}

/// The outcome of a finished process.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a process to completion with a timeout (killed when it overruns).
public func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(30)
) async throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = childEnvironment(environment)
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
        if ContinuousClock.now > deadline {
            process.terminate()
            throw ProcessTestError("\(executable) \(arguments) did not finish within \(timeout)")
        }
        try await Task.sleep(for: .milliseconds(10))
    }
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return ProcessResult(status: process.terminationStatus, stdout: stdout, stderr: stderr)
}

/// A long-running child (a server) whose output is collected; stopped with SIGTERM (then SIGKILL).
public final class ChildProcess: @unchecked Sendable {
    // @unchecked Sendable: `output` is guarded by `lock`; Process is used from the owning test only.
    public let process: Process
    private let lock = NSLock()
    private var output = ""
    /// The read end of the child's output pipe, kept until its reader is stopped (see `deinit`).
    private let reader: FileHandle

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = childEnvironment(environment)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        reader = pipe.fileHandleForReading
        reader.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                // End of file (the child exited): stop the dispatch source now. Left running it
                // fires again and again at EOF, and when the handle is later closed under it,
                // libdispatch's event loop dereferences a freed source (a CI run crashed so).
                handle.readabilityHandler = nil
                return
            }
            guard let self else { return }
            self.lock.withLock { self.output += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    deinit {
        reader.readabilityHandler = nil
    }

    public var outputSoFar: String { lock.withLock { output } }

    /// Waits for a line `listening on HOST:PORT` and returns the address.
    public func waitForListening(timeout: Duration = .seconds(20)) async throws -> String {
        try await waitForLine(prefix: "listening on ", timeout: timeout)
    }

    /// Waits for a line starting with `prefix` and returns the rest of it.
    public func waitForLine(prefix: String, timeout: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            for line in outputSoFar.split(separator: "\n") where line.hasPrefix(prefix) {
                return String(line.dropFirst(prefix.count))
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ProcessTestError("the process did not print a line starting '\(prefix)'; output:\n\(outputSoFar)")
    }

    /// Sends SIGTERM and waits for the exit status (SIGKILL after `grace`).
    @discardableResult
    public func terminate(grace: Duration = .seconds(15)) async -> Int32 {
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))  // cancellation just ends the wait early
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
