import FHIRModels

extension Walker {
    // MARK: node checks (core pass, once per node)

    mutating func checkNode(_ node: Int32, _ n: ElementTree.Node) {
        guard n.type >= 0 else { return }
        var kind = v.kinds[Int(n.type)]
        // Resource ids are typed string in the R4 definitions but must be valid ids.
        if kind == .string && n.parent >= 0 && tree.isResource(n.parent) && tree.nameIs(node, "id") { kind = .id }
        if kind != .none, n.valueLength > 0 {
            if kind == .xhtml {
                if v.options.checkXHTML {
                    let result = tree.bytes.withBytes(n.valueStart, n.valueLength) { XHTMLChecker.analyse($0) }
                    for p in result.problems { report(.error, .invalid, node, p) }
                    // txt-1 and txt-2 are both `htmlChecks()` in R4; decided here by the checker. As the Java
                    // validator (and the R4 publication, whose examples include empty divs), only txt-1 is
                    // enforced: txt-2 (non-whitespace content) is not reported.
                    if !result.internalLinks.isEmpty { checkNarrativeLinks(node, result) }
                    if !result.languageSections.isEmpty && result.contentOutsideSections {
                        report(.warning, .businessRule, node, "The xhtml has some language sections (\(result.languageSections.sorted().joined(separator: ", "))), and also has content that is not in a language section")
                    }
                    if result.illegal {
                        report(.error, .invariant, node, "Constraint failed: txt-1: 'The narrative SHALL contain only the basic html formatting elements and attributes described in chapters 7-11 (except section 4 of chapter 9) and 15 of the HTML 4.0 standard, <a> elements (either name or href), images and internally contained style attributes'", rule: "txt-1")
                    }
                }
            } else if let problem = tree.bytes.withBytes(n.valueStart, n.valueLength, { PrimitiveFormats.check(kind, $0) }) {
                if kind == .base64Binary && problem.severity == .error && n.parent >= 0 && tree[n.parent].type == v.ids.attachment {
                    // Attachment content is checked as the attachment's, as the Java validator does.
                    report(.error, .invalid, n.parent, "The base64 content in the data element is not valid base64 (\(problem.message))")
                } else {
                    report(problem.severity, .invalid, node, problem.message)
                }
            }
            if kind == .string || kind == .markdown,
               tree.bytes.withBytes(n.valueStart, n.valueLength, { PrimitiveFormats.looksLikeHTML($0) }) {
                report(v.options.securityChecks ? .error : .information, .invalid, node,
                       "The string value contains text that looks like embedded HTML tags, which are not allowed for security reasons in this context")
            }
            if !v.options.allowExampleURLs, kind == .uri || kind == .url || kind == .canonical || (kind == .string && tree.nameIs(node, "reference")),
               tree.bytes.withBytes(n.valueStart, n.valueLength, { PrimitiveFormats.isExampleURL($0) }) {
                report(.error, .invalid, node, "Example URLs are not allowed in this context (\(tree.value(node) ?? ""))")
            }
        }
        let isResource = n.flags.contains(.resource)
        // An empty value (`value=""`, `""`) is no value: the reader reported it, and ele-1 applies as well.
        let emptyValue = n.valueLength == 0
        if !isResource && (!n.hasValue || emptyValue) && (emptyValue || !reported.contains(node)) {
            // ele-1: a value or children other than id.
            var ok = false
            var c = node + 1
            while c < n.end {
                if !tree.nameIs(c, "id") { ok = true; break }
                c = tree[c].end
            }
            if !ok { report(.error, .invariant, node, "Constraint failed: ele-1: 'All FHIR elements must have a @value or children'", rule: "ele-1") }
        }
        if n.type == v.ids.extensionType {
            checkExtension(node, n)
        } else if n.type == v.ids.reference {
            checkReferenceFormat(node)
        }
    }

