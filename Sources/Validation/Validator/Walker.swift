import FHIRModels

/// One validation run over one tree: walks the nodes alongside the rules of one or more plans.
/// The core pass (`core: true`) checks everything that does not depend on a profile (formats, native
/// invariants, references, extensions, Bundle rules) once per node; profile passes only check rules.
struct Walker {
    let v: Validator
    let tree: ElementTree
    let model: ModelInfo
    var issues: [OutcomeIssue] = []
    /// Nodes the reader already reported (their emptiness is not reported again as ele-1).
    var reported: Set<Int32> = []
    /// Core plan per model type, loaded on first use. Unmanaged: the validator's plan cache keeps every
    /// plan alive as long as the validator (held by `v`), and an array of plain pointers is created and
    /// destroyed without touching reference counts (this is per document).
    var typePlans: [Unmanaged<ValidationPlan>?]
    var typePlanLoaded: [Bool]
    var bundleIndexes: [Int32: BundleIndex] = [:]
    /// Extension context decisions already made in this run (nil problem = allowed).
    var contextDecisions: [ContextKey: String?] = [:]
    /// Resolved reference targets checked against a target profile in this run: true while the check
    /// is in progress (circular references are assumed to conform) and when it matched.
    var targetChecks: [TargetCheck: Bool] = [:]

    struct TargetCheck: Hashable {
        let target: Int32
        let plan: ObjectIdentifier
    }

    struct ContextKey: Hashable {
        let plan: ObjectIdentifier
        let element: Int32
        let type: ModelInfo.TypeID
        let resourceType: ModelInfo.TypeID
    }

    init(validator: Validator, tree: ElementTree) {
        self.v = validator
        self.tree = tree
        self.model = tree.model
        self.typePlans = Array(repeating: nil, count: tree.model.types.count)
        self.typePlanLoaded = Array(repeating: false, count: tree.model.types.count)
    }

    // MARK: issues

    mutating func report(_ severity: IssueSeverity, _ code: IssueType, _ node: Int32, _ message: String, rule: String? = nil) {
        issues.append(OutcomeIssue(severity: severity, code: code, message: message, expression: expression(node),
                                   location: tree[node].location, rule: rule))
    }

    /// FHIRPath of a node in the Java validator's style (`Observation.value.ofType(Quantity)`,
    /// `Bundle.entry[2].resource.status`).
    func expression(_ id: Int32) -> String {
        var steps: [String] = []
        var cur = id
        while cur > 0 {
            var step = tree.pathStep(cur)
            if v.options.javaResourceComments && tree.isResource(cur) {
                step += "/*\(tree.typeName(cur) ?? "?")/\(tree.childValue(cur, "id") ?? "null")*/"
            }
            steps.append(step)
            cur = tree[cur].parent
        }
        steps.append(tree.typeName(0) ?? tree.name(0))
        return steps.reversed().joined(separator: ".")
    }

    mutating func importStructureIssues() {
        for i in tree.issues {
            let code: IssueType = switch i.code { case .structure: .structure; case .invalid: .invalid; case .required: .required; case .value: .value }
            var path = i.node >= 0 && Int(i.node) < tree.nodes.count ? expression(i.node) : nil
            if let m = i.member, let p = path { path = p + "." + m }
            issues.append(OutcomeIssue(severity: i.severity, code: code, message: i.message, expression: path, location: i.location))
            reported.insert(i.node)
        }
    }

    /// Issues without exact duplicates (a base rule met again through a profile is reported once).
    func finish() -> [OutcomeIssue] {
        // Same meaning as the text `severity|code|expression|message`, without building it.
        var seen = Set<IssueKey>()
        var out: [OutcomeIssue] = []
        out.reserveCapacity(issues.count)
        for i in issues where seen.insert(IssueKey(severity: i.severity, code: i.code, expression: i.expression, message: i.message)).inserted {
            out.append(i)
        }
        return out
    }

