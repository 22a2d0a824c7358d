// libFuzzer targets for every request decoder of the client and worker APIs, structure-aware:
// each input is read two ways.
//
// 1. As a recipe: the bytes choose the fields of a request (strings empty, huge, with NUL or
//    control characters or non-ASCII; extreme numbers; run ids of every version and date), which
//    is encoded, decoded and compared (the round trip must be exact), then put through the checks
//    a server runs on it (run id window, message quoting, definition validation). Mutations of
//    the recipe explore the values a hostile client sends; the decoders see only valid encodings.
// 2. As raw bytes for the same decoder: protobuf-c and the Swift conversion see what no encoder
//    would write (unknown enum values, truncated fields, wrong wire types). A decode that succeeds
//    must survive a round trip too.
//
//   scripts/fuzz.sh 600 start-run                  # fuzz one target for 10 minutes
//   WEFT_FUZZ_TARGET=start-run weft-fuzz-requests CORPUS -max_total_time=600
//   weft-fuzz-requests replay TARGET FILE_OR_DIR...   # without FUZZING (scripts/test.sh)
//   weft-fuzz-requests seed DIR                   # writes seed inputs for every target
import Foundation
import WeftCore
import WeftEngine
import WeftFuzzSupport
import WeftWire

#if canImport(Glibc)
import Glibc
#endif

/// Reads fuzzer bytes as choices; past the end every read is zero, so any input is a recipe.
struct Recipe {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }
    var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[min(offset, bytes.count)...]) }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u32() -> UInt32 { (0..<4).reduce(0) { value, _ in value << 8 | UInt32(byte()) } }
    mutating func u64() -> UInt64 { (0..<8).reduce(0) { value, _ in value << 8 | UInt64(byte()) } }
    mutating func bool() -> Bool { byte() & 1 == 1 }

    /// Bytes: a length (small, sometimes large), then that many bytes of the input (repeated to
    /// reach large lengths).
    mutating func data() -> [UInt8] {
        let selector = byte()
        let length: Int
        switch selector % 8 {
        case 0: length = 0
        case 1...5: length = Int(byte())
        case 6: length = Int(u32() % 70_000)
        default: length = Int(u32() % 1_100_000)
        }
        let source = Array(bytes[min(offset, bytes.count)..<min(offset + 64, bytes.count)])
        offset += source.count
        guard !source.isEmpty else { return [UInt8](repeating: selector, count: min(length, 1 << 16)) }
        return (0..<length).map { source[$0 % source.count] }
    }

    /// A string a hostile client might send. A NUL arrives as U+FFFD (protobuf-c strings are C
    /// strings; `nulTravelsAsReplacement` checks that mapping), so recipes produce it directly.
    mutating func string() -> String {
        switch byte() % 10 {
        case 0: return ""
        case 1: return String(decoding: data().map { $0 == 0 ? 0x3F : $0 }, as: UTF8.self)  // invalid UTF-8 repaired
        case 2: return "a\u{FFFD}b"
        case 3: return String(repeating: "x", count: Int(u32() % 1_100_000))
        case 4: return "line\nbreak\r\t\u{7F}\u{1B}[31m"
        case 5: return "ü€😀\u{202E}rtl"
        case 6: return "ingest"
        case 7: return String(repeating: "ä", count: Int(byte()) * 300)
        case 8: return "weft-owner"
        default: return String(decoding: data().map { $0 & 0x7F == 0 ? 0x3F : $0 & 0x7F }, as: UTF8.self)
        }
    }

    /// A run id of any version, variant and date (a UUIDv7 decoder refuses the others).
    mutating func runID() -> RunID? {
        var raw = (0..<16).map { _ in byte() }
        switch byte() % 4 {
        case 0: break  // whatever the bytes say
        case 1:  // a valid v7 at an arbitrary time
            raw[6] = 0x70 | (raw[6] & 0x0F)
            raw[8] = 0x80 | (raw[8] & 0x3F)
        case 2:  // v7 dated now ± a little
            var random = SystemRandomNumberGenerator()
            let now = UInt64(SystemWallClock().nowMilliseconds())
            return RunID(unixMilliseconds: now &+ UInt64(byte()) &* 1000 &- 128_000, using: &random)
        default:  // v7 with the wrong variant
            raw[6] = 0x70 | (raw[6] & 0x0F)
            raw[8] &= 0x3F
        }
        return try? RunID(bytes: raw)
    }

    mutating func runIDOrDefault() -> RunID {
        if let id = runID() { return id }
        var random = SystemRandomNumberGenerator()
        return RunID(unixMilliseconds: 1_700_000_000_000, using: &random)
    }

    mutating func int64() -> Int64 {
        switch byte() % 4 {
        case 0: return 0
        case 1: return .max
        case 2: return .min
        default: return Int64(bitPattern: u64())
        }
    }

    mutating func reference() -> AttemptReference {
        AttemptReference(runID: runIDOrDefault(), node: string(), attempt: u32(), fence: int64())
    }
}