    /// Internal hyperlinks of a narrative (`<a href="#x">`) must reach an anchor (`id` or `name`) of a
    /// narrative of the same resource (contained resources included) or a contained resource.
    mutating func checkNarrativeLinks(_ div: Int32, _ result: XHTMLChecker.Result) {
        var scope = tree.resource(containing: div)
        if scope > 0, tree.nameIs(scope, "contained"), tree[scope].parent >= 0 { scope = tree.resource(containing: tree[scope].parent) }
        var targets = Set(result.anchors)
        let xhtmlType = model.type(named: "xhtml") ?? -1
        var i = scope + 1
        while i < tree[scope].end {
            let n = tree[i]
            if n.type == xhtmlType && i != div && n.valueLength > 0 {
                targets.formUnion(tree.bytes.withBytes(n.valueStart, n.valueLength) { XHTMLChecker.analyse($0) }.anchors)
            } else if n.flags.contains(.resource) && tree.nameIs(i, "contained"), let id = tree.childValue(i, "id") {
                targets.insert(id)
            }
            i += 1
        }
        for link in result.internalLinks where !targets.contains(link) {
            report(.error, .value, div, "Hyperlink '#\(link)' in the narrative does not resolve: no element of the narrative has this id or name, and no contained resource has this id")
        }
    }

    // MARK: extensions

    mutating func checkExtension(_ node: Int32, _ n: ElementTree.Node) {
        var hasValue = false, hasExtension = false
        var urlNode: Int32 = -1
        var c = node + 1
        while c < n.end {
            let cn = tree[c]
            if cn.element >= 0 {
                let e = model[element: cn.element]
                if e.isChoice && e.name == "value" { hasValue = true }
                else if e.name == "extension" { hasExtension = true }
                else if e.name == "url" { urlNode = c }
            }
            c = cn.end
        }
        if hasValue && hasExtension {
            report(.error, .invariant, node, "Constraint failed: ext-1: 'Must have either extensions or value[x], not both'", rule: "ext-1")
        }
        let host = n.parent
        let isModifier = tree.nameIs(node, "modifierExtension")
        guard urlNode >= 0, let url = tree.value(urlNode), !url.isEmpty else {
            report(.error, .invalid, node, "Extension.url is required in order to identify, use and validate the extension")
            return
        }
        if containsASCIIFast(url, "|", fallback: { url.contains("|") }) {
            reportOnExtension(node, url: url, "The extension URL must not contain a version ('\(url)')")
        }
        // Relative urls name the parts of a complex extension: they must be defined by it.
        if !containsASCIIFast(url, ":", fallback: { url.contains(":") }) {
            if host >= 0 && tree[host].type == v.ids.extensionType {
                if let hostURL = tree.childValue(host, "url"), let hp = v.plan(for: hostURL), hp.typeName == "Extension",
                   !hp.definesSubExtension(url) {
                    reportOnExtension(node, url: url, "Sub-extension url '\(url)' is not defined by the Extension \(hp.versionedURL)")
                }
                return
            }
            report(.error, .structure, node, "Extension.url must be an absolute URL ('\(url)')")
            return
        }
        guard let plan = v.plan(for: url) else {
            if isModifier || url.hasPrefix("http://hl7.org/fhir/StructureDefinition/") {
                report(.error, .structure, node, "The extension \(url) could not be found so is not allowed here")
            } else {
                report(.warning, .structure, node, "The extension \(url) is unknown: its definition could not be found, so its content is not checked")
            }
            return
        }
        guard plan.typeName == "Extension" else {
            report(.error, .structure, node, "The url \(url) names a \(plan.typeName) definition, not an extension")
            return
        }
        if host >= 0 {
            let problem: String?
            let h = tree[host]
            // Cached only where the element id fixes the full path (resource and backbone elements).
            let cacheable = h.type != v.ids.extensionType && plan.contextInvariants.isEmpty
                && !plan.contexts.contains { $0.kind == .fhirpath }
                && (h.flags.contains(.resource) || (h.element >= 0 && [.resource, .backbone].contains(model.kind(model[element: h.element].owner))))
            if !cacheable {
                problem = contextProblem(plan, host: host, url: url)
            } else {
                let key = ContextKey(plan: ObjectIdentifier(plan), element: tree[host].element, type: tree[host].type,
                                     resourceType: tree[tree.resource(containing: host)].type)
                if let cached = contextDecisions[key] { problem = cached } else {
                    problem = contextProblem(plan, host: host, url: url)
                    contextDecisions[key] = problem
                }
            }
            // Reported on the element holding the extension, as the Java validator does.
            if let problem { report(.error, .structure, host, problem) }
        }
        if plan.isModifierExtension && !isModifier {
            report(.error, .structure, node, "The extension \(url) is a modifier extension: it must be used in modifierExtension, not extension")
        } else if !plan.isModifierExtension && isModifier {
            report(.error, .structure, node, "The extension \(url) is not a modifier extension: it cannot be used in modifierExtension")
        }
        walk(node, plan, 0, core: false)
    }

