/// A FHIR instance as a typed element tree, the same whether it was read from JSON or XML.
/// Nodes live in one preorder array (no per-node allocation); names and values are spans in `bytes`.
/// A primitive with `_x` extensions is one node: its value plus `id`/`extension` children.
/// Resource nodes (root, `contained`, `Bundle.entry.resource`, ...) carry the resource type as their type.
public struct ElementTree: Sendable {
    public typealias NodeID = Int32

    public enum Format: UInt8, Sendable { case json, xml, built }

    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// The node is a resource (its `type` is the resource type).
        public static let resource = Flags(rawValue: 1 << 0)
        /// The member name is not an element of the parent's type: kept so nothing is lost, reported as an issue.
        public static let unknown = Flags(rawValue: 1 << 1)
        /// The primitive value was a JSON number / boolean / string in the source.
        public static let jsonNumber = Flags(rawValue: 1 << 2)
        public static let jsonBoolean = Flags(rawValue: 1 << 3)
        public static let jsonString = Flags(rawValue: 1 << 4)
        /// The source value was JSON `null` (kept for unknown content only).
        public static let jsonNull = Flags(rawValue: 1 << 5)
        /// Unknown content that was a JSON array member (so it can be written back as an array).
        public static let jsonArrayItem = Flags(rawValue: 1 << 6)
        /// Unknown content (or a wrongly shaped value) that was a JSON array: its children are the items.
        public static let jsonArray = Flags(rawValue: 1 << 7)
    }

    public struct Node: Sendable {
        public var nameStart: Int32
        public var nameLength: Int32
        /// Primitive value span; `valueLength == -1` when the node has no value.
        public var valueStart: Int32
        public var valueLength: Int32
        /// Concrete FHIR type (`ModelInfo` id); -1 when unknown.
        public var type: ModelInfo.TypeID
        /// The definition this node instantiates (`ModelInfo` element id); -1 for the root and unknown members.
        public var element: Int32
        public var parent: NodeID
        /// One past the last descendant.
        public var end: NodeID
        /// Position among the repetitions of a repeating element; -1 when the element does not repeat.
        public var index: Int32
        public var line: Int32
        public var column: Int32
        public var flags: Flags

        public var hasValue: Bool { valueLength >= 0 }
        public var location: SourceLocation { SourceLocation(line: line, column: column) }
    }

    public var nodes: [Node]
    public var bytes: ByteStore
    public var format: Format
    /// Structural problems met while mapping the syntax onto FHIR elements (unknown members, wrong JSON
    /// shapes, ...). The tree keeps the offending content; the validator reports these as issues.
    public var issues: [StructureIssue]
    public let model: ModelInfo

    public init(bytes: ByteStore, format: Format, model: ModelInfo = .r4) {
        self.nodes = []
        self.bytes = bytes
        self.format = format
        self.issues = []
        self.model = model
    }

    public var root: NodeID { 0 }
    public var isEmpty: Bool { nodes.isEmpty }

    @inlinable public subscript(_ id: NodeID) -> Node {
        get { nodes[Int(id)] }
        set { nodes[Int(id)] = newValue }
    }

    @inlinable public func children(_ id: NodeID) -> TreeChildren {
        TreeChildren(nodes: nodes, start: id + 1, end: nodes[Int(id)].end)
    }

    public func name(_ id: NodeID) -> String {
        let n = nodes[Int(id)]
        return bytes.string(n.nameStart, n.nameLength)
    }

    /// The primitive value as written (decimals keep their digits), or nil.
    public func value(_ id: NodeID) -> String? {
        let n = nodes[Int(id)]
        return n.valueLength < 0 ? nil : bytes.string(n.valueStart, n.valueLength)
    }

    public func nameIs(_ id: NodeID, _ name: String) -> Bool {
        let n = nodes[Int(id)]
        return bytes.equals(n.nameStart, n.nameLength, name.utf8)
    }

    public func valueIs(_ id: NodeID, _ value: String) -> Bool {
        let n = nodes[Int(id)]
        return n.valueLength >= 0 && bytes.equals(n.valueStart, n.valueLength, value.utf8)
    }

    /// The resource at `id` (`Parameters.parameter.resource`, a `contained` or Bundle entry resource) as
    /// a tree of its own: same bytes, same source positions, the structure issues found inside it.
    /// Precondition: `id` is a resource node of this tree.
    public func subtree(_ id: NodeID) -> ElementTree {
        let top = nodes[Int(id)]
        precondition(top.flags.contains(.resource), "ElementTree.subtree: node \(id) is not a resource")
        var t = ElementTree(bytes: bytes, format: format, model: model)
        t.nodes = nodes[Int(id)..<Int(top.end)].map { n in
            var m = n
            m.parent -= id
            m.end -= id
            return m
        }
        let name = typeName(id) ?? self.name(id)
        let span = t.bytes.append(name)
        t.nodes[0].nameStart = span.start
        t.nodes[0].nameLength = span.length
        t.nodes[0].parent = -1
        t.nodes[0].element = -1
        t.nodes[0].index = -1
        t.issues = issues.filter { $0.node >= id && $0.node < top.end }.map { i in
            var j = i
            j.node -= id
            return j
        }
        return t
    }

    /// First child with this member name.
    public func child(_ id: NodeID, _ name: String) -> NodeID? {
        for c in children(id) where nameIs(c, name) { return c }
        return nil
    }

    /// All children with this member name, in order.
    public func children(_ id: NodeID, _ name: String) -> [NodeID] {
        children(id).filter { nameIs($0, name) }
    }

    /// Value of the first child with this name (`tree.childValue(task, "status")`).
    public func childValue(_ id: NodeID, _ name: String) -> String? {
        child(id, name).flatMap { value($0) }
    }

    /// Follows a dotted path of member names from `id`, taking the first match at each step.
    public func descendant(_ id: NodeID, _ path: String) -> NodeID? {
        var cur = id
        for part in path.split(separator: ".") {
            guard let c = child(cur, String(part)) else { return nil }
            cur = c
        }
        return cur
    }

    public func typeName(_ id: NodeID) -> String? {
        let t = nodes[Int(id)].type
        return t < 0 ? nil : model[type: t].name
    }

    public func isResource(_ id: NodeID) -> Bool { nodes[Int(id)].flags.contains(.resource) }

    /// The nearest enclosing resource node (itself if it is one).
    public func resource(containing id: NodeID) -> NodeID {
        var cur = id
        while cur > 0 && !nodes[Int(cur)].flags.contains(.resource) { cur = nodes[Int(cur)].parent }
        return cur
    }

    /// The first violation of the tree's shape (preorder `end` bounds, parents before children, issues on
    /// existing nodes), or nil. For fuzz targets and tests: readers must never produce a malformed tree.
    public func structuralProblem() -> String? {
        let count = Int32(nodes.count)
        for id in 0..<count {
            let n = nodes[Int(id)]
            if !(n.end > id && n.end <= count) { return "node \(id) ends at \(n.end) of \(count)" }
            if !(id == 0 || (n.parent >= 0 && n.parent < id)) { return "node \(id) has parent \(n.parent)" }
            _ = path(id)
            _ = value(id)
        }
        for issue in issues where !(issue.node >= 0 && issue.node < max(count, 1)) { return "issue on node \(issue.node)" }
        return nil
    }

    /// Name of the element as a FHIRPath step: choice elements become `value.ofType(Quantity)`.
    public func pathStep(_ id: NodeID) -> String {
        let n = nodes[Int(id)]
        var step: String
        if n.element >= 0, model[element: n.element].isChoice, n.type >= 0 {
            step = model[element: n.element].name + ".ofType(" + model[type: n.type].name + ")"
        } else {
            step = name(id)
        }
        if n.index >= 0 { step += "[\(n.index)]" }
        return step
    }

    /// FHIRPath location of a node, e.g. `Task.input[3].value.ofType(CodeableConcept).coding[0]`.
    public func path(_ id: NodeID) -> String {
        var steps: [String] = []
        var cur = id
        while cur > 0 {
            steps.append(pathStep(cur))
            cur = nodes[Int(cur)].parent
        }
        steps.append(typeName(0) ?? name(0))
        return steps.reversed().joined(separator: ".")
    }
}

