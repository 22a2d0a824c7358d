/// Comparisons whose running time does not depend on where two secrets differ.
public enum ConstantTime {
    /// True when `a` and `b` are equal. Runs over the longer input whatever the contents, so a
    /// caller guessing an auth token learns nothing from timing but (at most) its length class.
    public static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        let lhs = Array(a)
        let rhs = Array(b)
        var diff = UInt64(lhs.count ^ rhs.count)
        let n = max(lhs.count, rhs.count)
        var i = 0
        while i < n {
            let x = i < lhs.count ? lhs[i] : 0
            let y = i < rhs.count ? rhs[i] : 0
            diff |= UInt64(x ^ y)
            i += 1
        }
        return diff == 0
    }
}
