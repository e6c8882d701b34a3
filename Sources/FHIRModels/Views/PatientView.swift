/// `Patient`: identifiers, names, birth date, gender.
public struct PatientView: ResourceView {
    public static let resourceType = "Patient"
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var identifiers: [IdentifierView] { views("identifier") }
    public var names: [HumanNameView] { views("name") }
    public var birthDate: String? { string("birthDate") }
    public var gender: String? { string("gender") }
    public var active: Bool? { string("active").map { $0 == "true" } }
    /// The value of the first identifier in `system` (e.g. the INS OID).
    public func identifier(system: String) -> String? { identifiers.first { $0.system == system }?.value }
}
