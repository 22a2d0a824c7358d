import CProtobufC
import CWeftProtos
import WeftCore

extension Hello: WireMessage {
    public func serializedBytes() -> [UInt8] {
        wireString(cluster).withCString { clusterPointer in
            wireString(nodeID).withCString { nodePointer in
                authToken.withUnsafeBufferPointer { token in
                    var msg = Weft__Wire__V1__Hello()
                    weft__wire__v1__hello__init(&msg)
                    msg.protocol_version_min = protocolVersions.lowerBound
                    msg.protocol_version_max = protocolVersions.upperBound
                    msg.cluster = UnsafeMutablePointer(mutating: clusterPointer)
                    msg.role = role.wire
                    msg.node_id = UnsafeMutablePointer(mutating: nodePointer)
                    msg.auth_token = ProtobufCBinaryData(len: token.count, data: UnsafeMutablePointer(mutating: token.baseAddress))
                    return packMessage(&msg, size: weft__wire__v1__hello__get_packed_size, pack: weft__wire__v1__hello__pack)
                }
            }
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "Hello", unpack: weft__wire__v1__hello__unpack, free: weft__wire__v1__hello__free_unpacked
        ) { (msg: borrowing Weft__Wire__V1__Hello) throws(WireError) -> Hello in
            guard msg.protocol_version_min <= msg.protocol_version_max else {
                throw WireError(
                    .invalidField,
                    "Hello protocol versions \(msg.protocol_version_min)...\(msg.protocol_version_max) are not a range")
            }
            guard let role = NodeRole(wire: msg.role) else {
                throw WireError(.invalidField, "Hello.role \(msg.role.rawValue) is not a known role")
            }
            return Hello(
                protocolVersions: msg.protocol_version_min...msg.protocol_version_max,
                cluster: swiftString(msg.cluster),
                role: role,
                nodeID: swiftString(msg.node_id),
                authToken: swiftBytes(msg.auth_token)
            )
        }
    }
}

extension HelloAck: WireMessage {
    public func serializedBytes() -> [UInt8] {
        wireString(cluster).withCString { clusterPointer in
            wireString(nodeID).withCString { nodePointer in
                var msg = Weft__Wire__V1__HelloAck()
                weft__wire__v1__hello_ack__init(&msg)
                msg.protocol_version = protocolVersion
                msg.cluster = UnsafeMutablePointer(mutating: clusterPointer)
                msg.role = role.wire
                msg.node_id = UnsafeMutablePointer(mutating: nodePointer)
                return packMessage(&msg, size: weft__wire__v1__hello_ack__get_packed_size, pack: weft__wire__v1__hello_ack__pack)
            }
        }
    }

    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(WireError) {
        self = try unpackMessage(
            bytes, name: "HelloAck", unpack: weft__wire__v1__hello_ack__unpack, free: weft__wire__v1__hello_ack__free_unpacked
        ) { (msg: borrowing Weft__Wire__V1__HelloAck) throws(WireError) -> HelloAck in
            guard let role = NodeRole(wire: msg.role) else {
                throw WireError(.invalidField, "HelloAck.role \(msg.role.rawValue) is not a known role")
            }
            return HelloAck(
                protocolVersion: msg.protocol_version, cluster: swiftString(msg.cluster), role: role,
                nodeID: swiftString(msg.node_id))
        }
    }
}
