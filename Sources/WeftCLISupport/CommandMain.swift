import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command tree with Weft's exit-code contract (ARCHITECTURE.md §10): 0 ok, 1 the operation
/// failed (message on stderr), 2 usage error (bad flags or values, with the usage text).
public enum CommandMain {
    ///
    /// `leadingOptions` names the options (without dashes) that take a value and may be written
    /// before the subcommand, as in `weftctl --address HOST:PORT health`; they are moved behind it.
    public static func run<Root: AsyncParsableCommand>(
        _ root: Root.Type, arguments: [String] = Array(CommandLine.arguments.dropFirst()), leadingOptions: Set<String> = []
    ) async -> Never {
        // hiredis writes with plain write(2): a reset Redis connection must be an error, not SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        raiseOpenFileLimit()
        let parsed: any ParsableCommand
        do {
            parsed = try root.parseAsRoot(moveLeadingOptions(arguments, valueOptions: leadingOptions))
        } catch {
            let code = root.exitCode(for: error)
            if code == .success {
                root.exit(withError: error)  // --help, --version: ArgumentParser prints them and exits 0
            }
            FileHandleWriter.stderr(root.fullMessage(for: error))
            exit(2)
        }
        do {
            if var command = parsed as? any AsyncParsableCommand {
                try await command.run()
            } else {
                var command = parsed
                try command.run()
            }
            exit(0)
        } catch let exit as ExitCode {
            Glibc.exit(exit.rawValue)
        } catch let error as ValidationError {
            FileHandleWriter.stderr("error: \(error)\nSee '\(root._commandName) --help'.")
            exit(2)
        } catch {
            let code = root.exitCode(for: error)
            if code == .success { root.exit(withError: error) }  // e.g. help requested from run()
            if code == .validationFailure {
                FileHandleWriter.stderr(root.fullMessage(for: error))
                exit(2)
            }
            FileHandleWriter.stderr("error: \(error)")
            exit(1)
        }
    }
}

/// Raises the soft limit on open files to the hard limit (as Go's runtime does): the default soft
/// limit (often 1,024) is what a server with many clients hits first. At the hard limit, servers
/// back off accepting (see `RPCServerConfiguration.acceptBackoff`) instead of spinning.
func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)  // best effort: the old limit still works
}

/// `[--address X, --json, health, --service s]` → `[health, --service s, --address X, --json]`:
/// options before the first subcommand word go to the end, where the subcommand parses them.
func moveLeadingOptions(_ arguments: [String], valueOptions: Set<String>) -> [String] {
    var leading: [String] = []
    var index = 0
    while index < arguments.count, arguments[index].hasPrefix("-"), arguments[index] != "--" {
        let token = arguments[index]
        leading.append(token)
        index += 1
        let name = String(token.drop { $0 == "-" })
        if !name.contains("="), valueOptions.contains(name), index < arguments.count {
            leading.append(arguments[index])
            index += 1
        }
    }
    guard !leading.isEmpty, index < arguments.count else { return arguments }
    return Array(arguments[index...]) + leading
}

/// Writes a line to standard error.
public enum FileHandleWriter {
    public static func stderr(_ text: String) {
        let line = text.hasSuffix("\n") ? text : text + "\n"
        writeToStandardError(line)
    }
}

/// Writes all of `text` to fd 2 (unbuffered, safe from any thread).
public func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { break }
        offset += n
    }
}