    struct IssueKey: Hashable {
        let severity: IssueSeverity
        let code: IssueType
        let expression: String?
        let message: String

        /// Equal keys hash alike; the message enters by its length only (hashing every message costs
        /// more than the few comparisons a shared hash leads to).
        func hash(into h: inout Hasher) {
            h.combine(severity)
            h.combine(code)
            h.combine(expression)
            h.combine(message.utf8.count)
        }
    }

    var errorCount: Int { issues.reduce(0) { $0 + ($1.isError ? 1 : 0) } }

    // MARK: plans

    mutating func typePlan(_ type: ModelInfo.TypeID) -> ValidationPlan? {
        guard type >= 0 else { return nil }
        if !typePlanLoaded[Int(type)] {
            typePlanLoaded[Int(type)] = true
            let t = model[type: type]
            if t.kind != .backbone, let p = v.plan(for: Validator.coreBase + t.name) { typePlans[Int(type)] = Unmanaged.passUnretained(p) }
        }
        return typePlans[Int(type)]?.takeUnretainedValue()
    }

    // MARK: resources

    mutating func validateResource(_ res: Int32, explicitProfiles: [String]) {
        let n = tree[res]
        guard n.type >= 0, !n.flags.contains(.unknown) else { return }
        let typeName = model[type: n.type].name
        guard let core = typePlan(n.type) else {
            report(.error, .notSupported, res, "No definition is available for resource type '\(typeName)': it cannot be validated")
            return
        }
        walk(res, core, 0, core: true)
        if tree.child(res, "contained") != nil { checkContainedReferenced(res) }
        if n.type == v.ids.bundle { checkBundle(res) }
        if typeName == "StructureDefinition" { checkStructureDefinition(res) }

        var profiles: [(String, Int32)] = []
        if let meta = tree.child(res, "meta") {
            for p in tree.children(meta, "profile") { if let u = tree.value(p) { profiles.append((u, p)) } }
        }
        for u in explicitProfiles { profiles.append((u, res)) }
        for u in v.options.globalProfiles[typeName] ?? [] { profiles.append((u, res)) }
        var done = Set<String>()
        for (url, at) in profiles where done.insert(url).inserted {
            if url == core.url || url == core.versionedURL { continue }
            guard let plan = v.plan(for: url) else {
                report(.warning, .structure, at, "Profile reference '\(url)' has not been checked because it could not be found")
                continue
            }
            guard plan.modelType < 0 || model.isA(n.type, plan.modelType) else {
                report(.error, .structure, at, "Profile \(url) is for type '\(plan.typeName)', but this resource is a '\(typeName)'")
                continue
            }
            walk(res, plan, 0, core: false)
        }
    }

    // MARK: the walk

    mutating func walk(_ node: Int32, _ plan: ValidationPlan, _ ruleIndex: Int32, core: Bool, nodeChecks: Bool = true) {
        let n = tree[node]
        if core && nodeChecks { checkNode(node, n) }
        checkRule(node, n, plan, ruleIndex, core: core)
        let source = plan.walkInfo[Int(ruleIndex)].childSource
        if source >= 0 {
            walkChildren(node, plan, source, core: core)
        } else if core, n.type >= 0, !(n.end == node + 1 && model.kind(n.type) == .primitive) {
            // The element's type is not expanded in this definition: use the type's own definition.
            if n.flags.contains(.resource) && ruleIndex != 0 { return }
            if let tp = typePlan(n.type), !(tp === plan && ruleIndex == 0) {
                walk(node, tp, 0, core: true, nodeChecks: false)
            }
        }
    }

