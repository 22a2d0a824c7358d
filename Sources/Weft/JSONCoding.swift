import Foundation

/// The JSON coding of payloads (task inputs and outputs, run inputs and outputs): Foundation's
/// `JSONEncoder`/`JSONDecoder` with their defaults, and an empty payload read as `null`.
package enum JSONCoding {
    package static func encode(_ value: some Encodable) throws -> [UInt8] {
        Array(try JSONEncoder().encode(value))
    }

    package static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(bytes.isEmpty ? Array("null".utf8) : bytes))
    }
}