    /// An issue about the url of an extension, on the extension named by its url as the Java validator
    /// writes it (`Patient.extension[1][url='http://…']`).
    mutating func reportOnExtension(_ node: Int32, url: String, _ message: String) {
        issues.append(OutcomeIssue(severity: .error, code: .structure, message: message, expression: expression(node) + "[url='\(url)']",
                                   location: tree[node].location))
    }

    /// Names under which the element holding an extension can be designated by an extension context.
    func contextCandidates(_ host: Int32) -> [String] {
        let h = tree[host]
        var out: [String] = ["Element"]
        var t = h.type
        while t >= 0 {
            let ti = model[type: t]
            out.append(ti.name)
            if ti.kind == .backbone { out.append("BackboneElement") }
            t = ti.base
        }
        if h.element >= 0 {
            let e = model[element: h.element]
            let owner = model[type: e.owner].name
            out.append(owner + "." + e.name)
            if e.isChoice { out.append(owner + "." + e.name + "[x]") }
            // Full path from the enclosing resource (`Patient.name.given`).
            var names: [String] = []
            var cur = host
            while cur >= 0 && !tree.isResource(cur) {
                let ce = tree[cur].element
                names.append(ce >= 0 ? model[element: ce].name : tree.name(cur))
                cur = tree[cur].parent
            }
            if cur >= 0, let rt = tree.typeName(cur) {
                let full = ([rt] + names.reversed()).joined(separator: ".")
                out.append(full)
                if e.isChoice { out.append(full + "[x]") }
            }
        }
        return out
    }

    func contextProblem(_ plan: ValidationPlan, host: Int32, url: String) -> String? {
        for (text, expression) in plan.contextInvariants {
            // An invariant that does not parse or evaluate is not held against the instance.
            if let expression, (try? expression.isTrue(tree, node: host)) == false {
                return "The extension \(url) is not allowed to be used at this point (based on context invariant '\(text)')"
            }
        }
        guard !plan.contexts.isEmpty else { return nil }
        var candidates: [String]?
        for c in plan.contexts {
            switch c.kind {
            case .fhirpath:
                // The expression selects, from the resource holding the element, the elements where the
                // extension may be used; one that cannot be evaluated allows any place.
                guard let compiled = c.compiled,
                      let selected = try? compiled.evaluate(tree, node: tree.resource(containing: host)) else { return nil }
                if selected.contains(.node(host)) { return nil }
            case .extension:
                if tree[host].type == v.ids.extensionType, tree.childValue(host, "url") == c.expression { return nil }
            case .element:
                if candidates == nil { candidates = contextCandidates(host) }
                if candidates!.contains(c.expression) { return nil }
            }
        }
        let allowed = plan.contexts.map { "\($0.kind == .element ? "e" : $0.kind == .extension ? "x" : "f"):\($0.expression)" }.joined(separator: ", ")
        let here = contextCandidates(host)
        return "The extension \(url) is not allowed to be used at this point (allowed = \(allowed); this element is [\(here.count > 1 ? here[here.count - 1] : here[0]), \(tree.typeName(host) ?? "?")])"
    }

    // MARK: references

