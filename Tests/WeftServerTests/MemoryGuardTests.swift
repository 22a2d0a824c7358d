import Testing
import WeftCore
import WeftTransport
@testable import WeftServer

@Suite("Memory guard")
struct MemoryGuardTests {
    @Test("statm and cgroup limit files are read as Linux writes them")
    func parsing() {
        #expect(ProcessMemory.parseStatm("52367 10240 3000 700 0 9000 0\n", pageSize: 4096) == 10240 * 4096)
        #expect(ProcessMemory.parseStatm("garbage", pageSize: 4096) == nil)
        #expect(ProcessMemory.parseCgroupLimit("2147483648\n") == 2_147_483_648)
        #expect(ProcessMemory.parseCgroupLimit("max\n") == nil)
        #expect(ProcessMemory.parseCgroupLimit("9223372036854771712\n") == nil)  // v1's "no limit"
        #expect(ProcessMemory.parseCgroupLimit("0") == nil)
    }

    @Test("this process's resident memory and the memory it may use are readable and plausible")
    func liveValues() throws {
        let resident = try #require(ProcessMemory.residentBytes())
        #expect(resident > 1 << 20)
        #expect(ProcessMemory.availableBytes() > resident)
        #expect(MemoryGuard.defaultLimitBytes < ProcessMemory.availableBytes())
    }

    @Test("under the limit starts are admitted; over it they get RESOURCE_EXHAUSTED naming the limit")
    func admitAndRefuse() throws {
        let resident = Locked(100)
        let trims = Locked(0)
        let guardian = MemoryGuard(
            limitBytes: 1000, sampleInterval: .zero, read: { resident.withLock { $0 } }, trim: { trims.withLock { $0 += 1 } })
        try guardian.admit()
        resident.withLock { $0 = 5000 }
        let error = #expect(throws: RPCError.self) { try guardian.admit() }
        #expect(error?.code == .resourceExhausted)
        #expect(error?.message.contains("--memory-limit") == true)
        #expect(trims.withLock { $0 } == 1)
        #expect(throws: RPCError.self) { try guardian.admit() }
        #expect(trims.withLock { $0 } == 1, "malloc_trim at most once a second")
        resident.withLock { $0 = 900 }
        try guardian.admit()
    }

    @Test("a trim that gives memory back admits at once; no limit admits always")
    func trimAndOff() throws {
        let resident = Locked(5000)
        let guardian = MemoryGuard(limitBytes: 1000, sampleInterval: .zero, read: { resident.withLock { $0 } }, trim: { resident.withLock { $0 = 10 } })
        try guardian.admit()
        let off = MemoryGuard(limitBytes: nil, read: { 1 << 40 }, trim: {})
        try off.admit()
    }

    @Test("samples are reused within the interval")
    func sampling() {
        let reads = Locked(0)
        let guardian = MemoryGuard(limitBytes: nil, sampleInterval: .seconds(60), read: { reads.withLock { $0 += 1; return $0 } }, trim: {})
        #expect(guardian.residentBytes() == 1)
        #expect(guardian.residentBytes() == 1)
        #expect(reads.withLock { $0 } == 1)
    }
}
