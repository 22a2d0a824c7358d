import CProtobufC
import CWeftProtos
import WeftCore

extension HealthCheckRequest: WireMessage {
    public func serializedBytes() -> [UInt8] {
        wireString(service).withCString { servicePointer in
            var msg = Weft__Api__V1__HealthCheckRequest()
            weft__api__v1__health_check_request__init(&msg)
            msg.service = UnsafeMutablePointer(mutating: servicePointer)
            return packMessage(
                &msg, size: weft__api__v1__health_check_request__get_packed_size,
                pack: weft__api__v1__health_check_request__pack)
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "HealthCheckRequest", unpack: weft__api__v1__health_check_request__unpack,
            free: weft__api__v1__health_check_request__free_unpacked
        ) { (msg: borrowing Weft__Api__V1__HealthCheckRequest) throws(WireError) -> HealthCheckRequest in
            HealthCheckRequest(service: swiftString(msg.service))
        }
    }
}

extension HealthCheckResponse: WireMessage {
    public func serializedBytes() -> [UInt8] {
        wireString(nodeID).withCString { nodePointer in
            wireString(version).withCString { versionPointer in
                wireString(message).withCString { messagePointer in
                    var msg = Weft__Api__V1__HealthCheckResponse()
                    weft__api__v1__health_check_response__init(&msg)
                    msg.status = Weft__Api__V1__ServingStatus(rawValue: status.rawValue)
                    msg.role = role?.wire ?? WEFT__WIRE__V1__ROLE__ROLE_UNSPECIFIED
                    msg.node_id = UnsafeMutablePointer(mutating: nodePointer)
                    msg.version = UnsafeMutablePointer(mutating: versionPointer)
                    msg.uptime_ms = uptimeMilliseconds
                    msg.message = UnsafeMutablePointer(mutating: messagePointer)
                    return packMessage(
                        &msg, size: weft__api__v1__health_check_response__get_packed_size,
                        pack: weft__api__v1__health_check_response__pack)
                }
            }
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "HealthCheckResponse", unpack: weft__api__v1__health_check_response__unpack,
            free: weft__api__v1__health_check_response__free_unpacked
        ) { (msg: borrowing Weft__Api__V1__HealthCheckResponse) throws(WireError) -> HealthCheckResponse in
            HealthCheckResponse(
                status: HealthCheckResponse.ServingStatus(rawValue: msg.status.rawValue) ?? .unknown,
                role: NodeRole(wire: msg.role),
                nodeID: swiftString(msg.node_id),
                version: swiftString(msg.version),
                uptimeMilliseconds: msg.uptime_ms,
                message: swiftString(msg.message)
            )
        }
    }
}
