import WeftCore
import WeftTransport
import WeftWire

/// `weft.api.v1.Health/Check` (modelled on grpc.health.v1): whether this process serves, and who
/// it is. Every role serves it; orchestrators and `weftctl health` call it.
public final class HealthService: Sendable {
    public static let checkMethod = "weft.api.v1.Health/Check"
    public static let serviceName = "weft.api.v1.Health"

    private let role: NodeRole
    private let nodeID: String
    private let version: String
    private let started = ContinuousClock.now
    /// nil while serving; otherwise why not (draining, dependency down, …).
    private let notServingReason = Locked<String?>(nil)
    private let services: Set<String>

    public init(role: NodeRole, nodeID: String, version: String, services: Set<String> = []) {
        self.role = role
        self.nodeID = nodeID
        self.version = version
        self.services = services.union([Self.serviceName])
    }

    /// Marks the process as not serving (e.g. during graceful shutdown), or serving again with nil.
    public func setNotServing(_ reason: String?) {
        notServingReason.withLock { $0 = reason }
    }

    public func check(_ request: HealthCheckRequest) -> HealthCheckResponse {
        let uptime = ContinuousClock.now - started
        var response = HealthCheckResponse(
            status: .serving, role: role, nodeID: nodeID, version: version,
            uptimeMilliseconds: UInt64(max(0, uptime / .milliseconds(1))))
        if !request.service.isEmpty && !services.contains(request.service) {
            response.status = .serviceUnknown
            response.message = "no service '\(request.service)' here"
        } else if let reason = notServingReason.withLock({ $0 }) {
            response.status = .notServing
            response.message = reason
        }
        return response
    }

    public func register(into router: inout RPCRouter) {
        router.unary(Self.checkMethod, request: HealthCheckRequest.self, response: HealthCheckResponse.self) { [self] request, _ in
            check(request)
        }
    }
}
