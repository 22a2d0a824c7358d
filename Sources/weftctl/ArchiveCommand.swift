import ArgumentParser
import CZlib
import Foundation
import Logging
import Weft
import WeftCLISupport
import WeftCore
import WeftPostgres

/// `weftctl archive export | import`: a month of runs to a gzip-compressed JSON Lines file and
/// back (issue 12). These two talk to Postgres directly (`--postgres`), not to a coordinator: the
/// data streams through `COPY` from the database to the file, which relaying it through the
/// cluster's RPC would only slow down.
struct ArchiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Export a month of runs and their attempts to a compressed JSON Lines file (before --run-retention drops it), or load one back for inspection.",
        subcommands: [Export.self, Import.self])

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream month YYYY-MM of runs and task attempts to FILE (gzip, one JSON object per line).",
            discussion: "Each line is {\"table\": \"runs\"|\"task_attempts\", \"row\": {...}}. Runs still open are exported as they are (and counted).")
        @Option(help: "The month, YYYY-MM (UTC).") var month: String
        @Option(help: "The file to write (replaced if it exists).") var to: String
        @Option(help: "Postgres URL. [env: WEFT_POSTGRES_URL]") var postgres: String?
        @OptionGroup var common: CommonOptions

        func validate() throws {
            do { _ = try RunArchive.monthBounds(month) } catch { throw ValidationError("--month: \(error)") }
            guard WeftEnvironment.resolve(postgres, flag: "postgres") != nil else { throw ValidationError("--postgres URL (or WEFT_POSTGRES_URL) is required") }
        }

        func run() async throws {
            let connection = try await PostgresConnection.connect(
                url: WeftEnvironment.resolve(postgres, flag: "postgres")!, logger: Logger(label: "weftctl") { _ in SwiftLogNoOpLogHandler() })
            let temporary = to + ".partial"
            let file = try GzipFile(writing: temporary)
            let written = Locked(0)
            let counts: RunArchive.Counts
            do {
                counts = try await RunArchive.export(month: month, connection: connection) { line in
                    try file.write(line + [0x0A])
                    let n = written.withLock { $0 += 1; return $0 }
                    if n % 10_000 == 0 { writeToStandardError("weftctl archive export: \(n) rows\n") }
                }
                try file.close()
            } catch {
                try? file.close()
                unlink(temporary)
                await connection.close()
                throw CommandFailure("the export failed: \(error)")
            }
            await connection.close()
            guard rename(temporary, to) == 0 else { throw CommandFailure("cannot move \(temporary) to \(to): \(String(cString: strerror(errno)))") }
            print("exported \(counts.runs) runs and \(counts.attempts) task attempts of \(month) to \(to)"
                + (counts.openRuns > 0 ? " (\(counts.openRuns) runs still open, exported as they are)" : ""))
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load an exported file into table archive_rows (archive, table_name, row jsonb), for inspection with SQL.",
            discussion: "All or nothing: a line that is not an exported row refuses the whole file. The live runs tables are not touched.")
        @Option(help: "The exported file.") var from: String
        @Option(help: "The name the rows are filed under in archive_rows (default: the file name).") var name: String?
        @Option(help: "Postgres URL. [env: WEFT_POSTGRES_URL]") var postgres: String?
        @OptionGroup var common: CommonOptions

        func validate() throws {
            guard WeftEnvironment.resolve(postgres, flag: "postgres") != nil else { throw ValidationError("--postgres URL (or WEFT_POSTGRES_URL) is required") }
        }

        func run() async throws {
            let lines = try GzipLines(path: from)
            let connection = try await PostgresConnection.connect(
                url: WeftEnvironment.resolve(postgres, flag: "postgres")!, logger: Logger(label: "weftctl") { _ in SwiftLogNoOpLogHandler() })
            let archive = name ?? URL(fileURLWithPath: from).lastPathComponent
            do {
                let counts = try await RunArchive.load(archive: archive, lines: lines, connection: connection)
                await connection.close()
                if let problem = lines.problem { throw CommandFailure(problem) }
                print("loaded \(counts.runs) runs and \(counts.attempts) task attempts into archive_rows as '\(archive)'")
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                await connection.close()
                throw CommandFailure("the import failed, nothing was loaded: \(lines.problem ?? "\(error)")")
            }
        }
    }
}

/// A gzip file being written (zlib's `gz*` functions).
final class GzipFile: @unchecked Sendable {
    // @unchecked Sendable: written from one task at a time (the COPY's rows arrive in order).
    private var file: gzFile?
    private let path: String

    init(writing path: String) throws {
        self.path = path
        guard let file = gzopen(path, "wb6") else { throw CommandFailure("cannot create \(path): \(String(cString: strerror(errno)))") }
        self.file = file
    }

    func write(_ bytes: [UInt8]) throws {
        guard let file else { throw CommandFailure("\(path) is closed") }
        let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        guard written == Int32(bytes.count) else { throw CommandFailure("cannot write \(path)") }
    }

    func close() throws {
        guard let file else { return }
        self.file = nil
        guard gzclose(file) == Z_OK else { throw CommandFailure("cannot finish \(path)") }
    }
}

/// The lines of a gzip file (or a plain one: zlib reads both), streamed. A line longer than
/// `maxLine` or a read error ends the lines and is kept in `problem` (the import then fails).
final class GzipLines: Sequence, @unchecked Sendable {
    // @unchecked Sendable: iterated once, by the import, while the COPY sends the lines.
    static let maxLine = 64 << 20
    private let file: gzFile
    private let path: String
    private(set) var problem: String?

    init(path: String) throws {
        guard let file = gzopen(path, "rb") else { throw CommandFailure("cannot open \(path): \(String(cString: strerror(errno)))") }
        self.file = file
        self.path = path
    }

    deinit { gzclose(file) }

    func makeIterator() -> AnyIterator<[UInt8]> {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var pending: [UInt8] = []
        var start = 0
        var finished = false
        return AnyIterator { [self] in
            while true {
                if let newline = pending[start...].firstIndex(of: 0x0A) {
                    let line = Array(pending[start..<newline])
                    start = newline + 1
                    if start > 1 << 20 {
                        pending.removeFirst(start)
                        start = 0
                    }
                    if line.isEmpty { continue }
                    return line
                }
                if finished {
                    guard start < pending.count else { return nil }
                    let line = Array(pending[start...])
                    start = pending.count
                    return line
                }
                guard pending.count - start <= Self.maxLine else {
                    problem = "\(path): a line is longer than \(Self.maxLine >> 20) MiB: not an export"
                    return nil
                }
                let read = buffer.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
                if read < 0 {
                    problem = "\(path): cannot read it (not a gzip file, or damaged)"
                    return nil
                }
                if read == 0 { finished = true } else { pending += buffer[..<Int(read)] }
            }
        }
    }
}
