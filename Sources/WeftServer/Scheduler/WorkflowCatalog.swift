import Foundation
import WeftCore
import WeftEngine
import WeftWire

/// Validated workflow definitions by name and version, loaded from Postgres on first use and
/// cached (a version's content never changes: the version is its content hash).
actor WorkflowCatalog {
    private let store: any DefinitionReading
    private var byVersion: [String: ValidatedWorkflow] = [:]
    /// The latest version per name, re-read after `latestMaxAge` (a newly applied version is
    /// picked up by new runs within that time; runs pin the version they started with).
    private var latest: [String: (workflow: ValidatedWorkflow, at: ContinuousClock.Instant)] = [:]
    private let latestMaxAge: Duration = .seconds(2)

    init(store: any DefinitionReading) {
        self.store = store
    }

    /// Reads of a latest version under way: callers that find the cache stale meanwhile wait for
    /// it instead of reading too (the actor is reentrant; under load that was hundreds of reads a
    /// second each time the entry expired).
    private var latestReads: [String: Task<ValidatedWorkflow, any Error>] = [:]

    /// The workflow `name` at `version` (nil: the latest). Throws `NOT_FOUND` when not registered.
    func workflow(name: String, version: String?) async throws -> ValidatedWorkflow {
        if let version, let cached = byVersion["\(name)@\(version)"] { return cached }
        guard version == nil else { return try await load(name: name, version: version) }
        if let cached = latest[name], ContinuousClock.now - cached.at < latestMaxAge { return cached.workflow }
        if let read = latestReads[name] { return try await read.value }
        let read = Task { try await load(name: name, version: nil) }  // isolated to this actor
        latestReads[name] = read
        defer { latestReads[name] = nil }
        return try await read.value
    }

    private func load(name: String, version: String?) async throws -> ValidatedWorkflow {
        guard let (found, body) = try await store.definition(name: name, version: version) else {
            let which = version.map { "version \($0) of " } ?? ""
            throw RPCError(.notFound, "no \(which)workflow \(MessageText.quoted(name)) is registered (weftctl workflow apply FILE)")
        }
        let validated = try byVersion["\(name)@\(found)"] ?? WorkflowCatalog.decode(body)
        byVersion["\(name)@\(found)"] = validated
        if version == nil { latest[name] = (validated, .now) }
        return validated
    }

    /// Decodes and validates a definition (JSON, the file format); errors are `INVALID_ARGUMENT`
    /// with every problem listed. A member named twice in one object is refused (JSON decoders
    /// silently keep one of the values; YAML files are refused for the same thing).
    ///
    /// `registering`: a new definition, held to today's rules (reserved fields refused); stored
    /// definitions were checked when they were registered and are only re-derived.
    static func decode(_ json: [UInt8], registering: Bool = false) throws -> ValidatedWorkflow {
        do {
            try JSONPayload.checkUniqueMemberNames(json)
        } catch {
            throw RPCError(.invalidArgument, "invalid workflow definition: \(error)")
        }
        let definition: WorkflowDefinition
        do {
            definition = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(json))
        } catch let error as DecodingError {
            throw RPCError(.invalidArgument, "invalid workflow definition: \(describe(error))")
        } catch {
            throw RPCError(.invalidArgument, "invalid workflow definition: \(error)")
        }
        do {
            var limits = WorkflowDefinition.Limits()
            limits.refuseReservedFields = registering
            return try definition.validated(limits: limits)
        } catch {
            throw RPCError(.invalidArgument, "\(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let components = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return components.isEmpty ? "" : " at \(components.hasPrefix(".") ? String(components.dropFirst()) : components)"
        }
        switch error {
        case .dataCorrupted(let context): return "\(context.debugDescription)\(path(context))"
        case .keyNotFound(let key, let context): return "missing field '\(key.stringValue)'\(path(context))"
        case .typeMismatch(_, let context): return "\(context.debugDescription)\(path(context))"
        case .valueNotFound(_, let context): return "\(context.debugDescription)\(path(context))"
        @unknown default: return "\(error)"
        }
    }
}
