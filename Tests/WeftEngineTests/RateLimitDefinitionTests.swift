import Foundation
import Testing
@testable import WeftEngine

@Suite("Rate limits in definitions, and flow-limit keys")
struct RateLimitDefinitionTests {
    static func decode(_ json: String) throws -> WorkflowDefinition {
        try JSONDecoder().decode(WorkflowDefinition.self, from: Data(json.utf8))
    }

    @Test("rate_limit decodes with defaults (per 1s, burst = limit), round-trips, and enters the version hash only when present")
    func decoding() throws {
        let plain = try Self.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo"}]}"#).validated()
        let limited = try Self.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","rate_limit":{"key":"$.customer","limit":10}}]}"#)
        let limit = try #require(limited.tasks[0].rateLimit)
        #expect(limit.key.form == .path(["customer"]))
        #expect(limit.per == .seconds(1) && limit.effectiveBurst == 10 && limit.emissionMicroseconds == 100_000)
        #expect(try JSONDecoder().decode(WorkflowDefinition.self, from: JSONEncoder().encode(limited)) == limited)
        let validated = try limited.validated()
        #expect(validated.version != plain.version)
        #expect(String(decoding: validated.canonicalJSON, as: UTF8.self).contains(#""rate_limit":{"burst":10,"key":"$.customer","limit":10,"per":"1s"}"#))
        // Unknown fields are refused, as everywhere in definitions.
        #expect(throws: (any Error).self) {
            try Self.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","rate_limit":{"key":"k","limit":1,"rate":5}}]}"#)
        }
        #expect(throws: (any Error).self) {
            try Self.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","rate_limit":{"key":"$.a..b","limit":1}}]}"#)
        }
    }

    @Test("out-of-range limits and rate limits on nodes without a task are refused with invalidRateLimit")
    func validation() throws {
        let bad = [
            #"{"key":"k","limit":0}"#, #"{"key":"k","limit":2000000}"#, #"{"key":"k","limit":1,"per":"0s"}"#,
            #"{"key":"k","limit":1,"per":"2d"}"#, #"{"key":"k","limit":1,"burst":0}"#,
        ]
        for limit in bad {
            let definition = try Self.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","rate_limit":"# + limit + "}]}")
            #expect(throws: DefinitionError.self, "\(limit)") { try definition.validated() }
            do { _ = try definition.validated() } catch { #expect(error.codes == [.invalidRateLimit], "\(limit): \(error)") }
        }
        let sleeper = try Self.decode(#"{"name":"w","tasks":[{"name":"a","sleep":"1s","rate_limit":{"key":"k","limit":1}}]}"#)
        do {
            _ = try sleeper.validated()
            Issue.record("a sleep node with a rate limit validated")
        } catch { #expect(error.codes.contains(.invalidRateLimit)) }
    }

    @Test("keys: constants, paths into the input (strings, numbers, missing), digests for long values; bad paths refused")
    func keys() throws {
        let customer = try KeyExpression(parsing: "$.customer")
        #expect(customer.evaluate(Array(#"{"customer":"acme","n":1}"#.utf8)) == "acme")
        #expect(customer.evaluate(Array(#"{"n":{"customer":"no"},"customer":42}"#.utf8)) == "42")
        #expect(customer.evaluate(Array(#"{"n":1}"#.utf8)) == "null")
        #expect(customer.evaluateIfPresent(Array(#"{"n":1}"#.utf8)) == nil)
        #expect(customer.evaluateIfPresent(Array(#"{"customer":null}"#.utf8)) == "null", "present, and null")
        #expect(customer.evaluate(Array(#"[1,2]"#.utf8)) == "null")
        #expect(customer.evaluate(Array(#"{"customer":"a\u00e9\"b"}"#.utf8)) == "aé\"b")
        let nested = try KeyExpression(parsing: "$.account.region")
        #expect(nested.evaluate(Array(#"{"account":{"id":1,"region":"eu"}}"#.utf8)) == "eu")
        #expect(nested.evaluate(Array(#"{"account":"eu"}"#.utf8)) == "null")
        let long = customer.evaluate(Array(("{\"customer\":\"" + String(repeating: "x", count: 1000) + "\"}").utf8))
        #expect(long.hasPrefix("sha256:") && long.count == 39)
        #expect(try KeyExpression(parsing: "payments").evaluate(Array("{}".utf8)) == "payments")
        for bad in ["", "$", "$.", "$..a", "$.a b", "$customer", "a\u{1}b", String(repeating: "k", count: 300)] {
            #expect(throws: KeyExpression.ParseError.self, "\(bad)") { try KeyExpression(parsing: bad) }
        }
    }
}

@Suite("Concurrency limits in definitions")
struct ConcurrencyDefinitionTests {
    @Test("concurrency decodes, round-trips, enters the version hash only when present; out of range and beside concurrency_key refused")
    func concurrency() throws {
        let limited = try RateLimitDefinitionTests.decode(
            #"{"name":"w","tasks":[{"name":"a","type":"echo","concurrency":{"key":"$.customer","limit":4}}]}"#)
        #expect(limited.tasks[0].concurrency == ConcurrencyLimit(key: try KeyExpression(parsing: "$.customer"), limit: 4))
        #expect(try JSONDecoder().decode(WorkflowDefinition.self, from: JSONEncoder().encode(limited)) == limited)
        let validated = try limited.validated()
        #expect(String(decoding: validated.canonicalJSON, as: UTF8.self).contains(#""concurrency":{"key":"$.customer","limit":4}"#))
        for bad in [#"{"key":"k","limit":0}"#, #"{"key":"k","limit":10001}"#] {
            let definition = try RateLimitDefinitionTests.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","concurrency":"# + bad + "}]}")
            do {
                _ = try definition.validated()
                Issue.record("\(bad) validated")
            } catch { #expect(error.codes == [.invalidConcurrency], "\(bad): \(error)") }
        }
        let old = try RateLimitDefinitionTests.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","concurrency_key":"k"}]}"#)
        var registration = WorkflowDefinition.Limits()
        registration.refuseReservedFields = true
        do {
            _ = try old.validated(limits: registration)
            Issue.record("concurrency_key validated")
        } catch {
            #expect(error.codes == [.unsupported] && "\(error)".contains("concurrency: {key"), "\(error)")
        }
        #expect(throws: (any Error).self) {
            try RateLimitDefinitionTests.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","concurrency":{"key":"k","limit":1,"fair":true}}]}"#)
        }
    }
}

@Suite("Result cache in definitions")
struct CacheDefinitionTests {
    @Test("cache decodes (ttl required), round-trips, enters the version hash only when present; bad ttl and cache_key refused")
    func cache() throws {
        let cached = try RateLimitDefinitionTests.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","cache":{"key":"$.url","ttl":"1h"}}]}"#)
        #expect(cached.tasks[0].cache == ResultCache(key: try KeyExpression(parsing: "$.url"), ttl: .seconds(3600)))
        #expect(try JSONDecoder().decode(WorkflowDefinition.self, from: JSONEncoder().encode(cached)) == cached)
        #expect(String(decoding: try cached.validated().canonicalJSON, as: UTF8.self).contains(#""cache":{"key":"$.url","ttl":"1h"}"#))
        #expect(throws: (any Error).self) {
            try RateLimitDefinitionTests.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","cache":{"key":"k"}}]}"#)
        }
        for ttl in ["500ms", "31d"] {
            let definition = try RateLimitDefinitionTests.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","cache":{"key":"k","ttl":"\#(ttl)"}}]}"#)
            do {
                _ = try definition.validated()
                Issue.record("ttl \(ttl) validated")
            } catch { #expect(error.codes == [.invalidCache], "\(ttl): \(error)") }
        }
        var registration = WorkflowDefinition.Limits()
        registration.refuseReservedFields = true
        let old = try RateLimitDefinitionTests.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","cache_key":"k"}]}"#)
        do {
            _ = try old.validated(limits: registration)
            Issue.record("cache_key validated")
        } catch { #expect("\(error)".contains("cache: {key"), "\(error)") }
    }
}

@Suite("Circuit breakers in definitions")
struct CircuitBreakerDefinitionTests {
    @Test("circuit_breaker decodes with defaults, round-trips, enters the version hash only when present; out of range refused")
    func breaker() throws {
        let guarded = try RateLimitDefinitionTests.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","circuit_breaker":{}}]}"#)
        #expect(guarded.tasks[0].circuitBreaker == CircuitBreakerPolicy())
        #expect(try JSONDecoder().decode(WorkflowDefinition.self, from: JSONEncoder().encode(guarded)) == guarded)
        #expect(String(decoding: try guarded.validated().canonicalJSON, as: UTF8.self).contains(
            #""circuit_breaker":{"failure_rate":0.5,"min_requests":20,"open_for":"30s","when_open":"hold","window":"1m"}"#))
        let custom = try RateLimitDefinitionTests.decode(
            #"{"name":"w","tasks":[{"name":"a","type":"echo","circuit_breaker":{"failure_rate":0.25,"min_requests":5,"window":"10s","open_for":"2s","when_open":"fail"}}]}"#)
        #expect(custom.tasks[0].circuitBreaker == CircuitBreakerPolicy(failureRate: 0.25, minRequests: 5, window: .seconds(10), openFor: .seconds(2), whenOpen: .fail))
        for bad in [#"{"failure_rate":0}"#, #"{"failure_rate":1.5}"#, #"{"min_requests":0}"#, #"{"window":"100ms"}"#, #"{"open_for":"2d"}"#] {
            let definition = try RateLimitDefinitionTests.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","circuit_breaker":"# + bad + "}]}")
            do {
                _ = try definition.validated()
                Issue.record("\(bad) validated")
            } catch { #expect(error.codes == [.invalidCircuitBreaker], "\(bad): \(error)") }
        }
        #expect(throws: (any Error).self) {
            try RateLimitDefinitionTests.decode(#"{"name":"w","tasks":[{"name":"a","type":"echo","circuit_breaker":{"when_open":"panic"}}]}"#)
        }
    }
}