/// A target: builds a request from the recipe and checks it; decodes the raw bytes.
struct Target {
    let name: String
    let structured: (inout Recipe) -> Void
    let raw: (UnsafeRawBufferPointer) -> Void
}

/// Encode, decode, compare: a request must survive the wire unchanged.
func roundTrip<M: WireMessage & Equatable>(_ message: M) {
    let bytes = message.serializedBytes()
    guard let decoded = try? M(serializedBytes: bytes) else { fatalError("\(M.self) did not decode its own encoding (\(bytes.count) bytes)") }
    guard decoded == message else { fatalError("\(M.self) changed on the wire (\(bytes.count) bytes): \(String(describing: message).prefix(300))") }
}

/// Decodes raw bytes; a success must round-trip.
func rawDecode<M: WireMessage & Equatable>(_: M.Type, _ bytes: UnsafeRawBufferPointer) {
    guard let decoded = try? M(serializedBytes: bytes) else { return }
    roundTrip(decoded)
}

/// What servers do with peer strings in messages: must never trap, and never grow unbounded.
func serverChecks(_ text: String) {
    let quoted = MessageText.quoted(text)
    let scalars = quoted.unicodeScalars.count
    precondition(scalars <= 6 * 80 + 48, "a quoted value grew to \(scalars) scalars")
    let message = MessageText.statusMessage("refused: " + quoted)
    precondition(!message.utf8.contains(0), "a status message kept a NUL")
}

func checkRunID(_ id: RunID?) {
    guard let id else { return }
    let policy = RunIDPolicy()
    _ = try? policy.check(id, nowMilliseconds: SystemWallClock().nowMilliseconds())
    _ = id.partition(count: 256)
    precondition((try? RunID(parsing: id.description)) == id, "run id text did not parse back: \(id)")
}

