/// A mutable JSON value with ordered keys and numbers kept as their literal text. For tools and
/// stores that build or rewrite JSON (snapshot generation, terminology import, configuration);
/// request paths use the `JSONDocument` tape and the `ElementTree` instead.
public enum JSONValue: Sendable, Equatable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    /// Literal number text, e.g. `1.50`.
    case number(String)
    case bool(Bool)
    case null

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let x), .array(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    public init(document: JSONDocument, node: Int32 = 0) {
        let n = document.nodes[Int(node)]
        switch n.kind {
        case .object:
            self = .object(document.children(node).map { (document.key($0), JSONValue(document: document, node: $0)) })
        case .array:
            self = .array(document.children(node).map { JSONValue(document: document, node: $0) })
        case .string: self = .string(document.stringValue(node))
        case .number: self = .number(document.stringValue(node))
        case .true: self = .bool(true)
        case .false: self = .bool(false)
        case .null: self = .null
        }
    }

    public static func parse(_ bytes: [UInt8], limits: JSONLimits = .standard) throws(JSONParseError) -> JSONValue {
        JSONValue(document: try JSONReader.parse(bytes, limits: limits))
    }

    public subscript(key: String) -> JSONValue? {
        get {
            guard case .object(let m) = self else { return nil }
            return m.first { $0.0 == key }?.1
        }
        set {
            guard case .object(var m) = self else { return }
            if let i = m.firstIndex(where: { $0.0 == key }) {
                if let v = newValue { m[i].1 = v } else { m.remove(at: i) }
            } else if let v = newValue {
                m.append((key, v))
            }
            self = .object(m)
        }
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var members: [(String, JSONValue)]? { if case .object(let m) = self { return m }; return nil }
    public var int: Int? {
        switch self {
        case .number(let s): return Int(s)
        case .string(let s): return Int(s)
        default: return nil
        }
    }

    /// Compact (or indented) UTF-8 JSON text.
    public func serialized(pretty: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        write(to: &out, pretty: pretty, indent: 0)
        return out
    }

    public func serializedString(pretty: Bool = false) -> String {
        String(decoding: serialized(pretty: pretty), as: UTF8.self)
    }

    private func write(to out: inout [UInt8], pretty: Bool, indent: Int) {
        func newline(_ level: Int) {
            guard pretty else { return }
            out.append(0x0A)
            out.append(contentsOf: repeatElement(0x20, count: level * 2))
        }
        switch self {
        case .object(let m):
            out.append(UInt8(ascii: "{"))
            for (i, (k, v)) in m.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                JSONValue.writeString(k, to: &out)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(0x20) }
                v.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if !m.isEmpty { newline(indent) }
            out.append(UInt8(ascii: "}"))
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                v.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if !a.isEmpty { newline(indent) }
            out.append(UInt8(ascii: "]"))
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        }
    }

    /// Writes a JSON string literal, escaping quotes, backslashes and control characters.
    public static func writeString(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { writeString(bytes: $0, to: &out) }
    }

    public static func writeString(bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        JSONEscaper.writeString(bytes, to: &out)
    }
}