public struct TreeChildren: Sequence, IteratorProtocol, Sendable {
    @usableFromInline let nodes: [ElementTree.Node]
    @usableFromInline var next_: Int32
    @usableFromInline let end: Int32
    @inlinable init(nodes: [ElementTree.Node], start: Int32, end: Int32) {
        self.nodes = nodes; self.next_ = start; self.end = end
    }
    @inlinable public mutating func next() -> Int32? {
        guard next_ < end else { return nil }
        let i = next_
        next_ = nodes[Int(i)].end
        return i
    }
}

/// A problem in how an instance is shaped (not in what it says), found while building the tree.
public struct StructureIssue: Sendable, Equatable {
    public enum Code: String, Sendable { case structure, invalid, required, value }
    public var severity: IssueSeverity
    public var code: Code
    public var message: String
    /// Node the problem is about (for its FHIRPath); may be the parent for a missing member.
    public var node: ElementTree.NodeID
    public var location: SourceLocation
    /// The property of `node` the problem is about, when it is a property rather than a node (an object
    /// where an array is expected): its FHIRPath is the node's followed by `.member`.
    public var member: String?
    public init(severity: IssueSeverity = .error, code: Code, message: String, node: ElementTree.NodeID, location: SourceLocation,
                member: String? = nil) {
        self.severity = severity; self.code = code; self.message = message; self.node = node; self.location = location
        self.member = member
    }
}

public enum IssueSeverity: String, Sendable, Comparable {
    case fatal, error, warning, information
    private var rank: Int { switch self { case .fatal: 0; case .error: 1; case .warning: 2; case .information: 3 } }
    public static func < (a: IssueSeverity, b: IssueSeverity) -> Bool { a.rank < b.rank }
}
