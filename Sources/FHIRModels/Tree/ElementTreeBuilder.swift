/// Builds an `ElementTree` in code (an OperationOutcome, a searchset Bundle, a mapped resource), typed
/// member by member through `ModelInfo.resolve`, so the result is the same tree a reader would give and
/// can be written as JSON or XML. Names are code, not data: an unknown member name, a primitive value
/// on a complex element or an unbalanced `end()` is a programming error and stops with a precondition.
///
/// ```swift
/// var b = ElementTreeBuilder(resourceType: "Bundle")
/// b.primitive("type", "searchset")
/// b.primitive("total", 1)
/// b.begin("entry")
///   b.primitive("fullUrl", "https://example.org/Patient/1")
///   b.copy("resource", from: patient)
///   b.begin("search"); b.primitive("mode", "match"); b.end()
/// b.end()
/// let tree = b.build()
/// ```
public struct ElementTreeBuilder {
    public let model: ModelInfo
    private var tree: ElementTree
    private struct Frame {
        var node: ElementTree.NodeID
        var type: ModelInfo.TypeID
        var counterBase: Int
    }
    private var stack: [Frame] = []
    /// Next repetition index of each repeating element, for the open frames (a stack).
    private var counters: [(element: Int32, count: Int32)] = []

    public init(resourceType: String, model: ModelInfo = .r4) {
        guard let t = model.type(named: resourceType), model[type: t].kind == .resource, !model[type: t].isAbstract else {
            preconditionFailure("ElementTreeBuilder: '\(resourceType)' is not a concrete FHIR R4 resource type")
        }
        self.model = model
        self.tree = ElementTree(bytes: ByteStore(source: []), format: .built, model: model)
        let id = appendNode(name: resourceType, type: t, element: -1, parent: -1, index: -1, flags: .resource)
        stack.append(Frame(node: id, type: t, counterBase: 0))
    }

    /// The type of the element or resource being built.
    public var currentType: String { model[type: stack[stack.count - 1].type].name }

    /// Whether `name` is a member of the element being built (`valueQuantity` for `value[x]` included).
    public func accepts(_ name: String) -> Bool { model.resolve(stack[stack.count - 1].type, name: name) != nil }

    private mutating func appendNode(name: String, type: Int32, element: Int32, parent: Int32, index: Int32,
                                     flags: ElementTree.Flags = []) -> ElementTree.NodeID {
        let id = Int32(tree.nodes.count)
        let span = tree.bytes.append(name)
        tree.nodes.append(ElementTree.Node(nameStart: span.start, nameLength: span.length, valueStart: 0, valueLength: -1,
                                           type: type, element: element, parent: parent, end: id + 1, index: index,
                                           line: 0, column: 0, flags: flags))
        return id
    }

    private mutating func resolve(_ name: String) -> (element: Int32, type: ModelInfo.TypeID, index: Int32) {
        let top = stack[stack.count - 1]
        guard let (element, type) = model.resolve(top.type, name: name) else {
            preconditionFailure("ElementTreeBuilder: '\(name)' is not an element of \(model[type: top.type].name)")
        }
        var index: Int32 = -1
        if model[element: element].isArray {
            index = 0
            var i = top.counterBase
            while i < counters.count {
                if counters[i].element == element { index = counters[i].count; counters[i].count += 1; break }
                i += 1
            }
            if i == counters.count { counters.append((element, 1)) }
        }
        return (element, type, index)
    }

    private mutating func setValue(_ id: ElementTree.NodeID, _ value: String) {
        let span = tree.bytes.append(value)
        tree.nodes[Int(id)].valueStart = span.start
        tree.nodes[Int(id)].valueLength = span.length
    }

    /// Opens a complex or backbone element, or a primitive that carries `id`/`extension` (with an optional value).
    public mutating func begin(_ name: String, value: String? = nil) {
        let r = resolve(name)
        let kind = model[type: r.type].kind
        precondition(kind != .resource, "ElementTreeBuilder: '\(name)' holds a resource: use resource(_:type:) or copy(_:from:)")
        precondition(value == nil || kind == .primitive, "ElementTreeBuilder: '\(name)' is a \(model[type: r.type].name), not a primitive")
        let id = appendNode(name: name, type: r.type, element: r.element, parent: stack[stack.count - 1].node, index: r.index)
        if let value { setValue(id, value) }
        stack.append(Frame(node: id, type: r.type, counterBase: counters.count))
    }

