/// A read-only typed view of one node of an `ElementTree`: accessors a gateway needs, no copying of
/// the content. Views are cheap values (the tree's storage is shared) and never modify the tree.
public protocol ElementView: Sendable {
    var tree: ElementTree { get }
    var node: ElementTree.NodeID { get }
    init(tree: ElementTree, node: ElementTree.NodeID)
}

extension ElementView {
    /// Value of the first child primitive `name`.
    public func string(_ name: String) -> String? { tree.childValue(node, name) }
    /// All values of the repeating primitive `name` (repetitions without a value are skipped).
    public func strings(_ name: String) -> [String] { tree.children(node, name).compactMap { tree.value($0) } }
    public func view<V: ElementView>(_ name: String, as _: V.Type = V.self) -> V? {
        tree.child(node, name).map { V(tree: tree, node: $0) }
    }
    public func views<V: ElementView>(_ name: String, as _: V.Type = V.self) -> [V] {
        tree.children(node, name).map { V(tree: tree, node: $0) }
    }
    /// The `extension`s of this node with this url, in order.
    public func extensions(_ url: String) -> [ExtensionView] {
        tree.children(node, "extension").filter { tree.childValue($0, "url") == url }.map { ExtensionView(tree: tree, node: $0) }
    }
    /// FHIRPath of the viewed node, for messages.
    public var path: String { tree.path(node) }
    /// The member of choice element `name` (`value` finds `valueString`, `valueReference`, ...).
    public func choice(_ name: String) -> ElementTree.NodeID? {
        for c in tree.children(node) {
            let e = tree[c].element
            if e >= 0, tree.model[element: e].isChoice, tree.model[element: e].name == name { return c }
        }
        return nil
    }
}

/// A view of an element holding a `value[x]` (Extension, Task.input/output).
public protocol ValueChoiceView: ElementView {}

extension ValueChoiceView {
    /// The `value[x]` node, whatever its type.
    public var value: ElementTree.NodeID? { choice("value") }
    /// FHIR type of the value (`string`, `Reference`, `CodeableConcept`, ...).
    public var valueType: String? { value.flatMap { tree.typeName($0) } }
    /// The value when it is a primitive, as written.
    public var primitiveValue: String? { value.flatMap { tree.value($0) } }
    public var valueReference: ReferenceView? { value.flatMap { valueType == "Reference" ? ReferenceView(tree: tree, node: $0) : nil } }
    public var valueCodeableConcept: CodeableConceptView? {
        value.flatMap { valueType == "CodeableConcept" ? CodeableConceptView(tree: tree, node: $0) : nil }
    }
    public var valuePeriod: PeriodView? { value.flatMap { valueType == "Period" ? PeriodView(tree: tree, node: $0) : nil } }
}

/// A view of a resource node, checked against its resource type.
public protocol ResourceView: ElementView {
    static var resourceType: String { get }
}

extension ResourceView {
    /// The view when `node` (the root by default) is a resource of this type, nil otherwise.
    public init?(_ tree: ElementTree, _ node: ElementTree.NodeID = 0) {
        guard Int(node) < tree.nodes.count, tree.isResource(node), tree.typeName(node) == Self.resourceType else { return nil }
        self.init(tree: tree, node: node)
    }
    public var id: String? { string("id") }
    public var metaSource: String? { tree.child(node, "meta").flatMap { tree.childValue($0, "source") } }
    public var lastUpdated: String? { tree.child(node, "meta").flatMap { tree.childValue($0, "lastUpdated") } }
    public var profiles: [String] { tree.child(node, "meta").map { tree.children($0, "profile").compactMap { tree.value($0) } } ?? [] }
}
