/// `HealthcareService` (ROR units): identifiers, name, providedBy, and the codings of type, category
/// and characteristic.
public struct HealthcareServiceView: ResourceView {
    public static let resourceType = "HealthcareService"
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var identifiers: [IdentifierView] { views("identifier") }
    public var name: String? { string("name") }
    public var active: Bool? { string("active").map { $0 == "true" } }
    public var providedBy: ReferenceView? { view("providedBy") }
    public var types: [CodeableConceptView] { views("type") }
    public var categories: [CodeableConceptView] { views("category") }
    public var characteristics: [CodeableConceptView] { views("characteristic") }
    public var typeCodings: [CodingView] { types.flatMap(\.codings) }
    public var categoryCodings: [CodingView] { categories.flatMap(\.codings) }
    public var characteristicCodings: [CodingView] { characteristics.flatMap(\.codings) }
}
