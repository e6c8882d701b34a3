import CLibXML2

/// The narrative `div`: serialized from a libxml2 node into the string FHIR JSON carries, and parsed
/// back (safely) when written as XML. The serialization is ours so that it is deterministic:
/// attributes in double quotes, `&`, `<`, `>` (and `"` in attributes) escaped, empty elements as `<br/>`,
/// UTF-8 kept as is, the XHTML namespace declared on the `div`.
public enum XHTML {
    /// Parses a `div` string and serializes it again; nil when it is not well-formed XML or not a `div`.
    /// Two narratives with the same normalized text are the same XHTML.
    public static func normalize(_ div: String) -> String? {
        var out: [UInt8] = []
        guard normalize(Array(div.utf8), into: &out) else { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the normalized form of `div` to `out`; false (and nothing appended) when it cannot be parsed.
    static func normalize(_ div: [UInt8], into out: inout [UInt8]) -> Bool {
        let parsed: xmlDocPtr
        do {
            parsed = try div.withUnsafeBufferPointer { b throws(FHIRParseError) in try SafeXML.parse(b, maxBytes: Int(Int32.max)) }
        } catch {
            return false
        }
        defer { xmlFreeDoc(parsed) }
        guard let root = xmlDocGetRootElement(parsed), SafeXML.equals(root.pointee.name, "div") else { return false }
        serialize(root, into: &out)
        return true
    }

    /// Serializes an element (the `div`) and its content, declaring the XHTML namespace on it.
    static func serialize(_ div: xmlNodePtr, into out: inout [UInt8]) {
        writeElement(div, top: true, into: &out)
    }

    private static func writeQName(_ prefix: UnsafePointer<xmlChar>?, _ name: UnsafePointer<xmlChar>, into out: inout [UInt8]) {
        if let prefix {
            out.append(contentsOf: SafeXML.buffer(prefix))
            out.append(UInt8(ascii: ":"))
        }
        out.append(contentsOf: SafeXML.buffer(name))
    }

    private static func writeNamespaceDeclaration(_ ns: xmlNsPtr, into out: inout [UInt8]) {
        out.append(contentsOf: " xmlns".utf8)
        if let p = ns.pointee.prefix {
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: SafeXML.buffer(p))
        }
        out.append(contentsOf: "=\"".utf8)
        if let h = ns.pointee.href { escape(SafeXML.buffer(h), attribute: true, into: &out) }
        out.append(0x22)
    }

    private static func writeElement(_ node: xmlNodePtr, top: Bool, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "<"))
        let prefix = node.pointee.ns?.pointee.prefix
        writeQName(prefix.map { UnsafePointer($0) }, node.pointee.name, into: &out)
        var declaredOwn = false
        var ns = node.pointee.nsDef
        while let d = ns {
            writeNamespaceDeclaration(d, into: &out)
            if let own = node.pointee.ns, own == d { declaredOwn = true }
            ns = d.pointee.next
        }
        if top {
            if let own = node.pointee.ns, !declaredOwn {
                // Declared on an ancestor outside the narrative: declare it here so the string stands alone.
                writeNamespaceDeclaration(own, into: &out)
            } else if node.pointee.ns == nil {
                out.append(contentsOf: " xmlns=\"".utf8)
                out.append(contentsOf: UnsafeBufferPointer(start: SafeXML.xhtmlNamespace.utf8Start, count: SafeXML.xhtmlNamespace.utf8CodeUnitCount))
                out.append(0x22)
            }
        }
        var attr = node.pointee.properties
        while let a = attr {
            out.append(0x20)
            writeQName(a.pointee.ns?.pointee.prefix.map { UnsafePointer($0) }, a.pointee.name, into: &out)
            out.append(contentsOf: "=\"".utf8)
            SafeXML.withAttributeValue(a) { escape($0, attribute: true, into: &out) }
            out.append(0x22)
            attr = a.pointee.next
        }
        guard var child = node.pointee.children else {
            out.append(contentsOf: "/>".utf8)
            return
        }
        out.append(UInt8(ascii: ">"))
        while true {
            writeNode(child, into: &out)
            guard let next = child.pointee.next else { break }
            child = next
        }
        out.append(contentsOf: "</".utf8)
        writeQName(prefix.map { UnsafePointer($0) }, node.pointee.name, into: &out)
        out.append(UInt8(ascii: ">"))
    }

    private static func writeNode(_ node: xmlNodePtr, into out: inout [UInt8]) {
        switch node.pointee.type {
        case XML_ELEMENT_NODE:
            writeElement(node, top: false, into: &out)
        case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
            if let c = node.pointee.content { escape(SafeXML.buffer(UnsafePointer(c)), attribute: false, into: &out) }
        case XML_COMMENT_NODE:
            out.append(contentsOf: "<!--".utf8)
            if let c = node.pointee.content { out.append(contentsOf: SafeXML.buffer(UnsafePointer(c))) }
            out.append(contentsOf: "-->".utf8)
        case XML_PI_NODE:
            out.append(contentsOf: "<?".utf8)
            out.append(contentsOf: SafeXML.buffer(node.pointee.name))
            if let c = node.pointee.content, c.pointee != 0 {
                out.append(0x20)
                out.append(contentsOf: SafeXML.buffer(UnsafePointer(c)))
            }
            out.append(contentsOf: "?>".utf8)
        default:
            break // entity references cannot occur: DOCTYPEs are refused, so no entity is ever declared
        }
    }

    /// Text escaped for the content of a narrative element (`&`, `<`, `>`; C0 controls other than
    /// tab and LF dropped), to build a `div` from plain strings.
    public static func escapeText(_ text: String) -> String {
        var out: [UInt8] = []
        Array(text.utf8).withUnsafeBufferPointer { escape($0, attribute: false, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// XML escaping: `&`, `<`, `>` always, `"` and whitespace controls in attributes (attribute value
    /// normalization would otherwise turn them into spaces), CR everywhere (line-end normalization).
    /// Other C0 controls cannot be represented in XML 1.0 and are dropped.
    static func escape(_ b: UnsafeBufferPointer<UInt8>, attribute: Bool, into out: inout [UInt8]) {
        var runStart = 0
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            let special = c == 0x26 || c == 0x3C || c == 0x3E || c < 0x20 || (attribute && c == 0x22)
            if !special || (!attribute && (c == 0x0A || c == 0x09)) { i += 1; continue }
            if i > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<i])) }
            switch c {
            case 0x26: out.append(contentsOf: "&amp;".utf8)
            case 0x3C: out.append(contentsOf: "&lt;".utf8)
            case 0x3E: out.append(contentsOf: "&gt;".utf8)
            case 0x22: out.append(contentsOf: "&quot;".utf8)
            case 0x09: out.append(contentsOf: "&#9;".utf8)
            case 0x0A: out.append(contentsOf: "&#10;".utf8)
            case 0x0D: out.append(contentsOf: "&#13;".utf8)
            default: break
            }
            i += 1
            runStart = i
        }
        if n > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<n])) }
    }
}
