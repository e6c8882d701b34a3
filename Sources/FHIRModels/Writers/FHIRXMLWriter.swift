/// Writes an `ElementTree` as FHIR XML, straight into bytes: the FHIR namespace on the root, children
/// in `ModelInfo` definition order (whatever order the tree came in), `value` attributes for primitive
/// values, `id` attributes for element ids (resource ids stay `<id value>` elements), `url` attributes on
/// extensions, resources wrapped in their member element (`<contained><Patient>`), and the narrative
/// `div` embedded as XHTML (re-serialized after a safe parse; a `div` that is not well-formed XML is
/// written as escaped text inside an XHTML `div`, since raw bytes would break the document).
///
/// Unknown content is written as elements when its name is a valid XML name, and skipped otherwise.
/// C0 control characters other than tab, LF and CR cannot be represented in XML 1.0 and are dropped.
public enum FHIRXMLWriter {
    public static func write(_ tree: ElementTree, pretty: Bool = false) -> [UInt8] {
        guard !tree.isEmpty else { return [] }
        var w = XMLTreeWriter(tree: tree, pretty: pretty)
        w.out.reserveCapacity((tree.bytes.source.count + tree.bytes.extra.count) * 2 + tree.nodes.count * 16 + 64)
        w.out.append(contentsOf: #"<?xml version="1.0" encoding="UTF-8"?>"#.utf8)
        w.writeNode(tree.root, depth: 0)
        if pretty { w.out.append(0x0A) }
        return w.out
    }

    public static func string(_ tree: ElementTree, pretty: Bool = false) -> String {
        String(decoding: write(tree, pretty: pretty), as: UTF8.self)
    }
}

private struct XMLTreeWriter {
    let tree: ElementTree
    let nodes: [ElementTree.Node]
    let model: ModelInfo
    let pretty: Bool
    let extensionType: ModelInfo.TypeID
    let xhtmlType: ModelInfo.TypeID
    var out: [UInt8] = []
    var scratch: [Int32] = []

    init(tree: ElementTree, pretty: Bool) {
        self.tree = tree
        self.nodes = tree.nodes
        self.model = tree.model
        self.pretty = pretty
        self.extensionType = model.type(named: "Extension") ?? -1
        self.xhtmlType = model.type(named: "xhtml") ?? -1
        scratch.reserveCapacity(256)
    }

    @inline(__always) mutating func newline(_ depth: Int) {
        guard pretty else { return }
        out.append(0x0A)
        for _ in 0..<(depth * 2) { out.append(0x20) }
    }

    mutating func appendName(_ n: ElementTree.Node) {
        tree.bytes.withBytes(n.nameStart, n.nameLength) { out.append(contentsOf: $0) }
    }

    mutating func appendValueAttribute(_ name: StaticString, _ n: ElementTree.Node) {
        out.append(0x20)
        out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        out.append(contentsOf: "=\"".utf8)
        tree.bytes.withBytes(n.valueStart, n.valueLength) { XHTML.escape($0, attribute: true, into: &out) }
        out.append(0x22)
    }

    func validName(_ n: ElementTree.Node) -> Bool {
        tree.bytes.withBytes(n.nameStart, n.nameLength) { b in
            guard let f = b.first else { return false }
            let isStart = { (c: UInt8) in (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) || c == 0x5F || c >= 0x80 }
            guard isStart(f) else { return false }
            for c in b.dropFirst() where !(isStart(c) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2E) { return false }
            // Names starting with "xml" are reserved.
            return !(b.count >= 3 && b[0] | 0x20 == 0x78 && b[1] | 0x20 == 0x6D && b[2] | 0x20 == 0x6C)
        }
    }

    func isPrimitive(_ n: ElementTree.Node) -> Bool {
        n.type >= 0 && !n.flags.contains(.resource) && model.types[Int(n.type)].kind == .primitive
    }

