import Foundation
import FHIRModels

typealias FPValue = FHIRPathValue

/// How a FHIR primitive type maps onto a System type.
enum FPPrimitive: UInt8, Sendable { case complex, boolean, integer, decimal, string, date, dateTime, time }

/// Per-type facts the evaluator needs, computed once per model.
struct FPTypeTable: Sendable {
    let kinds: [FPPrimitive]
    let quantity: ModelInfo.TypeID
    let reference: ModelInfo.TypeID
    let extensionElementName = Array("extension".utf8)
    let urlName = Array("url".utf8)

    static let r4 = FPTypeTable(.r4)

    init(_ model: ModelInfo) {
        var k: [FPPrimitive] = []
        k.reserveCapacity(model.types.count)
        for (i, t) in model.types.enumerated() {
            guard t.kind == .primitive else { k.append(.complex); continue }
            var cur = ModelInfo.TypeID(i)
            var kind = FPPrimitive.string
            while cur >= 0 {
                switch model[type: cur].name {
                case "boolean": kind = .boolean
                case "integer": kind = .integer
                case "decimal": kind = .decimal
                case "date": kind = .date
                case "dateTime", "instant": kind = .dateTime
                case "time": kind = .time
                default: cur = model[type: cur].base; continue
                }
                break
            }
            k.append(kind)
        }
        kinds = k
        quantity = model.type(named: "Quantity") ?? -1
        reference = model.type(named: "Reference") ?? -1
    }
}

struct FPVars {
    var this: FPValue?
    var index: Int?
    var total: [FPValue]?
}

struct FPEvaluator {
    let tree: ElementTree
    let model: ModelInfo
    let context: ElementTree.NodeID
    let environment: FHIRPathEnvironment
    let table: FPTypeTable

    init(tree: ElementTree, context: ElementTree.NodeID, environment: FHIRPathEnvironment) {
        self.tree = tree
        self.model = tree.model
        self.context = context
        self.environment = environment
        self.table = tree.model.types.count == ModelInfo.r4.types.count ? FPTypeTable.r4 : FPTypeTable(tree.model)
    }

    func fail(_ message: String, _ pos: Int) -> FHIRPathError { FHIRPathError(.execution, message, position: pos) }

    // MARK: evaluation

    func eval(_ c: FPCode, _ focus: [FPValue], _ vars: FPVars) throws(FHIRPathError) -> [FPValue] {
        switch c {
        case .literal(let v): return v
        case .this: return vars.this.map { [$0] } ?? []
        case .index: return vars.index.map { [.integer($0)] } ?? []
        case .total: return vars.total ?? []
        case .env(let name, let pos): return try envVariable(name, pos)
        case .rootMember(let name, let type, _):
            var out: [FPValue] = []
            for item in focus {
                guard case .node(let id) = item else { continue }
                if let type, tree[id].type >= 0, model.isA(tree[id].type, type) { out.append(item); continue }
                appendChildren(id, name, &out)
            }
            return out
        case .member(let base, let name, _):
            let input = try eval(base, focus, vars)
            var out: [FPValue] = []
            for item in input { if case .node(let id) = item { appendChildren(id, name, &out) } }
            return out
        case .indexer(let base, let idx):
            let input = try eval(base, focus, vars)
            let i = try eval(idx, focus, vars)
            guard let first = i.first else { return [] }
            guard i.count == 1, case .integer(let n)? = systemValue(first) else { throw fail("an indexer needs one Integer", -1) }
            return n >= 0 && n < input.count ? [input[n]] : []
        case .negate(let e, let pos):
            let v = try eval(e, focus, vars)
            guard let x = try singleton(v, pos) else { return [] }
            switch systemValue(x) {
            case .integer(let i)?: return i == .min ? [] : [.integer(-i)]
            case .decimal(let d)?: return [.decimal(FHIRPathDecimal(-d.value, scale: d.scale))]
            case .quantity(var q)?: q.value = -q.value; return [.quantity(q)]
            default: throw fail("unary minus needs a number or a quantity", pos)
            }
        case .binary(let op, let l, let r, let pos):
            return try binary(op, l, r, focus, vars, pos)
        case .typeOp(let isOp, let e, let t, let pos):
            let v = try eval(e, focus, vars)
            guard let x = try singleton(v, pos) else { return [] }
            if isOp { return [.boolean(isType(x, t))] }
            return isType(x, t, exact: true) ? [x] : []
        case .typeFunction(let base, let f, let t, let pos):
            let input = try base.map { (b) throws(FHIRPathError) in try eval(b, focus, vars) } ?? focus
            switch f {
            case .ofType: return input.filter { isType($0, t, exact: true) }
            case .is:
                guard let x = try singleton(input, pos) else { return [] }
                return [.boolean(isType(x, t))]
            default:
                guard let x = try singleton(input, pos) else { return [] }
                return isType(x, t, exact: true) ? [x] : []
            }
        case .reflect(let base, let namespace):
            let input = try base.map { (b) throws(FHIRPathError) in try eval(b, focus, vars) } ?? focus
            return input.map { v in
                if case .node = v { return .string(namespace ? "FHIR" : typeName(v)) }
                return .string(namespace ? "System" : typeName(v))
            }
        case .function(let base, let f, let args, let pos):
            let input = try base.map { (b) throws(FHIRPathError) in try eval(b, focus, vars) } ?? focus
            return try function(f, input, args, focus, vars, pos, hasBase: base != nil)
        }
    }

