/// Views of the data types the gateway reads: Coding, CodeableConcept, Identifier, Reference,
/// HumanName, Attachment, Period.
public struct CodingView: ElementView {
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var system: String? { string("system") }
    public var version: String? { string("version") }
    public var code: String? { string("code") }
    public var display: String? { string("display") }
}

public struct CodeableConceptView: ElementView {
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var codings: [CodingView] { views("coding") }
    public var text: String? { string("text") }
    /// Whether one of the codings has this system and code.
    public func has(system: String, code: String) -> Bool { codings.contains { $0.system == system && $0.code == code } }
    /// The code of the first coding in `system`.
    public func code(in system: String) -> String? { codings.first { $0.system == system }?.code }
}

public struct IdentifierView: ElementView {
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var use: String? { string("use") }
    public var type: CodeableConceptView? { view("type") }
    public var system: String? { string("system") }
    public var value: String? { string("value") }
    public var assigner: ReferenceView? { view("assigner") }
}

public struct ReferenceView: ElementView {
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var reference: String? { string("reference") }
    public var type: String? { string("type") }
    public var identifier: IdentifierView? { view("identifier") }
    public var display: String? { string("display") }
}

public struct HumanNameView: ElementView {
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var use: String? { string("use") }
    public var text: String? { string("text") }
    public var family: String? { string("family") }
    public var given: [String] { strings("given") }
    public var prefix: [String] { strings("prefix") }
}

public struct AttachmentView: ElementView {
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var contentType: String? { string("contentType") }
    public var language: String? { string("language") }
    /// Base64 content as written.
    public var data: String? { string("data") }
    public var url: String? { string("url") }
    public var size: String? { string("size") }
    public var hash: String? { string("hash") }
    public var title: String? { string("title") }
    public var creation: String? { string("creation") }
}

public struct PeriodView: ElementView {
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var start: String? { string("start") }
    public var end: String? { string("end") }
}

/// `Extension`: url and `value[x]` (complex extensions hold nested `extension`s instead).
public struct ExtensionView: ValueChoiceView {
    public let tree: ElementTree
    public let node: ElementTree.NodeID
    public init(tree: ElementTree, node: ElementTree.NodeID) { self.tree = tree; self.node = node }
    public var url: String? { string("url") }
}
