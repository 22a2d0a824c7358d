import WeftCore
import CLibPQ

/// Removes parameter values and passwords from the texts that end up in a ``PostgresError``.
///
/// Postgres echoes values in a few well-known places: input errors quote the offending text
/// (`invalid input syntax for type integer: "abc"`) and constraint details list the key or the row
/// (`Key (id)=(42) already exists.`, `Failing row contains (42, x).`). libpq echoes the whole
/// connection URI in some parse errors. Redaction over-approximates: a detail in one of the row
/// formats loses all its values, whether they came from parameters or from the table.
enum PostgresRedaction {
    static let placeholder = "<redacted>"

    /// `message` with every quoted occurrence of a parameter's text replaced.
    static func redactingParameters(in message: String, parameters: [String]) -> String {
        var message = message
        for parameter in parameters where !parameter.isEmpty {
            message = message.replacing("\"\(parameter)\"", with: "\"\(placeholder)\"")
        }
        return message
    }

    /// `detail` with the key values and row contents of constraint and partition-routing errors
    /// removed, and quoted parameter values replaced.
    static func redactingDetail(_ detail: String, parameters: [String]) -> String {
        let failingRow = "Failing row contains ("
        if detail.hasPrefix(failingRow) {
            return "\(failingRow)\(placeholder))."
        }
        // A row no table partition accepts: `Partition key of the failing row contains (created_at)
        // = (2031-01-01 00:00:00+00).` Keep the key's column names, drop its values.
        let partitionKey = "Partition key of the failing row contains ("
        if detail.hasPrefix(partitionKey), let equals = detail.firstRange(of: ") = (") {
            return detail[..<equals.upperBound] + placeholder + ")."
        }
        if detail.hasPrefix("Key ("), let equals = detail.firstRange(of: ")=(") {
            let head = detail[..<equals.upperBound]
            // The suffixes Postgres writes after the value list (table names are not values).
            for marker in [") already exists.", ") is not present in table ", ") is still referenced from table "] {
                if let range = detail.ranges(of: marker).last, range.lowerBound >= equals.upperBound {
                    return head + placeholder + detail[range.lowerBound...]
                }
            }
            return head + placeholder + ")"
        }
        return redactingParameters(in: detail, parameters: parameters)
    }

    /// `message` with every password that `connectionString` contains replaced by `***`.
    static func redactingSecrets(in message: String, connectionString: String) -> String {
        var message = message
        for secret in secrets(in: connectionString) {
            message = message.replacing(secret, with: "***")
        }
        return message
    }

    /// The passwords in a libpq connection string (URI or `key=value` form), raw and
    /// percent-decoded, longest first so that a secret containing another is replaced whole.
    static func secrets(in connectionString: String) -> [String] {
        var found: Set<String> = []
        // libpq's own parser, when the string parses.
        var errorMessage: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(connectionString, &errorMessage) {
            var option = options
            while let keyword = option.pointee.keyword {
                if String(cString: keyword) == "password", let value = option.pointee.val {
                    found.insert(String(cString: value))
                }
                option += 1
            }
            PQconninfoFree(options)
        }
        if let errorMessage { PQfreemem(errorMessage) }
        // A malformed URI is exactly when libpq may echo it: also find the userinfo by hand.
        if let scheme = connectionString.firstRange(of: "://") {
            let rest = connectionString[scheme.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            if let at = authority.lastIndex(of: "@") {
                let userinfo = authority[..<at]
                if let colon = userinfo.firstIndex(of: ":") {
                    let raw = String(userinfo[userinfo.index(after: colon)...])
                    found.insert(raw)
                    found.insert(PercentEncoding.decode(raw))
                }
            }
        }
        // `password=...` in key=value form or in a URI query.
        for range in connectionString.ranges(of: "password=") {
            var value = connectionString[range.upperBound...]
            if value.first == "'" { value = value.dropFirst() }
            let raw = String(value.prefix { $0 != " " && $0 != "&" && $0 != "'" })
            found.insert(raw)
            found.insert(PercentEncoding.decode(raw))
        }
        return found.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

}
