import WeftCore

extension PostgresError {
    /// Whether the error says the database is (for now) out of reach rather than that a statement
    /// is wrong: the connection could not be made or broke, the server is shutting down, starting
    /// up, out of connections, memory or disk, or the transaction lost a serialization conflict.
    /// Repeating the same work later can succeed; callers retry with backoff and report
    /// `UNAVAILABLE`, never a data error (ARCHITECTURE.md §6 "Postgres unavailable").
    public var isTransient: Bool {
        if code == .connectionFailed || code == .connectionLost || code == .connectionClosed { return true }
        guard let sqlState else { return false }
        switch sqlState.errorClass {
        case "08": return true  // connection exception
        case "53": return true  // insufficient resources: disk full, out of memory, too many connections
        case "57": return sqlState != .queryCanceled  // operator intervention: admin/crash shutdown, cannot connect now
        case "58": return true  // system error (I/O)
        default: return sqlState == .serializationFailure || sqlState == .deadlockDetected
        }
    }
}

extension PostgresError: RPCStatusConvertible {
    /// `UNAVAILABLE` (retryable) when the database is out of reach, `INTERNAL` otherwise: either
    /// way the caller did nothing wrong.
    public var rpcError: RPCError {
        isTransient
            ? RPCError(.unavailable, "the database is unavailable (\(message)); retry shortly")
            : RPCError(.internal, "database error: \(message)")
    }
}

extension StoreError: RPCStatusConvertible {
    public var rpcError: RPCError {
        switch code {
        case .ownershipLost:
            RPCError.notOwner(partitionID ?? PartitionID(-1), owner: nil, "its fence moved on")
        case .missingTablePartition:
            RPCError(.unavailable, message)
        default:
            RPCError(.internal, message)
        }
    }
}
