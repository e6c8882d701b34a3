/// `DocumentReference`: status, type, identifiers (with use), subject, content attachments.
public struct DocumentReferenceView: ResourceView {
    public static let resourceType = "DocumentReference"
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var status: String? { string("status") }
    public var docStatus: String? { string("docStatus") }
    public var type: CodeableConceptView? { view("type") }
    public var typeCodings: [CodingView] { type?.codings ?? [] }
    public var categories: [CodeableConceptView] { views("category") }
    public var masterIdentifier: IdentifierView? { view("masterIdentifier") }
    public var identifiers: [IdentifierView] { views("identifier") }
    public var subject: ReferenceView? { view("subject") }
    public var date: String? { string("date") }
    public var description: String? { string("description") }
    /// `content.attachment` of each content, in order.
    public var attachments: [AttachmentView] {
        tree.children(node, "content").compactMap { c in tree.child(c, "attachment").map { AttachmentView(tree: tree, node: $0) } }
    }
}
