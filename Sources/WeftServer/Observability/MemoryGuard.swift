#if canImport(Glibc)
import Glibc
#endif
import CWeftSystem
import Metrics
import WeftCore
import WeftTransport

/// What the process uses and may use, from Linux's own accounts.
public enum ProcessMemory {
    /// Resident memory of this process in bytes (`/proc/self/statm`, field 2, in pages); nil when
    /// it cannot be read.
    public static func residentBytes() -> Int? {
        guard let text = readSmallFile("/proc/self/statm") else { return nil }
        return parseStatm(text, pageSize: pageSize)
    }

    /// The memory the process may use: the cgroup limit (v2 `memory.max`, else v1
    /// `memory.limit_in_bytes`) or the machine's physical memory, whichever is smaller.
    public static func availableBytes() -> Int {
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) * pageSize
        let cgroup = readSmallFile("/sys/fs/cgroup/memory.max").flatMap(parseCgroupLimit)
            ?? readSmallFile("/sys/fs/cgroup/memory/memory.limit_in_bytes").flatMap(parseCgroupLimit)
        guard let cgroup, cgroup > 0 else { return physical }
        return physical > 0 ? min(cgroup, physical) : cgroup
    }

    static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// Resident bytes from the text of `/proc/<pid>/statm` ("size resident shared …", in pages).
    static func parseStatm(_ text: String, pageSize: Int) -> Int? {
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1].filter { !$0.isNewline }) else { return nil }
        return pages * pageSize
    }

    /// A cgroup memory limit file's value: bytes, or nil for `max` (none) and nonsense. Cgroup v1
    /// writes a huge number (about 2⁶³, rounded to pages) for "no limit": taken as none too.
    static func parseCgroupLimit(_ text: String) -> Int? {
        let value = text.filter { !$0.isWhitespace }
        guard let bytes = Int(value), bytes > 0, bytes < (1 << 60) else { return nil }
        return bytes
    }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}

/// Refuses new work once the process's resident memory passes a limit (issue 12 item 7), so that a
/// flood of starts ends in `RESOURCE_EXHAUSTED` — which clients retry with backoff — rather than in
/// the kernel's OOM killer taking every open run's memory with it.
///
/// Memory is read at most every `sampleInterval` (a `/proc` read costs a few microseconds; at
/// thousands of starts a second it is read ten times a second, not thousands). Past the limit the
/// guard first asks malloc to give freed memory back (`malloc_trim`, at most once a second) and
/// reads again: glibc keeps freed pages, and without the trim a burst that has passed could keep
/// the scheduler refusing. Thread-safe.
public final class MemoryGuard: Sendable {
    /// nil: no limit (`--memory-limit off`).
    public let limitBytes: Int?
    private let sampleInterval: Duration
    private let read: @Sendable () -> Int?
    private let trim: @Sendable () -> Void
    private let state = Locked(State())
    private let refusals = Counter(label: "weft_starts_refused_total", dimensions: [("reason", "memory")])

    private struct State {
        var resident: Int?
        var sampledAt: ContinuousClock.Instant?
        var trimmedAt: ContinuousClock.Instant?
    }

    /// The default limit: 80% of what the process may use (its cgroup's limit or the machine's memory).
    public static var defaultLimitBytes: Int { ProcessMemory.availableBytes() / 5 * 4 }

    public init(
        limitBytes: Int?, sampleInterval: Duration = .milliseconds(100),
        read: @escaping @Sendable () -> Int? = ProcessMemory.residentBytes,
        trim: @escaping @Sendable () -> Void = { _ = cweft_malloc_trim() }
    ) {
        self.limitBytes = limitBytes
        self.sampleInterval = sampleInterval
        self.read = read
        self.trim = trim
    }

    /// Resident bytes as last read (read now when the sample is older than the interval).
    public func residentBytes() -> Int? {
        let now = ContinuousClock.now
        return state.withLock { state in
            if let at = state.sampledAt, now - at < sampleInterval { return state.resident }
            state.resident = read()
            state.sampledAt = now
            return state.resident
        }
    }

    /// Throws `RESOURCE_EXHAUSTED` when resident memory is past the limit (after a trim).
    public func admit(what: String = "new runs") throws {
        guard let limit = limitBytes, let resident = residentBytes(), resident > limit else { return }
        let now = ContinuousClock.now
        let trimmed = state.withLock { state -> Bool in
            if let at = state.trimmedAt, now - at < .seconds(1) { return false }
            state.trimmedAt = now
            return true
        }
        if trimmed {
            trim()
            let again = read()
            state.withLock { $0.resident = again; $0.sampledAt = ContinuousClock.now }
            if let again, again <= limit { return }
        }
        refusals.increment()
        throw RPCError(
            .resourceExhausted,
            "the scheduler is refusing \(what): it uses \(ByteSize.format(residentBytes() ?? resident)) of its \(ByteSize.format(limit)) memory limit (--memory-limit); retry with backoff")
    }
}