    mutating func walkChildren(_ node: Int32, _ plan: ValidationPlan, _ ruleIndex: Int32, core: Bool) {
        let end = tree[node].end
        var c = node + 1
        while c < end {
            let cn = tree[c]
            if cn.flags.contains(.unknown) { c = cn.end; continue }
            let element = cn.element
            var groupEnd = cn.end
            var count: Int32 = 1
            while groupEnd < end {
                let g = tree[groupEnd]
                guard g.element == element, !g.flags.contains(.unknown) else { break }
                count += 1
                groupEnd = g.end
            }
            let child = plan.child(of: ruleIndex, element: element)
            if child < 0 {
                if core {
                    report(.error, .structure, c, "Element '\(tree.name(c))' is not allowed here by \(plan.versionedURL)")
                }
                c = groupEnd
                continue
            }
            let cw = plan.walkInfo[Int(child)]
            if cw.max >= 0 && count > cw.max {
                let cr = plan.rules[Int(child)]
                if cr.max == 0 {
                    report(.error, .structure, node, "\(cr.path): max allowed = 0, but found \(count) (from \(plan.versionedURL))")
                } else {
                    report(.error, .structure, node, "\(cr.path): max allowed = \(cr.max), but found \(count) (from \(plan.versionedURL))")
                }
            }
            if cw.hasSlices {
                walkSlices(parent: node, from: c, to: groupEnd, plan, child, core: core)
            } else {
                var m = c
                while m < groupEnd {
                    walkMember(m, plan, child, core: core)
                    m = tree[m].end
                }
            }
            c = groupEnd
        }
        guard plan.walkInfo[Int(ruleIndex)].hasRequired else { return }
        let rule = plan.rules[Int(ruleIndex)]
        for req in rule.requiredChildren {
            let rr = plan.rules[Int(req)]
            let count = countChildren(node, element: rr.elementID)
            if count < rr.min {
                if count == 0 || rr.min == 1 {
                    report(.error, .structure, node, "\(rr.path): minimum required = \(rr.min), but only found \(count) (from \(plan.versionedURL))")
                } else {
                    report(.error, .structure, node, "\(rr.path): minimum required = \(rr.min), but only found \(count) (from \(plan.versionedURL))")
                }
            }
            if count == 0 {
                for s in rr.slices where plan.rules[Int(s)].min > 0 {
                    report(.error, .structure, node, "Slice '\(plan.rules[Int(s)].id)': a matching slice is required, but not found (from \(plan.versionedURL))")
                }
            }
        }
    }

    func countChildren(_ node: Int32, element: Int32) -> Int32 {
        guard element >= 0 else { return 0 }
        var k: Int32 = 0
        let end = tree[node].end
        var c = node + 1
        while c < end {
            let cn = tree[c]
            if cn.element == element && !cn.flags.contains(.unknown) { k += 1 }
            c = cn.end
        }
        return k
    }

    /// One repetition of a child: resources inside resources are validated on their own.
    mutating func walkMember(_ m: Int32, _ plan: ValidationPlan, _ rule: Int32, core: Bool) {
        if tree[m].flags.contains(.resource) {
            if core { validateResource(m, explicitProfiles: []) }
            checkRule(m, tree[m], plan, rule, core: core)
            return
        }
        walk(m, plan, rule, core: core)
    }

    // MARK: rule checks (any plan)

