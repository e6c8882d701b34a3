import Foundation
import FHIRModels

extension Walker {
    // MARK: value rules of a profile (minLength, minValue/maxValue, mustHaveValue, valueAlternatives)

    mutating func checkValueRules(_ node: Int32, _ n: ElementTree.Node, _ rule: ElementRule, _ plan: ValidationPlan) {
        let source = "\(plan.versionedURL)#\(rule.id)"
        let hasValue = n.valueLength > 0
        if rule.minLength > 0, hasValue {
            let length = tree.bytes.withBytes(n.valueStart, n.valueLength) { b in b.reduce(0) { $0 + (($1 & 0xC0) != 0x80 ? 1 : 0) } }
            if length < Int(rule.minLength) {
                report(.error, .invalid, node, "Value '\(tree.value(node) ?? "")' is shorter than permitted minimum length of \(rule.minLength) (\(source))")
            }
        }
        if let bound = rule.minValue, let order = compare(node, n, bound), order < 0 {
            report(.error, .value, node, "The value \(describeValue(node)) is less than the minimum value \(bound) allowed by \(source)")
        }
        if let bound = rule.maxValue, let order = compare(node, n, bound), order > 0 {
            report(.error, .value, node, "The value \(describeValue(node)) is greater than the maximum value \(bound) allowed by \(source)")
        }
        // Only primitive elements have a value to require.
        guard n.type >= 0, model.kind(n.type) == .primitive, !hasValue else { return }
        if rule.mustHaveValue {
            report(.error, .required, node, "The element definition \(rule.id) in the profile \(plan.versionedURL) requires that a value be present in this element")
        } else if !rule.valueAlternatives.isEmpty {
            let present = tree.children(node, "extension").contains { e in
                tree.childValue(e, "url").map { rule.valueAlternatives.contains($0) } ?? false
            }
            if !present {
                report(.error, .required, node, "The element definition \(rule.id) in the profile \(plan.versionedURL) requires that if a value is not present, one of the extensions \(rule.valueAlternatives.joined(separator: ", ")) must be present")
            }
        }
    }

    func describeValue(_ node: Int32) -> String {
        if let v = tree.value(node) { return "'\(v)'" }
        let value = tree.childValue(node, "value") ?? "?"
        return "'\(value)\(tree.childValue(node, "code").map { " " + $0 } ?? "")'"
    }

    /// Order of the node's value relative to a bound (-1, 0, 1); nil when they cannot be compared (wrong
    /// format, already reported; a quantity in another unit; dates equal up to the coarser precision).
    func compare(_ node: Int32, _ n: ElementTree.Node, _ bound: ValueBound) -> Int? {
        switch bound {
        case .number(let b, _):
            guard n.valueLength > 0, let text = tree.value(node), let d = FHIRPathValue.parseDecimal(text) else { return nil }
            return d < b ? -1 : d > b ? 1 : 0
        case .dateTime(let b, _):
            guard n.valueLength > 0, let text = tree.value(node), let d = FHIRPathDateTime.parseDateTime(text) else { return nil }
            return FHIRPathDateTime.compare(d, b)
        case .time(let b, _):
            guard n.valueLength > 0, let text = tree.value(node), let t = FHIRPathDateTime.parseTime(text) else { return nil }
            return FHIRPathDateTime.compare(t, b)
        case .quantity(let b, let system, let code, _):
            guard let text = tree.childValue(node, "value"), let d = FHIRPathValue.parseDecimal(text),
                  tree.childValue(node, "code") == code, system == nil || tree.childValue(node, "system") == system else { return nil }
            return d < b ? -1 : d > b ? 1 : 0
        }
    }

    // MARK: narrative language sections (narrative-language-control)

    /// `rule.languageControl` on a Narrative (or its div): `_no` forbids language sections, `_yes` requires
    /// some, `_resource` requires one for the resource's language, any other code one for that language.
    mutating func checkLanguageControl(_ node: Int32, _ rule: ElementRule, _ plan: ValidationPlan) {
        let div = tree[node].type == v.ids.narrative ? tree.child(node, "div") : node
        guard let div, tree[div].valueLength > 0 else { return }
        let d = tree[div]
        let result = tree.bytes.withBytes(d.valueStart, d.valueLength) { XHTMLChecker.analyse($0) }
        let sections = result.languageSections.sorted()
        let listed = sections.joined(separator: ", ")
        for control in rule.languageControl {
            switch control {
            case "_no":
                if !sections.isEmpty {
                    report(.error, .businessRule, node, "The xhtml has some language sections (\(listed)), but language sections are prohibited in this context by the profile \(plan.versionedURL)")
                }
            case "_yes":
                if sections.isEmpty {
                    report(.error, .businessRule, node, "The xhtml has no language sections, but language sections are required in this context by the profile \(plan.versionedURL)")
                }
            default:
                let language = control == "_resource" ? tree.childValue(tree.resource(containing: node), "language") : control
                guard let language, !sections.contains(language) else { continue }
                report(.error, .businessRule, node, "The xhtml has no language section for '\(language)' (sections: \(sections.isEmpty ? "none" : listed)), but one is required in this context by the profile \(plan.versionedURL)")
            }
        }
    }
}
