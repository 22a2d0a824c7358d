import WeftCore

/// The error every call of the SDK throws: what went wrong (``code``), in words (``message``), the
/// run it concerns when there is one (``runID``), and whether trying the same call again later can
/// succeed (``isRetryable``).
///
/// ```swift
/// do {
///     let quote = try await client.result(of: run)
/// } catch let error as WeftError where error.code == .runFailed {
///     print("run \(error.runID!) failed: \(error.message)")
/// } catch let error as WeftError where error.isRetryable {
///     // the cluster is unreachable or busy: try again later
/// }
/// ```
///
/// The codes are gRPC's (the wire protocol's statuses, ARCHITECTURE.md §3) plus three about a run's
/// outcome: ``Code/runFailed``, ``Code/runCancelled`` and ``Code/outputMismatch``.
public struct WeftError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is. A struct with static members, so that codes a newer server
    /// sends are kept as they are and new codes break no `switch`.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's name, upper snake case (`UNAVAILABLE`).
        public let rawValue: String
        /// A code by name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The name.
        public var description: String { rawValue }

        /// The call was cancelled (the calling task was cancelled).
        public static let cancelled = Code(rawValue: "CANCELLED")
        /// The server failed in a way it could not classify.
        public static let unknown = Code(rawValue: "UNKNOWN")
        /// The request is wrong and will stay wrong: fix it (bad workflow definition, unknown
        /// workflow version, run id out of range, payload over the limit).
        public static let invalidArgument = Code(rawValue: "INVALID_ARGUMENT")
        /// The call's timeout passed before an answer came. Whether a write happened is unknown:
        /// repeat it with the same run id or idempotency key.
        public static let deadlineExceeded = Code(rawValue: "DEADLINE_EXCEEDED")
        /// No such run or workflow.
        public static let notFound = Code(rawValue: "NOT_FOUND")
        /// The thing to create exists already, differently (a run id reused for another workflow).
        public static let alreadyExists = Code(rawValue: "ALREADY_EXISTS")
        /// The caller may not do this.
        public static let permissionDenied = Code(rawValue: "PERMISSION_DENIED")
        /// The cluster is over a limit (too much work in flight): back off and retry.
        public static let resourceExhausted = Code(rawValue: "RESOURCE_EXHAUSTED")
        /// The system is not in a state that allows the call (the run is closed, say).
        public static let failedPrecondition = Code(rawValue: "FAILED_PRECONDITION")
        /// A conflict with another call: retry.
        public static let aborted = Code(rawValue: "ABORTED")
        /// A value outside its range.
        public static let outOfRange = Code(rawValue: "OUT_OF_RANGE")
        /// The server does not know the call (an older server).
        public static let unimplemented = Code(rawValue: "UNIMPLEMENTED")
        /// A bug on the server.
        public static let `internal` = Code(rawValue: "INTERNAL")
        /// The cluster cannot be reached, or its storage is down: retry later.
        public static let unavailable = Code(rawValue: "UNAVAILABLE")
        /// Data was lost or corrupted.
        public static let dataLoss = Code(rawValue: "DATA_LOSS")
        /// Wrong cluster name or auth token.
        public static let unauthenticated = Code(rawValue: "UNAUTHENTICATED")
        /// The run failed: ``WeftError/message`` says which task and why; ``WeftError/run`` has
        /// every task's outcome.
        public static let runFailed = Code(rawValue: "RUN_FAILED")
        /// The run was cancelled.
        public static let runCancelled = Code(rawValue: "RUN_CANCELLED")
        /// The run (or a task) succeeded, but its output does not decode as the type asked for.
        public static let outputMismatch = Code(rawValue: "OUTPUT_MISMATCH")
    }

    /// What kind of failure this is.
    public var code: Code
    /// What happened, for people.
    public var message: String
    /// The run the failure concerns, if one.
    public var runID: RunID?
    /// The run's state when the error is about its outcome (``Code/runFailed``,
    /// ``Code/runCancelled``, ``Code/outputMismatch``).
    public var run: RunInfo?
    /// Transport metadata the server attached (for example `weft-owner`).
    public var metadata: [String: String] = [:]

    /// An error with a code and a message.
    public init(_ code: Code, _ message: String, runID: RunID? = nil, run: RunInfo? = nil) {
        self.code = code
        self.message = message
        self.runID = runID ?? run?.runID
        self.run = run
    }

    /// Whether the same call may succeed if tried again later, unchanged: the cluster was
    /// unreachable (``Code/unavailable``), busy (``Code/resourceExhausted``), in a conflict
    /// (``Code/aborted``) or slow (``Code/deadlineExceeded``). Repeat a `start` with the same run
    /// id or idempotency key, so that a start that did happen is not made twice.
    public var isRetryable: Bool {
        switch code {
        case .unavailable, .resourceExhausted, .aborted, .deadlineExceeded: true
        default: false
        }
    }

    /// `CODE: message (run ID)`.
    public var description: String {
        var text = message.isEmpty ? code.rawValue : "\(code.rawValue): \(message)"
        if let runID, !message.contains(runID.description) { text += " (run \(runID))" }
        return text
    }
}

extension WeftError {
    /// The SDK's form of a transport error.
    init(_ error: RPCError, runID: RunID? = nil) {
        self.init(Code(rawValue: error.code.name), error.message, runID: runID)
        metadata = error.metadata
    }

    /// Any error a call ran into, as a `WeftError`.
    static func from(_ error: any Error, runID: RunID? = nil) -> WeftError {
        switch error {
        case let error as WeftError: error
        case let error as RPCError: WeftError(error, runID: runID)
        case is CancellationError: WeftError(.cancelled, "the calling task was cancelled", runID: runID)
        default: WeftError(.unknown, String(describing: error), runID: runID)
        }
    }
}
