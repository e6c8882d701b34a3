import CLibXML2

/// Reads FHIR XML into the same `ElementTree` shape as `FHIRJSONReader`: `value` attributes become
/// primitive values, `id` attributes (and `url` on Extension) become child nodes, `<contained><Patient>`
/// becomes one resource node named `contained`, the narrative `div` becomes an xhtml primitive whose
/// value is the serialized XHTML, repeating elements are indexed from `ModelInfo`, and unknown
/// elements are kept (`.unknown`) with a `StructureIssue`. Parsing is libxml2 with the safe options of
/// `SafeXML` (no DOCTYPE, no entities, no network, size cap); names and values are copied into the
/// tree's `ByteStore.extra`, the source bytes are kept as `source`.
public enum FHIRXMLReader {
    public static func read(_ bytes: [UInt8], limits: JSONLimits = .standard, model: ModelInfo = .r4) throws(FHIRParseError) -> ElementTree {
        let doc = try bytes.withUnsafeBufferPointer { b throws(FHIRParseError) in try SafeXML.parse(b, maxBytes: limits.maxBytes) }
        defer { xmlFreeDoc(doc) }
        guard let root = xmlDocGetRootElement(doc) else {
            throw FHIRParseError(message: "XML document has no root element", location: SourceLocation(line: 1, column: 1))
        }
        var b = XMLTreeBuilder(tree: ElementTree(bytes: ByteStore(source: bytes), format: .xml, model: model), model: model, maxDepth: limits.maxDepth)
        try b.buildRoot(root)
        return b.tree
    }
}

private struct XMLTreeBuilder {
    var tree: ElementTree
    let model: ModelInfo
    let maxDepth: Int
    /// (element, next index) pairs for the repeating elements of the parents being built, as a stack.
    var counters: [(element: Int32, count: Int32)] = []
    let extensionType: ModelInfo.TypeID
    let xhtmlType: ModelInfo.TypeID

    init(tree: ElementTree, model: ModelInfo, maxDepth: Int) {
        self.tree = tree
        self.model = model
        self.maxDepth = maxDepth
        self.extensionType = model.type(named: "Extension") ?? -1
        self.xhtmlType = model.type(named: "xhtml") ?? -1
        counters.reserveCapacity(64)
    }

    static func name(_ node: xmlNodePtr) -> String {
        String(decoding: SafeXML.buffer(node.pointee.name), as: UTF8.self)
    }

    static func location(_ node: xmlNodePtr) -> SourceLocation {
        SourceLocation(line: SafeXML.line(node), column: SafeXML.column(node))
    }

    mutating func issue(_ code: StructureIssue.Code, _ message: String, node: Int32, at loc: SourceLocation, severity: IssueSeverity = .error) {
        tree.issues.append(StructureIssue(severity: severity, code: code, message: message, node: node, location: loc))
    }

    mutating func append(name: UnsafeBufferPointer<UInt8>, type: Int32, element: Int32, parent: Int32, index: Int32,
                         line: Int32, column: Int32, flags: ElementTree.Flags = []) -> Int32 {
        let id = Int32(tree.nodes.count)
        let span = tree.bytes.append(name)
        tree.nodes.append(ElementTree.Node(nameStart: span.start, nameLength: span.length, valueStart: 0, valueLength: -1,
                                           type: type, element: element, parent: parent, end: id + 1, index: index,
                                           line: line, column: column, flags: flags))
        return id
    }

    mutating func setValue(_ id: Int32, _ value: UnsafeBufferPointer<UInt8>) {
        let span = tree.bytes.append(value)
        tree.nodes[Int(id)].valueStart = span.start
        tree.nodes[Int(id)].valueLength = span.length
    }

    func isFHIR(_ node: xmlNodePtr) -> Bool { SafeXML.equals(SafeXML.namespace(node), SafeXML.fhirNamespace) }

    mutating func buildRoot(_ root: xmlNodePtr) throws(FHIRParseError) {
        let loc = Self.location(root)
        guard isFHIR(root) else {
            let ns = SafeXML.namespace(root).map { String(decoding: SafeXML.buffer($0), as: UTF8.self) }
            throw FHIRParseError(message: "The root element <\(Self.name(root))> is \(ns.map { "in namespace '\($0)'" } ?? "in no namespace"); FHIR XML must be in the namespace 'http://hl7.org/fhir' (add xmlns=\"http://hl7.org/fhir\")", location: loc)
        }
        let rootName = SafeXML.buffer(root.pointee.name)
        guard let t = model.type(named: String(decoding: rootName, as: UTF8.self)), model[type: t].kind == .resource, !model[type: t].isAbstract else {
            throw FHIRParseError(message: "The root element <\(Self.name(root))> is not a FHIR R4 resource type", location: loc)
        }
        let id = append(name: rootName, type: t, element: -1, parent: -1, index: -1, line: loc.line, column: loc.column, flags: .resource)
        try buildMembers(root, owner: t, node: id, isResource: true, depth: 1)
        tree.nodes[Int(id)].end = Int32(tree.nodes.count)
    }

