/// Writes an `ElementTree` as FHIR JSON, straight into bytes.
///
/// - resources get `resourceType` first, then their members in tree order, same-name siblings grouped;
/// - repeating elements (`index >= 0`) become arrays;
/// - primitives with `id`/`extension` children get a `_name` shadow member, with `null` placeholders
///   in parallel arrays;
/// - values read from JSON keep their JSON kind and text (`1.50` stays `1.50`); values from XML or a
///   builder are written as numbers/booleans when the FHIR type says so and the text is a valid literal;
/// - unknown content (`.unknown`, `.jsonArrayItem`, `.jsonArray`, `.jsonNull`) is written back as it came.
public enum FHIRJSONWriter {
    public static func write(_ tree: ElementTree, pretty: Bool = false) -> [UInt8] {
        guard !tree.isEmpty else { return [] }
        var w = JSONTreeWriter(tree: tree, pretty: pretty)
        w.out.reserveCapacity(tree.bytes.source.count + tree.bytes.extra.count + tree.nodes.count * 6 + 64)
        w.writeValue(tree.root, depth: 0)
        if pretty { w.out.append(0x0A) }
        return w.out
    }

    public static func string(_ tree: ElementTree, pretty: Bool = false) -> String {
        String(decoding: write(tree, pretty: pretty), as: UTF8.self)
    }
}

struct JSONTreeWriter {
    let tree: ElementTree
    let nodes: [ElementTree.Node]
    let model: ModelInfo
    let pretty: Bool
    var out: [UInt8] = []
    /// Child ids of the objects being written (a stack of frames); -1 marks a child already written.
    var scratch: [Int32] = []

    init(tree: ElementTree, pretty: Bool) {
        self.tree = tree
        self.nodes = tree.nodes
        self.model = tree.model
        self.pretty = pretty
        scratch.reserveCapacity(256)
    }

    @inline(__always) func isPrimitive(_ n: ElementTree.Node) -> Bool {
        n.type >= 0 && !n.flags.contains(.resource) && model.types[Int(n.type)].kind == .primitive
    }

    @inline(__always) mutating func newline(_ depth: Int) {
        guard pretty else { return }
        out.append(0x0A)
        for _ in 0..<(depth * 2) { out.append(0x20) }
    }

    func sameName(_ a: Int32, _ b: Int32) -> Bool {
        let x = nodes[Int(a)], y = nodes[Int(b)]
        if x.nameLength != y.nameLength { return false }
        if x.nameStart == y.nameStart { return true }
        return tree.bytes.withBytes(x.nameStart, x.nameLength) { p in
            tree.bytes.withBytes(y.nameStart, y.nameLength) { q in p.elementsEqual(q) }
        }
    }

    /// Writes `"name":` (with `_` before the name for a shadow member).
    mutating func memberKey(_ id: Int32, shadow: Bool, first: inout Bool, depth: Int) {
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        newline(depth)
        let n = nodes[Int(id)]
        tree.bytes.withBytes(n.nameStart, n.nameLength) { name in
            JSONEscaper.writeString(name, prefix: shadow ? UInt8(ascii: "_") : nil, to: &out)
        }
        out.append(UInt8(ascii: ":"))
        if pretty { out.append(0x20) }
    }

