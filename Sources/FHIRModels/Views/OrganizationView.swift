/// `Organization`: identifiers (FINESS, SIRET, ...), name, type, active.
public struct OrganizationView: ResourceView {
    public static let resourceType = "Organization"
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var identifiers: [IdentifierView] { views("identifier") }
    public var name: String? { string("name") }
    public var types: [CodeableConceptView] { views("type") }
    public var active: Bool? { string("active").map { $0 == "true" } }
    public var partOf: ReferenceView? { view("partOf") }
    public func identifier(system: String) -> String? { identifiers.first { $0.system == system }?.value }
}
