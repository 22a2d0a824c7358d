import WeftCore
import WeftEngine
import WeftWire

/// Bounds on what a client may put in a request, checked where the request enters (coordinator)
/// and again where it is acted on (scheduler), before anything is read or written: a value past a
/// bound is `INVALID_ARGUMENT` naming the field, never a database error later (Postgres cannot
/// index a key of 3 KB, cannot store a date past the year 294276, …).
enum RequestChecks {
    /// Longest workflow name, version and idempotency key accepted, in UTF-8 bytes.
    static let maxNameBytes = 256
    /// Longest name a definition may give (a signal's), in characters.
    static let maxNameLength = WorkflowDefinition.Limits().maxNameLength
    static let maxIdempotencyKeyBytes = 256
    /// Longest cancel reason kept, in UTF-8 bytes.
    static let maxReasonBytes = 4096
    /// Latest time a listing may name: the end of year 9999, in Unix milliseconds.
    static let maxMilliseconds: Int64 = 253_402_300_799_999

    static func check(_ request: StartRunRequest, maxInputBytes: Int) throws(RPCError) {
        guard request.input.count <= maxInputBytes else {
            throw RPCError(.invalidArgument, "the run input is \(request.input.count) bytes; the limit is \(maxInputBytes)")
        }
        guard !request.workflow.isEmpty else { throw RPCError(.invalidArgument, "StartRun needs a workflow name") }
        try bounded(request.workflow, "workflow", maxNameBytes)
        try bounded(request.version, "version", maxNameBytes)
        try bounded(request.idempotencyKey, "idempotency_key", maxIdempotencyKeyBytes)
    }

    /// A signal: a valid name, a payload within the input limit that is one JSON value.
    static func check(_ request: SignalRunRequest, maxInputBytes: Int) throws(RPCError) {
        guard NameRules.isValidName(request.name, maxLength: maxNameLength) else {
            throw RPCError(.invalidArgument, "invalid signal name \(MessageText.quoted(request.name)): \(NameRules.nameRule(maxNameLength))")
        }
        guard request.payload.count <= maxInputBytes else {
            throw RPCError(.invalidArgument, "the signal payload is \(request.payload.count) bytes; the limit is \(maxInputBytes)")
        }
        if !request.payload.isEmpty {
            do {
                try JSONPayload.checkUniqueMemberNames(request.payload)
            } catch {
                throw RPCError(.invalidArgument, "the signal payload is not one JSON value: \(error)")
            }
        }
    }

    static func check(_ request: CancelRunRequest) throws(RPCError) {
        try bounded(request.reason, "reason", maxReasonBytes)
        try bounded(request.node, "node", maxNameBytes)
        guard !request.subtree || !request.node.isEmpty else {
            throw RPCError(.invalidArgument, "subtree needs a node: the node whose dependants are cancelled with it")
        }
        guard !request.terminate || request.node.isEmpty else {
            throw RPCError(.invalidArgument, "terminate applies to a whole run, not to a node")
        }
    }

    static func check(_ request: ListRunsRequest) throws(RPCError) {
        try bounded(request.workflow, "workflow", maxNameBytes)
        for (value, field) in [(request.sinceMilliseconds, "since"), (request.untilMilliseconds, "until")] {
            guard (0...maxMilliseconds).contains(value) else {
                throw RPCError(.invalidArgument, "\(field) must be a time between 1970 and 9999 in Unix milliseconds, not \(value)")
            }
        }
    }

    private static func bounded(_ value: String, _ field: String, _ limit: Int) throws(RPCError) {
        guard value.utf8.count <= limit else {
            throw RPCError(.invalidArgument, "\(field) is \(value.utf8.count) bytes; the limit is \(limit): \(MessageText.quoted(value, limit: 40))")
        }
    }
}
