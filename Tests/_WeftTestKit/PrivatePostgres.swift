import Foundation

/// A Postgres server of a test's own, for tests that stop and start the database (the shared one
/// of `scripts/test.sh` serves other tests at the same time). Created with `initdb` in a temporary
/// directory on a free loopback port, like the scripts do (`runuser -u postgres` when root).
public final class PrivatePostgres: @unchecked Sendable {
    // @unchecked Sendable: used from one test task at a time.
    public let port: Int
    public let directory: String
    private let binaries: String
    private let asPostgres: [String]

    public var url: String { "postgresql://postgres@127.0.0.1:\(port)/postgres" }

    /// initdb + start. `fsync` off: the tests that use it are about availability, not durability.
    public init() async throws {
        let versions = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql").sorted {
            $0.compare($1, options: .numeric) == .orderedAscending
        }
        guard let version = versions.last else { throw ProcessTestError("no Postgres under /usr/lib/postgresql") }
        binaries = "/usr/lib/postgresql/\(version)/bin"
        asPostgres = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("weft-pg-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        if getuid() == 0 {
            let chown = try await runProcess("/bin/chown", ["postgres:postgres", directory])
            guard chown.status == 0 else { throw ProcessTestError("chown failed: \(chown.stderr)") }
        }
        port = Self.freePort()
        let initdb = try await runProcess(
            asPostgres.first ?? "\(binaries)/initdb",
            Array(asPostgres.dropFirst()) + (asPostgres.isEmpty ? [] : ["\(binaries)/initdb"])
                + ["-D", "\(directory)/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            timeout: .seconds(120))
        guard initdb.status == 0 else { throw ProcessTestError("initdb failed: \(initdb.stderr)") }
        try await start()
    }

    /// Starts the server (again).
    public func start() async throws {
        let result = try await pgctl([
            "-D", "\(directory)/data", "-l", "\(directory)/log", "-w", "-t", "60", "start",
            "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
        ])
        guard result.status == 0 else { throw ProcessTestError("pg_ctl start failed: \(result.stderr) \(result.stdout)") }
    }

    /// Stops the server (fast shutdown: sessions are terminated).
    public func stop() async throws {
        let result = try await pgctl(["-D", "\(directory)/data", "-m", "fast", "-w", "stop"])
        guard result.status == 0 else { throw ProcessTestError("pg_ctl stop failed: \(result.stderr)") }
    }

    /// Stops the server if it runs and removes its files.
    public func destroy() async {
        _ = try? await pgctl(["-D", "\(directory)/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// pg_ctl, through Python (which closes every inherited descriptor in its children) and a
    /// shell that sends the output to a file: the server pg_ctl starts would otherwise inherit
    /// descriptors of this process, and Foundation's `Process` then never sees pg_ctl end.
    private func pgctl(_ arguments: [String]) async throws -> ProcessResult {
        let command = (asPostgres + ["\(binaries)/pg_ctl"] + arguments).map(Self.shellQuoted).joined(separator: " ")
        let result = try await runProcess(
            "/usr/bin/python3",
            ["-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))",
             "/bin/sh", "-c", "\(command) >>\(Self.shellQuoted(directory + "/pg_ctl.out")) 2>&1"],
            timeout: .seconds(90))
        guard result.status == 0 else {
            let output = (try? String(contentsOfFile: directory + "/pg_ctl.out", encoding: .utf8)) ?? ""
            return ProcessResult(status: result.status, stdout: "", stderr: String(output.suffix(2000)))
        }
        return result
    }

    private static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: bound.sin_port))
    }
}
