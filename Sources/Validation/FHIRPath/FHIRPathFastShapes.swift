import FHIRModels

/// Invariants made only of path existence tests — `text.div.exists()`, `code.empty() or system.exists()`,
/// `contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()`, `comparator.empty()` —
/// decided without building collections. Recognised once, when the expression is compiled; anything
/// else (functions with arguments, literals, operators other than and/or/implies/xor, environment
/// variables, indexers) is left to the general evaluator.
///
/// Same answers as `FPEvaluator.eval`: a member path reaches nodes exactly as `rootMember`/`member`
/// (type-name roots match the focus itself, members compare element name bytes, unknown members their
/// raw names); `exists()`/`empty()` of such a path is a Boolean that never throws; `and`, `or`,
/// `implies`, `xor` of two Booleans follow the three-valued tables with both sides known.
indirect enum FPFastShape: Sendable {
    case exists(FPFastPath)
    case empty(FPFastPath)
    case and(FPFastShape, FPFastShape)
    case or(FPFastShape, FPFastShape)
    case implies(FPFastShape, FPFastShape)
    case xor(FPFastShape, FPFastShape)

    /// The shape of a compiled expression, or nil when it is not one of the handled forms.
    init?(_ code: FPCode) {
        switch code {
        case .function(let base?, .exists, let args, _) where args.isEmpty:
            guard let p = FPFastPath(base) else { return nil }
            self = .exists(p)
        case .function(let base?, .empty, let args, _) where args.isEmpty:
            guard let p = FPFastPath(base) else { return nil }
            self = .empty(p)
        case .binary(let op, let l, let r, _):
            guard let a = FPFastShape(l), let b = FPFastShape(r) else { return nil }
            switch op {
            case .and: self = .and(a, b)
            case .or: self = .or(a, b)
            case .implies: self = .implies(a, b)
            case .xor: self = .xor(a, b)
            default: return nil
            }
        default: return nil
        }
    }

    func evaluate(_ tree: ElementTree, _ node: ElementTree.NodeID) -> Bool {
        switch self {
        case .exists(let p): return p.reaches(tree, from: node)
        case .empty(let p): return !p.reaches(tree, from: node)
        case .and(let a, let b): return a.evaluate(tree, node) && b.evaluate(tree, node)
        case .or(let a, let b): return a.evaluate(tree, node) || b.evaluate(tree, node)
        case .implies(let a, let b): return !a.evaluate(tree, node) || b.evaluate(tree, node)
        case .xor(let a, let b): return a.evaluate(tree, node) != b.evaluate(tree, node)
        }
    }
}

/// `name(.name)*` from the focus: the root step may be a type name (then it matches the focus itself
/// when the focus is of that type, else it is a member name, as `FPCode.rootMember`).
struct FPFastPath: Sendable {
    var rootType: ModelInfo.TypeID?
    var steps: [[UInt8]]

    init?(_ code: FPCode) {
        var names: [[UInt8]] = []
        var cur = code
        while true {
            switch cur {
            case .member(let base, let name, _):
                names.append(name)
                cur = base
                continue
            case .rootMember(let name, let type, _):
                names.append(name)
                rootType = type
                steps = names.reversed()
                return
            default:
                return nil
            }
        }
    }

    func reaches(_ tree: ElementTree, from node: ElementTree.NodeID) -> Bool {
        if let t = rootType, tree[node].type >= 0, tree.model.isA(tree[node].type, t) {
            return reach(tree, node, 1)
        }
        return reach(tree, node, 0)
    }

    /// Whether some node is reached from `id` by the members `steps[k...]`.
    private func reach(_ tree: ElementTree, _ id: ElementTree.NodeID, _ k: Int) -> Bool {
        if k == steps.count { return true }
        let name = steps[k]
        let end = tree[id].end
        var c = id + 1
        while c < end {
            let n = tree[c]
            let matches = n.element >= 0 ? tree.model.elements[Int(n.element)].nameBytes == name
                                          : tree.bytes.equals(n.nameStart, n.nameLength, name)
            if matches && reach(tree, c, k + 1) { return true }
            c = n.end
        }
        return false
    }
}