    mutating func writeValue(_ id: Int32, depth: Int) {
        let n = nodes[Int(id)]
        if n.flags.contains(.resource) && n.type >= 0 {
            out.append(UInt8(ascii: "{"))
            var first = false
            newline(depth + 1)
            out.append(contentsOf: #""resourceType":"#.utf8)
            if pretty { out.append(0x20) }
            JSONEscaper.writeString(model.types[Int(n.type)].name, to: &out)
            writeMembers(id, depth: depth + 1, first: &first)
            newline(depth)
            out.append(UInt8(ascii: "}"))
        } else if isPrimitive(n) {
            writePrimitiveValue(n)
        } else if n.flags.contains(.jsonNull) {
            out.append(contentsOf: "null".utf8)
        } else if n.hasValue {
            writeScalar(n)
        } else if n.flags.contains(.jsonArray) {
            writeChildrenAsArray(id, depth: depth)
        } else {
            writeObject(id, depth: depth)
        }
    }

    mutating func writeObject(_ id: Int32, depth: Int) {
        out.append(UInt8(ascii: "{"))
        var first = true
        writeMembers(id, depth: depth + 1, first: &first)
        if !first { newline(depth) }
        out.append(UInt8(ascii: "}"))
    }

    /// Members of an object node: same-name children grouped at the place of the first one.
    mutating func writeMembers(_ id: Int32, depth: Int, first: inout Bool) {
        let end = nodes[Int(id)].end
        let base = scratch.count
        var c = id + 1
        while c < end { scratch.append(c); c = nodes[Int(c)].end }
        let top = scratch.count
        var i = base
        while i < top {
            let c = scratch[i]
            i += 1
            if c < 0 { continue }
            let groupStart = scratch.count
            scratch.append(c)
            var j = i
            while j < top {
                let d = scratch[j]
                if d >= 0 && sameName(d, c) { scratch.append(d); scratch[j] = -1 }
                j += 1
            }
            writeGroup(groupStart, scratch.count, depth: depth, first: &first)
            scratch.removeLast(scratch.count - groupStart)
        }
        scratch.removeLast(scratch.count - base)
    }

    /// One member (or a pair `x`/`_x` for primitives) for the children in `scratch[from..<to]`.
    mutating func writeGroup(_ from: Int, _ to: Int, depth: Int, first: inout Bool) {
        let head = scratch[from]
        let h = nodes[Int(head)]
        let isArray = to - from > 1 || h.index >= 0 || h.flags.contains(.jsonArrayItem)
        guard isPrimitive(h) else {
            memberKey(head, shadow: false, first: &first, depth: depth)
            if !isArray {
                writeValue(head, depth: depth)
                return
            }
            out.append(UInt8(ascii: "["))
            for k in from..<to {
                if k > from { out.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                writeValue(scratch[k], depth: depth + 1)
            }
            newline(depth)
            out.append(UInt8(ascii: "]"))
            return
        }
        var anyValue = false, anyShadow = false
        for k in from..<to {
            let id = scratch[k]
            let n = nodes[Int(id)]
            if n.hasValue || n.flags.contains(.jsonArray) { anyValue = true }
            if n.end > id + 1 && !n.flags.contains(.jsonArray) { anyShadow = true }
        }
        if !anyValue && !anyShadow { anyValue = true } // a primitive that was `null`: written back as null
        if anyValue {
            memberKey(head, shadow: false, first: &first, depth: depth)
            if isArray {
                out.append(UInt8(ascii: "["))
                for k in from..<to {
                    if k > from { out.append(UInt8(ascii: ",")) }
                    newline(depth + 1)
                    writePrimitiveSlot(scratch[k], depth: depth + 1)
                }
                newline(depth)
                out.append(UInt8(ascii: "]"))
            } else {
                writePrimitiveSlot(head, depth: depth)
            }
        }
        if anyShadow {
            memberKey(head, shadow: true, first: &first, depth: depth)
            if isArray {
                out.append(UInt8(ascii: "["))
                for k in from..<to {
                    if k > from { out.append(UInt8(ascii: ",")) }
                    newline(depth + 1)
                    let id = scratch[k]
                    if nodes[Int(id)].end > id + 1 { writeObject(id, depth: depth + 1) } else { out.append(contentsOf: "null".utf8) }
                }
                newline(depth)
                out.append(UInt8(ascii: "]"))
            } else {
                writeObject(head, depth: depth)
            }
        }
    }

    /// Unknown content that was a JSON array: the node's children are its items.
    mutating func writeChildrenAsArray(_ id: Int32, depth: Int) {
        let end = nodes[Int(id)].end
        out.append(UInt8(ascii: "["))
        var c = id + 1
        var first = true
        while c < end {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            newline(depth + 1)
            writeValue(c, depth: depth + 1)
            c = nodes[Int(c)].end
        }
        if !first { newline(depth) }
        out.append(UInt8(ascii: "]"))
    }

    /// The value position of a primitive: its value, `null`, or a wrongly shaped array kept as unknown content.
    mutating func writePrimitiveSlot(_ id: Int32, depth: Int) {
        let n = nodes[Int(id)]
        if !n.hasValue && n.flags.contains(.jsonArray) {
            // Write the items as they came (the node's children are the array items).
            writeChildrenAsArray(id, depth: depth)
            return
        }
        writePrimitiveValue(n)
    }

    mutating func writePrimitiveValue(_ n: ElementTree.Node) {
        guard n.hasValue else { out.append(contentsOf: "null".utf8); return }
        if n.flags.contains(.jsonString) { writeString(n); return }
        if n.flags.contains(.jsonNumber) || n.flags.contains(.jsonBoolean) { writeRaw(n); return }
        let kind = n.type >= 0 ? model.types[Int(n.type)].jsonKind : .string
        switch kind {
        case .string: writeString(n)
        case .number:
            if tree.bytes.withBytes(n.valueStart, n.valueLength, { JSONEscaper.isNumber($0) }) { writeRaw(n) } else { writeString(n) }
        case .boolean:
            if tree.bytes.equals(n.valueStart, n.valueLength, "true".utf8) || tree.bytes.equals(n.valueStart, n.valueLength, "false".utf8) {
                writeRaw(n)
            } else {
                writeString(n)
            }
        }
    }

    /// A value kept on a non-primitive node (unknown content, or a wrongly shaped value).
    mutating func writeScalar(_ n: ElementTree.Node) {
        if n.flags.contains(.jsonNumber) || n.flags.contains(.jsonBoolean) { writeRaw(n) } else { writeString(n) }
    }

    @inline(__always) mutating func writeRaw(_ n: ElementTree.Node) {
        tree.bytes.withBytes(n.valueStart, n.valueLength) { out.append(contentsOf: $0) }
    }

    @inline(__always) mutating func writeString(_ n: ElementTree.Node) {
        tree.bytes.withBytes(n.valueStart, n.valueLength) { JSONEscaper.writeString($0, to: &out) }
    }
}

/// JSON string escaping and number checks over raw bytes.
enum JSONEscaper {
    static let hex: StaticString = "0123456789abcdef"

    static func writeString(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { writeString($0, to: &out) }
    }

    /// Writes a quoted JSON string; bytes that need no escape are copied in runs.
    static func writeString(_ bytes: UnsafeBufferPointer<UInt8>, prefix: UInt8? = nil, to out: inout [UInt8]) {
        out.append(0x22)
        if let p = prefix { out.append(p) }
        var runStart = 0
        var i = 0
        let n = bytes.count
        while i < n {
            let c = bytes[i]
            if c >= 0x20 && c != 0x22 && c != 0x5C { i += 1; continue }
            if i > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
            switch c {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
            default:
                let h = hex.utf8Start
                out.append(0x5C); out.append(UInt8(ascii: "u")); out.append(0x30); out.append(0x30)
                out.append(h[Int(c >> 4)]); out.append(h[Int(c & 0xF)])
            }
            i += 1
            runStart = i
        }
        if n > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<n])) }
        out.append(0x22)
    }

    /// Whether the bytes are a JSON number literal (RFC 8259 grammar).
    static func isNumber(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = b.count
        @inline(__always) func digit(_ k: Int) -> Bool { k < n && b[k] >= 0x30 && b[k] <= 0x39 }
        if i < n && b[i] == UInt8(ascii: "-") { i += 1 }
        guard digit(i) else { return false }
        if b[i] == 0x30 { i += 1 } else { while digit(i) { i += 1 } }
        if i < n && b[i] == UInt8(ascii: ".") {
            i += 1
            guard digit(i) else { return false }
            while digit(i) { i += 1 }
        }
        if i < n && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")) { i += 1 }
            guard digit(i) else { return false }
            while digit(i) { i += 1 }
        }
        return i == n
    }
}
