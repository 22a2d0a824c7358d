import WeftCore

/// The key of a flow limit, from a task's input (issue 12): either a constant (`payments`) — every
/// task naming it shares one limit — or a path into the input (`$.customer`, `$.account.region`),
/// one limit per value found there.
///
/// A path is `$` followed by `.member` steps (members of 1–64 characters from `A–Z a–z 0–9 _ -`).
/// Its value: a string's text, any other JSON value's compact text as written (`42`, `true`), and
/// `null` when a step is missing or the input is not an object there. Values longer than
/// ``maxValueBytes`` are replaced by a digest, so that a huge input cannot make a huge key.
public struct KeyExpression: Hashable, Sendable, CustomStringConvertible {
    public enum Form: Hashable, Sendable {
        case constant(String)
        case path([String])
    }

    public let form: Form

    /// The longest key text, and the longest value a path yields before it is digested.
    public static let maxLength = 256
    public static let maxValueBytes = 128

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(parsing text: String) throws(ParseError) {
        guard !text.isEmpty, text.count <= Self.maxLength else {
            throw ParseError(description: "a key needs 1–\(Self.maxLength) characters")
        }
        guard text.hasPrefix("$") else {
            guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw ParseError(description: "a key cannot contain control characters")
            }
            form = .constant(text)
            return
        }
        var steps: [String] = []
        var rest = text.dropFirst()
        while !rest.isEmpty {
            guard rest.first == "." else {
                throw ParseError(description: "\(NameRules.quoted(text)) is not a path: write $.member or $.member.member")
            }
            rest = rest.dropFirst()
            let step = rest.prefix { $0 != "." }
            guard NameRules.isValidName(String(step), maxLength: 64), !step.contains(".") else {
                throw ParseError(description: "\(NameRules.quoted(text)) has an invalid member \(NameRules.quoted(String(step))): 1–64 characters from A–Z a–z 0–9 _ -")
            }
            steps.append(String(step))
            rest = rest.dropFirst(step.count)
        }
        guard !steps.isEmpty else { throw ParseError(description: "\"$\" alone is not a key: name a member, e.g. $.customer") }
        form = .path(steps)
    }

    public var description: String {
        switch form {
        case .constant(let text): text
        case .path(let steps): "$." + steps.joined(separator: ".")
        }
    }

    /// The key for a task whose input is `input` (JSON bytes); a path that finds nothing gives
    /// `null` (all such tasks share one limit).
    public func evaluate(_ input: [UInt8]) -> String {
        evaluateIfPresent(input) ?? "null"
    }

    /// The key, or nil when a path finds nothing there (the result cache then stays out of the
    /// way: unrelated inputs must not share a cached output).
    public func evaluateIfPresent(_ input: [UInt8]) -> String? {
        switch form {
        case .constant(let text):
            return text
        case .path(let steps):
            guard let value = Self.lookup(steps, in: input) else { return nil }
            guard value.utf8.count > Self.maxValueBytes else { return value }
            let digest = SHA256.hash(Array(value.utf8)).prefix(16)
            return "sha256:" + digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
    }

    /// Whether the key is read from the input.
    public var isPath: Bool { if case .path = form { true } else { false } }

    /// The value at `steps`, nil when missing (or the JSON is invalid).
    static func lookup(_ steps: [String], in input: [UInt8]) -> String? {
        var scanner = JSONScanner(input)
        do {
            for step in steps {
                scanner.skipWhitespace()
                guard scanner.peek() == UInt8(ascii: "{") else { return nil }
                scanner.advance()
                scanner.skipWhitespace()
                if scanner.peek() == UInt8(ascii: "}") { return nil }
                while true {
                    let name = scanner.decodedString(try scanner.skipMemberName())
                    if name == step { break }
                    try scanner.skipValue()
                    scanner.skipWhitespace()
                    guard scanner.peek() == UInt8(ascii: ",") else { return nil }
                    scanner.advance()
                }
            }
            scanner.skipWhitespace()
            let start = scanner.offset
            let isString = scanner.peek() == UInt8(ascii: "\"")
            try scanner.skipValue()
            let range = start..<scanner.offset
            if isString { return scanner.decodedString(range.lowerBound + 1..<range.upperBound - 1) }
            return String(decoding: input[range], as: UTF8.self)
        } catch {
            return nil
        }
    }
}