    func envVariable(_ name: String, _ pos: Int) throws(FHIRPathError) -> [FPValue] {
        if let v = environment.variables[name] { return v }
        switch name {
        case "context": return [.node(context)]
        case "resource": return [.node(environment.resource ?? tree.resource(containing: context))]
        case "rootResource":
            if let r = environment.rootResource { return [.node(r)] }
            let r = environment.resource ?? tree.resource(containing: context)
            let p = tree[r].parent
            if p >= 0, tree[r].element >= 0, model[element: tree[r].element].name == "contained" {
                return [.node(tree.resource(containing: p))]
            }
            return [.node(r)]
        case "ucum": return [.string("http://unitsofmeasure.org")]
        case "sct": return [.string("http://snomed.info/sct")]
        case "loinc": return [.string("http://loinc.org")]
        default:
            if name.hasPrefix("vs-") { return [.string("http://hl7.org/fhir/ValueSet/" + name.dropFirst(3))] }
            if name.hasPrefix("ext-") { return [.string("http://hl7.org/fhir/StructureDefinition/" + name.dropFirst(4))] }
            throw fail("unknown environment variable '%\(name)'", pos)
        }
    }

    /// Children of `id` whose member name (choice elements: without the type suffix) is `name`.
    func appendChildren(_ id: ElementTree.NodeID, _ name: [UInt8], _ out: inout [FPValue]) {
        let nodes = tree.nodes
        var c = id + 1
        let end = nodes[Int(id)].end
        while c < end {
            let n = nodes[Int(c)]
            if n.element >= 0 {
                if model.elements[Int(n.element)].nameBytes == name { out.append(.node(c)) }
            } else if tree.bytes.equals(n.nameStart, n.nameLength, name) {
                out.append(.node(c))
            }
            c = n.end
        }
    }

    // MARK: values

    func singleton(_ c: [FPValue], _ pos: Int) throws(FHIRPathError) -> FPValue? {
        if c.count > 1 { throw fail("expected a single item but the collection has \(c.count)", pos) }
        return c.first
    }

    /// The System value of an item: primitives nodes convert by their FHIR type; Quantity nodes become
    /// System.Quantity; other complex nodes have none.
    func systemValue(_ v: FPValue) -> FPValue? {
        guard case .node(let id) = v else { return v }
        let n = tree[id]
        guard n.type >= 0 else { return n.hasValue ? .string(tree.value(id)!) : nil }
        let kind = table.kinds[Int(n.type)]
        if kind == .complex {
            return model.isA(n.type, table.quantity) ? quantityNode(id) : nil
        }
        guard let s = tree.value(id) else { return nil }
        switch kind {
        case .boolean: return s == "true" ? .boolean(true) : s == "false" ? .boolean(false) : .string(s)
        case .integer: return Int(s).map { .integer($0) } ?? .string(s)
        case .decimal: return FHIRPathDecimal(s).map { .decimal($0) } ?? .string(s)
        case .date: return FHIRPathDateTime.parseDateTime(s).map { .date($0) } ?? .string(s)
        case .dateTime:
            guard let d = FHIRPathDateTime.parseDateTime(s) else { return .string(s) }
            return .dateTime(d)
        case .time: return FHIRPathDateTime.parseTime(s).map { .time($0) } ?? .string(s)
        case .string, .complex: return .string(s)
        }
    }