    mutating func checkRule(_ node: Int32, _ n: ElementTree.Node, _ plan: ValidationPlan, _ ruleIndex: Int32, core: Bool) {
        let checks = plan.checks[Int(ruleIndex)]
        if checks.isEmpty { return }
        let rule = plan.rules[Int(ruleIndex)]
        if checks.contains(.allowedTypes), n.type >= 0 {
            var ok = false
            for t in rule.allowedTypes where model.isA(n.type, t) { ok = true; break }
            if !ok {
                let allowed = rule.allowedTypes.map { model[type: $0].name }.joined(separator: ", ")
                report(.error, .structure, node, "The type '\(model[type: n.type].name)' is not allowed here by \(plan.versionedURL) (allowed: \(allowed))")
            }
        }
        if checks.contains(.fixed), let f = rule.fixed, !matches(node, f, exact: true) {
            reportFixed(node, f, profile: plan.versionedURL + "#" + rule.id)
        }
        if checks.contains(.pattern), let p = rule.pattern, !matches(node, p, exact: false) {
            report(.error, .value, node, "The value does not contain the pattern \(p) required by the profile \(plan.versionedURL)#\(rule.id)")
        }
        if checks.contains(.maxLength), n.hasValue {
            let length = tree.bytes.withBytes(n.valueStart, n.valueLength) { b in b.reduce(0) { $0 + (($1 & 0xC0) != 0x80 ? 1 : 0) } }
            if length > Int(rule.maxLength) {
                report(.error, .tooLong, node, "The value is \(length) characters long, more than the maximum length \(rule.maxLength) allowed by \(plan.versionedURL)#\(rule.id)")
            }
        }
        if checks.contains(.binding), v.terminology != nil { checkBinding(node, n, rule) }
        if n.type == v.ids.reference && checks.contains(.targetProfiles) { checkReferenceTarget(node, rule) }
        if checks.contains(.invariants), let inv = v.invariants {
            let resource: Int32? = n.flags.contains(.resource) && ruleIndex != 0 && n.parent >= 0 ? tree.resource(containing: n.parent) : nil
            for c in rule.constraints where !c.native && (core || !c.fromCore) {
                guard let compiled = c.compiled else { continue }
                if inv.check(compiled, tree: tree, node: node, resource: resource) == false {
                    report(c.severity, .invariant, node, "Constraint failed: \(c.key): '\(c.human)'", rule: c.key)
                }
            }
        }
        if checks.contains(.typeProfiles) { checkTypeProfiles(node, n, rule, plan) }
        if checks.contains(.valueRules) { checkValueRules(node, n, rule, plan) }
        if checks.contains(.languageControl) { checkLanguageControl(node, rule, plan) }
    }

    /// `type.profile` on an element: the element must conform to (one of) the named profiles.
    mutating func checkTypeProfiles(_ node: Int32, _ n: ElementTree.Node, _ rule: ElementRule, _ plan: ValidationPlan) {
        var urls: [String] = []
        for t in rule.types where !t.profiles.isEmpty && (t.typeID < 0 || n.type < 0 || model.isA(n.type, t.typeID)) {
            for p in t.profiles where !(p.hasPrefix(Validator.coreBase) && p.dropFirst(Validator.coreBase.count) == t.code) {
                urls.append(p)
            }
        }
        guard !urls.isEmpty else { return }
        if n.type == v.ids.extensionType && urls.count == 1 {
            // The extension's own definition is applied when the extension is met (by url); here only
            // check that the url is the one the profile asks for.
            return
        }
        if urls.count == 1 {
            guard let p = v.plan(for: urls[0]) else {
                // As the Java validator: the profile the definition requires is unknown, so conformance
                // cannot be established.
                report(.error, .structure, node, "Unknown profile \(urls[0]) (required by \(plan.versionedURL)#\(rule.id)): the element cannot be checked against it")
                return
            }
            if p === plan { return }
            if let problem = profileTypeProblem(n, p) {
                report(.error, .structure, node, problem)
                return
            }
            walkProfile(node, p)
            return
        }
        // Several profiles: the element must match at least one of them; when none matches, each
        // profile's errors are reported, as the Java validator does.
        var failures: [(url: String, errors: [OutcomeIssue])] = []
        for u in urls {
            guard let p = v.plan(for: u) else { continue }
            if let problem = profileTypeProblem(n, p) {
                failures.append((u, [OutcomeIssue(severity: .error, code: .structure, message: problem, expression: expression(node),
                                                  location: tree[node].location)]))
                continue
            }
            var trial = self
            trial.issues = []
            trial.walkProfile(node, p)
            if trial.errorCount == 0 { issues += trial.issues; return }
            failures.append((u, trial.issues.filter(\.isError)))
        }
        guard !failures.isEmpty else { return }
        report(.error, .structure, node, "Unable to find a match for the specified profile among choices: \(urls.joined(separator: ", "))")
        for (u, errors) in failures {
            for var e in errors {
                e.message += " (validating against \(u))"
                issues.append(e)
            }
        }
    }

