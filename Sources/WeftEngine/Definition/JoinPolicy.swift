/// How many of a node's parents must succeed before it runs (ARCHITECTURE.md §4). File values:
/// `all`, `any`, `at_least(N)`.
///
/// A node becomes *ready* once the policy is satisfied, and stays so: parents that finish later no
/// longer matter to it. It becomes *unreachable* once the policy can no longer be satisfied (too
/// many parents failed), which fails the run (see ``RunStateMachine``).
public enum JoinPolicy: Hashable, Sendable, CustomStringConvertible {
    /// Every parent succeeded. The default.
    case all
    /// At least one parent succeeded.
    case any
    /// At least `n` parents succeeded; `1 ≤ n ≤` the number of parents.
    case atLeast(Int)

    /// How many of `parents` parents must succeed.
    public func required(parents: Int) -> Int {
        switch self {
        case .all: parents
        case .any: 1
        case .atLeast(let n): n
        }
    }

    /// Whether `succeeded` successes out of `parents` satisfy the policy.
    public func isSatisfied(succeeded: Int, parents: Int) -> Bool {
        succeeded >= required(parents: parents)
    }

    /// Whether the policy can still be satisfied once `failed` of `parents` parents have failed.
    public func canBeSatisfied(failed: Int, parents: Int) -> Bool {
        parents - failed >= required(parents: parents)
    }

    /// The file spelling: `all`, `any`, `at_least(3)`.
    public var description: String {
        switch self {
        case .all: "all"
        case .any: "any"
        case .atLeast(let n): "at_least(\(n))"
        }
    }

    /// Parses the file spelling; `nil` for anything else.
    public init?(parsing text: String) {
        switch text {
        case "all": self = .all
        case "any": self = .any
        default:
            let prefix = "at_least("
            guard text.hasPrefix(prefix), text.hasSuffix(")") else { return nil }
            let digits = text.dropFirst(prefix.count).dropLast()
            guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let n = Int(digits)
            else { return nil }
            self = .atLeast(n)
        }
    }
}