    func quantityNode(_ id: ElementTree.NodeID) -> FPValue? {
        guard let vs = tree.childValue(id, "value"), let d = FHIRPathValue.parseDecimal(vs) else { return nil }
        let system = tree.childValue(id, "system")
        var unit = tree.childValue(id, "code") ?? tree.childValue(id, "unit") ?? "1"
        if system != nil && system != "http://unitsofmeasure.org", let u = tree.childValue(id, "unit") { unit = u }
        return .quantity(FHIRPathQuantity(value: d, unit: unit))
    }

    func isPrimitiveNode(_ v: FPValue) -> Bool {
        guard case .node(let id) = v else { return false }
        let t = tree[id].type
        return t >= 0 ? table.kinds[Int(t)] != .complex : tree[id].hasValue
    }

    func string(_ v: FPValue) -> String? {
        switch systemValue(v) {
        case .string(let s)?: return s
        default: return nil
        }
    }

    func stringInput(_ c: [FPValue], _ f: FPFunction, _ pos: Int) throws(FHIRPathError) -> String? {
        guard let x = try singleton(c, pos) else { return nil }
        guard case .string(let s)? = systemValue(x) else {
            throw FHIRPathError(.execution, "\(f.rawValue)() needs a String input", position: pos)
        }
        return s
    }

    func stringArg(_ a: FPCode, _ focus: [FPValue], _ vars: FPVars, _ pos: Int) throws(FHIRPathError) -> String? {
        let v = try eval(a, focus, vars)
        guard let x = try singleton(v, pos) else { return nil }
        guard case .string(let s)? = systemValue(x) else { throw fail("expected a String argument", pos) }
        return s
    }

    func integerArg(_ a: FPCode, _ focus: [FPValue], _ vars: FPVars, _ pos: Int) throws(FHIRPathError) -> Int? {
        let v = try eval(a, focus, vars)
        guard let x = try singleton(v, pos) else { return nil }
        guard case .integer(let i)? = systemValue(x) else { throw fail("expected an Integer argument", pos) }
        return i
    }

    /// Boolean value of a collection in a Boolean context (singleton evaluation).
    func truth(_ c: [FPValue], _ pos: Int) throws(FHIRPathError) -> Bool? {
        guard let x = try singleton(c, pos) else { return nil }
        if case .boolean(let b)? = systemValue(x) { return b }
        return true
    }

    // MARK: equality and ordering

    func deepEqual(_ a: ElementTree.NodeID, _ b: ElementTree.NodeID, equivalent: Bool) -> Bool {
        if a == b { return true }
        let na = tree[a], nb = tree[b]
        if na.hasValue != nb.hasValue { return false }
        if na.hasValue {
            if let x = systemValue(.node(a)), let y = systemValue(.node(b)) {
                guard (equivalent ? equivalentValues(x, y) : (equalValues(x, y) ?? false)) else { return false }
            } else if tree.value(a) != tree.value(b) { return false }
        }
        var ca: [ElementTree.NodeID] = [], cb: [ElementTree.NodeID] = []
        for c in tree.children(a) where !(tree.nameIs(c, "id") && equivalent) { ca.append(c) }
        for c in tree.children(b) where !(tree.nameIs(c, "id") && equivalent) { cb.append(c) }
        guard ca.count == cb.count else { return false }
        for (x, y) in zip(ca, cb) {
            let nx = tree[x], ny = tree[y]
            guard tree.bytes.withBytes(nx.nameStart, nx.nameLength, { p in tree.bytes.equals(ny.nameStart, ny.nameLength, p) }) else { return false }
            if !deepEqual(x, y, equivalent: equivalent) { return false }
        }
        return true
    }

    func isComplexNode(_ v: FPValue) -> Bool {
        guard case .node(let id) = v else { return false }
        let t = tree[id].type
        return t >= 0 && table.kinds[Int(t)] == .complex
    }

    /// `=` on two items; nil when the answer is unknown (dates of different precision).
    func equal(_ a: FPValue, _ b: FPValue) -> Bool? {
        // Fast path: a string-like primitive node against a String, compared on the stored bytes.
        if case .node(let id) = a, case .string(let s) = b, let fast = stringNodeEquals(id, s) { return fast }
        if case .string(let s) = a, case .node(let id) = b, let fast = stringNodeEquals(id, s) { return fast }
        if case .node(let x) = a, case .node(let y) = b, isComplexNode(a) || isComplexNode(b) {
            return deepEqual(x, y, equivalent: false)
        }
        guard let sa = systemValue(a), let sb = systemValue(b) else { return false }
        return equalValues(sa, sb)
    }

