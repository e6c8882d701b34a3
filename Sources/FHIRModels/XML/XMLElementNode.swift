import CLibXML2

/// Generic, read-only XML for the documents that are not FHIR resources (the CDA R2 payloads of the
/// Handicap flows). Parsing goes through `SafeXML` (no network, no entity expansion, any DOCTYPE
/// refused, size cap) and the libxml2 tree is copied into plain Swift values and freed at once, so
/// callers never hold a C pointer and one parser wrapper serves FHIR XML, XHTML and CDA.

/// One element: its namespace-qualified name, attributes, child elements and direct text.
public struct XMLElementNode: Sendable, Equatable {
    /// Local name, without prefix.
    public var name: String
    /// Namespace URI (`urn:hl7-org:v3` for CDA), nil when the element is in no namespace.
    public var namespace: String?
    public var attributes: [XMLAttribute]
    /// Child elements in document order (text, comments and processing instructions are not elements).
    public var children: [XMLElementNode]
    /// The element's own text nodes (CDATA included), concatenated as written; "" when none.
    public var text: String
    /// 1-based source line of the start tag.
    public var line: Int32

    public init(name: String, namespace: String?, attributes: [XMLAttribute] = [], children: [XMLElementNode] = [], text: String = "", line: Int32 = 0) {
        self.name = name; self.namespace = namespace; self.attributes = attributes; self.children = children; self.text = text; self.line = line
    }

    /// `text` without leading and trailing ASCII whitespace (the indentation around a value).
    public var trimmedText: String { text.trimmingASCIIWhitespace() }

    /// The value of the attribute `name` (in no namespace unless `namespace` is given).
    public func attribute(_ name: String, namespace: String? = nil) -> String? {
        attributes.first { $0.name == name && $0.namespace == namespace }?.value
    }
}

/// One attribute; namespace declarations (`xmlns`, `xmlns:p`) are not attributes.
public struct XMLAttribute: Sendable, Equatable {
    public var name: String
    public var namespace: String?
    public var value: String
    public init(name: String, namespace: String? = nil, value: String) { self.name = name; self.namespace = namespace; self.value = value }
}

/// A parsed document: the root element and the encoding named in the XML declaration, if any.
public struct XMLDocumentNode: Sendable, Equatable {
    public var root: XMLElementNode
    /// `encoding` of the `<?xml …?>` declaration as written (nil without declaration or attribute).
    public var declaredEncoding: String?
}

/// Bounds applied while reading: bytes before parsing, nesting and element count while copying.
public struct XMLDocumentLimits: Sendable {
    public var maxBytes: Int
    public var maxDepth: Int
    public var maxElements: Int
    public init(maxBytes: Int = 4 << 20, maxDepth: Int = 64, maxElements: Int = 50_000) {
        self.maxBytes = maxBytes; self.maxDepth = maxDepth; self.maxElements = maxElements
    }
    public static let standard = XMLDocumentLimits()
}

/// Why a document was refused, kept apart from libxml2's message so that callers word the refusal
/// in their own terms (a CDA reader answers with its own rule codes).
public struct XMLReadError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case empty, tooLarge, tooDeep, tooManyElements, doctype, syntax, outOfMemory
        /// The path given to an editing function names no element of the document.
        case notFound
    }
    public var kind: Kind
    /// libxml2's message for `syntax`, otherwise a short English explanation.
    public var detail: String
    public var location: SourceLocation
    public init(kind: Kind, detail: String, location: SourceLocation) { self.kind = kind; self.detail = detail; self.location = location }
    public var description: String { "\(kind) at \(location): \(detail)" }
}

/// A namespace-qualified element name, one step of an `XMLDocumentEditor` path.
public struct XMLName: Sendable, Hashable {
    public var namespace: String?
    public var name: String
    public init(_ namespace: String?, _ name: String) { self.namespace = namespace; self.name = name }
}

public enum XMLDocumentReader {
    /// Parses `bytes` safely and copies the tree. Throws on any refusal; never returns a partial tree.
    public static func read(_ bytes: [UInt8], limits: XMLDocumentLimits = .standard) throws(XMLReadError) -> XMLDocumentNode {
        let doc = try bytes.withUnsafeBufferPointer { b throws(XMLReadError) in try SafeXML.parseDocument(b, maxBytes: limits.maxBytes) }
        defer { xmlFreeDoc(doc) }
        guard let root = xmlDocGetRootElement(doc) else {
            throw XMLReadError(kind: .empty, detail: "no root element", location: SourceLocation(line: 1, column: 1))
        }
        var copier = Copier(limits: limits)
        let tree = try copier.copy(root, depth: 1)
        let encoding = doc.pointee.encoding.map { String(decoding: SafeXML.buffer($0), as: UTF8.self) }
        return XMLDocumentNode(root: tree, declaredEncoding: encoding)
    }

    private struct Copier {
        let limits: XMLDocumentLimits
        var elements = 0

        init(limits: XMLDocumentLimits) { self.limits = limits }

        static func string(_ p: UnsafePointer<xmlChar>) -> String { String(decoding: SafeXML.buffer(p), as: UTF8.self) }

