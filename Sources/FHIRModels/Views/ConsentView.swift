/// `Consent`: status, scope, category, patient, source reference, provision (recursive).
public struct ConsentView: ResourceView {
    public static let resourceType = "Consent"
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var status: String? { string("status") }
    public var scope: CodeableConceptView? { view("scope") }
    public var categories: [CodeableConceptView] { views("category") }
    public var patient: ReferenceView? { view("patient") }
    public var dateTime: String? { string("dateTime") }
    public var organizations: [ReferenceView] { views("organization") }
    /// `sourceReference` (nil when the source is an attachment or absent).
    public var sourceReference: ReferenceView? { view("sourceReference") }
    public var sourceAttachment: AttachmentView? { view("sourceAttachment") }
    public var policyRule: CodeableConceptView? { view("policyRule") }
    public var provision: Provision? { view("provision") }

    public struct Provision: ElementView {
        public let tree: ElementTree
        public let node: ElementTree.NodeID
        public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
        /// `deny` or `permit`.
        public var type: String? { string("type") }
        public var period: PeriodView? { view("period") }
        public var actors: [Actor] { views("actor") }
        public var actions: [CodeableConceptView] { views("action") }
        public var securityLabels: [CodingView] { views("securityLabel") }
        public var purposes: [CodingView] { views("purpose") }
        public var provisions: [Provision] { views("provision") }
    }

    public struct Actor: ElementView {
        public let tree: ElementTree
        public let node: ElementTree.NodeID
        public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
        public var role: CodeableConceptView? { view("role") }
        public var reference: ReferenceView? { view("reference") }
    }
}
