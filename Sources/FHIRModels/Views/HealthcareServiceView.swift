/// `HealthcareService` (ROR units): identifiers, name, providedBy, the codings of type, category,
/// specialty and characteristic, and `notAvailable` (ROR closure and planned reopening).
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
    public var specialties: [CodeableConceptView] { views("specialty") }
    public var characteristics: [CodeableConceptView] { views("characteristic") }
    public var notAvailable: [NotAvailable] { views("notAvailable") }
    public var typeCodings: [CodingView] { types.flatMap(\.codings) }
    public var categoryCodings: [CodingView] { categories.flatMap(\.codings) }
    public var specialtyCodings: [CodingView] { specialties.flatMap(\.codings) }
    public var characteristicCodings: [CodingView] { characteristics.flatMap(\.codings) }

    /// `HealthcareService.notAvailable`: a description and the period (`during`) it covers.
    public struct NotAvailable: ElementView {
        public let tree: ElementTree
        public let node: ElementTree.NodeID
        public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
        /// The element id (`closingReopeningDate` for the ROR closure slice).
        public var elementId: String? { string("id") }
        public var description: String? { string("description") }
        public var during: PeriodView? { view("during") }
    }
}