    func nameIs(_ n: ElementTree.Node, _ s: StaticString) -> Bool {
        tree.bytes.equals(n.nameStart, n.nameLength, UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Whether child `c` of a node is written as an attribute (`id` on elements, `url` on Extension).
    func isAttributeChild(_ c: ElementTree.Node, parent: ElementTree.Node) -> Bool {
        guard c.element >= 0, !c.flags.contains(.unknown), c.hasValue, parent.type >= 0 else { return false }
        if !parent.flags.contains(.resource) && nameIs(c, "id") { return true }
        return parent.type == extensionType && nameIs(c, "url")
    }

    mutating func writeNode(_ id: Int32, depth: Int) {
        let n = nodes[Int(id)]
        if n.flags.contains(.resource) {
            writeResource(id, depth: depth)
        } else if n.type == xhtmlType && n.type >= 0 {
            writeDiv(n, depth: depth)
        } else if n.flags.contains(.unknown) || n.type < 0 {
            writeUnknown(id, depth: depth)
        } else {
            writeElement(id, depth: depth)
        }
    }

    mutating func writeResource(_ id: Int32, depth: Int) {
        let n = nodes[Int(id)]
        var inner = depth
        if id != tree.root {
            guard validName(n) else { return }
            newline(depth)
            out.append(UInt8(ascii: "<")); appendName(n); out.append(UInt8(ascii: ">"))
            inner = depth + 1
        }
        if n.type >= 0 {
            let typeName = model.types[Int(n.type)].name
            if id != tree.root || pretty { newline(inner) }
            out.append(UInt8(ascii: "<")); out.append(contentsOf: typeName.utf8)
            if id == tree.root { out.append(contentsOf: #" xmlns="http://hl7.org/fhir""#.utf8) }
            if n.end == id + 1 {
                out.append(contentsOf: "/>".utf8)
            } else {
                out.append(UInt8(ascii: ">"))
                writeChildren(id, depth: inner + 1)
                newline(inner)
                out.append(contentsOf: "</".utf8); out.append(contentsOf: typeName.utf8); out.append(UInt8(ascii: ">"))
            }
        } else {
            // Unknown resource type (kept from JSON): wrap its members in an element named after its resourceType.
            var rtName: ElementTree.Node? = nil
            var c = id + 1
            while c < n.end {
                let cn = nodes[Int(c)]
                if nameIs(cn, "resourceType") && cn.hasValue {
                    var named = cn
                    named.nameStart = cn.valueStart; named.nameLength = cn.valueLength
                    if validName(named) { rtName = named }
                }
                c = cn.end
            }
            if let rt = rtName {
                newline(inner)
                out.append(UInt8(ascii: "<")); appendName(rt); out.append(UInt8(ascii: ">"))
            }
            c = id + 1
            while c < n.end {
                if !nameIs(nodes[Int(c)], "resourceType") { writeNode(c, depth: inner + 1) }
                c = nodes[Int(c)].end
            }
            if let rt = rtName {
                newline(inner)
                out.append(contentsOf: "</".utf8); appendName(rt); out.append(UInt8(ascii: ">"))
            }
        }
        if id != tree.root {
            newline(depth)
            out.append(contentsOf: "</".utf8); appendName(n); out.append(UInt8(ascii: ">"))
        }
    }

    /// Children in definition order (stable), attribute children skipped, unknown content last.
    mutating func writeChildren(_ id: Int32, depth: Int) {
        let n = nodes[Int(id)]
        let base = scratch.count
        var c = id + 1
        while c < n.end {
            let cn = nodes[Int(c)]
            if !isAttributeChild(cn, parent: n) {
                // Insertion sort by element id: input is usually already in order, so this stays linear.
                let key = cn.element < 0 ? Int32.max : cn.element
                var k = scratch.count
                scratch.append(c)
                while k > base {
                    let prev = nodes[Int(scratch[k - 1])].element
                    if (prev < 0 ? Int32.max : prev) <= key { break }
                    scratch[k] = scratch[k - 1]
                    k -= 1
                }
                scratch[k] = c
            }
            c = cn.end
        }
        let top = scratch.count
        for k in base..<top { writeNode(scratch[k], depth: depth) }
        scratch.removeLast(scratch.count - base)
    }

    mutating func writeOpenTag(_ id: Int32, _ n: ElementTree.Node) {
        out.append(UInt8(ascii: "<")); appendName(n)
        var c = id + 1
        while c < n.end {
            let cn = nodes[Int(c)]
            if isAttributeChild(cn, parent: n) { appendValueAttribute(nameIs(cn, "id") ? "id" : "url", cn) }
            c = cn.end
        }
        if isPrimitive(n) && n.hasValue { appendValueAttribute("value", n) }
    }

    mutating func writeElement(_ id: Int32, depth: Int) {
        let n = nodes[Int(id)]
        newline(depth)
        writeOpenTag(id, n)
        var hasElements = false
        var c = id + 1
        while c < n.end {
            if !isAttributeChild(nodes[Int(c)], parent: n) { hasElements = true; break }
            c = nodes[Int(c)].end
        }
        guard hasElements else { out.append(contentsOf: "/>".utf8); return }
        out.append(UInt8(ascii: ">"))
        writeChildren(id, depth: depth + 1)
        newline(depth)
        out.append(contentsOf: "</".utf8); appendName(n); out.append(UInt8(ascii: ">"))
    }

    mutating func writeUnknown(_ id: Int32, depth: Int) {
        let n = nodes[Int(id)]
        guard validName(n) else { return }
        newline(depth)
        out.append(UInt8(ascii: "<")); appendName(n)
        if n.hasValue { appendValueAttribute("value", n) }
        guard n.end > id + 1 else { out.append(contentsOf: "/>".utf8); return }
        out.append(UInt8(ascii: ">"))
        var c = id + 1
        while c < n.end { writeNode(c, depth: depth + 1); c = nodes[Int(c)].end }
        newline(depth)
        out.append(contentsOf: "</".utf8); appendName(n); out.append(UInt8(ascii: ">"))
    }

    mutating func writeDiv(_ n: ElementTree.Node, depth: Int) {
        newline(depth)
        let value = tree.bytes.bytes(n.valueStart, max(n.valueLength, 0))
        if XHTML.normalize(value, into: &out) { return }
        out.append(contentsOf: #"<div xmlns="http://www.w3.org/1999/xhtml">"#.utf8)
        value.withUnsafeBufferPointer { XHTML.escape($0, attribute: false, into: &out) }
        out.append(contentsOf: "</div>".utf8)
    }
}
