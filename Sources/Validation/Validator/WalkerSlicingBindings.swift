import FHIRModels

extension Walker {
    // MARK: slicing

    /// Assigns each repetition in `[from, to)` to a slice of `base`, checks slice cardinalities and the
    /// closed / ordered / openAtEnd rules, then validates each repetition against its slice (or the base).
    mutating func walkSlices(parent: Int32, from: Int32, to: Int32, _ plan: ValidationPlan, _ base: Int32, core: Bool) {
        let br = plan.rules[Int(base)]
        let slicing = br.slicing ?? Slicing(discriminators: [], ordered: false, rules: .open)
        var members: [Int32] = []
        var m = from
        while m < to { members.append(m); m = tree[m].end }
        var assigned = [Int](repeating: -1, count: members.count)
        var anyUndecidable = false
        // What each discriminator path reaches from a member is the same for every slice: found once.
        var reached = [(nodes: [Int32], unresolved: Bool)?](repeating: nil, count: slicing.discriminators.count)
        for (k, node) in members.enumerated() {
            for d in reached.indices { reached[d] = nil }
            for (si, tests) in br.sliceTests.enumerated() {
                switch sliceMatches(node, tests, reached: &reached) {
                case .some(true): assigned[k] = si
                case .none: anyUndecidable = true
                case .some(false): break
                }
                if assigned[k] >= 0 { break }
            }
        }
        // Cardinality per slice.
        var counts = [Int32](repeating: 0, count: br.slices.count)
        for a in assigned where a >= 0 { counts[a] += 1 }
        for (si, s) in br.slices.enumerated() {
            let sr = plan.rules[Int(s)]
            if counts[si] < sr.min {
                if counts[si] == 0 {
                    report(.error, .structure, parent, "Slice '\(sr.id)': a matching slice is required, but not found (from \(plan.versionedURL))")
                } else {
                    report(.error, .structure, parent, "Slice '\(sr.id)': minimum required = \(sr.min), but only found \(counts[si]) (from \(plan.versionedURL))")
                }
            }
            if sr.max >= 0 && counts[si] > sr.max {
                report(.error, .structure, parent, "Slice '\(sr.id)': max allowed = \(sr.max), but found \(counts[si]) (from \(plan.versionedURL))")
            }
        }
        var lastAssigned = -1
        var sawUnmatched = false
        for (k, node) in members.enumerated() {
            let a = assigned[k]
            if a < 0 {
                sawUnmatched = true
                if slicing.rules == .closed && !anyUndecidable {
                    report(.error, .structure, node, "This element does not match any known slice defined in the profile \(plan.versionedURL) and slicing is CLOSED: \(br.path)")
                }
                walkMember(node, plan, base, core: core)
                continue
            }
            if slicing.rules == .openAtEnd && sawUnmatched {
                report(.error, .structure, node, "This element matches slice '\(plan.rules[Int(br.slices[a])].id)' but follows an element that matches no slice: the slicing of \(br.path) in \(plan.versionedURL) is openAtEnd")
            }
            if slicing.ordered && a < lastAssigned {
                report(.error, .structure, node, "As specified by profile \(plan.versionedURL), element '\(br.path)' is out of order in ordered slicing (slice '\(plan.rules[Int(br.slices[a])].sliceName ?? "")' after '\(plan.rules[Int(br.slices[lastAssigned])].sliceName ?? "")')")
            }
            lastAssigned = max(lastAssigned, a)
            walkMember(node, plan, br.slices[a], core: core)
        }
    }

    /// true/false when the discriminators decide, nil when none of them can be evaluated here.
    mutating func sliceMatches(_ node: Int32, _ tests: [SliceTest], reached: inout [(nodes: [Int32], unresolved: Bool)?]) -> Bool? {
        var decided = false
        for (d, t) in tests.enumerated() {
            if case .undecided = t.check { continue }
            let (targets, unresolved): ([Int32], Bool)
            if d < reached.count, let known = reached[d] {
                (targets, unresolved) = known
            } else {
                (targets, unresolved) = follow(node, t.steps)
                if d < reached.count { reached[d] = (targets, unresolved) }
            }
            // A reference that cannot be resolved here does not decide.
            if targets.isEmpty && unresolved { continue }
            decided = true
            switch t.check {
            case .undecided: continue
            case .resolvedType(let urls):
                if targets.isEmpty { return false }
                for x in targets {
                    guard let tn = tree.typeName(x), urls.contains(where: { v.targetTypeName($0) == tn }) else { return false }
                }
            case .value(let fv, let exact):
                if !targets.contains(where: { matches($0, fv, exact: exact) }) { return false }
            case .type(let ids):
                if targets.isEmpty { return false }
                for x in targets where !ids.contains(where: { tree[x].type >= 0 && model.isA(tree[x].type, $0) }) { return false }
            case .exists(let e):
                if targets.isEmpty == e { return false }
            case .profile(let urls):
                var ok = false
                for x in targets {
                    for u in urls {
                        guard let p = v.plan(for: u) else { continue }
                        var trial = self
                        trial.issues = []
                        trial.walk(x, p, 0, core: false)
                        if trial.errorCount == 0 { ok = true; break }
                    }
                    if ok { break }
                }
                if !ok { return false }
            }
        }
        return decided ? true : nil
    }

