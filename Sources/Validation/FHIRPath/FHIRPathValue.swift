import Foundation
import FHIRModels

/// One item of a FHIRPath collection: a node of the element tree being evaluated, or a System value.
/// Primitive nodes stay nodes (so their FHIR type and children stay visible) and convert to System
/// values when an operator or function needs the value.
public enum FHIRPathValue: Sendable, Hashable, CustomStringConvertible {
    case node(ElementTree.NodeID)
    case boolean(Bool)
    case string(String)
    case integer(Int)
    /// Exact decimal (no binary floating point) with its written precision.
    case decimal(FHIRPathDecimal)
    case date(FHIRPathDateTime)
    case dateTime(FHIRPathDateTime)
    case time(FHIRPathDateTime)
    case quantity(FHIRPathQuantity)

    public var description: String {
        switch self {
        case .node(let id): "node#\(id)"
        case .boolean(let b): b ? "true" : "false"
        case .string(let s): s
        case .integer(let i): String(i)
        case .decimal(let d): d.description
        case .date(let d), .dateTime(let d), .time(let d): d.description
        case .quantity(let q): q.description
        }
    }

    var isDate: Bool { if case .date = self { true } else { false } }

    static func format(_ d: Decimal) -> String {
        var d = d
        return NSDecimalString(&d, Locale(identifier: "en_US_POSIX"))
    }

    static func parseDecimal(_ s: String) -> Decimal? {
        guard !s.isEmpty else { return nil }
        // Validate the FHIR decimal grammar first: Decimal(string:) accepts junk suffixes.
        var sawDigit = false, sawDot = false, sawExp = false
        let u = Array(s.utf8)
        for (i, c) in u.enumerated() {
            if c >= 0x30 && c <= 0x39 { sawDigit = true }
            else if c == 0x2E && !sawDot && !sawExp { sawDot = true }
            else if c == 0x2D || c == 0x2B { if i != 0 && u[i - 1] != 0x65 && u[i - 1] != 0x45 { return nil } }
            else if (c == 0x65 || c == 0x45) && sawDigit && !sawExp { sawExp = true }
            else { return nil }
        }
        guard sawDigit else { return nil }
        return Decimal(string: s, locale: Locale(identifier: "en_US_POSIX"))
    }
}

/// A System.Decimal: an exact value and its scale (digits after the point, significant trailing zeros
/// included: `1.50` has scale 2). Equality and hashing use the value only (`1.5 = 1.50`).
public struct FHIRPathDecimal: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: Decimal
    public var scale: Int

    /// `scale` defaults to the digits the value needs.
    public init(_ value: Decimal, scale: Int? = nil) {
        self.value = value
        self.scale = max(scale ?? 0, FHIRPathDecimal.naturalScale(value))
    }

    /// Parses a FHIR/FHIRPath decimal literal (`-1.50`, `2e3`), keeping its scale.
    public init?(_ text: String) {
        guard let v = FHIRPathValue.parseDecimal(text) else { return nil }
        var fraction = 0, exponent = 0
        if let dot = text.firstIndex(of: ".") {
            fraction = text[text.index(after: dot)...].prefix { $0.isASCII && $0.isNumber }.count
        }
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) { exponent = Int(text[text.index(after: e)...]) ?? 0 }
        self.init(v, scale: max(0, fraction - exponent))
    }

    static func naturalScale(_ d: Decimal) -> Int { d.isZero ? 0 : max(0, -d.exponent) }

    public static func == (a: FHIRPathDecimal, b: FHIRPathDecimal) -> Bool { a.value == b.value }
    public static func < (a: FHIRPathDecimal, b: FHIRPathDecimal) -> Bool { a.value < b.value }
    public func hash(into h: inout Hasher) { h.combine(value) }

    public var description: String {
        var s = FHIRPathValue.format(value)
        let have = s.firstIndex(of: ".").map { s.distance(from: $0, to: s.endIndex) - 1 } ?? 0
        if scale > have {
            if have == 0 { s += "." }
            s += String(repeating: "0", count: scale - have)
        }
        return s
    }
}

