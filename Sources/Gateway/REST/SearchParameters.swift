import Foundation

/// A `_lastUpdated` bound: comparator and instant (FHIR search, date parameters).
public struct DateBound: Sendable, Equatable {
    public enum Comparator: String, Sendable { case eq, gt, ge, lt, le, ne, sa, eb, ap }
    public var comparator: Comparator
    /// Lower edge of the value's precision range (a plain date covers the whole day, in UTC).
    public var start: Date
    /// Upper edge (exclusive).
    public var end: Date
    public var text: String

    public static func parse(_ raw: String) throws(SearchParameterError) -> DateBound {
        var s = Substring(raw)
        var comparator = Comparator.eq
        if s.count > 2, let c = Comparator(rawValue: String(s.prefix(2))), s.prefix(2).allSatisfy(\.isLetter) {
            comparator = c
            s = s.dropFirst(2)
        }
        // A '+' sent unencoded in a query is kept as '+'; a space here means the client form-encoded it.
        let text = String(s).replacingOccurrences(of: " ", with: "+")
        guard let (start, end) = range(of: text) else {
            throw SearchParameterError(value: raw, hint: "a search date is [prefix]YYYY-MM-DD or [prefix]YYYY-MM-DDThh:mm:ss[.sss](Z|±hh:mm), with '+' sent as %2B")
        }
        return DateBound(comparator: comparator, start: start, end: end, text: text)
    }

    /// Precision range of a FHIR date/dateTime/instant literal.
    static func range(of t: String) -> (Date, Date)? {
        let b = Array(t.utf8)
        func num(_ r: Range<Int>) -> Int? {
            guard r.upperBound <= b.count, r.allSatisfy({ b[$0] >= 0x30 && b[$0] <= 0x39 }) else { return nil }
            return r.reduce(0) { $0 * 10 + Int(b[$1] - 0x30) }
        }
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        guard let y = num(0..<4) else { return nil }
        if b.count == 4 {
            guard let s = cal.date(from: DateComponents(year: y, month: 1, day: 1)) else { return nil }
            return (s, cal.date(byAdding: .year, value: 1, to: s)!)
        }
        guard b.count >= 7, b[4] == UInt8(ascii: "-"), let m = num(5..<7), (1...12).contains(m) else { return nil }
        if b.count == 7 {
            guard let s = cal.date(from: DateComponents(year: y, month: m, day: 1)) else { return nil }
            return (s, cal.date(byAdding: .month, value: 1, to: s)!)
        }
        guard b.count >= 10, b[7] == UInt8(ascii: "-"), let d = num(8..<10), d >= 1,
              let s = cal.date(from: DateComponents(year: y, month: m, day: d)), cal.component(.day, from: s) == d else { return nil }
        if b.count == 10 { return (s, cal.date(byAdding: .day, value: 1, to: s)!) }
        // dateTime: a time requires a timezone (FHIR), seconds optional in search.
        guard b[10] == UInt8(ascii: "T"), b.count >= 16, let hh = num(11..<13), b[13] == UInt8(ascii: ":"), let mm = num(14..<16),
              hh < 24, mm < 60 else { return nil }
        var i = 16
        var sec = 0.0
        var precision = 60.0
        if i < b.count && b[i] == UInt8(ascii: ":") {
            guard let ss = num((i + 1)..<(i + 3)), ss < 60 else { return nil }
            sec = Double(ss); precision = 1; i += 3
            if i < b.count && b[i] == UInt8(ascii: ".") {
                var j = i + 1
                var frac = 0.0, scale = 0.1
                while j < b.count, b[j] >= 0x30 && b[j] <= 0x39 { frac += Double(b[j] - 0x30) * scale; scale /= 10; j += 1 }
                guard j > i + 1 else { return nil }
                precision = scale * 10; sec += frac; i = j
            }
        }
        var offset = 0
        if i < b.count && b[i] == UInt8(ascii: "Z") { i += 1 }
        else if i < b.count && (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")) {
            guard let oh = num((i + 1)..<(i + 3)), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"), let om = num((i + 4)..<(i + 6)), oh <= 14, om < 60 else { return nil }
            offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        } else { return nil }
        guard i == b.count else { return nil }
        let startT = s.timeIntervalSince1970 + Double(hh * 3600 + mm * 60) + sec - Double(offset)
        return (Date(timeIntervalSince1970: startT), Date(timeIntervalSince1970: startT + precision))
    }

    /// The instants that satisfy the bound as one half-open interval [from, before) (nil edge: open);
    /// nil for `ne`, which is not one interval. Same semantics as `matches`.
    public var interval: (from: Date?, before: Date?)? {
        switch comparator {
        case .eq, .ap: (start, end)
        case .gt, .sa: (end, nil)
        case .ge: (start, nil)
        case .lt, .eb: (nil, start)
        case .le: (nil, end)
        case .ne: nil
        }
    }

    /// Whether an instant satisfies the bound (FHIR search semantics on ranges).
    public func matches(_ instant: Date) -> Bool {
        switch comparator {
        case .eq, .ap: return instant >= start && instant < end
        case .ne: return instant < start || instant >= end
        case .gt, .sa: return instant >= end
        case .ge: return instant >= start
        case .lt, .eb: return instant < start
        case .le: return instant < end
        }
    }
}

/// `_count`: a positive page size, capped.
public enum PageSize {
    public static let defaultSize = 50
    public static let maximum = 500

    public static func parse(_ raw: String?) throws(SearchParameterError) -> Int {
        guard let raw else { return defaultSize }
        guard let n = Int(raw), n >= 0 else { throw SearchParameterError(value: raw, hint: "_count is a whole number from 0 to \(maximum)") }
        return min(n, maximum)
    }
}

/// A search parameter value the gateway cannot use, with how to write it correctly.
public struct SearchParameterError: Error, Equatable, CustomStringConvertible {
    public var value: String
    public var hint: String
    public var description: String { "'\(value)' is not valid: \(hint)" }
}
