/// `Bundle`: type, total, links and entries (fullUrl, resource, request, search mode, response status).
public struct BundleView: ResourceView {
    public static let resourceType = "Bundle"
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var type: String? { string("type") }
    public var total: Int? { string("total").flatMap { Int($0) } }
    public var links: [Link] { views("link") }
    public var entries: [Entry] { views("entry") }
    /// URL of the link with this relation (`self`, `next`, ...).
    public func link(_ relation: String) -> String? { links.first { $0.relation == relation }?.url }

    public struct Link: ElementView {
        public let tree: ElementTree
        public let node: ElementTree.NodeID
        public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
        public var relation: String? { string("relation") }
        public var url: String? { string("url") }
    }

    public struct Entry: ElementView {
        public let tree: ElementTree
        public let node: ElementTree.NodeID
        public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
        public var fullUrl: String? { string("fullUrl") }
        /// The entry's resource node (`tree.typeName(_:)` gives its type; wrap it in a `ResourceView`).
        public var resource: ElementTree.NodeID? { tree.child(node, "resource") }
        public var resourceType: String? { resource.flatMap { tree.typeName($0) } }
        public var requestMethod: String? { tree.child(node, "request").flatMap { tree.childValue($0, "method") } }
        public var requestURL: String? { tree.child(node, "request").flatMap { tree.childValue($0, "url") } }
        public var requestIfNoneExist: String? { tree.child(node, "request").flatMap { tree.childValue($0, "ifNoneExist") } }
        public var searchMode: String? { tree.child(node, "search").flatMap { tree.childValue($0, "mode") } }
        public var responseStatus: String? { tree.child(node, "response").flatMap { tree.childValue($0, "status") } }
    }
}
