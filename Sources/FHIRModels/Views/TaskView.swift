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
    public struct Parameter: ValueChoiceView {
        public let tree: ElementTree
        public let node: ElementTree.NodeID
        public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
        public var type: CodeableConceptView? { view("type") }
    }
}
