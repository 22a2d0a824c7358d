import WeftCore
import WeftWire

/// The methods a server serves, by full name (`weft.api.v1.Health/Check`). Built before the server
/// starts and immutable afterwards. A request for any other method gets `UNIMPLEMENTED`.
public struct RPCRouter: Sendable {
    public typealias UnaryHandler = @Sendable ([UInt8], ServerContext) async throws -> [UInt8]
    public typealias ServerStreamingHandler = @Sendable ([UInt8], ServerContext, RPCStreamWriter) async throws -> Void
    public typealias ClientStreamingHandler = @Sendable (RPCInboundStream, ServerContext) async throws -> [UInt8]
    public typealias BidirectionalHandler = @Sendable (RPCInboundStream, ServerContext, RPCStreamWriter) async throws -> Void

    enum Handler: Sendable {
        case unary(UnaryHandler)
        case serverStreaming(ServerStreamingHandler)
        case clientStreaming(ClientStreamingHandler)
        case bidirectional(BidirectionalHandler)

        var kind: RPCMethodKind {
            switch self {
            case .unary: .unary
            case .serverStreaming: .serverStreaming
            case .clientStreaming: .clientStreaming
            case .bidirectional: .bidirectionalStreaming
            }
        }
    }

    private(set) var handlers: [String: Handler] = [:]

    public init() {}

    public var methods: [String] { handlers.keys.sorted() }

    public mutating func unary(_ method: String, _ handler: @escaping UnaryHandler) {
        add(method, .unary(handler))
    }

    public mutating func serverStreaming(_ method: String, _ handler: @escaping ServerStreamingHandler) {
        add(method, .serverStreaming(handler))
    }

    public mutating func clientStreaming(_ method: String, _ handler: @escaping ClientStreamingHandler) {
        add(method, .clientStreaming(handler))
    }

    public mutating func bidirectionalStreaming(_ method: String, _ handler: @escaping BidirectionalHandler) {
        add(method, .bidirectional(handler))
    }

    /// A unary method with typed messages. A request that does not decode is `INVALID_ARGUMENT`.
    public mutating func unary<Request: WireMessage, Response: WireMessage>(
        _ method: String, request: Request.Type, response: Response.Type,
        _ handler: @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) {
        unary(method) { bytes, context in
            try await handler(try Request(serializedBytes: bytes), context).serializedBytes()
        }
    }

    private mutating func add(_ method: String, _ handler: Handler) {
        precondition(method.contains("/") && !method.hasPrefix("weft.wire."), "invalid method name \(method)")
        precondition(handlers[method] == nil, "method \(method) registered twice")
        handlers[method] = handler
    }

    func handler(for method: String) -> Handler? { handlers[method] }
}