    func stringNodeEquals(_ id: ElementTree.NodeID, _ s: String) -> Bool? {
        let n = tree[id]
        guard n.type >= 0, table.kinds[Int(n.type)] == .string, n.hasValue else { return nil }
        var s = s
        return s.withUTF8 { tree.bytes.equals(n.valueStart, n.valueLength, $0) }
    }

    func equalValues(_ a: FPValue, _ b: FPValue) -> Bool? {
        switch (a, b) {
        case (.boolean(let x), .boolean(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.integer(let x), .integer(let y)): return x == y
        case (.integer, .decimal), (.decimal, .integer), (.decimal, .decimal): return number(a)! == number(b)!
        case (.date(let x), .date(let y)), (.dateTime(let x), .dateTime(let y)), (.date(let x), .dateTime(let y)),
             (.dateTime(let x), .date(let y)), (.time(let x), .time(let y)):
            return FHIRPathDateTime.compare(x, y).map { $0 == 0 }
        case (.quantity(let x), .quantity(let y)):
            guard let cx = x.canonical(forEquivalence: false), let cy = y.canonical(forEquivalence: false) else { return nil }
            if cx.1 != cy.1 { return nil }
            return cx.0 == cy.0
        default: return false
        }
    }

    func equivalent(_ a: FPValue, _ b: FPValue) -> Bool {
        if case .node(let x) = a, case .node(let y) = b, isComplexNode(a) || isComplexNode(b) {
            return deepEqual(x, y, equivalent: true)
        }
        guard let sa = systemValue(a), let sb = systemValue(b) else { return false }
        return equivalentValues(sa, sb)
    }

    func equivalentValues(_ a: FPValue, _ b: FPValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return normalize(x) == normalize(y)
        case (.integer, .decimal), (.decimal, .integer), (.decimal, .decimal):
            let x = number(a)!, y = number(b)!
            let p = min(scale(a), scale(b))
            return rounded(x, p) == rounded(y, p)
        case (.date(let x), .date(let y)), (.dateTime(let x), .dateTime(let y)), (.date(let x), .dateTime(let y)),
             (.dateTime(let x), .date(let y)), (.time(let x), .time(let y)):
            return FHIRPathDateTime.compare(x, y) == 0
        case (.quantity(let x), .quantity(let y)):
            guard let cx = x.canonical(forEquivalence: true), let cy = y.canonical(forEquivalence: true), cx.1 == cy.1 else { return false }
            let p = min(decimalPlaces(x.value), decimalPlaces(y.value))
            return rounded(cx.0, p) == rounded(cy.0, p)
        default: return equalValues(a, b) ?? false
        }
    }

    func normalize(_ s: String) -> String {
        s.lowercased().split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
    }

    func decimalPlaces(_ d: Decimal) -> Int { FHIRPathDecimal.naturalScale(d) }

    /// Digits after the point of a number value (0 for integers).
    func scale(_ v: FPValue) -> Int {
        if case .decimal(let d) = v { return d.scale }
        return 0
    }

    func rounded(_ d: Decimal, _ places: Int) -> Decimal {
        var x = d, r = Decimal()
        NSDecimalRound(&r, &x, places, .plain)
        return r
    }

    func number(_ v: FPValue) -> Decimal? {
        switch v {
        case .integer(let i): return Decimal(i)
        case .decimal(let d): return d.value
        default: return nil
        }
    }