    mutating func checkReferenceFormat(_ node: Int32) {
        guard let refNode = tree.child(node, "reference"), let ref = tree.value(refNode) else { return }
        if ref.hasPrefix("#") {
            if resolveContained(node, String(ref.dropFirst())) == nil {
                report(.error, .structure, node, "Unable to resolve resource with reference '\(ref)'")
            }
            return
        }
        if ref.hasPrefix("urn:uuid:") || ref.hasPrefix("urn:oid:") {
            var r = ref
            let problem = r.withUTF8 { PrimitiveFormats.check(.uri, $0) }
            if let p = problem { report(.error, .invalid, refNode, p.message) }
            return
        }
        if containsASCIIFast(ref, ":", fallback: { ref.contains(":") }) { return }
        // Relative: Type/id, Type/id/_history/vid, or a conditional reference Type?query.
        if let q = ref.firstIndex(ofASCII: UInt8(ascii: "?")) {
            let type = String(ref[..<q])
            if !type.isEmpty && !isResourceType(type) {
                report(.error, .invalid, refNode, "The reference '\(ref)' is not valid: '\(type)' is not a resource type")
            }
            return
        }
        let parts = ref.split(ascii: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        let idOK: (Substring) -> Bool = { s in
            if let ok = s.utf8.withContiguousStorageIfAvailable({ PrimitiveFormats.check(.id, $0) == nil }) { return ok }
            var x = String(s)
            return x.withUTF8 { PrimitiveFormats.check(.id, $0) == nil }
        }
        let valid = (parts.count == 2 || (parts.count == 4 && parts[2] == "_history" && idOK(parts[3])))
            && isResourceType(String(parts[0])) && idOK(parts[1])
        // Longer relative paths (`base/Patient/1`) are allowed when they end with Type/id.
        let longValid = parts.count > 2 && parts[parts.count - 2] != "_history" && isResourceType(String(parts[parts.count - 2])) && idOK(parts[parts.count - 1])
        if !valid && !longValid {
            report(.error, .invalid, refNode, "The reference '\(ref)' is not valid: expected [ResourceType]/[id], an absolute URL, urn:uuid:, urn:oid: or #[contained id]")
            return
        }
        // A reference resolved inside the Bundle must point to a resource of the type it names.
        if let target = resolveInBundle(node, ref), let targetType = tree.typeName(target) {
            let named = valid ? parts[0] : parts[parts.count - 2]
            if targetType != named {
                report(.error, .structure, node, "Matching reference for reference \(ref) has resourceType \(targetType)")
            }
        }
        // Resources passed together in a Parameters refer to each other: the target must be there.
        if let parameters = enclosingParameters(node), parts.count == 2 {
            var found = false
            for p in tree.children(parameters, "parameter") {
                guard let r = tree.child(p, "resource") else { continue }
                if tree.typeName(r) == String(parts[0]) && tree.childValue(r, "id") == String(parts[1]) { found = true; break }
            }
            if !found { report(.error, .structure, node, "Unable to resolve resource with reference '\(ref)'") }
        }
    }

    /// The Parameters resource whose `parameter.resource` holds `node`, if any.
    func enclosingParameters(_ node: Int32) -> Int32? {
        var cur = tree.resource(containing: node)
        while cur > 0 {
            let p = tree[cur].parent
            guard p >= 0 else { return nil }
            let container = tree.resource(containing: p)
            if tree.typeName(container) == "Parameters" && tree.nameIs(cur, "resource") { return container }
            cur = container
        }
        return nil
    }

    func isResourceType(_ name: String) -> Bool {
        guard let t = model.type(named: name) else { return false }
        return model[type: t].kind == .resource && !model[type: t].isAbstract
    }

    /// The contained resource `#id` refers to from `node` (or the container for `#`).
    func resolveContained(_ node: Int32, _ id: String) -> Int32? {
        var res = tree.resource(containing: node)
        if res > 0, tree.nameIs(res, "contained") { res = tree.resource(containing: tree[res].parent) }
        if id.isEmpty { return res }
        for c in tree.children(res) where tree.nameIs(c, "contained") && tree.isResource(c) {
            if tree.childValue(c, "id") == id { return c }
        }
        return nil
    }

    /// The resource a Reference node points to inside the tree (a contained resource, or a Bundle entry).
    mutating func resolveReference(_ node: Int32) -> Int32? {
        guard let ref = tree.childValue(node, "reference") else { return nil }
        if ref.hasPrefix("#") { return resolveContained(node, String(ref.dropFirst())) }
        return resolveInBundle(node, ref)
    }

    /// The resource type a Reference points to: from the resolved target (contained or Bundle entry),
    /// else from the reference text, else from `Reference.type`.
    mutating func referencedType(_ node: Int32) -> (type: String, ref: String, resolved: Bool)? {
        let ref = tree.childValue(node, "reference")
        if let ref {
            if ref.hasPrefix("#") {
                if let t = resolveContained(node, String(ref.dropFirst())), let tn = tree.typeName(t) { return (tn, ref, true) }
                return nil
            }
            if let target = resolveInBundle(node, ref), let tn = tree.typeName(target) { return (tn, ref, true) }
            if !ref.hasPrefix("urn:") {
                var parts = ref.split(ascii: UInt8(ascii: "?"))[0].split(ascii: UInt8(ascii: "/")).map(String.init)
                if parts.count >= 4 && parts[parts.count - 2] == "_history" { parts.removeLast(2) }
                if containsASCIIFast(ref, "?", fallback: { ref.contains("?") }) && !containsASCIIFast(ref, "/", fallback: { ref.contains("/") }) { return isResourceType(parts.first ?? "") ? (parts[0], ref, false) : nil }
                if parts.count >= 2, isResourceType(parts[parts.count - 2]) { return (parts[parts.count - 2], ref, false) }
            }
        }
        if let t = tree.childValue(node, "type"), isResourceType(t) { return (t, ref ?? "(type \(t))", false) }
        return nil
    }

    mutating func checkReferenceTarget(_ node: Int32, _ rule: ElementRule) {
        guard let allowed = v.allowedTargetTypes(rule) else { return }
        guard let (type, ref, resolved) = referencedType(node) else { return }
        if !resolved && !v.options.checkUnresolvedReferenceTypes { return }
        if !allowed.contains(type) {
            report(.error, .structure, node, "The type '\(type)' implied by the reference \(ref) is not a valid target for this element (must be one of [\(allowed.joined(separator: ", "))])")
        } else if resolved {
            checkTargetProfiles(node, ref: ref, rule)
        }
    }

    /// A reference resolved inside the resource or its Bundle must conform to one of the element's target
    /// profiles for its type (a core definition among them suffices).
    mutating func checkTargetProfiles(_ node: Int32, ref: String, _ rule: ElementRule) {
        guard let target = resolveReference(node), tree[target].type >= 0 else { return }
        let targetType = tree[target].type
        var candidates: [(url: String, plan: ValidationPlan)] = []
        for t in rule.types where t.code == "Reference" {
            for p in t.targetProfiles {
                guard let plan = v.plan(for: p), plan.modelType >= 0, model.isA(targetType, plan.modelType) else { continue }
                if plan.isBase { return }
                candidates.append((p, plan))
            }
        }
        guard !candidates.isEmpty else { return }
        var failures: [(url: String, errors: [OutcomeIssue])] = []
        for (url, plan) in candidates {
            let key = TargetCheck(target: target, plan: ObjectIdentifier(plan))
            if let known = targetChecks[key] {
                if known { return }
                failures.append((url, []))
                continue
            }
            targetChecks[key] = true
            var trial = self
            trial.issues = []
            trial.walk(target, plan, 0, core: false)
            targetChecks = trial.targetChecks
            let matched = trial.errorCount == 0
            targetChecks[key] = matched
            if matched { return }
            failures.append((url, trial.issues.filter(\.isError)))
        }
        report(.error, .structure, node, "Unable to find a profile match for \(ref) among choices: \(candidates.map(\.url).joined(separator: ", "))")
        for (url, errors) in failures {
            for e in errors {
                issues.append(OutcomeIssue(severity: .information, code: .structure, message: "Details for \(ref) matching against profile \(url): \(e.message) (at \(e.expression ?? "-"))",
                                           expression: expression(node), location: tree[node].location))
            }
        }
    }

    // MARK: Bundle

    /// The bundle entry resource holding `node`, with the bundle (nearest one).
    func enclosingEntry(_ node: Int32) -> (bundle: Int32, resource: Int32)? {
        var cur = tree.resource(containing: node)
        while cur > 0 {
            let p = tree[cur].parent
            if p >= 0 && tree[p].type == v.ids.bundleEntry {
                return (tree[p].parent, cur)
            }
            cur = tree.resource(containing: tree[cur].parent)
        }
        return nil
    }

    mutating func bundleIndex(_ bundle: Int32) -> BundleIndex {
        if let b = bundleIndexes[bundle] { return b }
        var idx = BundleIndex()
        for e in tree.children(bundle, "entry") {
            guard let r = tree.child(e, "resource"), tree.isResource(r) else { continue }
            if let f = tree.childValue(e, "fullUrl") { idx.byFullURL[f] = r }
            if let t = tree.typeName(r), let id = tree.childValue(r, "id") { idx.byTypeAndID[t + "/" + id, default: []].append(r) }
        }
        bundleIndexes[bundle] = idx
        return idx
    }

    mutating func resolveInBundle(_ node: Int32, _ ref: String) -> Int32? {
        guard let (bundle, resource) = enclosingEntry(node) else { return nil }
        let idx = bundleIndex(bundle)
        if let r = idx.byFullURL[ref] { return r }
        if containsASCIIFast(ref, ":", fallback: { ref.contains(":") }) { return nil }
        // Relative: against the base of the referring entry's fullUrl, else by type and id.
        if let entry = Optional(tree[resource].parent), let full = tree.childValue(entry, "fullUrl") {
            if full.hasPrefix("urn:uuid:") {
                // The base of a `urn:uuid:` identity is `urn:uuid:`: `Type/id` stands for `urn:uuid:id`.
                let parts = ref.split(ascii: UInt8(ascii: "/"))
                if parts.count == 2, let r = idx.byFullURL["urn:uuid:" + parts[1]] { return r }
            } else if !full.hasPrefix("urn:") {
                let parts = full.split(ascii: UInt8(ascii: "/"), omittingEmptySubsequences: false)
                if parts.count > 2 {
                    let base = parts.dropLast(2).joined(separator: "/")
                    if let r = idx.byFullURL[base + "/" + ref] { return r }
                }
            }
        }
        let key = ref.split(ascii: UInt8(ascii: "/")).prefix(2).joined(separator: "/")
        if let list = idx.byTypeAndID[key], list.count == 1 { return list[0] }
        return nil
    }

    mutating func checkBundle(_ b: Int32) {
        let type = tree.childValue(b, "type") ?? ""
        let entries = tree.children(b, "entry")
        func list(_ idx: [Int]) -> String { idx.map { "entry[\($0)]" }.joined(separator: ", ") }
        let isSearchOrHistory = type == "searchset" || type == "history"
        if tree.child(b, "total") != nil && !isSearchOrHistory {
            report(.error, .invariant, b, "Constraint failed: bdl-1: 'total only when a search or history' (this bundle is a \(type))", rule: "bdl-1")
        }
        var withSearch: [Int] = [], noRequest: [Int] = [], request: [Int] = [], noResponse: [Int] = [], response: [Int] = [], noMode = 0
        var seen: [String: Int] = [:]
        let needsRequest = type == "batch" || type == "transaction" || type == "history"
        let needsResponse = type == "batch-response" || type == "transaction-response" || type == "history"
        for (i, e) in entries.enumerated() {
            let resource = tree.child(e, "resource")
            let hasRequest = tree.child(e, "request") != nil, hasResponse = tree.child(e, "response") != nil
            if let s = tree.child(e, "search") {
                withSearch.append(i)
                if tree.child(s, "mode") == nil { noMode += 1 }
            } else if type == "searchset" { noMode += 1 }
            if needsRequest && !hasRequest { noRequest.append(i) }
            if !needsRequest && hasRequest { request.append(i) }
            if needsResponse && !hasResponse { noResponse.append(i) }
            if !needsResponse && hasResponse { response.append(i) }
            if resource == nil && !hasRequest && !hasResponse {
                report(.error, .invariant, e, "Constraint failed: bdl-5: 'must be a resource unless there's a request or response'", rule: "bdl-5")
            }
            guard let full = tree.childValue(e, "fullUrl") else {
                // A resource's identity in the bundle (the Java validator's rule; transactions and batches
                // may create resources, their responses may carry none; a search outcome has no identity).
                let outcome = tree.child(e, "search").flatMap { tree.childValue($0, "mode") } == "outcome"
                if resource != nil && !outcome && !["transaction", "batch", "transaction-response", "batch-response"].contains(type) {
                    report(.error, .required, e, "Except for transactions and batches, each entry in a Bundle must have a fullUrl which is the identity of the resource in the entry")
                }
                continue
            }
            if containsASCIIFast(full, "/_history/", fallback: { full.contains("/_history/") }) {
                report(.error, .invariant, e, "Constraint failed: bdl-8: 'fullUrl cannot be a version specific reference'", rule: "bdl-8")
            }
            if let r = resource, tree.isResource(r) {
                let version = tree.child(r, "meta").flatMap { tree.childValue($0, "versionId") } ?? ""
                let key = full + "|" + version
                if let first = seen[key], type != "history" {
                    report(.error, .invariant, b, "Constraint failed: bdl-7: 'FullUrl must be unique in a bundle, or else entries with the same fullUrl must have different meta.versionId (except in history bundles)' (fullUrl '\(full)' in entry[\(first)] and entry[\(i)])", rule: "bdl-7")
                } else { seen[key] = i }
                checkFullURL(e, full: full, resource: r)
            }
        }
        if !withSearch.isEmpty && type != "searchset" {
            report(.error, .invariant, b, "Constraint failed: bdl-2: 'entry.search only when a search' (\(list(withSearch)))", rule: "bdl-2")
        }
        if !noRequest.isEmpty {
            report(.error, .invariant, b, "Constraint failed: bdl-3: 'entry.request mandatory for batch/transaction/history, otherwise prohibited' (missing in \(list(noRequest)) of this \(type))", rule: "bdl-3")
        }
        if !request.isEmpty {
            report(.error, .invariant, b, "Constraint failed: bdl-3: 'entry.request mandatory for batch/transaction/history, otherwise prohibited' (\(list(request)) of this \(type) have a request)", rule: "bdl-3")
        }
        if !noResponse.isEmpty {
            report(.error, .invariant, b, "Constraint failed: bdl-4: 'entry.response mandatory for batch-response/transaction-response/history, otherwise prohibited' (missing in \(list(noResponse)) of this \(type))", rule: "bdl-4")
        }
        if !response.isEmpty {
            report(.error, .invariant, b, "Constraint failed: bdl-4: 'entry.response mandatory for batch-response/transaction-response/history, otherwise prohibited' (\(list(response)) of this \(type) have a response)", rule: "bdl-4")
        }
        // Paging and self links: at most one of each relation.
        var relations: [String: Int] = [:]
        for (i, l) in tree.children(b, "link").enumerated() {
            guard let rel = tree.childValue(l, "relation") else { continue }
            if ["self", "first", "previous", "prev", "next", "last"].contains(rel), relations[rel] != nil {
                report(.error, .invalid, l, "The link relationship type '\(rel)' can only occur once")
            }
            relations[rel] = i
        }
        if type == "searchset" && noMode > 0 {
            report(.warning, .invalid, b, "SearchSet bundles should have search modes on the entries")
        }
        if type == "document" {
            let ident = tree.child(b, "identifier")
            if ident == nil || tree.child(ident!, "system") == nil || tree.child(ident!, "value") == nil {
                report(.error, .invariant, b, "Constraint failed: bdl-9: 'A document must have an identifier with a system and a value'", rule: "bdl-9")
            }
            if tree.child(b, "timestamp") == nil {
                report(.error, .invariant, b, "Constraint failed: bdl-10: 'A document must have a date'", rule: "bdl-10")
            }
            if entries.first.flatMap({ tree.child($0, "resource") }).flatMap({ tree.typeName($0) }) != "Composition" {
                report(.error, .invariant, b, "Constraint failed: bdl-11: 'A document must have a Composition as the first resource'", rule: "bdl-11")
            }
        }
        if type == "message" && entries.first.flatMap({ tree.child($0, "resource") }).flatMap({ tree.typeName($0) }) != "MessageHeader" {
            report(.error, .invariant, b, "Constraint failed: bdl-12: 'A message must have a MessageHeader as the first resource'", rule: "bdl-12")
        }
    }

    /// A RESTful fullUrl (`.../Type/id`) must agree with the resource's type and id.
    mutating func checkFullURL(_ entry: Int32, full: String, resource: Int32) {
        guard !full.hasPrefix("urn:"), containsASCIIFast(full, "://", fallback: { full.contains("://") }) else { return }
        var parts = full.split(ascii: UInt8(ascii: "/")).map(String.init)
        if parts.count >= 4 && parts[parts.count - 2] == "_history" { parts.removeLast(2) }
        guard parts.count >= 2, isResourceType(parts[parts.count - 2]) else { return }
        let type = parts[parts.count - 2], id = parts[parts.count - 1]
        guard let rid = tree.childValue(resource, "id") else {
            report(.error, .invalid, entry, "The fullUrl '\(full)' looks like a RESTful server URL, but the resource has no id")
            return
        }
        if rid != id {
            report(.error, .invalid, entry, "Resource ID does not match the ID in the entry full URL ('\(rid)' vs '\(full)')")
        }
        if let rt = tree.typeName(resource), rt != type {
            report(.error, .invalid, entry, "The fullUrl '\(full)' names a \(type), but the resource is a \(rt)")
        }
    }

    // MARK: contained (dom-3)

    mutating func checkContainedReferenced(_ res: Int32) {
        var refs = Set<String>()
        var narrative = ""
        let xhtmlType = model.type(named: "xhtml") ?? -1
        let end = tree[res].end
        var i = res + 1
        while i < end {
            let n = tree[i]
            if n.hasValue && n.valueLength > 0, tree.bytes.withBytes(n.valueStart, 1, { $0[0] == 0x23 }),
               tree.nameIs(i, "reference") || n.type == v.ids.canonical || n.type == v.ids.uri || n.type == v.ids.url {
                refs.insert(tree.value(i)!)
            }
            // Narratives (resource or section text) may be what refers to a contained resource
            // (`<img src="#id">`, `<a href="#id">`), as the Java validator accepts.
            if n.hasValue && n.type == xhtmlType, let div = tree.value(i) { narrative += div }
            i += 1
        }
        var unreferenced: [String] = []
        for c in tree.children(res) where tree.nameIs(c, "contained") && tree.isResource(c) {
            guard let id = tree.childValue(c, "id") else { continue }
            if refs.contains("#" + id) { continue }
            if !narrative.isEmpty && (narrative.contains("\"#\(id)\"") || narrative.contains("'#\(id)'")) { continue }
            // A contained resource that refers to its container is fine.
            var refersBack = false
            var j = c + 1
            while j < tree[c].end {
                if tree.valueIs(j, "#") { refersBack = true; break }
                j += 1
            }
            if !refersBack { unreferenced.append(id) }
        }
        if !unreferenced.isEmpty {
            report(.error, .invariant, res, "Constraint failed: dom-3: 'If the resource is contained in another resource, it SHALL be referred to from elsewhere in the resource or SHALL refer to the containing resource' (not referenced: \(unreferenced.map { "#" + $0 }.joined(separator: ", ")))", rule: "dom-3")
        }
    }
}

struct BundleIndex {
    var byFullURL: [String: Int32] = [:]
    var byTypeAndID: [String: [Int32]] = [:]
}