/// A workflow definition built from the recipe (names, types, dependencies, options), as JSON.
func definitionJSON(_ recipe: inout Recipe) -> [UInt8] {
    if recipe.byte() % 5 == 0 { return recipe.data() }  // sometimes anything at all
    let count = Int(recipe.byte() % 12)
    var tasks: [String] = []
    let names = (0..<count).map { i -> String in recipe.byte() % 9 == 0 ? recipe.string() : "t\(i)" }
    for (i, name) in names.enumerated() {
        var fields = [#""name":\#(jsonString(name))"#, #""type":\#(jsonString(recipe.byte() % 7 == 0 ? recipe.string() : "noop"))"#]
        let deps = (0..<Int(recipe.byte() % 3)).map { _ in names.isEmpty ? "x" : names[Int(recipe.byte()) % names.count] }
        if !deps.isEmpty { fields.append(#""depends_on":[\#(deps.map(jsonString).joined(separator: ","))]"#) }
        switch recipe.byte() % 12 {
        case 0: fields.append(#""map":true"#)
        case 1: fields.append(#""join":"at_least(\#(Int(recipe.byte()) - 10))""#)
        case 2: fields.append(#""retry":{"max_attempts":\#(recipe.int64()),"initial_backoff":\#(jsonString(recipe.string()))}"#)
        case 3: fields.append(#""timeouts":{"heartbeat":\#(jsonString(["1ms", "0s", "-1s", "9999999h", "1e9s", recipe.string()][Int(recipe.byte()) % 6]))}"#)
        case 4: fields.append(#""priority":\#(jsonString(recipe.string()))"#)
        case 5: fields.append(#""concurrency_key":"k""#)
        case 6: fields.append(#""name":"duplicate""#)
        case 7: fields.append(#""queue":\#(jsonString(recipe.string()))"#)
        default: break
        }
        if i == 0 && recipe.byte() % 4 == 0 { fields.append(#""colour":"red""#) }
        tasks.append("{" + fields.joined(separator: ",") + "}")
    }
    return Array(#"{"name":\#(jsonString(recipe.byte() % 6 == 0 ? recipe.string() : "wf")),"tasks":[\#(tasks.joined(separator: ","))]}"#.utf8)
}

func jsonString(_ text: String) -> String { JSONText.quoted(text) }

enum JSONDecoderBox {
    static func decode(_ json: [UInt8]) throws -> WorkflowDefinition {
        try JSONDecoder().decode(WorkflowDefinition.self, from: Data(json))
    }
}

/// What a coordinator does with a definition: refuse duplicates, decode, validate, version.
func checkDefinition(_ json: [UInt8]) {
    guard (try? JSONPayload.checkUniqueMemberNames(json)) != nil else { return }
    guard let definition = try? JSONDecoderBox.decode(json) else { return }
    var limits = WorkflowDefinition.Limits()
    limits.refuseReservedFields = true
    do {
        let validated = try definition.validated(limits: limits)
        precondition(!validated.canonicalJSON.isEmpty)
        _ = validated.version.description
    } catch {
        serverChecks(error.description)
    }
}

nonisolated(unsafe) let targets: [Target] = [  // immutable; read by the fuzzer callback
    Target(name: "start-run", structured: { recipe in
        let priorities = WirePriority.allCases
        let request = StartRunRequest(
            workflow: recipe.string(), version: recipe.string(), input: recipe.data(), idempotencyKey: recipe.string(),
            priority: priorities[Int(recipe.byte()) % priorities.count], runID: recipe.bool() ? recipe.runID() : nil,
            resumeOf: recipe.bool() ? recipe.data() : [])
        roundTrip(request)
        nulTravelsAsReplacement()
        checkRunID(request.runID)
        serverChecks(request.workflow)
        _ = try? JSONPayload.splitArray(request.input, maxElements: 1000)
    }, raw: { rawDecode(StartRunRequest.self, $0) }),
    Target(name: "get-run", structured: { recipe in
        let request = GetRunRequest(runID: recipe.runIDOrDefault(), includeTasks: recipe.bool())
        roundTrip(request)
        checkRunID(request.runID)
    }, raw: { rawDecode(GetRunRequest.self, $0) }),
    Target(name: "wait-run", structured: { recipe in
        roundTrip(WaitRunRequest(runID: recipe.runIDOrDefault()))
    }, raw: { rawDecode(WaitRunRequest.self, $0) }),
    Target(name: "cancel-run", structured: { recipe in
        let request = CancelRunRequest(runID: recipe.runIDOrDefault(), reason: recipe.string())
        roundTrip(request)
        serverChecks(request.reason)
    }, raw: { rawDecode(CancelRunRequest.self, $0) }),
    Target(name: "retry-run", structured: { recipe in
        roundTrip(RetryRunRequest(runID: recipe.runIDOrDefault(), fromFailed: recipe.bool()))
    }, raw: { rawDecode(RetryRunRequest.self, $0) }),
    Target(name: "signal-run", structured: { recipe in
        let request = SignalRunRequest(runID: recipe.runIDOrDefault(), name: recipe.string(), payload: recipe.data())
        roundTrip(request)
        serverChecks(request.name)
        _ = try? JSONPayload.checkUniqueMemberNames(request.payload)
    }, raw: { rawDecode(SignalRunRequest.self, $0) }),
    Target(name: "create-schedule", structured: { recipe in
        let spec = ScheduleSpec(
            name: recipe.string(), workflow: recipe.string(), version: recipe.string(), cron: recipe.string(), timezone: recipe.string(),
            inputJSON: recipe.data(), overlap: recipe.string(), catchupWindowMilliseconds: recipe.int64())
        let request = CreateScheduleRequest(spec: spec, paused: recipe.bool())
        roundTrip(request)
        serverChecks(spec.name)
        serverChecks(spec.cron)
        // What a coordinator does with the expression: parse it in its zone, show the next ticks.
        if let schedule = try? CronSchedule(cron: spec.cron, timeZone: spec.timezone) {
            let ticks = schedule.upcoming(after: recipe.int64(), count: 3)
            precondition(zip(ticks, ticks.dropFirst()).allSatisfy { $0 < $1 }, "ticks out of order for \(spec.cron)")
        }
    }, raw: { rawDecode(CreateScheduleRequest.self, $0) }),
    Target(name: "backfill-schedule", structured: { recipe in
        let request = BackfillScheduleRequest(name: recipe.string(), fromMilliseconds: recipe.int64(), toMilliseconds: recipe.int64())
        roundTrip(request)
        serverChecks(request.name)
        roundTrip(PauseScheduleRequest(name: request.name, paused: recipe.bool()))
        roundTrip(ScheduleRequest(name: request.name))
    }, raw: { rawDecode(BackfillScheduleRequest.self, $0) }),
    Target(name: "get-run-history", structured: { recipe in
        roundTrip(GetRunHistoryRequest(runID: recipe.runIDOrDefault()))
    }, raw: { rawDecode(GetRunHistoryRequest.self, $0) }),
    Target(name: "get-workflow", structured: { recipe in
        let request = GetWorkflowRequest(name: recipe.string(), version: recipe.string())
        roundTrip(request)
        serverChecks(request.name)
    }, raw: { rawDecode(GetWorkflowRequest.self, $0) }),
    Target(name: "list-runs", structured: { recipe in
        let statuses = WeftWire.RunStatus.allCases
        let request = ListRunsRequest(
            workflow: recipe.string(), status: statuses[Int(recipe.byte()) % statuses.count], sinceMilliseconds: recipe.int64(),
            untilMilliseconds: recipe.int64(), limit: recipe.u32(), pageToken: recipe.string())
        roundTrip(request)
        serverChecks(request.pageToken)
        _ = try? RunID(parsing: request.pageToken)
    }, raw: { rawDecode(ListRunsRequest.self, $0) }),
    Target(name: "list-workflows", structured: { _ in
        roundTrip(ListWorkflowsRequest())
    }, raw: { rawDecode(ListWorkflowsRequest.self, $0) }),
    Target(name: "register-workflow", structured: { recipe in
        let request = RegisterWorkflowRequest(definitionJSON: definitionJSON(&recipe))
        roundTrip(request)
        checkDefinition(request.definitionJSON)
    }, raw: { bytes in
        rawDecode(RegisterWorkflowRequest.self, bytes)
        checkDefinition(Array(bytes))
    }),
    Target(name: "discover", structured: { recipe in
        roundTrip(DiscoverRequest(queues: (0..<Int(recipe.byte() % 5)).map { _ in recipe.string() }))
    }, raw: { rawDecode(DiscoverRequest.self, $0) }),
    Target(name: "worker-message", structured: { recipe in
        let message: WorkerMessage
        switch recipe.byte() % 5 {
        case 0:
            message = .hello(WorkerHelloMessage(
                workerID: recipe.string(), queues: (0..<Int(recipe.byte() % 4)).map { _ in recipe.string() },
                taskTypes: (0..<Int(recipe.byte() % 4)).map { _ in recipe.string() }))
        case 1: message = .credits(CreditGrant(credits: recipe.u32()))
        case 2: message = .heartbeat(HeartbeatMessage(attempts: (0..<Int(recipe.byte() % 4)).map { _ in recipe.reference() }, details: recipe.data()))
        case 3: message = .completed(TaskCompletedMessage(ref: recipe.reference(), output: recipe.data()))
        default: message = .failed(TaskFailedMessage(ref: recipe.reference(), kind: recipe.string(), message: recipe.string(), retryable: recipe.bool()))
        }
        roundTrip(message)
        if case .completed(let done) = message { _ = NodeKey(parsing: done.ref.node) }
        if case .failed(let failed) = message {
            serverChecks(failed.kind)
            _ = NodeKey(parsing: failed.ref.node)
        }
    }, raw: { rawDecode(WorkerMessage.self, $0) }),
    Target(name: "hello", structured: { recipe in
        let low = recipe.u32() % 4, high = low + recipe.u32() % 4
        roundTrip(Hello(
            protocolVersions: low...high, cluster: recipe.string(), role: NodeRole.allCases[Int(recipe.byte()) % NodeRole.allCases.count],
            nodeID: recipe.string(), authToken: recipe.data()))
    }, raw: { rawDecode(Hello.self, $0) }),
]

func writeError(_ text: String, _: Void = ()) {
    _ = text.withCString { write(2, $0, strlen($0)) }
}

/// A NUL in a string field is not cut off on the wire: it arrives as U+FFFD with the rest intact.
func nulTravelsAsReplacement() {
    let sent = StartRunRequest(workflow: "a\u{0}b", idempotencyKey: "k\u{0}")
    guard let received = try? StartRunRequest(serializedBytes: sent.serializedBytes()),
          received.workflow == "a\u{FFFD}b", received.idempotencyKey == "k\u{FFFD}"
    else { fatalError("a NUL in a string field was not carried as U+FFFD") }
}

func run(_ target: Target, _ data: UnsafeRawBufferPointer) {
    var recipe = Recipe(data)
    target.structured(&recipe)
    target.raw(data)
}

func target(named name: String) -> Target {
    guard let found = targets.first(where: { $0.name == name }) else {
        writeError("unknown target '\(name)'; targets: \(targets.map(\.name).joined(separator: ", "))\n")
        exit(2)
    }
    return found
}

#if FUZZING
guard let cName = getenv("WEFT_FUZZ_TARGET") else {
    writeError("set WEFT_FUZZ_TARGET to one of: \(targets.map(\.name).joined(separator: ", "))\n")
    exit(2)
}
// Matched without making a Swift String of the name: a name longer than 15 bytes lives on the heap,
// and the driver ends the process through `exit` with nothing left pointing at it, which
// LeakSanitizer reports as a leak (it did, for register-workflow).
let selected = targets.first(where: { $0.name.withCString { strcmp($0, cName) == 0 } })
    ?? target(named: String(cString: cName))  // prints the known names and exits
runFuzzDriver { data, size in
    run(selected, UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
func replay(_ target: Target, _ path: String) -> Int {
    forEachFuzzInput(path) { run(target, $0) }
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "replay" where arguments.count >= 3:
    let selected = target(named: arguments[1])
    let replayed = arguments.dropFirst(2).reduce(0) { $0 + replay(selected, $1) }
    print("\(selected.name): replayed \(replayed) inputs without a crash")
case "replay-all" where arguments.count == 2:
    // DIR/<target>/… for every target.
    var total = 0
    for target in targets { total += replay(target, arguments[1] + "/" + target.name) }
    print("replayed \(total) request inputs (\(targets.count) targets) without a crash")
case "seed" where arguments.count == 2:
    // A few inputs per target: zeros, a pattern, and bytes that select every branch.
    for target in targets {
        let dir = arguments[1] + "/" + target.name
        mkdir(dir, 0o755)
        for seed in 0..<8 {
            let bytes = (0..<200).map { UInt8(truncatingIfNeeded: ($0 &* (seed &* 2 &+ 1)) &+ seed &* 31) }
            let file = fopen("\(dir)/seed-\(seed)", "wb")!
            _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            fclose(file)
        }
    }
    print("wrote seeds for \(targets.count) targets")
default:
    writeError("usage: weft-fuzz-requests replay TARGET PATH... | replay-all DIR | seed DIR\ntargets: \(targets.map(\.name).joined(separator: ", "))\n")
    exit(2)
}
#endif
