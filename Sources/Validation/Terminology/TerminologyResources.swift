import FHIRModels

/// Reading CodeSystem resources (FHIR JSON, as `JSONValue`) into the store's model.
enum TerminologyResources {
    /// Concept properties that carry no validation meaning and are dropped.
    private static let droppedProperties: Set<String> = ["dateValid", "dateMaj", "dateCreation", "comments", "definition"]

    /// The CodeSystem as kept by the store, or nil for supplements and resources without a URL.
    static func codeSystem(_ r: JSONValue, source: String) -> TerminologyCodeSystem? {
        guard r["resourceType"]?.string == "CodeSystem", let url = r["url"]?.string else { return nil }
        let content = r["content"]?.string ?? "complete"
        if content == "supplement" { return nil }
        var list: [TerminologyConcept] = []
        var childLinks: [(parent: String, child: String)] = []
        collect(r["concept"]?.array ?? [], parent: nil, into: &list, childLinks: &childLinks)
        if !childLinks.isEmpty {
            var at: [String: Int] = [:]
            for (i, c) in list.enumerated() where at[c.code] == nil { at[c.code] = i }
            for link in childLinks {
                if let i = at[link.child], !list[i].parents.contains(link.parent) { list[i].parents.append(link.parent) }
            }
        }
        return TerminologyCodeSystem(url: url, version: r["version"]?.string, name: r["name"]?.string,
                                     date: datePart(r["date"]?.string), content: content,
                                     caseSensitive: r["caseSensitive"]?.bool, source: source, concepts: list)
    }

    private static func collect(_ concepts: [JSONValue], parent: String?, into list: inout [TerminologyConcept],
                                childLinks: inout [(parent: String, child: String)]) {
        for c in concepts {
            guard let code = c["code"]?.string else { continue }
            var concept = TerminologyConcept(code: code, display: c["display"]?.string)
            if let parent { concept.parents.append(parent) }
            concept.designations = designationValues(c["designation"], excluding: concept.display)
            for p in c["property"]?.array ?? [] {
                guard let pc = p["code"]?.string, let value = propertyValue(p) else { continue }
                switch pc {
                case "status": concept.status = value
                case "inactive": if value == "true", concept.status == nil { concept.status = "inactive" }
                case "dateFin", "deprecationDate", "retirementDate", "deprecated":
                    if let d = datePart(value), concept.endDate.map({ d < $0 }) ?? true { concept.endDate = d }
                case "parent", "subsumedBy": if !concept.parents.contains(value) { concept.parents.append(value) }
                case "child": childLinks.append((code, value))
                case "notSelectable", "abstract": concept.abstract = value == "true"
                default:
                    if !droppedProperties.contains(pc) { concept.properties.append(.init(code: pc, value: value)) }
                }
            }
            list.append(concept)
            collect(c["concept"]?.array ?? [], parent: code, into: &list, childLinks: &childLinks)
        }
    }

    /// Designation values, without duplicates of the display and without the OID pseudo-designations
    /// of the 2023 NOS builds (`use.code = OID`).
    static func designationValues(_ d: JSONValue?, excluding display: String?) -> [String] {
        var out: [String] = []
        for x in d?.array ?? [] {
            if x["use"]?["code"]?.string == "OID" { continue }
            guard let v = x["value"]?.string, v != display, !out.contains(v) else { continue }
            out.append(v)
        }
        return out
    }

    /// A property's value as text (`valueCode`, `valueString`, `valueBoolean`, `valueCoding.code`…).
    static func propertyValue(_ p: JSONValue) -> String? {
        guard let members = p.members else { return nil }
        for (k, v) in members where k.hasPrefix("value") {
            switch v {
            case .string(let s): return s
            case .number(let n): return n
            case .bool(let b): return b ? "true" : "false"
            case .object: return v["code"]?.string
            default: return nil
            }
        }
        return nil
    }

    /// Codes and labels of a published `expansion.contains` tree.
    static func expansionCodes(_ contains: [JSONValue], into m: inout [String: SystemMembership]) {
        for c in contains {
            if let system = c["system"]?.string, let code = c["code"]?.string, c["abstract"]?.bool != true {
                var labels: [String] = []
                if let d = c["display"]?.string { labels.append(d) }
                labels += designationValues(c["designation"], excluding: c["display"]?.string)
                m[system, default: SystemMembership()].codes[code, default: []].append(contentsOf: labels)
            }
            expansionCodes(c["contains"]?.array ?? [], into: &m)
        }
    }
}
