import FHIRModels

/// Lexical rules of the FHIR R4 primitive types, checked on the raw UTF-8 bytes of a value.
/// Each check returns nil when the value is fine, else the problem (severity and message).
enum PrimitiveKind: UInt8, Sendable {
    case none, boolean, integer, positiveInt, unsignedInt, decimal, string, markdown, code, id, uri, url, canonical,
         oid, uuid, date, dateTime, instant, time, base64Binary, xhtml

    init(name: String) {
        switch name {
        case "boolean": self = .boolean; case "integer": self = .integer; case "positiveInt": self = .positiveInt
        case "unsignedInt": self = .unsignedInt; case "decimal": self = .decimal; case "string": self = .string
        case "markdown": self = .markdown; case "code": self = .code; case "id": self = .id; case "uri": self = .uri
        case "url": self = .url; case "canonical": self = .canonical; case "oid": self = .oid; case "uuid": self = .uuid
        case "date": self = .date; case "dateTime": self = .dateTime; case "instant": self = .instant; case "time": self = .time
        case "base64Binary": self = .base64Binary; case "xhtml": self = .xhtml
        default: self = .none
        }
    }
}

struct FormatProblem: Equatable {
    var severity: IssueSeverity
    var message: String
}

enum PrimitiveFormats {
    static let maxStringBytes = 1024 * 1024

    static func check(_ kind: PrimitiveKind, _ v: UnsafeBufferPointer<UInt8>) -> FormatProblem? {
        func err(_ m: String) -> FormatProblem { FormatProblem(severity: .error, message: m) }
        func text() -> String { String(decoding: v.prefix(200), as: UTF8.self) + (v.count > 200 ? "…" : "") }
        switch kind {
        case .none, .xhtml: return nil
        case .boolean:
            return equals(v, "true") || equals(v, "false") ? nil : err("The value '\(text())' is not a valid boolean (true or false)")
        case .integer, .positiveInt, .unsignedInt:
            guard let n = parseInt(v) else { return err("The value '\(text())' is not a valid integer") }
            if n < Int(Int32.min) || n > Int(Int32.max) { return err("The value '\(text())' is outside the range of a 32-bit integer") }
            if kind == .positiveInt && n < 1 { return err("The value '\(text())' is not a valid positiveInt: it must be 1 or more") }
            if kind == .unsignedInt && n < 0 { return err("The value '\(text())' is not a valid unsignedInt: it must be 0 or more") }
            return nil
        case .decimal:
            return isDecimal(v) ? nil : err("The value '\(text())' is not a valid decimal")
        case .string, .markdown:
            if v.count > maxStringBytes { return err("The string is \(v.count) bytes long: FHIR strings SHALL NOT exceed 1 MB") }
            if kind == .string, let f = v.first, let l = v.last, isWS(f) || isWS(l) {
                return FormatProblem(severity: .warning, message: "The value '\(text())' should not start or finish with whitespace")
            }
            return nil
        case .code:
            if v.isEmpty { return err("A code cannot be empty") }
            if isWS(v[0]) || isWS(v[v.count - 1]) { return err("The code '\(text())' is not valid: it starts or ends with whitespace") }
            var prevSpace = false
            for b in v {
                if b == 0x09 || b == 0x0A || b == 0x0D { return err("The code '\(text())' is not valid: it contains a tab or line break") }
                if b == 0x20 { if prevSpace { return err("The code '\(text())' is not valid: it contains consecutive spaces") }; prevSpace = true } else { prevSpace = false }
            }
            return nil
        case .id:
            if v.count > 64 { return err("The id '\(text())' is longer than 64 characters") }
            for b in v where !(isAlnum(b) || b == 0x2D || b == 0x2E) {
                return err("The id '\(text())' is not valid: only letters, digits, '-' and '.' are allowed")
            }
            return v.isEmpty ? err("An id cannot be empty") : nil
        case .uri, .url, .canonical:
            for b in v where b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D {
                return err("URI values cannot contain whitespace ('\(text())')")
            }
            if starts(v, "urn:oid:") { return isOID(UnsafeBufferPointer(rebasing: v[8...])) ? nil : err("The value '\(text())' is not a valid OID") }
            if starts(v, "urn:uuid:") {
                return isUUID(UnsafeBufferPointer(rebasing: v[9...]), anyCase: true) ? nil : err("The value '\(text())' is not a valid UUID")
            }
            return nil
        case .oid:
            return starts(v, "urn:oid:") && isOID(UnsafeBufferPointer(rebasing: v[8...])) ? nil : err("The value '\(text())' is not a valid OID (urn:oid:1.2.3...)")
        case .uuid:
            return starts(v, "urn:uuid:") && isUUID(UnsafeBufferPointer(rebasing: v[9...])) ? nil : err("The value '\(text())' is not a valid UUID (urn:uuid: followed by a lowercase UUID)")
        case .date:
            return isDate(v, allowTime: false, requireFull: false) ? nil : err("The value '\(text())' is not a valid date (YYYY, YYYY-MM or YYYY-MM-DD)")
        case .dateTime:
            return isDate(v, allowTime: true, requireFull: false) ? nil
                : err("The value '\(text())' is not a valid dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a timezone)")
        case .instant:
            return isDate(v, allowTime: true, requireFull: true) ? nil
                : err("The value '\(text())' is not a valid instant: it needs a full date, time with seconds and a timezone")
        case .time:
            return isTime(v, 0, v.count) ? nil : err("The value '\(text())' is not a valid time (hh:mm:ss)")
        case .base64Binary:
            var n = 0, pad = 0, ws = false
            for b in v {
                if isWS(b) { ws = true; continue }
                if b == 0x3D { pad += 1; n += 1; continue }
                if pad > 0 || !(isAlnum(b) || b == 0x2B || b == 0x2F) { return err("The value is not valid base64: unexpected character '\(Character(Unicode.Scalar(b)))'") }
                n += 1
            }
            if n % 4 != 0 || pad > 2 { return err("The value is not valid base64: its length is not a multiple of 4") }
            if ws { return FormatProblem(severity: .warning, message: "Base64 encoded values SHOULD not contain any whitespace (per RFC 4648). Note that non-validating readers are encouraged to accept whitespace anyway") }
            return nil
        }
    }

