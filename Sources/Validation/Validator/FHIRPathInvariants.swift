import FHIRModels

/// `InvariantEvaluator` over the project's FHIRPath engine: constraints are compiled once (with the R4
/// technical corrections, and type-checked against the element's type when it is known) and evaluated
/// with invariant semantics (`isTrue`). `memberOf()` goes to the terminology provider when one is given.
public struct FHIRPathInvariants: InvariantEvaluator {
    public let environment: FHIRPathEnvironment

    public init(terminology: (any TerminologyProvider)? = nil) {
        var env = FHIRPathEnvironment()
        if let terminology {
            env.memberOf = { value, tree, valueSet in Self.memberOf(value, tree, valueSet, terminology) }
        }
        self.environment = env
    }

    public func compile(_ expression: String, key: String, contextType: String?) -> CompiledInvariant? {
        let text = FHIRPathCorrections.expression(key: key, published: expression)
        if let contextType, let e = try? FHIRPathExpression(text, contextType: contextType) { return CompiledInvariant(e) }
        // Without the type check (profiles may name members of a narrowed type): still usable.
        return (try? FHIRPathExpression(text)).map { CompiledInvariant($0) }
    }

    public func check(_ invariant: CompiledInvariant, tree: ElementTree, node: ElementTree.NodeID, resource: ElementTree.NodeID?) -> Bool? {
        guard let e = invariant.payload as? FHIRPathExpression else { return nil }
        guard let resource else { return try? e.isTrue(tree, node: node, environment: environment) }
        var env = environment
        env.resource = resource
        return try? e.isTrue(tree, node: node, environment: env)
    }

    /// code / Coding / CodeableConcept nodes against a value set; nil when the store cannot tell.
    static func memberOf(_ value: FHIRPathValue, _ tree: ElementTree, _ valueSet: String, _ t: any TerminologyProvider) -> Bool? {
        func check(_ code: String, _ system: String?) -> Bool? {
            switch t.validate(code: code, system: system, display: nil, valueSet: valueSet).outcome {
            case .valid: return true
            case .notInValueSet, .unknownCode: return false
            case .unknownSystem, .unknownValueSet: return nil
            }
        }
        switch value {
        case .string(let s): return check(s, nil)
        case .node(let n):
            switch tree.typeName(n) {
            case "Coding":
                guard let code = tree.childValue(n, "code") else { return nil }
                return check(code, tree.childValue(n, "system"))
            case "CodeableConcept":
                var unknown = false
                for c in tree.children(n, "coding") {
                    guard let code = tree.childValue(c, "code") else { continue }
                    switch check(code, tree.childValue(c, "system")) {
                    case .some(true): return true
                    case .none: unknown = true
                    case .some(false): break
                    }
                }
                return unknown ? nil : false
            default:
                guard let code = tree.value(n) else { return nil }
                return check(code, nil)
            }
        default: return nil
        }
    }
}