/// A System.Date, System.DateTime or System.Time with the precision it was written with.
/// Time values use only the hour...millisecond fields.
public struct FHIRPathDateTime: Sendable, Hashable, CustomStringConvertible {
    public enum Precision: Int, Sendable, Comparable {
        case year, month, day, hour, minute, second, millisecond
        public static func < (a: Precision, b: Precision) -> Bool { a.rawValue < b.rawValue }
    }
    public var year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0, millisecond = 0
    public var precision: Precision
    /// Offset from UTC in minutes when the value carries a time zone.
    public var timeZoneMinutes: Int?
    public var isTime = false

    public init(precision: Precision) { self.precision = precision }

    public var description: String {
        var s = ""
        func p2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        if !isTime {
            let y = String(Swift.abs(year))
            s = (year < 0 ? "-" : "") + String(repeating: "0", count: max(0, 4 - y.count)) + y
            if precision >= .month { s += "-" + p2(month) }
            if precision >= .day { s += "-" + p2(day) }
            if precision >= .hour { s += "T" }
        }
        if precision >= .hour {
            s += p2(hour)
            if precision >= .minute { s += ":" + p2(minute) }
            if precision >= .second { s += ":" + p2(second) }
            if precision >= .millisecond { s += "." + (millisecond < 10 ? "00" : millisecond < 100 ? "0" : "") + String(millisecond) }
            if let tz = timeZoneMinutes {
                if tz == 0 { s += "Z" } else { s += (tz < 0 ? "-" : "+") + p2(abs(tz) / 60) + ":" + p2(abs(tz) % 60) }
            }
        }
        return s
    }

    /// Reads exactly `n` decimal digits at `i` (advancing it), or nil.
    static func readDigits(_ b: [UInt8], _ i: inout Int, _ n: Int) -> Int? {
        guard i + n <= b.count else { return nil }
        var v = 0
        for k in 0..<n {
            let c = b[i + k]
            guard c >= 0x30 && c <= 0x39 else { return nil }
            v = v * 10 + Int(c - 0x30)
        }
        i += n
        return v
    }