    static let htmlTags: Set<String> = ["script", "img", "iframe", "object", "embed", "style", "link", "meta", "svg", "a",
                                        "div", "span", "p", "b", "i", "form", "input", "body", "html", "head", "frame", "base", "button", "video", "audio"]

    /// `<tag` or `</tag` with a known HTML element name, followed by `>`, `/` or whitespace.
    static func looksLikeHTML(_ v: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < v.count {
            if v[i] == 0x3C {
                var j = i + 1
                if j < v.count && v[j] == 0x2F { j += 1 }
                let s = j
                while j < v.count, isAlnum(v[j]) { j += 1 }
                if j > s, j < v.count, v[j] == 0x3E || v[j] == 0x2F || isWS(v[j]),
                   htmlTags.contains(String(decoding: v[s..<j], as: UTF8.self).lowercased()) { return true }
            }
            i += 1
        }
        return false
    }

    /// `http(s)://example.org/...`, `example.com`, `example.net` and their subdomains.
    static func isExampleURL(_ v: UnsafeBufferPointer<UInt8>) -> Bool {
        let s = String(decoding: v, as: UTF8.self).lowercased()
        guard let scheme = s.range(of: "://") else { return false }
        let host = s[scheme.upperBound...].prefix { $0 != "/" && $0 != ":" && $0 != "?" && $0 != "#" }
        return ["example.org", "example.com", "example.net"].contains { host == $0 || host.hasSuffix("." + $0) }
    }

