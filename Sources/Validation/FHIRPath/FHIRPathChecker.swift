import FHIRModels

/// Compile-time type check of path navigation: where the FHIR type of a collection is known (from the
/// context type, a leading type name such as `Observation.`, `as`/`ofType`), a member name that no
/// candidate type defines is a semantic error (`name.given1`, `Observation.valueQuantity`: FHIRPath
/// names choice elements without their type suffix). Where the type is not known statically
/// (`children()`, `resolve()`, abstract `Resource`, System values) nothing is reported.
struct FPChecker {
    let model: ModelInfo
    /// nil: unknown.
    typealias Static = [ModelInfo.TypeID]?

    func check(_ c: FPCode, input: Static, this: Static) throws(FHIRPathError) -> Static {
        switch c {
        case .literal, .index, .total, .env: return nil
        case .this: return this
        case .rootMember(let name, let type, let pos):
            if let type {
                guard let input else { return [type] }
                if input.contains(where: { model.isA($0, type) }) { return [type] }
            }
            return try member(input, name, pos: pos)
        case .member(let base, let name, let pos):
            return try member(try check(base, input: input, this: this), name, pos: pos)
        case .indexer(let base, let idx):
            _ = try check(idx, input: input, this: this)
            return try check(base, input: input, this: this)
        case .negate(let e, _):
            _ = try check(e, input: input, this: this)
            return nil
        case .binary(let op, let l, let r, _):
            let a = try check(l, input: input, this: this)
            let b = try check(r, input: input, this: this)
            if op == .union, let a, let b { return Array(Set(a + b)) }
            return nil
        case .typeOp(let isOp, let e, let t, _):
            _ = try check(e, input: input, this: this)
            if !isOp, case .fhir(let id) = t { return [id] }
            return nil
        case .reflect(let base, _):
            if let base { _ = try check(base, input: input, this: this) }
            return nil
        case .typeFunction(let base, let f, let t, _):
            if let base { _ = try check(base, input: input, this: this) }
            if f != .is, case .fhir(let id) = t { return [id] }
            if f != .is, case .either(let id, _) = t { return [id] }
            return nil
        case .function(let base, let f, let args, _):
            let b = try base.map { (x) throws(FHIRPathError) in try check(x, input: input, this: this) } ?? input
            let inputType = base == nil ? input : b
            for a in args {
                if FPChecker.lambdas.contains(f) {
                    _ = try check(a, input: inputType, this: inputType)
                } else {
                    _ = try check(a, input: input, this: this)
                }
            }
            switch f {
            case .where, .first, .last, .tail, .skip, .take, .single, .distinct, .exclude, .intersect, .trace, .sort:
                return inputType
            case .union, .combine:
                return nil
            case .extension:
                return model.type(named: "Extension").map { [$0] }
            default:
                return nil
            }
        }
    }

    static let lambdas: Set<FPFunction> = [.where, .select, .all, .exists, .repeat, .aggregate, .sort, .trace]

    func member(_ input: Static, _ name: [UInt8], pos: Int) throws(FHIRPathError) -> Static {
        guard let input, !input.isEmpty else { return nil }
        var out: [ModelInfo.TypeID] = []
        for t in input {
            let info = model[type: t]
            // Abstract types (Resource, DomainResource, Element) stand for their descendants.
            if info.isAbstract { return nil }
            for e in model.elements(of: t) where model[element: e].nameBytes == name {
                out.append(contentsOf: model[element: e].types)
            }
        }
        if out.isEmpty {
            let names = input.map { model[type: $0].name }.joined(separator: " | ")
            throw FHIRPathError(.semantic, "\(names) has no element '\(String(decoding: name, as: UTF8.self))'", position: pos)
        }
        if out.contains(where: { $0 < 0 }) { return nil }
        return Array(Set(out))
    }
}