/// A cluster-wide rate limit of a task (`rate_limit:`): at most `limit` attempts per `per` in the
/// long run, and at most `burst` at once after a quiet spell (GCRA; issue 12). Attempts over the
/// limit wait for their turn — they do not fail and hold no worker slot.
public struct RateLimit: Hashable, Sendable {
    public var key: KeyExpression
    public var limit: Int
    public var per: Duration
    /// How many may start at once after a quiet spell; nil: `limit`.
    public var burst: Int?

    public init(key: KeyExpression, limit: Int, per: Duration = .seconds(1), burst: Int? = nil) {
        self.key = key
        self.limit = limit
        self.per = per
        self.burst = burst
    }

    public var effectiveBurst: Int { burst ?? limit }

    /// The time one attempt uses of the budget, in microseconds (at least 1).
    public var emissionMicroseconds: Int64 {
        let (seconds, attoseconds) = per.components
        let micros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        return max(1, micros / Int64(max(1, limit)))
    }

    static let maxLimit = 1_000_000
    static let maxPer: Duration = .seconds(86_400)
}

/// A cluster-wide concurrency limit of a task (`concurrency:`): at most `limit` attempts of all
/// tasks naming the same key hold a slot at once — from when the scheduler admits them (queued for
/// a worker) until they end. Attempts over the limit wait in order, holding no worker slot; each
/// key waits in a queue of its own, so a busy key cannot hold up another (issue 12).
public struct ConcurrencyLimit: Hashable, Sendable {
    public var key: KeyExpression
    public var limit: Int

    public init(key: KeyExpression, limit: Int) {
        self.key = key
        self.limit = limit
    }

    static let maxLimit = 10_000
}

/// The result cache of a task (`cache:`): a successful attempt's output is kept under the key (in
/// Redis, compressed) for `ttl`; a later attempt of any run whose key matches completes with it at
/// once, without a worker (issue 12). Keys are per task type: `fetch` and `parse` never share one.
public struct ResultCache: Hashable, Sendable {
    public var key: KeyExpression
    public var ttl: Duration

    public init(key: KeyExpression, ttl: Duration) {
        self.key = key
        self.ttl = ttl
    }

    static let minTTL: Duration = .seconds(1)
    static let maxTTL: Duration = .seconds(30 * 86_400)
}

/// A circuit breaker on the task's type (`circuit_breaker:`), shared by every task of that type in
/// the cluster (issue 12): when at least `minRequests` attempts ended within `window` and the share
/// that failed reaches `failureRate`, the breaker opens for `openFor` — attempts of the type are
/// held (or, with `whenOpen: .fail`, fail at once as `CircuitOpen`) — then lets one probe through:
/// its success closes it, its failure opens it again.
public struct CircuitBreakerPolicy: Hashable, Sendable {
    public enum WhenOpen: String, Hashable, Sendable, Codable {
        /// Attempts wait (holding no worker slot) until the breaker lets them through.
        case hold
        /// Attempts fail at once, not retried, as `CircuitOpen`.
        case fail
    }

    public var failureRate: Double
    public var minRequests: Int
    public var window: Duration
    public var openFor: Duration
    public var whenOpen: WhenOpen

    public init(
        failureRate: Double = 0.5, minRequests: Int = 20, window: Duration = .seconds(60), openFor: Duration = .seconds(30),
        whenOpen: WhenOpen = .hold
    ) {
        self.failureRate = failureRate
        self.minRequests = minRequests
        self.window = window
        self.openFor = openFor
        self.whenOpen = whenOpen
    }
}

/// How a map node fans out (`map: {batch_size: 100, max_concurrency: 8}`; `map: true` is all
/// defaults): `batchSize` list elements per task — each task receives an array of up to that many
/// elements and returns an array with one output per element; the node's output is their
/// concatenation, in order (a batch that returns something else contributes it as one element) —
/// and at most `maxConcurrency` of the node's tasks open at once (the next starts when one
/// succeeds).
public struct MapOptions: Hashable, Sendable {
    /// nil: one element per task (no batching).
    public var batchSize: Int?
    /// nil: every task at once.
    public var maxConcurrency: Int?

    public init(batchSize: Int? = nil, maxConcurrency: Int? = nil) {
        self.batchSize = batchSize
        self.maxConcurrency = maxConcurrency
    }

    static let maxValue = 10_000
}