    /// Attributes and child elements of `element`, typed against `owner`, appended under `node`.
    mutating func buildMembers(_ element: xmlNodePtr, owner: ModelInfo.TypeID, node: Int32, isResource: Bool, depth: Int) throws(FHIRParseError) {
        if depth > maxDepth {
            throw FHIRParseError(message: "XML nesting deeper than \(maxDepth) levels", location: Self.location(element))
        }
        let ownerIsPrimitive = model.types[Int(owner)].kind == .primitive
        var attr = element.pointee.properties
        while let a = attr {
            attr = a.pointee.next
            let name = SafeXML.buffer(a.pointee.name)
            if let ns = a.pointee.ns?.pointee.href {
                if SafeXML.equals(ns, SafeXML.xsiNamespace) { continue } // xsi:schemaLocation and friends
                issue(.structure, "Unrecognised attribute '\(String(decoding: name, as: UTF8.self))' in namespace '\(String(decoding: SafeXML.buffer(ns), as: UTF8.self))' on <\(Self.name(element))>", node: node, at: Self.location(element))
                continue
            }
            if ownerIsPrimitive && SafeXML.equals(a.pointee.name, "value") { continue } // read by the caller
            let asChild = (!isResource && SafeXML.equals(a.pointee.name, "id")) || (owner == extensionType && SafeXML.equals(a.pointee.name, "url"))
            if asChild, let (el, t) = model.resolve(owner, name: name) {
                let c = append(name: name, type: t, element: el, parent: node, index: -1, line: SafeXML.line(element), column: SafeXML.column(element))
                SafeXML.withAttributeValue(a) { setValue(c, $0) }
                if tree.nodes[Int(c)].valueLength == 0 {
                    issue(.structure, "Attribute '\(String(decoding: name, as: UTF8.self))' on <\(Self.name(element))> cannot be empty: omit it or give it a value", node: c, at: Self.location(element))
                }
                continue
            }
            issue(.structure, "Unrecognised attribute '\(String(decoding: name, as: UTF8.self))' on <\(Self.name(element))>: \(model[type: owner].name) has no such XML attribute", node: node, at: Self.location(element))
        }
        let counterBase = counters.count
        defer { counters.removeLast(counters.count - counterBase) }
        var child = element.pointee.children
        while let c = child {
            child = c.pointee.next
            switch c.pointee.type {
            case XML_ELEMENT_NODE:
                try buildChild(c, owner: owner, parent: node, counterBase: counterBase, depth: depth)
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                if !SafeXML.isWhitespace(c.pointee.content.map { UnsafePointer($0) }) {
                    issue(.structure, "Text is not allowed directly inside <\(Self.name(element))>: FHIR XML puts values in 'value' attributes", node: node, at: Self.location(c))
                }
            default:
                break // comments and processing instructions carry no FHIR content
            }
        }
    }

    mutating func nextIndex(_ element: Int32, counterBase: Int) -> Int32 {
        var i = counterBase
        while i < counters.count {
            if counters[i].element == element {
                counters[i].count += 1
                return counters[i].count - 1
            }
            i += 1
        }
        counters.append((element, 1))
        return 0
    }

