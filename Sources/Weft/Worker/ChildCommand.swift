#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WeftCore

/// A command run by the `exec` task type: spawned with `posix_spawnp` (no shell), its stdout and
/// stderr collected, killable, awaited without blocking anyone.
///
/// Why not Foundation's `Process` with blocking reads in `Task.detached`: those reads block the
/// cooperative pool, which has as many threads as cores (two here), so one `exec` of `sleep 5`
/// froze the whole worker — other attempts waited, heartbeats stopped, and the `exec` attempt
/// itself timed out for want of heartbeats. Here each command has one thread of its own that
/// polls both pipes and reaps the child; the async side only awaits a continuation.
///
/// Lifecycle: `spawn` → running → (exit | `kill`) → reaped; the result is delivered once. After the
/// child exits, output still in the pipes is read for up to `drainGrace` (a grandchild holding the
/// pipes open cannot keep the attempt alive).
final class ChildCommand: Sendable {
    struct Result: Sendable {
        /// The exit code, or 128 + signal for a child killed by a signal.
        var exitCode: Int32
        var signalled: Bool
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    let pid: pid_t
    private let outFD: Int32
    private let errFD: Int32
    private let maxOutputBytes: Int
    private let drainGrace: Duration
    private let killRequested = Locked<Int32?>(nil)

    /// Starts `arguments[0]` (looked up on `PATH` unless it contains a `/`). Throws the spawn error.
    init(_ arguments: [String], maxOutputBytes: Int = 1 << 20, drainGrace: Duration = .seconds(1)) throws {
        precondition(!arguments.isEmpty, "a command needs a program")
        self.maxOutputBytes = maxOutputBytes
        self.drainGrace = drainGrace
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0 else { throw Self.error("pipe", errno) }
        guard pipe(&errPipe) == 0 else {
            let code = errno
            close(outPipe[0]); close(outPipe[1])
            throw Self.error("pipe", code)
        }
        // Close-on-exec, so that no other child (ours or anyone's in this process) inherits them;
        // the child gets its ends through dup2 below, which clears the flag on the copies.
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with default signal handling and nothing blocked (we ignore SIGPIPE),
        // in a process group of its own so that `kill` reaches what it starts too.
        var defaults = sigset_t()
        sigfillset(&defaults)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let rc = posix_spawnp(&child, argv[0]!, &actions, &attributes, &argv, environ)
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw Self.error("cannot start \(arguments[0])", rc)
        }
        pid = child
        outFD = outPipe[0]
        errFD = errPipe[0]
    }

    /// Asks the child (and its process group) to stop: SIGTERM now, SIGKILL if it is still there
    /// `grace` later; with no grace, SIGKILL at once. Safe from any thread, any number of times.
    func kill(grace: Duration = .seconds(2)) {
        if grace <= .zero {
            killRequested.withLock { requested in
                guard requested != SIGKILL, requested != -1 else { return }  // -1: reaped (its pid may be reused)
                requested = SIGKILL
                _ = Glibc.kill(-self.pid, SIGKILL)
            }
            return
        }
        let first = killRequested.withLock { requested -> Bool in
            guard requested == nil else { return false }
            requested = SIGTERM
            return true
        }
        guard first else { return }
        _ = Glibc.kill(-pid, SIGTERM)
        let pid = self.pid
        let killRequested = self.killRequested
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18)
            // Still being waited for: force it. (A reaped pid is not signalled: see `wait`.)
            killRequested.withLock { requested in
                guard requested == SIGTERM else { return }
                requested = SIGKILL
                _ = Glibc.kill(-pid, SIGKILL)
            }
        }
    }

    /// Waits for the child to exit and its output; runs the blocking part on a thread of its own.
    func wait() async -> Result {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in continuation.resume(returning: collect()) }
        }
    }

    /// The blocking loop: poll both pipes (100 ms at a time), reap the child without blocking.
    private func collect() -> Result {
        var fds = [pollfd(fd: outFD, events: Int16(POLLIN), revents: 0), pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)]
        var output: [[UInt8]] = [[], []]
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var status: Int32 = 0
        var exited = false
        var exitedAt = ContinuousClock.now
        while fds.contains(where: { $0.fd >= 0 }) {
            if exited && ContinuousClock.now - exitedAt > drainGrace { break }
            let ready = poll(&fds, 2, 100)
            if ready < 0 && errno != EINTR { break }
            for index in 0..<2 where fds[index].fd >= 0 && fds[index].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    let room = maxOutputBytes - output[index].count
                    if room > 0 { output[index] += buffer[0..<min(n, room)] }  // the rest is read and dropped
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    fds[index].fd = -1
                }
            }
            if !exited && waitpid(pid, &status, WNOHANG) == pid {
                exited = true
                exitedAt = .now
            }
        }
        close(outFD)
        close(errFD)
        if !exited {
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        // Reaped: a pending SIGKILL must not reach a recycled pid.
        killRequested.withLock { $0 = -1 }
        let signalled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        let code = signalled ? 128 + (status & 0x7f) : (status >> 8) & 0xff
        return Result(exitCode: code, signalled: signalled, stdout: output[0], stderr: output[1])
    }

    private static func error(_ what: String, _ code: Int32) -> TaskError {
        TaskError(kind: "ExecFailed", message: "\(what): \(String(cString: strerror(code)))", retryable: false)
    }
}
