import FHIRModels

/// Invariants decided without building collections, in whole or in part: path existence tests
/// (`text.div.exists()`, `code.empty() or system.exists()`, `comparator.empty()`), `path.startsWith('x')`,
/// `not()`, combined with `and`/`or`/`implies`/`xor`. Any other sub-expression is `opaque`: when the
/// answer depends on it, the whole expression goes to the general evaluator (so `ref-1`,
/// `reference.startsWith('#').not() or (...)`, is decided here for every reference not starting with `#`).
///
/// Same answers as `FPEvaluator.eval`: a member path reaches nodes exactly as `rootMember`/`member`
/// (type-name roots match the focus itself, members compare element name bytes, unknown members their
/// raw names); `exists()`/`empty()` of a path never throw; `startsWith` is decided only when the path
/// gives no item or one string-valued item (the evaluator's `stringInput`), otherwise left to it;
/// the operators follow `FPEvaluator.binary`, including which side is evaluated first and when the
/// right side is not evaluated at all.
indirect enum FPFastShape: Sendable {
    case exists(FPFastPath)
    case empty(FPFastPath)
    case startsWith(FPFastPath, String)
    case not(FPFastShape)
    case and(FPFastShape, FPFastShape)
    case or(FPFastShape, FPFastShape)
    case implies(FPFastShape, FPFastShape)
    case xor(FPFastShape, FPFastShape)
    /// Anything else: undecidable here.
    case opaque

    /// A Boolean-valued result: true, false or empty (`{}`).
    enum Truth: Sendable { case t, f, empty }

    /// The shape of a compiled expression; nil when nothing of it can be decided here.
    init?(_ code: FPCode) {
        let s = FPFastShape.shape(code)
        if case .opaque = s { return nil }
        self = s
    }

    static func shape(_ code: FPCode) -> FPFastShape {
        switch code {
        case .function(let base?, .exists, let args, _) where args.isEmpty:
            return FPFastPath(base).map { .exists($0) } ?? .opaque
        case .function(let base?, .empty, let args, _) where args.isEmpty:
            return FPFastPath(base).map { .empty($0) } ?? .opaque
        case .function(let base?, .startsWith, let args, _):
            guard args.count == 1, case .literal(let lit) = args[0], lit.count == 1, case .string(let prefix) = lit[0],
                  let p = FPFastPath(base) else { return .opaque }
            return .startsWith(p, prefix)
        case .function(let base?, .not, let args, _) where args.isEmpty:
            let inner = shape(base)
            if case .opaque = inner { return .opaque }
            return .not(inner)
        case .binary(let op, let l, let r, _):
            let a = shape(l), b = shape(r)
            if case .opaque = a { return .opaque }  // the left side is always evaluated first
            switch op {
            case .and: return .and(a, b)
            case .or: return .or(a, b)
            case .implies: return .implies(a, b)
            case .xor: return .xor(a, b)
            default: return .opaque
            }
        default: return .opaque
        }
    }

    /// The invariant's answer (`isTrue`), or nil when the general evaluator must decide.
    func decide(_ tree: ElementTree, _ node: ElementTree.NodeID) -> Bool? {
        switch evaluate(tree, node) {
        case .t?, .empty?: return true
        case .f?: return false
        case nil: return nil
        }
    }

    func evaluate(_ tree: ElementTree, _ node: ElementTree.NodeID) -> Truth? {
        switch self {
        case .opaque: return nil
        case .exists(let p): return p.reaches(tree, from: node) ? .t : .f
        case .empty(let p): return p.reaches(tree, from: node) ? .f : .t
        case .startsWith(let p, let prefix):
            switch p.single(tree, from: node) {
            case .none: return .empty
            case .many: return nil
            case .one(let x):
                guard let s = Self.stringValue(tree, x) else { return nil }
                if prefix.isEmpty { return .t }
                return s.hasPrefix(prefix) ? .t : .f
            }
        case .not(let a):
            guard let x = a.evaluate(tree, node) else { return nil }
            switch x { case .t: return .f; case .f: return .t; case .empty: return .empty }
        case .and(let a, let b):
            guard let x = a.evaluate(tree, node) else { return nil }
            if x == .f { return .f }
            guard let y = b.evaluate(tree, node) else { return nil }
            if y == .f { return .f }
            return x == .t && y == .t ? .t : .empty
        case .or(let a, let b):
            guard let x = a.evaluate(tree, node) else { return nil }
            if x == .t { return .t }
            guard let y = b.evaluate(tree, node) else { return nil }
            if y == .t { return .t }
            return x == .f && y == .f ? .f : .empty
        case .implies(let a, let b):
            guard let x = a.evaluate(tree, node) else { return nil }
            if x == .f { return .t }
            guard let y = b.evaluate(tree, node) else { return nil }
            if y == .t { return .t }
            return x == .t && y == .f ? .f : .empty
        case .xor(let a, let b):
            guard let x = a.evaluate(tree, node), let y = b.evaluate(tree, node) else { return nil }
            if x == .empty || y == .empty { return .empty }
            return x != y ? .t : .f
        }
    }

    /// The String the evaluator's `systemValue` gives a node, when it is a String; nil otherwise
    /// (other kinds are left to the evaluator).
    static func stringValue(_ tree: ElementTree, _ id: ElementTree.NodeID) -> String? {
        let n = tree[id]
        guard n.hasValue else { return nil }
        if n.type < 0 { return tree.value(id) }
        let table = tree.model.types.count == ModelInfo.r4.types.count ? FPTypeTable.r4 : FPTypeTable(tree.model)
        guard table.kinds[Int(n.type)] == .string else { return nil }
        return tree.value(id)
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

    enum Count { case none, one(ElementTree.NodeID), many }

    /// The nodes the path reaches, when there are none or one.
    func single(_ tree: ElementTree, from node: ElementTree.NodeID) -> Count {
        var found: ElementTree.NodeID = -1
        var many = false
        if let t = rootType, tree[node].type >= 0, tree.model.isA(tree[node].type, t) {
            collect(tree, node, 1, &found, &many)
        } else {
            collect(tree, node, 0, &found, &many)
        }
        if many { return .many }
        return found < 0 ? .none : .one(found)
    }

    private func collect(_ tree: ElementTree, _ id: ElementTree.NodeID, _ k: Int, _ found: inout ElementTree.NodeID, _ many: inout Bool) {
        if many { return }
        if k == steps.count {
            if found >= 0 { many = true } else { found = id }
            return
        }
        let name = steps[k]
        let end = tree[id].end
        var c = id + 1
        while c < end && !many {
            let n = tree[c]
            let matches = n.element >= 0 ? tree.model.elements[Int(n.element)].nameBytes == name
                                          : tree.bytes.equals(n.nameStart, n.nameLength, name)
            if matches { collect(tree, c, k + 1, &found, &many) }
            c = n.end
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