    mutating func buildChild(_ x: xmlNodePtr, owner: ModelInfo.TypeID, parent: Int32, counterBase: Int, depth: Int) throws(FHIRParseError) {
        let name = SafeXML.buffer(x.pointee.name)
        let loc = Self.location(x)
        let ns = SafeXML.namespace(x)
        let inFHIR = SafeXML.equals(ns, SafeXML.fhirNamespace)
        let isXHTMLDiv = SafeXML.equals(ns, SafeXML.xhtmlNamespace) && SafeXML.equals(x.pointee.name, "div")
        let resolved = (inFHIR || isXHTMLDiv) ? model.resolve(owner, name: name) : nil
        guard let (element, type) = resolved, !(isXHTMLDiv && type != xhtmlType) else {
            let u = try buildUnknown(x, parent: parent, depth: depth + 1)
            if !inFHIR && !isXHTMLDiv {
                let nsText = ns.map { "namespace '\(String(decoding: SafeXML.buffer($0), as: UTF8.self))'" } ?? "no namespace"
                issue(.structure, "Element <\(Self.name(x))> is in \(nsText), not in the FHIR namespace 'http://hl7.org/fhir'", node: u, at: loc)
            } else {
                issue(.structure, "Unrecognised element <\(Self.name(x))>: it is not an element of \(model[type: owner].name)", node: u, at: loc)
            }
            return
        }
        let info = model.elements[Int(element)]
        let index = info.isArray ? nextIndex(element, counterBase: counterBase) : -1
        let t = model.types[Int(type)]
        switch t.kind {
        case .resource:
            try buildResource(x, name: name, element: element, parent: parent, index: index, depth: depth)
        case .primitive:
            let id = append(name: name, type: type, element: element, parent: parent, index: index, line: loc.line, column: loc.column)
            if type == xhtmlType {
                if !isXHTMLDiv {
                    issue(.structure, "The narrative <div> must be in the XHTML namespace 'http://www.w3.org/1999/xhtml'", node: id, at: loc)
                }
                let start = tree.bytes.source.count + tree.bytes.extra.count
                XHTML.serialize(x, into: &tree.bytes.extra)
                tree.nodes[Int(id)].valueStart = Int32(start)
                tree.nodes[Int(id)].valueLength = Int32(tree.bytes.source.count + tree.bytes.extra.count - start)
            } else {
                if let v = xmlHasProp(x, "value") {
                    SafeXML.withAttributeValue(v) { setValue(id, $0) }
                    if tree.nodes[Int(id)].valueLength == 0 {
                        issue(.structure, "@value cannot be empty: omit the element instead of value=\"\"", node: id, at: loc)
                    }
                }
                try buildMembers(x, owner: type, node: id, isResource: false, depth: depth + 1)
                if !tree.nodes[Int(id)].hasValue && tree.nodes.count == Int(id) + 1 {
                    issue(.structure, "Element <\(Self.name(x))> has no value attribute and no extension", node: id, at: loc)
                }
            }
            tree.nodes[Int(id)].end = Int32(tree.nodes.count)
        case .complex, .backbone:
            let id = append(name: name, type: type, element: element, parent: parent, index: index, line: loc.line, column: loc.column)
            try buildMembers(x, owner: type, node: id, isResource: false, depth: depth + 1)
            if tree.nodes.count == Int(id) + 1 {
                issue(.structure, "Element <\(Self.name(x))> is empty: FHIR requires content in every element", node: id, at: loc)
            }
            tree.nodes[Int(id)].end = Int32(tree.nodes.count)
        }
    }

    /// `<contained><Patient>…</Patient></contained>`: one resource node named after the member.
    mutating func buildResource(_ x: xmlNodePtr, name: UnsafeBufferPointer<UInt8>, element: Int32, parent: Int32, index: Int32, depth: Int) throws(FHIRParseError) {
        let loc = Self.location(x)
        var inner: xmlNodePtr? = nil
        var extra = 0
        var c = x.pointee.children
        while let n = c {
            c = n.pointee.next
            if n.pointee.type == XML_ELEMENT_NODE {
                if inner == nil { inner = n } else { extra += 1 }
            } else if n.pointee.type == XML_TEXT_NODE && !SafeXML.isWhitespace(n.pointee.content.map { UnsafePointer($0) }) {
                extra += 1
            }
        }
        var typeID: Int32 = -1
        if let r = inner, isFHIR(r), let t = model.type(named: Self.name(r)), model[type: t].kind == .resource, !model[type: t].isAbstract {
            typeID = t
        }
        let id = append(name: name, type: typeID, element: element, parent: parent, index: index, line: loc.line, column: loc.column,
                        flags: typeID >= 0 ? .resource : [.resource, .unknown])
        if let r = inner, typeID >= 0 {
            try buildMembers(r, owner: typeID, node: id, isResource: true, depth: depth + 2)
            if extra > 0 {
                issue(.structure, "<\(Self.name(x))> must hold exactly one resource element", node: id, at: loc)
            }
        } else {
            let what = inner.map { "<\(Self.name($0))> is not a FHIR R4 resource" } ?? "it holds no resource element"
            issue(.structure, "<\(Self.name(x))> must hold one FHIR resource, but \(what)", node: id, at: loc)
            var k = x.pointee.children
            while let n = k {
                k = n.pointee.next
                if n.pointee.type == XML_ELEMENT_NODE { _ = try buildUnknown(n, parent: id, depth: depth + 1) }
            }
        }
        tree.nodes[Int(id)].end = Int32(tree.nodes.count)
    }

    /// Unknown content, kept: a node named after the element, its `value` attribute as value, its child elements below.
    mutating func buildUnknown(_ x: xmlNodePtr, parent: Int32, depth: Int) throws(FHIRParseError) -> Int32 {
        if depth > maxDepth {
            throw FHIRParseError(message: "XML nesting deeper than \(maxDepth) levels", location: Self.location(x))
        }
        let id = append(name: SafeXML.buffer(x.pointee.name), type: -1, element: -1, parent: parent, index: -1,
                        line: SafeXML.line(x), column: SafeXML.column(x), flags: .unknown)
        if let v = xmlHasProp(x, "value") { SafeXML.withAttributeValue(v) { setValue(id, $0) } }
        var c = x.pointee.children
        while let n = c {
            c = n.pointee.next
            if n.pointee.type == XML_ELEMENT_NODE { _ = try buildUnknown(n, parent: id, depth: depth + 1) }
        }
        tree.nodes[Int(id)].end = Int32(tree.nodes.count)
        return id
    }
}