    /// Ordering for `<` and friends; nil for dates of different precision; error for incomparable types.
    func compare(_ a: FPValue, _ b: FPValue, _ pos: Int) throws(FHIRPathError) -> Int? {
        guard let sa = systemValue(a), let sb = systemValue(b) else { throw fail("cannot compare values without a primitive value", pos) }
        switch (sa, sb) {
        case (.integer(let x), .integer(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.integer, .decimal), (.decimal, .integer), (.decimal, .decimal):
            let x = number(sa)!, y = number(sb)!
            return x < y ? -1 : x > y ? 1 : 0
        case (.string(let x), .string(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.date(let x), .date(let y)), (.dateTime(let x), .dateTime(let y)), (.date(let x), .dateTime(let y)),
             (.dateTime(let x), .date(let y)), (.time(let x), .time(let y)):
            return FHIRPathDateTime.compare(x, y)
        case (.quantity(let x), .quantity(let y)):
            guard let cx = x.canonical(forEquivalence: false), let cy = y.canonical(forEquivalence: false), cx.1 == cy.1 else {
                throw fail("cannot compare quantities with units '\(x.unit)' and '\(y.unit)'", pos)
            }
            return cx.0 < cy.0 ? -1 : cx.0 > cy.0 ? 1 : 0
        default:
            throw fail("cannot compare \(typeName(sa)) with \(typeName(sb))", pos)
        }
    }

    func typeName(_ v: FPValue) -> String {
        switch v {
        case .node(let id): tree.typeName(id) ?? "element"
        case .boolean: "Boolean"
        case .string: "String"
        case .integer: "Integer"
        case .decimal: "Decimal"
        case .date: "Date"
        case .dateTime: "DateTime"
        case .time: "Time"
        case .quantity: "Quantity"
        }
    }

    func contains(_ c: [FPValue], _ v: FPValue) -> Bool {
        c.contains { equal($0, v) == true }
    }

    func distinct(_ c: [FPValue]) -> [FPValue] {
        var out: [FPValue] = []
        for v in c where !contains(out, v) { out.append(v) }
        return out
    }

    // MARK: types

    /// `is` follows FHIR type derivation (`code` is a `string`, `Age` is a `Quantity`); `as` and `ofType`
    /// (`exact`) do so for complex types only, as the HL7 suite expects (`gender.as(string)` is empty).
    func isType(_ v: FPValue, _ t: FPTypeRef, exact: Bool = false) -> Bool {
        if case .node(let id) = v {
            let nt = tree[id].type
            guard nt >= 0 else { return false }
            switch t {
            case .fhir(let f), .either(let f, _):
                // FHIR primitives are distinct types for FHIRPath (`code` is not a `string`).
                return exact && table.kinds[Int(nt)] != .complex ? nt == f : model.isA(nt, f)
            case .system, .nothing: return false
            }
        }
        let s: FPSystemType
        switch v {
        case .boolean: s = .Boolean
        case .string: s = .String
        case .integer: s = .Integer
        case .decimal: s = .Decimal
        case .date: s = .Date
        case .dateTime: s = .DateTime
        case .time: s = .Time
        case .quantity: s = .Quantity
        case .node: return false
        }
        switch t {
        case .system(let x), .either(_, let x): return x == s
        case .fhir, .nothing: return false
        }
    }

    // MARK: operators

    func binary(_ op: FPBinary, _ l: FPCode, _ r: FPCode, _ focus: [FPValue], _ vars: FPVars, _ pos: Int) throws(FHIRPathError) -> [FPValue] {
        let a = try eval(l, focus, vars)
        switch op {
        case .and:
            let x = try truth(a, pos)
            if x == false { return [.boolean(false)] }
            let y = try truth(try eval(r, focus, vars), pos)
            if y == false { return [.boolean(false)] }
            if x == true && y == true { return [.boolean(true)] }
            return []
        case .or:
            let x = try truth(a, pos)
            if x == true { return [.boolean(true)] }
            let y = try truth(try eval(r, focus, vars), pos)
            if y == true { return [.boolean(true)] }
            if x == false && y == false { return [.boolean(false)] }
            return []
        case .xor:
            guard let x = try truth(a, pos), let y = try truth(try eval(r, focus, vars), pos) else { return [] }
            return [.boolean(x != y)]
        case .implies:
            let x = try truth(a, pos)
            if x == false { return [.boolean(true)] }
            let y = try truth(try eval(r, focus, vars), pos)
            if y == true { return [.boolean(true)] }
            if x == true && y == false { return [.boolean(false)] }
            return []
        default: break
        }
        let b = try eval(r, focus, vars)
        switch op {
        case .union:
            return distinct(a + b)
        case .in:
            guard let x = try singleton(a, pos) else { return [] }
            return [.boolean(contains(b, x))]
        case .contains:
            guard let y = try singleton(b, pos) else { return [] }
            return [.boolean(contains(a, y))]
        case .eq, .ne:
            if a.isEmpty || b.isEmpty { return [] }
            var result: Bool? = a.count == b.count
            if a.count == b.count {
                for (x, y) in zip(a, b) {
                    guard let e = equal(x, y) else { result = nil; break }
                    if !e { result = false; break }
                }
            }
            guard let res = result else { return [] }
            return [.boolean(op == .eq ? res : !res)]
        case .equiv, .nequiv:
            var res = a.count == b.count
            if res {
                var used = Array(repeating: false, count: b.count)
                outer: for x in a {
                    for (j, y) in b.enumerated() where !used[j] && equivalent(x, y) { used[j] = true; continue outer }
                    res = false; break
                }
            }
            return [.boolean(op == .equiv ? res : !res)]
        case .lt, .le, .gt, .ge:
            guard let x = try singleton(a, pos), let y = try singleton(b, pos) else { return [] }
            guard let c = try compare(x, y, pos) else { return [] }
            switch op {
            case .lt: return [.boolean(c < 0)]
            case .le: return [.boolean(c <= 0)]
            case .gt: return [.boolean(c > 0)]
            default: return [.boolean(c >= 0)]
            }
        case .concat:
            let x = try singleton(a, pos), y = try singleton(b, pos)
            func s(_ v: FPValue?) throws(FHIRPathError) -> String {
                guard let v else { return "" }
                guard case .string(let t)? = systemValue(v) else { throw fail("'&' needs String operands", pos) }
                return t
            }
            return [.string(try s(x) + s(y))]
        default:
            guard let x0 = try singleton(a, pos), let y0 = try singleton(b, pos) else { return [] }
            guard let x = systemValue(x0), let y = systemValue(y0) else { return [] }
            return try arithmetic(op, x, y, pos)
        }
    }

    func arithmetic(_ op: FPBinary, _ x: FPValue, _ y: FPValue, _ pos: Int) throws(FHIRPathError) -> [FPValue] {
        switch (x, y) {
        case (.string(let s), .string(let t)) where op == .add: return [.string(s + t)]
        case (.integer(let i), .integer(let j)):
            switch op {
            case .add: let r = i.addingReportingOverflow(j); return r.overflow ? [] : [.integer(r.partialValue)]
            case .sub: let r = i.subtractingReportingOverflow(j); return r.overflow ? [] : [.integer(r.partialValue)]
            case .mul: let r = i.multipliedReportingOverflow(by: j); return r.overflow ? [] : [.integer(r.partialValue)]
            case .div: return j == 0 ? [] : [.decimal(FHIRPathDecimal(Decimal(i) / Decimal(j)))]
            case .intDiv:
                let r = i.dividedReportingOverflow(by: j)
                return j == 0 || r.overflow ? [] : [.integer(r.partialValue)]
            case .mod:
                let r = i.remainderReportingOverflow(dividingBy: j)
                return j == 0 || r.overflow ? [] : [.integer(r.partialValue)]
            default: break
            }
        case (.integer, .decimal), (.decimal, .integer), (.decimal, .decimal):
            let i = number(x)!, j = number(y)!
            let sx = scale(x), sy = scale(y)
            switch op {
            case .add: return [.decimal(FHIRPathDecimal(i + j, scale: max(sx, sy)))]
            case .sub: return [.decimal(FHIRPathDecimal(i - j, scale: max(sx, sy)))]
            case .mul: return [.decimal(FHIRPathDecimal(i * j, scale: sx + sy))]
            case .div: return j == 0 ? [] : [.decimal(FHIRPathDecimal(i / j))]
            case .intDiv:
                guard j != 0 else { return [] }
                return [.integer(NSDecimalNumber(decimal: rounded(truncated(i / j), 0)).intValue)]
            case .mod:
                guard j != 0 else { return [] }
                return [.decimal(FHIRPathDecimal(i - j * truncated(i / j), scale: max(sx, sy)))]
            default: break
            }
        case (.quantity(let q), .quantity(let r)):
            switch op {
            case .add, .sub:
                guard let cq = q.canonical(forEquivalence: false), let cr = r.canonical(forEquivalence: false), cq.1 == cr.1 else {
                    throw fail("cannot add quantities with units '\(q.unit)' and '\(r.unit)'", pos)
                }
                if q.unit == r.unit { return [.quantity(FHIRPathQuantity(value: op == .add ? q.value + r.value : q.value - r.value, unit: q.unit))] }
                let v = op == .add ? cq.0 + cr.0 : cq.0 - cr.0
                return [.quantity(FHIRPathQuantity(value: v, unit: cq.1.hasPrefix("ucum:") ? String(cq.1.dropFirst(5)) : cq.1))]
            case .mul:
                // Same dimension (cm × m): multiply in the base unit and square it (m2).
                if let fq = FHIRPathQuantity.ucum[q.unit], let fr = FHIRPathQuantity.ucum[r.unit], fq.base == fr.base, fq.base != "1" {
                    return [.quantity(FHIRPathQuantity(value: q.value * fq.factor * r.value * fr.factor, unit: fq.base + "2"))]
                }
                return [.quantity(FHIRPathQuantity(value: q.value * r.value, unit: combineUnits(q.unit, r.unit, ".")))]
            case .div:
                guard r.value != 0 else { return [] }
                if q.unit == r.unit { return [.quantity(FHIRPathQuantity(value: q.value / r.value, unit: "1"))] }
                return [.quantity(FHIRPathQuantity(value: q.value / r.value, unit: combineUnits(q.unit, r.unit, "/")))]
            default: break
            }
        case (.quantity(let q), .integer), (.quantity(let q), .decimal):
            let n = number(y)!
            if op == .mul { return [.quantity(FHIRPathQuantity(value: q.value * n, unit: q.unit))] }
            if op == .div { return n == 0 ? [] : [.quantity(FHIRPathQuantity(value: q.value / n, unit: q.unit))] }
        case (.integer, .quantity(let q)), (.decimal, .quantity(let q)):
            if op == .mul { return [.quantity(FHIRPathQuantity(value: q.value * number(x)!, unit: q.unit))] }
        case (.date(let d), .quantity(let q)), (.dateTime(let d), .quantity(let q)), (.time(let d), .quantity(let q)):
            guard op == .add || op == .sub else { break }
            let r = try addDuration(d, q, op == .add ? 1 : -1, pos)
            switch x {
            case .date: return [.date(r)]
            case .dateTime: return [.dateTime(r)]
            default: return [.time(r)]
            }
        default: break
        }
        throw fail("operator '\(op.rawValue)' cannot be applied to \(typeName(x)) and \(typeName(y))", pos)
    }

    func combineUnits(_ a: String, _ b: String, _ sep: String) -> String {
        if a == "1" { return sep == "." ? b : "1/" + b }
        if b == "1" { return a }
        return a + sep + b
    }

    func truncated(_ d: Decimal) -> Decimal {
        var x = d, r = Decimal()
        NSDecimalRound(&r, &x, 0, d < 0 ? .up : .down)
        return r
    }

    func addDuration(_ d0: FHIRPathDateTime, _ q: FHIRPathQuantity, _ sign: Int, _ pos: Int) throws(FHIRPathError) -> FHIRPathDateTime {
        var d = d0
        guard Swift.abs(q.value) <= 100_000_000 else { throw fail("duration \(q) is out of range", pos) }
        let amount = NSDecimalNumber(decimal: truncated(q.value)).intValue * sign
        let unit = FHIRPathQuantity.calendarUnits[q.unit] ?? q.unit
        let isCalendar = FHIRPathQuantity.calendarUnits[q.unit] != nil
        switch unit {
        case "a" where isCalendar, "mo" where isCalendar:
            guard !d.isTime else { throw fail("cannot add \(q) to a Time", pos) }
            let months = unit == "a" ? amount * 12 : amount
            if d.precision == .year { d.year += months / 12 } else { d.addMonths(months) }
        case "wk", "d":
            guard !d.isTime else { throw fail("cannot add \(q) to a Time", pos) }
            let days = unit == "wk" ? amount * 7 : amount
            switch d.precision {
            case .year: d.year += days / 365
            case .month: d.addMonths(days / 30)
            default: d.addMilliseconds(Int64(days) * 86_400_000)
            }
        case "h", "min", "s", "ms":
            let factor: Int64 = unit == "h" ? 3_600_000 : unit == "min" ? 60_000 : unit == "s" ? 1000 : 1
            let ms = Int64(amount) * factor
            if !d.isTime && d.precision < .hour {
                let days = ms / 86_400_000
                if d.precision == .day { d.addMilliseconds(days * 86_400_000) }
                else if d.precision == .month { d.addMonths(Int(days / 30)) }
                else { d.year += Int(days / 365) }
            } else {
                d.addMilliseconds(ms)
            }
        default:
            throw fail("cannot add a quantity in '\(q.unit)' to a date/time (use a calendar duration)", pos)
        }
        return d
    }
}
