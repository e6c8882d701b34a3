/// A decoded query string. FHIR search values are percent-encoded; a `+` in an instant must be sent
/// as `%2B`, and a literal `+` is kept as `+` (FHIR queries are not HTML form data), so that
/// `_lastUpdated=gt2026-01-01T00:00:00+01:00` also works from careless clients.
public struct QueryParameters: Sendable, Equatable {
    public var items: [(name: String, value: String)]

    public static func == (a: QueryParameters, b: QueryParameters) -> Bool {
        a.items.count == b.items.count && zip(a.items, b.items).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public enum DecodingError: Error, Equatable, CustomStringConvertible {
        case badPercentEncoding(String)
        case notUTF8(String)
        public var description: String {
            switch self {
            case .badPercentEncoding(let s): "malformed percent-encoding in query parameter '\(s)'"
            case .notUTF8(let s): "query parameter '\(s)' is not valid UTF-8 once decoded"
            }
        }
    }

    public init(items: [(name: String, value: String)]) { self.items = items }

    /// `plusIsSpace`: HTML form data (`application/x-www-form-urlencoded`, e.g. an OAuth token
    /// request) encodes a space as `+`; FHIR query strings do not.
    public init(query: Substring?, plusIsSpace: Bool = false) throws(DecodingError) {
        items = []
        guard let query, !query.isEmpty else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decode(kv[0], plusIsSpace: plusIsSpace)
            let value = kv.count > 1 ? try Self.decode(kv[1], plusIsSpace: plusIsSpace) : ""
            items.append((name, value))
        }
    }

    static func decode(_ s: Substring, plusIsSpace: Bool = false) throws(DecodingError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%") {
                guard it.count >= 2, let h = hex(it[it.startIndex]), let l = hex(it[it.startIndex + 1]) else { throw .badPercentEncoding(String(s)) }
                out.append(h << 4 | l)
                it = it.dropFirst(2)
            } else {
                out.append(plusIsSpace && c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
            }
        }
        guard let str = String(validating: out, as: UTF8.self) else { throw .notUTF8(String(s)) }
        return str
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }

    public func values(_ name: String) -> [String] { items.filter { $0.name == name }.map(\.value) }
    public func first(_ name: String) -> String? { items.first { $0.name == name }?.value }
}
