/// CDA `TS` values as the volet writes them: dates `aaaammjj`, timestamps `aaaammjj[hh[mm[ss[.f]]]][±hhmm]`.
/// Kept as written in the domain objects; these checks only say whether a value is well formed.
enum CDATime {
    @inline(__always) private static func digits(_ b: ArraySlice<UInt8>) -> Int? {
        guard !b.isEmpty, b.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return b.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    /// Exactly 8 digits forming a real calendar day (leap years included).
    static func isDate(_ value: String) -> Bool {
        let b = Array(value.utf8)
        guard b.count == 8 else { return false }
        return isDate(b[0..<8])
    }

    private static func isDate(_ b: ArraySlice<UInt8>) -> Bool {
        let s = b.startIndex
        guard let y = digits(b[s..<s + 4]), let m = digits(b[s + 4..<s + 6]), let d = digits(b[s + 6..<s + 8]), y > 0, (1...12).contains(m) else { return false }
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        return (1...days).contains(d)
    }

    /// A date, then optionally hours, minutes, seconds (with a fraction of 1–4 digits) and a UTC offset.
    static func isTimestamp(_ value: String) -> Bool {
        var b = Array(value.utf8)[...]
        if let sign = b.firstIndex(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }) {
            let offset = b[(sign + 1)...]
            guard offset.count == 4, let o = digits(offset), o / 100 <= 14, o % 100 < 60 else { return false }
            b = b[..<sign]
        }
        var fraction: ArraySlice<UInt8> = []
        if let dot = b.firstIndex(of: UInt8(ascii: ".")) {
            fraction = b[(dot + 1)...]
            guard (1...4).contains(fraction.count), digits(fraction) != nil else { return false }
            b = b[..<dot]
        }
        guard [8, 10, 12, 14].contains(b.count), isDate(b.prefix(8)) else { return false }
        if !fraction.isEmpty && b.count != 14 { return false }
        let s = b.startIndex
        if b.count >= 10 { guard let h = digits(b[s + 8..<s + 10]), h < 24 else { return false } }
        if b.count >= 12 { guard let m = digits(b[s + 10..<s + 12]), m < 60 else { return false } }
        if b.count == 14 { guard let sec = digits(b[s + 12..<s + 14]), sec < 60 else { return false } }
        return true
    }
}
