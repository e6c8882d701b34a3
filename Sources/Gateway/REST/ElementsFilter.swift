import FHIRModels
import Validation

/// `_elements` (FHIR search §3.1.1.5.9): the resources of a searchset reduced to the listed top-level
/// elements. Always kept: `id`, `meta` (with the tag SUBSETTED, so that nobody mistakes the subset for
/// the whole), and the mandatory modifier elements of the type (min ≥ 1 and isModifier in the core
/// definition, e.g. `DocumentReference.status`): a subset must never hide what changes the meaning of
/// the rest. Mandatory non-modifier elements are not added (they would bring back
/// `DocumentReference.content` with its base64 document, which `_elements=id` in flow 1 exists to avoid).
struct ElementsFilter: Sendable {
    static let subsettedSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"

    /// Resource type → mandatory modifier elements.
    let mandatoryModifiers: [String: Set<String>]

    init(mandatoryModifiers: [String: Set<String>]) { self.mandatoryModifiers = mandatoryModifiers }

    /// The mandatory modifiers of `types` from their core StructureDefinitions.
    init(conformance: ConformanceStore, types: [String]) {
        var found: [String: Set<String>] = [:]
        for type in types {
            var names = Set<String>()
            for e in conformance.baseDefinition(type: type)?["snapshot"]?["element"]?.array ?? [] {
                guard let path = e["path"]?.string, path.hasPrefix(type + "."), e["isModifier"]?.bool == true, (e["min"]?.int ?? 0) >= 1
                else { continue }
                let name = path.dropFirst(type.count + 1)
                if !name.contains(".") { names.insert(String(name)) }
            }
            found[type] = names
        }
        self.init(mandatoryModifiers: found)
    }

    /// The element names of `_elements` (comma-separated, each a top-level element name of `type`), or a 400.
    func parse(_ value: String, type: String) throws(FHIRError) -> Set<String> {
        var names = Set<String>()
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            let name = String(part)
            // `Type.name` is tolerated, as some clients send it.
            var bare = name.hasPrefix(type + ".") ? String(name.dropFirst(type.count + 1)) : name
            if bare.hasSuffix("[x]") { bare.removeLast(3) }
            guard !bare.isEmpty, bare.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }), let t = ModelInfo.r4.type(named: type),
                  ModelInfo.r4.resolve(t, name: bare) != nil || ModelInfo.r4.elements(of: t).contains(where: { ModelInfo.r4[element: $0].name == bare })
            else {
                throw FHIRError(status: 400, code: .value, rule: "SEARCH-ELEMENTS",
                                "_elements : '\(name)' n'est pas un élément de premier niveau de \(type)")
            }
            names.insert(bare)
        }
        return names
    }

    /// The subset of one resource.
    func apply(_ tree: ElementTree, keeping names: Set<String>) -> ElementTree {
        guard let type = tree.typeName(tree.root) else { return tree }
        let keep = names.union(mandatoryModifiers[type] ?? []).union(["id"])
        var b = ElementTreeBuilder(resourceType: type)
        var wroteMeta = false
        func writeMeta(from meta: ElementTree.NodeID?) {
            b.begin("meta")
            var tagged = false
            if let meta {
                for c in tree.children(meta) {
                    if tree.nameIs(c, "tag"), tree.childValue(c, "system") == Self.subsettedSystem, tree.childValue(c, "code") == "SUBSETTED" {
                        tagged = true
                    }
                    b.copy(tree.name(c), from: tree, node: c)
                }
            }
            if !tagged {
                b.begin("tag"); b.primitive("system", Self.subsettedSystem); b.primitive("code", "SUBSETTED"); b.primitive("display", "subsetted"); b.end()
            }
            b.end()
            wroteMeta = true
        }
        for c in tree.children(tree.root) {
            let name = tree.name(c)
            if name == "meta" { writeMeta(from: c); continue }
            // `meta` comes right after `id` in every resource: write it before anything else that follows.
            if !wroteMeta && name != "id" { writeMeta(from: nil) }
            if keep.contains(name) || keep.contains(elementName(tree, c)) { b.copy(name, from: tree, node: c) }
        }
        if !wroteMeta { writeMeta(from: nil) }
        return b.build()
    }

    /// `value` for a `valueQuantity` member (choice elements are listed without `[x]`), the member name otherwise.
    private func elementName(_ tree: ElementTree, _ node: ElementTree.NodeID) -> String {
        let e = tree[node].element
        guard e >= 0, tree.model[element: e].isChoice else { return tree.name(node) }
        return tree.model[element: e].name
    }

}