    /// The nodes a discriminator path reaches from `node`, and whether a `resolve()` met a reference it
    /// could not resolve (to a contained resource or a Bundle entry).
    mutating func follow(_ node: Int32, _ steps: [SliceTest.Step]) -> (nodes: [Int32], unresolved: Bool) {
        var current = [node]
        var unresolved = false
        for step in steps {
            var next: [Int32] = []
            switch step {
            case .resolve:
                for n in current {
                    if let target = resolveReference(n) { next.append(target) } else { unresolved = true }
                }
            case .child(let name):
                for n in current {
                    for c in tree.children(n) {
                        let e = tree[c].element
                        if e >= 0 ? model.elementNameIs(e, name) : tree.nameIs(c, name) { next.append(c) }
                    }
                }
            case .ofType(let t):
                next = current.filter { tree.typeName($0) == t }
            case .extensionURL(let u):
                for n in current {
                    for c in tree.children(n) where tree.nameIs(c, "extension") && (tree.child(c, "url").map { tree.valueIs($0, u) } ?? false) {
                        next.append(c)
                    }
                }
            }
            current = next
            if current.isEmpty { break }
        }
        return (current, unresolved)
    }

    // MARK: bindings

    mutating func checkBinding(_ node: Int32, _ n: ElementTree.Node, _ rule: ElementRule) {
        guard let term = v.terminology, let vs = rule.valueSet, let strength = rule.bindingStrength,
              strength == .required || strength == .extensible else { return }
        let severity: IssueSeverity = strength == .required ? .error : .warning
        let ids = v.ids
        if n.type == ids.code || (n.type >= 0 && v.kinds[Int(n.type)] != .none && n.type != ids.codeableConcept) {
            guard n.type == ids.code, let code = tree.value(node) else { return }
            let r = v.validateCode(term, code: code, system: nil, display: nil, valueSet: vs)
            if strength == .required && (r.outcome == .notInValueSet || r.outcome == .unknownCode) {
                // As the Java validator: a bare code found in none of the value set's systems.
                report(.error, .notFound, node, "The System URI could not be determined for the code '\(code)' in the ValueSet '\(vs)'")
            }
            reportCode(r, node: node, severity: severity, strength: strength, vs: vs, what: "The value provided ('\(code)')")
        } else if n.type == ids.coding {
            guard let code = tree.childValue(node, "code") else { return }
            let system = tree.childValue(node, "system")
            if system == nil { reportNoSystem(node) }
            let r = v.validateCode(term, code: code, system: system, display: tree.childValue(node, "display"), valueSet: vs)
            reportCode(r, node: node, severity: severity, strength: strength, vs: vs, what: "The Coding provided (\(system ?? "")#\(code))")
        } else if n.type == ids.codeableConcept {
            let codings = tree.children(node, "coding")
            if codings.isEmpty {
                if strength == .required && tree.child(node, "text") != nil {
                    report(.error, .codeInvalid, node, "No code provided, and a code is required from the value set '\(vs)'")
                }
                return
            }
            var results: [(Int32, CodeValidation)] = []
            for c in codings {
                guard let code = tree.childValue(c, "code") else { continue }
                if tree.child(c, "system") == nil { reportNoSystem(c) }
                results.append((c, v.validateCode(term, code: code, system: tree.childValue(c, "system"), display: tree.childValue(c, "display"), valueSet: vs)))
            }
            if results.isEmpty { return }
            if results.contains(where: { $0.1.outcome == .valid }) {
                for (c, r) in results where r.outcome == .valid && r.displayMismatch != nil {
                    report(.warning, .codeInvalid, c, "Wrong display: \(r.displayMismatch!) (\(r.message))")
                }
                return
            }
            if results.contains(where: { $0.1.outcome == .unknownSystem || $0.1.outcome == .unknownValueSet }) {
                if strength == .required {
                    report(.information, .notSupported, node, "The codes could not be checked against the value set '\(vs)': \(results.map(\.1.message).joined(separator: "; "))")
                }
                return
            }
            report(severity, .codeInvalid, node, "None of the codings provided are in the value set '\(vs)'"
                   + (strength == .extensible ? ", and a coding should come from this value set unless it has no suitable code" : "")
                   + " (\(results.map(\.1.message).joined(separator: "; ")))")
        }
    }

    mutating func reportNoSystem(_ coding: Int32) {
        report(.warning, .codeInvalid, coding, "A code with no system has no defined meaning, and it cannot be validated. A system should be provided")
    }

    mutating func reportCode(_ r: CodeValidation, node: Int32, severity: IssueSeverity, strength: BindingStrength, vs: String, what: String) {
        switch r.outcome {
        case .valid:
            if let d = r.displayMismatch { report(.warning, .codeInvalid, node, "Wrong display: \(d) (\(r.message))") }
        case .notInValueSet, .unknownCode:
            report(severity, .codeInvalid, node, "\(what) is not in the value set '\(vs)'"
                   + (strength == .extensible ? ", and a code should come from this value set unless it has no suitable code" : "")
                   + " (\(r.message))")
        case .unknownSystem, .unknownValueSet:
            if strength == .required {
                report(.information, .notSupported, node, "\(what) could not be checked against the value set '\(vs)': \(r.message)")
            }
        }
    }
}
