/// `Task`: status and reasons, identifiers, inputs (type + value), focus, for, meta.source, lastModified, description.
public struct TaskView: ResourceView {
    public static let resourceType = "Task"
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var status: String? { string("status") }
    public var intent: String? { string("intent") }
    public var businessStatus: CodeableConceptView? { view("businessStatus") }
    public var statusReason: CodeableConceptView? { view("statusReason") }
    public var code: CodeableConceptView? { view("code") }
    public var identifiers: [IdentifierView] { views("identifier") }
    public var inputs: [Parameter] { views("input") }
    public var outputs: [Parameter] { views("output") }
    public var focus: ReferenceView? { view("focus") }
    public var `for`: ReferenceView? { view("for") }
    public var owner: ReferenceView? { view("owner") }
    public var lastModified: String? { string("lastModified") }
    public var authoredOn: String? { string("authoredOn") }
    public var description: String? { string("description") }

    /// `Task.input` / `Task.output`: a type and a `value[x]`.
    public struct Parameter: ElementView {
        public let tree: ElementTree
        public let node: ElementTree.NodeID
        public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
        public var type: CodeableConceptView? { view("type") }
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
    }
}