    /// Parses a FHIR/FHIRPath date, dateTime or instant (without the `@`), e.g. `2014-01-25T14:30:14.559+01:00`, `2015T`.
    public static func parseDateTime(_ text: String) -> FHIRPathDateTime? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? { readDigits(b, &i, n) }
        var r = FHIRPathDateTime(precision: .year)
        guard let y = digits(4) else { return nil }
        r.year = y
        if i < b.count && b[i] == 0x2D {
            i += 1
            guard let m = digits(2), (1...12).contains(m) else { return nil }
            r.month = m; r.precision = .month
            if i < b.count && b[i] == 0x2D {
                i += 1
                guard let d = digits(2), d >= 1, d <= daysIn(year: y, month: m) else { return nil }
                r.day = d; r.precision = .day
            }
        }
        if i < b.count && b[i] == 0x54 {
            i += 1
            if i == b.count { return r }
            guard r.precision == .day else { return nil }
            guard parseTimePart(b, &i, &r) else { return nil }
        }
        return i == b.count ? r : nil
    }

    /// Parses a time `hh(:mm(:ss(.fff)?)?)?` optionally followed by a zone.
    public static func parseTime(_ text: String, allowZone: Bool = false) -> FHIRPathDateTime? {
        let b = Array(text.utf8)
        var i = 0
        var r = FHIRPathDateTime(precision: .hour)
        r.isTime = true
        guard parseTimePart(b, &i, &r), i == b.count else { return nil }
        if r.timeZoneMinutes != nil && !allowZone { return nil }
        return r
    }

    static func parseTimePart(_ b: [UInt8], _ i: inout Int, _ r: inout FHIRPathDateTime) -> Bool {
        func digits(_ n: Int) -> Int? { readDigits(b, &i, n) }
        guard let h = digits(2), h < 24 else { return false }
        r.hour = h; r.precision = .hour
        if i < b.count && b[i] == 0x3A {
            i += 1
            guard let m = digits(2), m < 60 else { return false }
            r.minute = m; r.precision = .minute
            if i < b.count && b[i] == 0x3A {
                i += 1
                guard let s = digits(2), s < 60 else { return false }
                r.second = s; r.precision = .second
                if i < b.count && b[i] == 0x2E {
                    i += 1
                    var n = 0, ms = 0
                    while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                        if n < 3 { ms = ms * 10 + Int(b[i] - 0x30) }
                        n += 1; i += 1
                    }
                    guard n > 0 else { return false }
                    for _ in n..<max(n, 3) { ms *= 10 }
                    r.millisecond = ms; r.precision = .millisecond
                }
            }
        }
        if i < b.count {
            if b[i] == 0x5A { r.timeZoneMinutes = 0; i += 1 }
            else if b[i] == 0x2B || b[i] == 0x2D {
                let neg = b[i] == 0x2D
                i += 1
                guard let th = digits(2), i < b.count, b[i] == 0x3A else { return false }
                i += 1
                guard let tm = digits(2) else { return false }
                r.timeZoneMinutes = (neg ? -1 : 1) * (th * 60 + tm)
            }
        }
        return true
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }
    static func daysIn(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 (proleptic Gregorian).
    static func dayNumber(_ y: Int, _ m: Int, _ d: Int) -> Int {
        let y2 = m <= 2 ? y - 1 : y
        let era = (y2 >= 0 ? y2 : y2 - 399) / 400
        let yoe = y2 - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civil(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// The value shifted to UTC (when it has a zone and at least hour precision).
    func normalized() -> FHIRPathDateTime {
        guard let tz = timeZoneMinutes, tz != 0, precision >= .hour else { return self }
        var r = self
        r.addMilliseconds(-Int64(tz) * 60_000)
        r.timeZoneMinutes = 0
        return r
    }

    mutating func addMilliseconds(_ delta: Int64) {
        if isTime {
            let dayMs: Int64 = 86_400_000
            var t = Int64(((hour * 60 + minute) * 60 + second) * 1000 + millisecond) + delta
            t = ((t % dayMs) + dayMs) % dayMs
            millisecond = Int(t % 1000); second = Int(t / 1000 % 60); minute = Int(t / 60_000 % 60); hour = Int(t / 3_600_000)
            return
        }
        let dayMs: Int64 = 86_400_000
        var total = Int64(FHIRPathDateTime.dayNumber(year, month, day)) * dayMs
            + Int64(((hour * 60 + minute) * 60 + second) * 1000 + millisecond) + delta
        var days = total / dayMs
        total -= days * dayMs
        if total < 0 { total += dayMs; days -= 1 }
        (year, month, day) = FHIRPathDateTime.civil(Int(days))
        millisecond = Int(total % 1000); second = Int(total / 1000 % 60); minute = Int(total / 60_000 % 60); hour = Int(total / 3_600_000)
    }

    mutating func addMonths(_ n: Int) {
        var m = year * 12 + (month - 1) + n
        if m < 0 { m = 0 }
        year = m / 12; month = m % 12 + 1
        day = min(day, FHIRPathDateTime.daysIn(year: year, month: month))
    }

    /// Three-valued comparison: nil when the values differ in precision and are equal up to the coarser one.
    static func compare(_ a0: FHIRPathDateTime, _ b0: FHIRPathDateTime) -> Int? {
        var a = a0, b = b0
        if (a.timeZoneMinutes == nil) != (b.timeZoneMinutes == nil) && a.precision >= .hour && b.precision >= .hour && !a.isTime {
            return nil // one local, one zoned: the order is unknown
        }
        if a.timeZoneMinutes != nil || b.timeZoneMinutes != nil {
            if a.timeZoneMinutes == nil { a.timeZoneMinutes = 0 }
            if b.timeZoneMinutes == nil { b.timeZoneMinutes = 0 }
            a = a.normalized(); b = b.normalized()
        }
        let pa = a.precision == .millisecond ? Precision.second : a.precision
        let pb = b.precision == .millisecond ? Precision.second : b.precision
        let common = min(pa, pb)
        let start: Precision = a.isTime ? .hour : .year
        var p = start
        while true {
            let (x, y): (Int, Int)
            switch p {
            case .year: (x, y) = (a.year, b.year)
            case .month: (x, y) = (a.month, b.month)
            case .day: (x, y) = (a.day, b.day)
            case .hour: (x, y) = (a.hour, b.hour)
            case .minute: (x, y) = (a.minute, b.minute)
            case .second, .millisecond: (x, y) = (a.second * 1000 + a.millisecond, b.second * 1000 + b.millisecond)
            }
            if x != y { return x < y ? -1 : 1 }
            if p >= common { break }
            p = Precision(rawValue: p.rawValue + 1)!
        }
        return pa == pb ? 0 : nil
    }
}

/// A System.Quantity: exact value and a UCUM unit or calendar duration keyword (`year`, `days`, ...).
public struct FHIRPathQuantity: Sendable, Hashable, CustomStringConvertible {
    public var value: Decimal
    public var unit: String
    public init(value: Decimal, unit: String) { self.value = value; self.unit = unit }

    public var description: String {
        let v = FHIRPathValue.format(value)
        return FHIRPathQuantity.calendarUnits[unit] != nil ? "\(v) \(unit)" : "\(v) '\(unit)'"
    }

    /// Calendar duration keywords and the UCUM unit they correspond to.
    static let calendarUnits: [String: String] = [
        "year": "a", "years": "a", "month": "mo", "months": "mo", "week": "wk", "weeks": "wk", "day": "d", "days": "d",
        "hour": "h", "hours": "h", "minute": "min", "minutes": "min", "second": "s", "seconds": "s",
        "millisecond": "ms", "milliseconds": "ms",
    ]

    /// Simple UCUM: units with a factor to a base unit. Enough for equality and comparison of common units.
    static let ucum: [String: (base: String, factor: Decimal)] = [
        "g": ("g", 1), "mg": ("g", Decimal(string: "0.001")!), "ug": ("g", Decimal(string: "0.000001")!), "kg": ("g", 1000),
        "ng": ("g", Decimal(string: "0.000000001")!),
        "m": ("m", 1), "cm": ("m", Decimal(string: "0.01")!), "mm": ("m", Decimal(string: "0.001")!), "km": ("m", 1000),
        "[lb_av]": ("g", Decimal(string: "453.59237")!), "[oz_av]": ("g", Decimal(string: "28.349523125")!),
        "[in_i]": ("m", Decimal(string: "0.0254")!), "[ft_i]": ("m", Decimal(string: "0.3048")!),
        "L": ("L", 1), "l": ("L", 1), "mL": ("L", Decimal(string: "0.001")!), "dL": ("L", Decimal(string: "0.1")!),
        "s": ("s", 1), "ms": ("s", Decimal(string: "0.001")!), "min": ("s", 60), "h": ("s", 3600), "d": ("s", 86400),
        "wk": ("s", 604800),
        "1": ("1", 1), "%": ("1", Decimal(string: "0.01")!),
        "Cel": ("Cel", 1), "mmol/L": ("mol/L", Decimal(string: "0.001")!), "mol/L": ("mol/L", 1),
        "mg/dL": ("g/L", Decimal(string: "0.01")!), "g/L": ("g/L", 1), "g/dL": ("g/L", 10),
    ]

    /// The value in the base unit, for units this table knows. Calendar year/month only map to themselves.
    func canonical(forEquivalence: Bool) -> (Decimal, String)? {
        var u = unit
        if let c = FHIRPathQuantity.calendarUnits[u] {
            if c == "a" || c == "mo" { return forEquivalence ? (value * (c == "a" ? 12 : 1), "mo") : (value, unit.hasSuffix("s") ? String(unit.dropLast()) : unit) }
            u = c
        }
        if u == "a" || u == "mo" { return forEquivalence ? (value * (u == "a" ? 12 : 1), "mo") : (value, "ucum:" + u) }
        if let f = FHIRPathQuantity.ucum[u] { return (value * f.factor, f.base) }
        return (value, "ucum:" + u)
    }
}
