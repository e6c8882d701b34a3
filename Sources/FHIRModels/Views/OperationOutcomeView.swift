/// `OperationOutcome`: its issues (severity, code, details, diagnostics, expressions, locations).
public struct OperationOutcomeView: ResourceView {
    public static let resourceType = "OperationOutcome"
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var issues: [Issue] { views("issue") }
    /// Whether an issue is `fatal` or `error`.
    public var hasErrors: Bool { issues.contains { $0.severity == "error" || $0.severity == "fatal" } }

    public struct Issue: ElementView {
        public let tree: ElementTree
        public let node: ElementTree.NodeID
        public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
        public var severity: String? { string("severity") }
        public var code: String? { string("code") }
        public var details: CodeableConceptView? { view("details") }
        public var diagnostics: String? { string("diagnostics") }
        public var expressions: [String] { strings("expression") }
        public var locations: [String] { strings("location") }
    }
}
