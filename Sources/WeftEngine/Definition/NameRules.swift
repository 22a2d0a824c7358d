import WeftCore

/// The naming rules shared by validation messages (and by the servers' checks of names a request
/// carries, such as a signal's).
public enum NameRules {
    /// 1…`maxLength` characters from `A–Z a–z 0–9 _ . -`.
    public static func isValidName(_ name: String, maxLength: Int) -> Bool {
        let bytes = name.utf8
        guard !bytes.isEmpty, bytes.count <= maxLength else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }

    /// The rule, for messages.
    public static func nameRule(_ maxLength: Int) -> String {
        "use 1–\(maxLength) characters from A–Z a–z 0–9 _ . -"
    }

    /// `'name'`, or `''` for the empty string; control characters escaped, long values cut, so
    /// that messages stay readable and whole (see `MessageText`).
    static func quoted(_ text: String) -> String { MessageText.quoted(text) }
}