    /// Opens a resource held by `name` (`contained`, `resource` of a Bundle entry, ...).
    public mutating func resource(_ name: String, type resourceType: String) {
        let r = resolve(name)
        precondition(model[type: r.type].kind == .resource, "ElementTreeBuilder: '\(name)' does not hold a resource")
        guard let t = model.type(named: resourceType), model[type: t].kind == .resource, !model[type: t].isAbstract,
              model.isA(t, r.type) else {
            preconditionFailure("ElementTreeBuilder: '\(resourceType)' is not a resource type allowed in '\(name)'")
        }
        let id = appendNode(name: name, type: t, element: r.element, parent: stack[stack.count - 1].node, index: r.index, flags: .resource)
        stack.append(Frame(node: id, type: t, counterBase: counters.count))
    }

    /// Closes the element or resource opened last.
    public mutating func end() {
        precondition(stack.count > 1, "ElementTreeBuilder: end() without a matching begin()")
        let f = stack.removeLast()
        counters.removeLast(counters.count - f.counterBase)
        tree.nodes[Int(f.node)].end = Int32(tree.nodes.count)
    }

    /// A primitive member with its value as FHIR writes it (`"1.50"`, `"2024-01-31"`, `"true"`).
    public mutating func primitive(_ name: String, _ value: String) {
        let r = resolve(name)
        precondition(model[type: r.type].kind == .primitive, "ElementTreeBuilder: '\(name)' is a \(model[type: r.type].name), not a primitive")
        let id = appendNode(name: name, type: r.type, element: r.element, parent: stack[stack.count - 1].node, index: r.index)
        setValue(id, value)
    }

    public mutating func primitive(_ name: String, _ value: Int) { primitive(name, String(value)) }
    public mutating func primitive(_ name: String, _ value: Bool) { primitive(name, value ? "true" : "false") }

    /// Appends a copy of `node` of another tree (a whole resource by default) as member `name`.
    /// A resource goes into a member that holds resources; an element into a member of the same type.
    public mutating func copy(_ name: String, from source: ElementTree, node: ElementTree.NodeID = 0) {
        let r = resolve(name)
        let s = source[node]
        if s.flags.contains(.resource) {
            precondition(model[type: r.type].kind == .resource && (s.type < 0 || model.isA(s.type, r.type)),
                         "ElementTreeBuilder: '\(name)' does not hold a \(source.typeName(node) ?? "resource")")
        } else {
            precondition(s.type == r.type, "ElementTreeBuilder: '\(name)' is a \(model[type: r.type].name), not a \(source.typeName(node) ?? "?")")
        }
        let parent = stack[stack.count - 1].node
        let base = Int32(tree.nodes.count)
        let nameSpan = tree.bytes.append(name)
        tree.nodes.reserveCapacity(tree.nodes.count + Int(s.end - node))
        for i in node..<s.end {
            var n = source[i]
            if i == node {
                n.nameStart = nameSpan.start; n.nameLength = nameSpan.length
                n.element = r.element; n.index = r.index; n.parent = parent
            } else {
                let span = source.bytes.withBytes(n.nameStart, n.nameLength) { tree.bytes.append($0) }
                n.nameStart = span.start
                n.parent = n.parent - node + base
            }
            if n.valueLength >= 0 {
                let span = source.bytes.withBytes(n.valueStart, n.valueLength) { tree.bytes.append($0) }
                n.valueStart = span.start
            }
            n.end = n.end - node + base
            tree.nodes.append(n)
        }
    }

    /// The finished tree; every `begin`/`resource` must have been closed.
    public func build() -> ElementTree {
        precondition(stack.count == 1, "ElementTreeBuilder: \(stack.count - 1) element(s) still open (missing end())")
        var t = tree
        t.nodes[0].end = Int32(t.nodes.count)
        return t
    }
}