    @inline(__always) static func isWS(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    @inline(__always) static func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) }
    @inline(__always) static func isLowerHex(_ b: UInt8) -> Bool { isDigit(b) || (b >= 0x61 && b <= 0x66) }

    static func equals(_ v: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        guard v.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for i in 0..<v.count where v[i] != p[i] { return false }
        return true
    }

    static func starts(_ v: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        guard v.count >= s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for i in 0..<s.utf8CodeUnitCount where v[i] != p[i] { return false }
        return true
    }

    static func parseInt(_ v: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0, neg = false
        if i < v.count && (v[i] == 0x2D || v[i] == 0x2B) { neg = v[i] == 0x2D; i += 1 }
        guard i < v.count, v.count - i <= 12 else { return v.count - i > 12 && v[i...].allSatisfy(isDigit) ? Int.max : nil }
        var n = 0
        while i < v.count { guard isDigit(v[i]) else { return nil }; n = n * 10 + Int(v[i] - 0x30); i += 1 }
        return neg ? -n : n
    }

    static func isDecimal(_ v: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        if i < v.count && v[i] == 0x2D { i += 1 }
        let intStart = i
        while i < v.count && isDigit(v[i]) { i += 1 }
        if i == intStart { return false }
        if i - intStart > 1 && v[intStart] == 0x30 { return false }
        if i < v.count && v[i] == 0x2E {
            i += 1; let s = i
            while i < v.count && isDigit(v[i]) { i += 1 }
            if i == s { return false }
        }
        if i < v.count && (v[i] == 0x65 || v[i] == 0x45) {
            i += 1
            if i < v.count && (v[i] == 0x2B || v[i] == 0x2D) { i += 1 }
            let s = i
            while i < v.count && isDigit(v[i]) { i += 1 }
            if i == s { return false }
        }
        return i == v.count
    }

    static func isOID(_ v: UnsafeBufferPointer<UInt8>) -> Bool {
        // [0-2](\.(0|[1-9][0-9]*))+
        guard v.count >= 3, v[0] >= 0x30 && v[0] <= 0x32, v[1] == 0x2E else { return false }
        var i = 1, arcs = 0
        while i < v.count {
            guard v[i] == 0x2E else { return false }
            i += 1
            let s = i
            while i < v.count && isDigit(v[i]) { i += 1 }
            if i == s || (i - s > 1 && v[s] == 0x30) { return false }
            arcs += 1
        }
        return arcs >= 1
    }

    static func isUUID(_ v: UnsafeBufferPointer<UInt8>, anyCase: Bool = false) -> Bool {
        guard v.count == 36 else { return false }
        for i in 0..<36 {
            if i == 8 || i == 13 || i == 18 || i == 23 { if v[i] != 0x2D { return false } }
            else if !isLowerHex(anyCase ? v[i] | 0x20 : v[i]) { return false }
        }
        return true
    }

    private static func num(_ v: UnsafeBufferPointer<UInt8>, _ at: Int, _ len: Int) -> Int? {
        guard at + len <= v.count else { return nil }
        var n = 0
        for i in at..<(at + len) { guard isDigit(v[i]) else { return nil }; n = n * 10 + Int(v[i] - 0x30) }
        return n
    }

    /// hh:mm:ss(.s+)? between `from` and `to`.
    static func isTime(_ v: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Bool {
        guard to - from >= 8, let h = num(v, from, 2), v[from + 2] == 0x3A, let m = num(v, from + 3, 2), v[from + 5] == 0x3A,
              let s = num(v, from + 6, 2), h <= 23, m <= 59, s <= 60 else { return false }
        var i = from + 8
        if i < to {
            guard v[i] == 0x2E else { return false }
            i += 1
            let st = i
            while i < to && isDigit(v[i]) { i += 1 }
            if i == st { return false }
        }
        return i == to
    }

    static func isDate(_ v: UnsafeBufferPointer<UInt8>, allowTime: Bool, requireFull: Bool) -> Bool {
        guard let y = num(v, 0, 4) else { return false }
        if v.count == 4 { return !requireFull && y >= 1 }
        guard v.count >= 7, v[4] == 0x2D, let m = num(v, 5, 2), m >= 1, m <= 12 else { return false }
        if v.count == 7 { return !requireFull }
        guard v.count >= 10, v[7] == 0x2D, let d = num(v, 8, 2), d >= 1 else { return false }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        if d > days { return false }
        if v.count == 10 { return !requireFull }
        guard allowTime, v[10] == 0x54 else { return false }
        // Timezone: Z or ±hh:mm, required when a time is present.
        var tz = v.count
        if v[v.count - 1] == 0x5A { tz = v.count - 1 }
        else if v.count >= 17 && (v[v.count - 6] == 0x2B || v[v.count - 6] == 0x2D) && v[v.count - 3] == 0x3A {
            guard let th = num(v, v.count - 5, 2), let tm = num(v, v.count - 2, 2), th <= 14, tm <= 59 else { return false }
            tz = v.count - 6
        } else { return false }
        return isTime(v, 11, tz)
    }
}