    /// A profile applies only to instances of its type (or of a type derived from it).
    func profileTypeProblem(_ n: ElementTree.Node, _ p: ValidationPlan) -> String? {
        guard p.modelType >= 0, n.type >= 0, !model.isA(n.type, p.modelType) else { return nil }
        return "The type '\(model[type: n.type].name)' is not valid - must be \(p.typeName) (profile \(p.versionedURL))"
    }

    mutating func walkProfile(_ node: Int32, _ p: ValidationPlan) {
        walk(node, p, 0, core: false)
    }

    // MARK: fixed and pattern values

    func matches(_ node: Int32, _ f: FixedValue, exact: Bool) -> Bool {
        let n = tree[node]
        switch f {
        case .primitive(let bytes):
            return n.hasValue && tree.bytes.equals(n.valueStart, n.valueLength, bytes)
        case .complex(let members, let cheapestFirst):
            // Children are visited in place (no arrays): this runs for every slice test of every member.
            for m in cheapestFirst {
                if exact {
                    // Same number of repetitions, matched in order.
                    var k = 0
                    var c = node + 1
                    while c < n.end {
                        let cn = tree[c]
                        if tree.bytes.equals(cn.nameStart, cn.nameLength, m.name) {
                            guard k < m.items.count, matches(c, m.items[k], exact: true) else { return false }
                            k += 1
                        }
                        c = cn.end
                    }
                    if k != m.items.count { return false }
                } else {
                    // Every item of the pattern is contained in some repetition.
                    for item in m.items {
                        var found = false
                        var c = node + 1
                        while c < n.end {
                            let cn = tree[c]
                            if tree.bytes.equals(cn.nameStart, cn.nameLength, m.name) && matches(c, item, exact: false) { found = true; break }
                            c = cn.end
                        }
                        if !found { return false }
                    }
                }
            }
            if exact {
                var c = node + 1
                while c < n.end {
                    let cn = tree[c]
                    if !members.contains(where: { tree.bytes.equals(cn.nameStart, cn.nameLength, $0.name) }) { return false }
                    c = cn.end
                }
            }
            return true
        }
    }

    /// Reports how a node differs from a fixed value, element by element, as the Java validator does.
    mutating func reportFixed(_ node: Int32, _ f: FixedValue, profile: String) {
        switch f {
        case .primitive:
            if !matches(node, f, exact: true) {
                report(.error, .value, node, "Value is \(describe(node)) but is fixed to \(f) in the profile \(profile)")
            }
        case .complex(let members, _):
            let n = tree[node]
            for m in members {
                var kids: [Int32] = []
                var c = node + 1
                while c < n.end {
                    if tree.bytes.equals(tree[c].nameStart, tree[c].nameLength, m.name) { kids.append(c) }
                    c = tree[c].end
                }
                let name = String(decoding: m.name, as: UTF8.self)
                if kids.count != m.items.count {
                    report(.error, .value, node, "The fixed value in the profile \(profile) has \(m.items.count) '\(name)' but the instance has \(kids.count)")
                    continue
                }
                for (k, item) in zip(kids, m.items) { reportFixed(k, item, profile: profile) }
            }
            var c = node + 1
            while c < n.end {
                let cn = tree[c]
                if !cn.flags.contains(.unknown), !members.contains(where: { tree.bytes.equals(cn.nameStart, cn.nameLength, $0.name) }) {
                    report(.error, .value, c, "The element \(tree.name(c)) is present in the instance but not allowed in the applicable fixed value specified in profile \(profile)")
                }
                c = cn.end
            }
        }
    }

    func describe(_ node: Int32) -> String {
        if let v = tree.value(node) { return "'\(v)'" }
        var parts: [String] = []
        for c in tree.children(node) { parts.append("\(tree.name(c)): \(describe(c))") }
        return parts.isEmpty ? "empty" : "{" + parts.joined(separator: ", ") + "}"
    }
}
