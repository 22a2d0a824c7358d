/// What a process is in a Weft cluster. Sent in the handshake so a server can refuse roles that have
/// no business calling it, and so logs say who is on the other end.
public enum NodeRole: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case client
    case coordinator
    case scheduler
    case worker

    public var description: String { rawValue }
}
