import Foundation
import FHIRModels

/// `ValueSet.compose.include.filter` evaluation over a code system the store holds.
/// Supported: on `concept`/`code`: `is-a`, `descendent-of`, `is-not-a`, `generalizes`, `=`, `in`,
/// `not-in`, `regex`; on other properties (`parent`, `child`, `status`, `notSelectable`, `display`
/// and any concept property kept by the store): `=`, `in`, `not-in`, `exists`, `regex`.
enum TerminologyFilters {
    struct Failure: Error { var message: String }

    static func apply(_ filters: [JSONValue], to cs: TerminologyCodeSystem) -> Result<Set<String>, Failure> {
        var current: Set<String>?
        var children: [String: [String]]?
        for f in filters {
            guard let property = f["property"]?.string, let op = f["op"]?.string, let value = f["value"]?.string else {
                return .failure(Failure(message: "incomplete filter in \(cs.label)"))
            }
            let codes: Set<String>
            switch (property, op) {
            case ("concept", "is-a"), ("code", "is-a"):
                if children == nil { children = cs.childrenMap() }
                codes = descendants(of: value, children: children!, includeSelf: true, cs: cs)
            case ("concept", "descendent-of"), ("code", "descendent-of"):
                if children == nil { children = cs.childrenMap() }
                codes = descendants(of: value, children: children!, includeSelf: false, cs: cs)
            case ("concept", "is-not-a"), ("code", "is-not-a"):
                if children == nil { children = cs.childrenMap() }
                let sub = descendants(of: value, children: children!, includeSelf: true, cs: cs)
                codes = Set(cs.concepts.map(\.code)).subtracting(sub)
            case ("concept", "generalizes"), ("code", "generalizes"):
                codes = ancestors(of: value, cs: cs)
            case ("concept", "="), ("code", "="):
                codes = cs[value] != nil ? [value] : []
            case ("concept", "in"), ("code", "in"):
                codes = Set(list(value).filter { cs[$0] != nil })
            case ("concept", "not-in"), ("code", "not-in"):
                codes = Set(cs.concepts.map(\.code)).subtracting(list(value))
            case ("concept", "regex"), ("code", "regex"):
                guard let re = regex(value) else { return .failure(Failure(message: "invalid regex '\(value)' in filter on \(cs.label)")) }
                codes = Set(cs.concepts.map(\.code).filter { matches(re, $0) })
            default:
                switch op {
                case "=":
                    codes = Set(cs.concepts.filter { values(property, of: $0, children: &children, cs: cs).contains(value) }.map(\.code))
                case "in":
                    let wanted = Set(list(value))
                    codes = Set(cs.concepts.filter { !wanted.isDisjoint(with: values(property, of: $0, children: &children, cs: cs)) }.map(\.code))
                case "not-in":
                    let wanted = Set(list(value))
                    codes = Set(cs.concepts.filter { wanted.isDisjoint(with: values(property, of: $0, children: &children, cs: cs)) }.map(\.code))
                case "exists":
                    let want = value == "true"
                    codes = Set(cs.concepts.filter { !values(property, of: $0, children: &children, cs: cs).isEmpty == want }.map(\.code))
                case "regex":
                    guard let re = regex(value) else { return .failure(Failure(message: "invalid regex '\(value)' in filter on \(cs.label)")) }
                    codes = Set(cs.concepts.filter { values(property, of: $0, children: &children, cs: cs).contains { matches(re, $0) } }.map(\.code))
                default:
                    return .failure(Failure(message: "filter '\(property) \(op) \(value)' on \(cs.label) is not supported offline"))
                }
            }
            current = current.map { $0.intersection(codes) } ?? codes
        }
        return .success(current ?? [])
    }

    private static func list(_ v: String) -> [String] {
        v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    private static func values(_ property: String, of c: TerminologyConcept, children: inout [String: [String]]?,
                               cs: TerminologyCodeSystem) -> [String] {
        switch property {
        case "parent": return c.parents
        case "child":
            if children == nil { children = cs.childrenMap() }
            return children?[c.code] ?? []
        case "status": return c.status.map { [$0] } ?? []
        case "notSelectable", "abstract": return c.abstract ? ["true"] : []
        case "display": return c.display.map { [$0] } ?? []
        default: return c.properties.filter { $0.code == property }.map(\.value)
        }
    }

    private static func descendants(of root: String, children: [String: [String]], includeSelf: Bool,
                                    cs: TerminologyCodeSystem) -> Set<String> {
        guard cs[root] != nil else { return [] }
        var seen: Set<String> = [root]
        var stack = [root]
        while let x = stack.popLast() {
            for c in children[x] ?? [] where !seen.contains(c) { seen.insert(c); stack.append(c) }
        }
        if !includeSelf { seen.remove(root) }
        return seen
    }

    private static func ancestors(of code: String, cs: TerminologyCodeSystem) -> Set<String> {
        guard cs[code] != nil else { return [] }
        var seen: Set<String> = [code]
        var stack = [code]
        while let x = stack.popLast() {
            for p in cs[x]?.parents ?? [] where !seen.contains(p) { seen.insert(p); stack.append(p) }
        }
        return seen
    }

    private static func regex(_ pattern: String) -> NSRegularExpression? {
        try? NSRegularExpression(pattern: "^(?:" + pattern + ")$")
    }

    private static func matches(_ re: NSRegularExpression, _ s: String) -> Bool {
        re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }
}
