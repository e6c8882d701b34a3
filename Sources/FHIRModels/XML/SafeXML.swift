import CLibXML2

/// libxml2 used the safe way, in one place: no network, no entity expansion, no DTD loading, any
/// DOCTYPE refused (so no XXE and no entity bombs), a size cap, one parser context per call, and
/// `xmlInitParser()` exactly once.
enum SafeXML {
    static let fhirNamespace: StaticString = "http://hl7.org/fhir"
    static let xhtmlNamespace: StaticString = "http://www.w3.org/1999/xhtml"
    static let xsiNamespace: StaticString = "http://www.w3.org/2001/XMLSchema-instance"

    /// Lazily initialised once, thread safe (Swift globals are initialised through `swift_once`).
    private static let initialised: Bool = {
        xmlInitParser()
        return true
    }()

    static let options: Int32 = Int32(bitPattern: XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue
        | XML_PARSE_NOCDATA.rawValue | XML_PARSE_BIG_LINES.rawValue)

    /// Parses a whole document. The caller owns the result and frees it with `xmlFreeDoc`.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, maxBytes: Int) throws(FHIRParseError) -> xmlDocPtr {
        do {
            return try parseDocument(bytes, maxBytes: maxBytes)
        } catch {
            let loc = error.location
            switch error.kind {
            case .tooLarge: throw FHIRParseError(message: "XML document larger than the \(maxBytes)-byte limit", location: loc)
            case .doctype:
                throw FHIRParseError(message: "XML document refused at \(loc): DOCTYPE declarations are not allowed in FHIR XML (no DTDs or entity declarations)", location: loc)
            case .empty: throw FHIRParseError(message: "XML syntax error: empty document", location: loc)
            case .outOfMemory: throw FHIRParseError(message: "XML parser could not be created (out of memory)", location: loc)
            default: throw FHIRParseError(message: "XML syntax error at \(loc): \(error.detail)", location: loc)
            }
        }
    }

    /// `parse` with the reason of a refusal kept apart from libxml2's own message (`XMLReadError.detail`).
    static func parseDocument(_ bytes: UnsafeBufferPointer<UInt8>, maxBytes: Int) throws(XMLReadError) -> xmlDocPtr {
        let start = SourceLocation(line: 1, column: 1)
        guard bytes.count <= maxBytes, bytes.count <= Int(Int32.max) else {
            throw XMLReadError(kind: .tooLarge, detail: "\(bytes.count) bytes, limit \(maxBytes)", location: start)
        }
        guard bytes.count > 0, let base = bytes.baseAddress else {
            throw XMLReadError(kind: .empty, detail: "empty document", location: start)
        }
        _ = initialised
        guard let ctxt = xmlNewParserCtxt() else {
            throw XMLReadError(kind: .outOfMemory, detail: "out of memory", location: start)
        }
        defer { xmlFreeParserCtxt(ctxt) }
        // Any DOCTYPE stops the parse: FHIR XML never needs one, and entities are only declared there.
        ctxt.pointee.sax.pointee.internalSubset = { ctx, _, _, _ in
            xmlStopParser(ctx?.assumingMemoryBound(to: xmlParserCtxt.self))
        }
        // Element columns: libxml2 keeps only a line per node, so the tree builder's start-element
        // callback is wrapped to store the column just after the start tag (where the Java validator
        // locates elements) in the node's `_private` field, which nothing else uses here.
        ctxt.pointee.sax.pointee.startElementNs = { ctx, localname, prefix, uri, nbNamespaces, namespaces, nbAttributes, nbDefaulted, attributes in
            xmlSAX2StartElementNs(ctx, localname, prefix, uri, nbNamespaces, namespaces, nbAttributes, nbDefaulted, attributes)
            guard let ctxt = ctx?.assumingMemoryBound(to: xmlParserCtxt.self), let node = ctxt.pointee.node,
                  let input = ctxt.pointee.input, let cur = input.pointee.cur else { return }
            // The parser stands on the tag's `>` or `/>`.
            let after: Int32 = cur[0] == UInt8(ascii: ">") ? 1 : cur[0] == UInt8(ascii: "/") ? 2 : 0
            let column = Int(input.pointee.col + after)
            node.pointee._private = UnsafeMutableRawPointer(bitPattern: column)
        }
        // Only this hook stops the parser, so XML_ERR_USER_STOP below means "there was a DOCTYPE".
        let doc = UnsafeRawPointer(base).withMemoryRebound(to: CChar.self, capacity: bytes.count) { p in
            xmlCtxtReadMemory(ctxt, p, Int32(bytes.count), "input.xml", nil, options)
        }
        let errNo = ctxt.pointee.errNo
        if errNo != 0 || ctxt.pointee.wellFormed == 0 || doc == nil {
            if let doc { xmlFreeDoc(doc) }
            var loc = start
            var message = "not well-formed"
            if let e = xmlCtxtGetLastError(UnsafeMutableRawPointer(ctxt)) {
                loc = SourceLocation(line: max(e.pointee.line, 1), column: max(e.pointee.int2, 0))
                if let m = e.pointee.message {
                    message = String(decoding: UnsafeRawBufferPointer(start: m, count: strlen8(UnsafeRawPointer(m))), as: UTF8.self)
                        .trimmingASCIIWhitespace()
                }
            }
            throw XMLReadError(kind: errNo == Int32(XML_ERR_USER_STOP.rawValue) ? .doctype : .syntax, detail: message, location: loc)
        }
        return doc!
    }

    // MARK: node helpers

    @inline(__always) static func strlen8(_ p: UnsafeRawPointer) -> Int {
        var n = 0
        while p.load(fromByteOffset: n, as: UInt8.self) != 0 { n += 1 }
        return n
    }

    @inline(__always) static func buffer(_ p: UnsafePointer<xmlChar>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: p, count: strlen8(UnsafeRawPointer(p)))
    }

    static func equals(_ p: UnsafePointer<xmlChar>?, _ s: StaticString) -> Bool {
        guard let p else { return false }
        let n = s.utf8CodeUnitCount
        let q = s.utf8Start
        for i in 0..<n where p[i] != q[i] { return false }
        return p[n] == 0
    }

    static func namespace(_ node: xmlNodePtr) -> UnsafePointer<xmlChar>? {
        node.pointee.ns?.pointee.href
    }

    static func line(_ node: xmlNodePtr) -> Int32 {
        Int32(truncatingIfNeeded: xmlGetLineNo(node))
    }

    /// Column just after the element's start tag (recorded by `parse`), 0 when unknown.
    static func column(_ node: xmlNodePtr) -> Int32 {
        Int32(truncatingIfNeeded: Int(bitPattern: node.pointee._private))
    }

    /// Calls `body` with the attribute's value without copying when it is one text node.
    static func withAttributeValue<R>(_ attr: xmlAttrPtr, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let c = attr.pointee.children, c.pointee.next == nil, c.pointee.type == XML_TEXT_NODE, let content = c.pointee.content {
            return body(buffer(UnsafePointer(content)))
        }
        guard let c = attr.pointee.children, let s = xmlNodeListGetString(attr.pointee.doc, c, 1) else {
            return body(UnsafeBufferPointer(start: nil, count: 0))
        }
        defer { shim_xmlFree(s) }
        return body(buffer(UnsafePointer(s)))
    }

    static func isWhitespace(_ p: UnsafePointer<xmlChar>?) -> Bool {
        guard let p else { return true }
        var i = 0
        while p[i] != 0 {
            let c = p[i]
            if c != 0x20 && c != 0x09 && c != 0x0A && c != 0x0D { return false }
            i += 1
        }
        return true
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
