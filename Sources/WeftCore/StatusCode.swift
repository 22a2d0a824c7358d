/// A call's outcome, with gRPC's 17 codes and numbers (ARCHITECTURE.md §3), so operators and
/// tools that know gRPC read Weft's statuses without a table.
///
/// A struct with static members rather than an enum: an unknown number received from a newer peer
/// is kept as is (and prints as `CODE(n)`) instead of failing to decode, and new codes break no
/// `switch`.
public struct StatusCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let ok = StatusCode(rawValue: 0)
    public static let cancelled = StatusCode(rawValue: 1)
    public static let unknown = StatusCode(rawValue: 2)
    public static let invalidArgument = StatusCode(rawValue: 3)
    public static let deadlineExceeded = StatusCode(rawValue: 4)
    public static let notFound = StatusCode(rawValue: 5)
    public static let alreadyExists = StatusCode(rawValue: 6)
    public static let permissionDenied = StatusCode(rawValue: 7)
    public static let resourceExhausted = StatusCode(rawValue: 8)
    public static let failedPrecondition = StatusCode(rawValue: 9)
    public static let aborted = StatusCode(rawValue: 10)
    public static let outOfRange = StatusCode(rawValue: 11)
    public static let unimplemented = StatusCode(rawValue: 12)
    public static let `internal` = StatusCode(rawValue: 13)
    public static let unavailable = StatusCode(rawValue: 14)
    public static let dataLoss = StatusCode(rawValue: 15)
    public static let unauthenticated = StatusCode(rawValue: 16)

    /// gRPC's upper-snake name (`DEADLINE_EXCEEDED`).
    public var name: String {
        switch rawValue {
        case 0: "OK"
        case 1: "CANCELLED"
        case 2: "UNKNOWN"
        case 3: "INVALID_ARGUMENT"
        case 4: "DEADLINE_EXCEEDED"
        case 5: "NOT_FOUND"
        case 6: "ALREADY_EXISTS"
        case 7: "PERMISSION_DENIED"
        case 8: "RESOURCE_EXHAUSTED"
        case 9: "FAILED_PRECONDITION"
        case 10: "ABORTED"
        case 11: "OUT_OF_RANGE"
        case 12: "UNIMPLEMENTED"
        case 13: "INTERNAL"
        case 14: "UNAVAILABLE"
        case 15: "DATA_LOSS"
        case 16: "UNAUTHENTICATED"
        default: "CODE(\(rawValue))"
        }
    }

    public var description: String { name }
}

/// The error every RPC surfaces: a status code, a human-readable message and optional metadata
/// (for example `weft-owner` on `NOT_OWNER`). Handlers throw it to choose the status the caller sees;
/// any other error a handler throws reaches the caller as `UNKNOWN`.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String
    public var metadata: [String: String]

    public init(_ code: StatusCode, _ message: String, metadata: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.metadata = metadata
    }

    public var description: String { message.isEmpty ? code.name : "\(code.name): \(message)" }
}

extension RPCError {
    /// The metadata key that carries a partition owner's address with `NOT_OWNER`
    /// (ARCHITECTURE.md §3).
    public static let ownerMetadataKey = "weft-owner"

    /// `NOT_OWNER`: `FAILED_PRECONDITION` with the owner's address (empty when unknown) in the
    /// `weft-owner` metadata. The one refusal a caller may retry elsewhere: nothing happened.
    public static func notOwner(_ partition: PartitionID, owner: String?, _ detail: String = "") -> RPCError {
        var message = "NOT_OWNER: this scheduler does not own partition \(partition)"
        if !detail.isEmpty { message += " (\(detail))" }
        if let owner, !owner.isEmpty { message += "; its owner is at \(owner)" }
        return RPCError(.failedPrecondition, message, metadata: [ownerMetadataKey: owner ?? ""])
    }

    /// Whether this is `NOT_OWNER` (`FAILED_PRECONDITION` with `weft-owner` metadata), as opposed
    /// to a `FAILED_PRECONDITION` about the request itself, which must not be retried.
    public var isNotOwner: Bool { code == .failedPrecondition && metadata[Self.ownerMetadataKey] != nil }

    /// The owner's address a `NOT_OWNER` names, if it names one.
    public var ownerAddress: String? {
        guard isNotOwner, let owner = metadata[Self.ownerMetadataKey], !owner.isEmpty else { return nil }
        return owner
    }
}

/// An error that knows which RPC status it should reach a caller as (a storage outage is
/// `UNAVAILABLE`, retryable; a lost fence is `NOT_OWNER`). The transport maps thrown errors with
/// it; anything else a handler throws is `UNKNOWN`.
public protocol RPCStatusConvertible: Error {
    var rpcError: RPCError { get }
}
