import FHIRModels

/// French rules the official profiles do not enforce (INS key, FINESS/SIRET keys, idNat_Struct prefix,
/// the SDO unit block on `type.coding`). Each issue carries a FHIRPath `expression`, the source location
/// and a stable `rule` code (`FrenchRuleCode`). The statements are in docs/french-rules.md.
public enum FrenchRules {
    /// Checks every resource of the tree (the root, `contained`, `Bundle.entry.resource`, …).
    public static func check(_ tree: ElementTree) -> [OutcomeIssue] {
        guard !tree.isEmpty else { return [] }
        var run = Run(tree: tree)
        // SDO checks first: they know the context of identifiers without a system (Task.input idNat_Struct).
        for id in 0..<Int32(tree.nodes.count) where tree.isResource(id) && !tree[id].flags.contains(.unknown) {
            switch tree.typeName(id) {
            case "Task": SDORules.checkTask(id, &run)
            case "Consent": SDORules.checkConsent(id, &run)
            default: break
            }
        }
        if let identifierType = tree.model.type(named: "Identifier") {
            for id in 0..<Int32(tree.nodes.count) where tree[id].type == identifierType {
                run.checkIdentifier(id)
            }
        }
        return run.issues.sorted { a, b in
            let la = a.location.map { ($0.line, $0.column) } ?? (0, 0), lb = b.location.map { ($0.line, $0.column) } ?? (0, 0)
            return la < lb
        }
    }

    /// State of one `check` run: the issues found and the value nodes already checked.
    struct Run {
        let tree: ElementTree
        var issues: [OutcomeIssue] = []
        var checked: Set<ElementTree.NodeID> = []

        init(tree: ElementTree) { self.tree = tree }

        mutating func report(_ rule: FrenchRuleCode, _ severity: IssueSeverity, _ code: IssueType, _ message: String,
                             at node: ElementTree.NodeID) {
            issues.append(OutcomeIssue(severity: severity, code: code, message: message, expression: tree.path(node),
                                       location: tree[node].location, rule: rule.rawValue))
        }

        mutating func report(_ problem: IdentifierProblem, at node: ElementTree.NodeID) {
            report(problem.rule, .error, .value, problem.message, at: node)
        }

        /// An `Identifier` element: INS, FINESS, SIRET/SIREN and idNat_Struct systems.
        mutating func checkIdentifier(_ id: ElementTree.NodeID) {
            guard let valueNode = tree.child(id, "value"), !checked.contains(valueNode),
                  let value = tree.value(valueNode), let system = tree.childValue(id, "system") else { return }
            let problem: IdentifierProblem?
            if let label = INS.systems[system] {
                problem = INS.validate(value, label: label)
            } else if system == FINESS.system {
                problem = FINESS.validate(value)
            } else if system == IdNatStruct.system {
                problem = IdNatStruct.validate(value, allowed: Set(IdNatStruct.Kind.allCases))
            } else if SIRET.systems.contains(system) {
                problem = value.utf8.count == 9 ? SIREN.validate(value) : SIRET.validate(value)
            } else {
                return
            }
            checked.insert(valueNode)
            if let p = problem { report(p, at: valueNode) }
        }
    }
}