        mutating func copy(_ node: xmlNodePtr, depth: Int) throws(XMLReadError) -> XMLElementNode {
            let line = SafeXML.line(node)
            guard depth <= limits.maxDepth else {
                throw XMLReadError(kind: .tooDeep, detail: "nesting deeper than \(limits.maxDepth) levels", location: SourceLocation(line: line, column: 0))
            }
            elements += 1
            guard elements <= limits.maxElements else {
                throw XMLReadError(kind: .tooManyElements, detail: "more than \(limits.maxElements) elements", location: SourceLocation(line: line, column: 0))
            }
            var out = XMLElementNode(name: Self.string(node.pointee.name), namespace: SafeXML.namespace(node).map(Self.string), line: line)
            var attr = node.pointee.properties
            while let a = attr {
                attr = a.pointee.next
                let value = SafeXML.withAttributeValue(a) { String(decoding: $0, as: UTF8.self) }
                out.attributes.append(XMLAttribute(name: Self.string(a.pointee.name), namespace: a.pointee.ns?.pointee.href.map(Self.string), value: value))
            }
            var child = node.pointee.children
            while let c = child {
                child = c.pointee.next
                switch c.pointee.type {
                case XML_ELEMENT_NODE: out.children.append(try copy(c, depth: depth + 1))
                case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                    if let content = c.pointee.content { out.text += Self.string(UnsafePointer(content)) }
                default: break
                }
            }
            return out
        }
    }
}

/// Small edits of a document that must otherwise stay as it was (comments, prefixes, order): the
/// document is parsed with the same safe options, edited in libxml2 and serialized again as UTF-8.
public enum XMLDocumentEditor {
    /// A copy of `bytes` where the first element reached by `path` (from the root, first match at each
    /// step) has each attribute of `attributes` (in no namespace) set, added when absent.
    public static func settingAttributes(in bytes: [UInt8], at path: [XMLName], _ attributes: [(name: String, value: String)],
                                         limits: XMLDocumentLimits = .standard) throws(XMLReadError) -> [UInt8] {
        let doc = try bytes.withUnsafeBufferPointer { b throws(XMLReadError) in try SafeXML.parseDocument(b, maxBytes: limits.maxBytes) }
        defer { xmlFreeDoc(doc) }
        let joined = path.map(\.name).joined(separator: "/")
        var node = xmlDocGetRootElement(doc)
        for (i, step) in path.enumerated() {
            if i > 0 {
                var c = node?.pointee.children
                node = nil
                while let x = c {
                    if x.pointee.type == XML_ELEMENT_NODE && matches(x, step) { node = x; break }
                    c = x.pointee.next
                }
            } else if let n = node, !matches(n, step) {
                node = nil
            }
            guard node != nil else {
                throw XMLReadError(kind: .notFound, detail: "no element /\(joined) in the document", location: SourceLocation(line: 1, column: 1))
            }
        }
        guard let target = node else {
            throw XMLReadError(kind: .notFound, detail: "empty path", location: SourceLocation(line: 1, column: 1))
        }
        for (name, value) in attributes { _ = xmlSetProp(target, name, value) }
        var buffer: UnsafeMutablePointer<xmlChar>? = nil
        var size: Int32 = 0
        xmlDocDumpMemoryEnc(doc, &buffer, &size, "UTF-8")
        guard let buffer, size >= 0 else {
            throw XMLReadError(kind: .outOfMemory, detail: "serialization failed", location: SourceLocation(line: 1, column: 1))
        }
        defer { shim_xmlFree(buffer) }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }

    private static func matches(_ node: xmlNodePtr, _ step: XMLName) -> Bool {
        let name = String(decoding: SafeXML.buffer(node.pointee.name), as: UTF8.self)
        let ns = SafeXML.namespace(node).map { String(decoding: SafeXML.buffer($0), as: UTF8.self) }
        return name == step.name && ns == step.namespace
    }
}

/// Writes XML text with escaping, for documents built from domain objects (the CDA writer). Element
/// and attribute names are the caller's constants; values are escaped; output is UTF-8, indented.
public struct XMLTextWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var depth = 0

    public init(declaration: Bool = true) {
        if declaration { bytes.append(contentsOf: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".utf8) }
    }

    private mutating func indent() { bytes.append(contentsOf: repeatElement(0x20, count: depth * 2)) }

    private mutating func openTag(_ name: String, _ attributes: [(String, String?)]) {
        indent()
        bytes.append(UInt8(ascii: "<"))
        bytes.append(contentsOf: name.utf8)
        for (n, v) in attributes {
            guard let v else { continue }
            bytes.append(0x20)
            bytes.append(contentsOf: n.utf8)
            bytes.append(contentsOf: "=\"".utf8)
            Array(v.utf8).withUnsafeBufferPointer { XHTML.escape($0, attribute: true, into: &bytes) }
            bytes.append(0x22)
        }
    }

    /// `<name a="v"/>`; attributes whose value is nil are left out.
    public mutating func empty(_ name: String, _ attributes: [(String, String?)] = []) {
        openTag(name, attributes)
        bytes.append(contentsOf: "/>\n".utf8)
    }

    /// `<name a="v">text</name>` on one line.
    public mutating func text(_ name: String, _ text: String, _ attributes: [(String, String?)] = []) {
        openTag(name, attributes)
        bytes.append(UInt8(ascii: ">"))
        Array(text.utf8).withUnsafeBufferPointer { XHTML.escape($0, attribute: false, into: &bytes) }
        bytes.append(contentsOf: "</".utf8)
        bytes.append(contentsOf: name.utf8)
        bytes.append(contentsOf: ">\n".utf8)
    }

    /// `<name a="v">` then the content written by `body`, then `</name>`.
    public mutating func element(_ name: String, _ attributes: [(String, String?)] = [], _ body: (inout XMLTextWriter) -> Void) {
        openTag(name, attributes)
        bytes.append(contentsOf: ">\n".utf8)
        depth += 1
        body(&self)
        depth -= 1
        indent()
        bytes.append(contentsOf: "</".utf8)
        bytes.append(contentsOf: name.utf8)
        bytes.append(contentsOf: ">\n".utf8)
    }
}
