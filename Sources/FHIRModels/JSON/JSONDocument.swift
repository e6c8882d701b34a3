/// A JSON text parsed into a flat preorder tape. Strings keep their decoded bytes, numbers keep
/// their literal text (FHIR decimals are significant as written: `1.50` stays `1.50`).
/// Duplicate keys are refused (FHIR forbids them; Foundation silently keeps one).
public struct JSONDocument: Sendable {
    public enum Kind: UInt8, Sendable { case object, array, string, number, `true`, `false`, null }

    public struct Node: Sendable {
        public var kind: Kind
        /// Key span in `bytes` for object members; `keyStart == -1` otherwise.
        public var keyStart: Int32
        public var keyLength: Int32
        /// Decoded string bytes or number literal in `bytes`.
        public var valueStart: Int32
        public var valueLength: Int32
        /// Index one past this node's last descendant.
        public var end: Int32
        /// Number of direct children (containers only).
        public var count: Int32
        public var line: Int32
        public var column: Int32
        /// Position of the member's key (or of the value when not a member), for messages.
        public var location: SourceLocation { SourceLocation(line: line, column: column) }
    }

    public var bytes: ByteStore
    public var nodes: [Node]

    public var root: Int32 { 0 }

    /// Direct children of a container, in document order.
    @inlinable
    public func children(_ index: Int32) -> JSONChildren {
        JSONChildren(nodes: nodes, start: index + 1, end: nodes[Int(index)].end)
    }

    public func key(_ index: Int32) -> String {
        let n = nodes[Int(index)]
        return n.keyStart < 0 ? "" : bytes.string(n.keyStart, n.keyLength)
    }

    public func stringValue(_ index: Int32) -> String {
        let n = nodes[Int(index)]
        return bytes.string(n.valueStart, n.valueLength)
    }

    /// The member named `key` of an object, if any.
    public func member(_ index: Int32, _ key: String) -> Int32? {
        let k = Array(key.utf8)
        for c in children(index) {
            let n = nodes[Int(c)]
            if bytes.equals(n.keyStart, n.keyLength, k) { return c }
        }
        return nil
    }
}

public struct JSONChildren: Sequence, IteratorProtocol, Sendable {
    @usableFromInline let nodes: [JSONDocument.Node]
    @usableFromInline var next_: Int32
    @usableFromInline let end: Int32
    @inlinable init(nodes: [JSONDocument.Node], start: Int32, end: Int32) {
        self.nodes = nodes; self.next_ = start; self.end = end
    }
    @inlinable public mutating func next() -> Int32? {
        guard next_ < end else { return nil }
        let i = next_
        next_ = nodes[Int(i)].end
        return i
    }
}

/// Why a JSON text was refused, with the position of the fault.
public struct JSONParseError: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case unexpectedEnd, unexpectedCharacter(UInt8), invalidNumber, invalidEscape, invalidUnicode,
             controlCharacterInString, duplicateKey(String), tooDeep(Int), tooLarge(Int), trailingContent,
             emptyDocument
    }
    public var reason: Reason
    public var location: SourceLocation
    public var offset: Int

    public var description: String {
        let what: String
        switch reason {
        case .unexpectedEnd: what = "the JSON text ends too early"
        case .unexpectedCharacter(let b):
            what = b >= 0x20 && b < 0x7f ? "unexpected character '\(Character(Unicode.Scalar(b)))'" : "unexpected byte 0x\(String(b, radix: 16))"
        case .invalidNumber: what = "malformed number"
        case .invalidEscape: what = "invalid escape sequence in string"
        case .invalidUnicode: what = "invalid UTF-8 or unpaired surrogate in string"
        case .controlCharacterInString: what = "unescaped control character in string"
        case .duplicateKey(let k): what = "duplicate property '\(k)' (FHIR forbids repeated JSON keys)"
        case .tooDeep(let d): what = "nesting deeper than \(d) levels"
        case .tooLarge(let n): what = "document larger than the \(n)-byte limit"
        case .trailingContent: what = "content after the end of the JSON value"
        case .emptyDocument: what = "empty document"
        }
        return "JSON syntax error at \(location): \(what)"
    }
}

public struct JSONLimits: Sendable {
    public var maxDepth: Int
    public var maxBytes: Int
    public init(maxDepth: Int = 128, maxBytes: Int = 64 << 20) {
        self.maxDepth = maxDepth; self.maxBytes = maxBytes
    }
    public static let standard = JSONLimits()
}
