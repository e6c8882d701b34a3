import Foundation
import FHIRModels

/// Turns FSH profiles of an `FSHTank` into StructureDefinitions (differential, as SUSHI would write
/// it, then a snapshot from `SnapshotGenerator`).
public struct FSHCompiler {
    public var tank: FSHTank
    /// IG canonical base, e.g. `https://interop.esante.gouv.fr/ig/fhir/sdo`.
    public var canonicalBase: String
    public var version: String
    /// Invariants referenced by `obeys` but defined outside the tank (key → constraint JSON with at
    /// least `severity`, `human`, `expression`).
    public var externalInvariants: [String: JSONValue] = [:]
    /// Resolves StructureDefinitions with snapshots (core types and resources, other profiles).
    public var resolve: (String) -> JSONValue?

    public init(tank: FSHTank, canonicalBase: String, version: String, resolve: @escaping (String) -> JSONValue?) {
        self.tank = tank; self.canonicalBase = canonicalBase; self.version = version; self.resolve = resolve
    }

    public func url(ofProfile name: String) -> String? {
        tank.profiles[name].map { canonicalBase + "/StructureDefinition/" + ($0.id.isEmpty ? $0.name : $0.id) }
    }

    /// The profile with its differential only.
    public func differential(profile name: String) throws(FSHError) -> JSONValue {
        guard let p = tank.profiles[name] else { throw FSHError(file: "-", line: 0, message: "no profile named \(name)") }
        var ctx = try ProfileContext(compiler: self, profile: p)
        try ctx.run()
        return ctx.output()
    }

    /// The profile with differential and snapshot; the differential is put in snapshot order.
    public func structureDefinition(profile name: String) throws -> JSONValue {
        let diffSD = try differential(profile: name)
        let resolver: (String) -> JSONValue? = { url in
            if let sd = self.resolve(url) { return sd }
            // parents and type profiles defined in this tank
            for (n, _) in self.tank.profiles where self.url(ofProfile: n) == Canonical.stripVersion(url) && n != name {
                return try? self.structureDefinition(profile: n)
            }
            return nil
        }
        var sd = try SnapshotGenerator.generate(diffSD, resolve: resolver)
        let order = Dictionary((sd["snapshot"]?["element"]?.array ?? []).enumerated().compactMap { (i, e) in
            e["id"]?.string.map { ($0, i) } }, uniquingKeysWith: { a, _ in a })
        if let diff = sd["differential"]?["element"]?.array {
            let sorted = diff.enumerated().sorted { a, b in
                let x = order[a.element["id"]?.string ?? ""] ?? Int.max, y = order[b.element["id"]?.string ?? ""] ?? Int.max
                return x != y ? x < y : a.offset < b.offset
            }.map(\.element)
            sd["differential"] = .object([("element", .array(sorted))])
        }
        return sd
    }
}

/// Compilation state of one profile.
private struct ProfileContext {
    let compiler: FSHCompiler
    let profile: FSHProfile
    let url: String
    let type: String
    let baseURL: String
    let baseSD: JSONValue
    var sdFields: [(String, JSONValue)] = []
    /// Differential elements by id, in first-touched order.
    var order: [String] = []
    var elements: [String: JSONValue] = [:]

    init(compiler: FSHCompiler, profile: FSHProfile) throws(FSHError) {
        self.compiler = compiler
        self.profile = profile
        self.url = compiler.url(ofProfile: profile.name) ?? ""
        let parent = profile.parent
        var base: String
        if let u = compiler.url(ofProfile: parent) { base = u }
        else if parent.contains("://") { base = parent }
        else { base = "http://hl7.org/fhir/StructureDefinition/" + parent }
        if let aliased = compiler.tank.aliases[parent] { base = aliased }
        self.baseURL = base
        var sd = compiler.resolve(base)
        if sd == nil, compiler.tank.profiles[parent] != nil {
            sd = try? compiler.structureDefinition(profile: parent)
        }
        guard let found = sd, let t = found["type"]?.string else {
            throw FSHError(file: profile.file, line: profile.line, message: "parent \(parent) of \(profile.name) not found")
        }
        self.baseSD = found
        self.type = t
    }

    func fail(_ rule: FSHRule, _ message: String) -> FSHError {
        FSHError(file: rule.file, line: rule.line, message: message)
    }

    mutating func touch(_ id: String, path: String) {
        if elements[id] == nil {
            order.append(id)
            elements[id] = .object([("id", .string(id)), ("path", .string(path))])
        }
    }

    mutating func set(_ id: String, _ key: String, _ value: JSONValue) {
        elements[id]?[key] = value
    }

    mutating func run() throws(FSHError) {
        touch(type, path: type)
        var rules: [FSHRule] = []
        for r in profile.rules {
            let t = FSHTank.tokenize(r.text)
            if t.first == "insert", t.count >= 2 {
                guard let set = compiler.tank.ruleSets[t[1]] else { throw fail(r, "unknown RuleSet \(t[1])") }
                rules.append(contentsOf: set)
            } else {
                rules.append(r)
            }
        }
        for r in rules { try apply(r) }
    }

    func output() -> JSONValue {
        var sd: [(String, JSONValue)] = [
            ("resourceType", .string("StructureDefinition")),
            ("id", .string(profile.id.isEmpty ? profile.name : profile.id)),
            ("url", .string(url)),
            ("version", .string(compiler.version)),
            ("name", .string(profile.name)),
        ]
        if let t = profile.title { sd.append(("title", .string(t))) }
        sd.append(("status", .string("active")))
        if let d = profile.description { sd.append(("description", .string(d))) }
        sd.append(("fhirVersion", .string("4.0.1")))
        sd.append(("kind", baseSD["kind"] ?? .string("resource")))
        sd.append(("abstract", .bool(false)))
        sd.append(("type", .string(type)))
        sd.append(("baseDefinition", .string(baseURL)))
        sd.append(("derivation", .string("constraint")))
        var obj = JSONValue.object(sd)
        for (k, v) in sdFields { obj[k] = v }
        obj["differential"] = .object([("element", .array(order.compactMap { elements[$0] }))])
        return obj
    }

    // MARK: rules

    mutating func apply(_ r: FSHRule) throws(FSHError) {
        let t = FSHTank.tokenize(r.text)
        guard let first = t.first else { return }
        if first == "obeys" {
            try obeys(r, id: type, keys: Array(t.dropFirst()))
            return
        }
        if first.hasPrefix("^") {
            guard t.count >= 3, t[1] == "=" else { throw fail(r, "unsupported caret rule '\(r.text)'") }
            var obj = JSONValue.object(sdFields)
            try setCaret(r, on: &obj, path: String(first.dropFirst()), value: t[2], elementType: nil)
            sdFields = obj.members ?? []
            return
        }
        let target = try resolvePath(r, first)
        touch(target.id, path: target.path)
        let rest = Array(t.dropFirst())
        guard let op = rest.first else { throw fail(r, "rule without operation: '\(r.text)'") }
        if op.hasPrefix("^") {
            guard rest.count >= 3, rest[1] == "=" else { throw fail(r, "unsupported caret rule '\(r.text)'") }
            var e = elements[target.id]!
            try setCaret(r, on: &e, path: String(op.dropFirst()), value: rest[2], elementType: nil)
            elements[target.id] = e
        } else if op == "=" {
            guard rest.count >= 2 else { throw fail(r, "assignment without value") }
            let exactly = rest.contains("(exactly)")
            let display = rest.count >= 3 && rest[2].hasPrefix("\"") ? FSHTank.unquote(rest[2]) : nil
            let (suffix, value) = try typedValue(r, rest[1], display: display, types: target.types)
            var e = elements[target.id]!
            if case .object(let m) = e { e = .object(m.filter { !$0.0.hasPrefix("fixed") && !$0.0.hasPrefix("pattern") }) }
            e[(exactly ? "fixed" : "pattern") + suffix] = value
            elements[target.id] = e
        } else if op == "from" {
            guard rest.count >= 2 else { throw fail(r, "binding without value set") }
            var strength = "required"
            if rest.count >= 3, rest[2].hasPrefix("(") { strength = String(rest[2].dropFirst().dropLast()) }
            let vs = canonical(rest[1], kind: "ValueSet")
            set(target.id, "binding", .object([("strength", .string(strength)), ("valueSet", .string(vs))]))
        } else if op == "only" {
            var types: [JSONValue] = []
            for name in rest.dropFirst() where name != "or" { types.append(contentsOf: try typeRef(r, name)) }
            set(target.id, "type", .array(types))
        } else if op == "contains" {
            try contains(r, target: target, items: Array(rest.dropFirst()))
        } else if op == "obeys" {
            try obeys(r, id: target.id, keys: Array(rest.dropFirst()))
        } else if let card = Self.cardinality(op) {
            if let min = card.min { set(target.id, "min", .number(String(min))) }
            if let max = card.max { set(target.id, "max", .string(max)) }
            try flags(r, id: target.id, Array(rest.dropFirst()))
        } else {
            try flags(r, id: target.id, rest)
        }
    }

    static func cardinality(_ s: String) -> (min: Int?, max: String?)? {
        guard let range = s.range(of: "..") else { return nil }
        let lo = s[..<range.lowerBound], hi = s[range.upperBound...]
        if !lo.isEmpty && Int(lo) == nil { return nil }
        if !hi.isEmpty && hi != "*" && Int(hi) == nil { return nil }
        return (lo.isEmpty ? nil : Int(lo), hi.isEmpty ? nil : String(hi))
    }

    mutating func flags(_ r: FSHRule, id: String, _ flags: [String]) throws(FSHError) {
        for f in flags {
            switch f {
            case "MS": set(id, "mustSupport", .bool(true))
            case "SU": set(id, "isSummary", .bool(true))
            case "?!": set(id, "isModifier", .bool(true))
            case "N", "TU", "D": break   // standards status flags: not needed for validation
            default: throw fail(r, "unsupported rule '\(r.text)'")
            }
        }
    }

    mutating func obeys(_ r: FSHRule, id: String, keys: [String]) throws(FSHError) {
        var list = elements[id]?["constraint"]?.array ?? []
        for key in keys where key != "and" {
            var c: [(String, JSONValue)] = [("key", .string(key))]
            if let inv = compiler.tank.invariants[key] {
                c.append(("severity", .string(inv.severity)))
                c.append(("human", .string(inv.description)))
                if let e = inv.expression { c.append(("expression", .string(e))) }
                if let x = inv.xpath { c.append(("xpath", .string(x))) }
            } else if let ext = compiler.externalInvariants[key] {
                for k in ["severity", "human", "expression", "xpath"] { if let v = ext[k] { c.append((k, v)) } }
            } else {
                throw fail(r, "invariant \(key) is not defined")
            }
            c.append(("source", .string(url)))
            list.append(.object(c))
        }
        set(id, "constraint", .array(list))
    }

    mutating func contains(_ r: FSHRule, target: Target, items: [String]) throws(FSHError) {
        var groups: [[String]] = [[]]
        for tok in items { if tok == "and" { groups.append([]) } else { groups[groups.count - 1].append(tok) } }
        var sumMin = 0
        for g in groups where !g.isEmpty {
            var name = g[0]
            var extensionURL: String?
            var rest = Array(g.dropFirst())
            if rest.first == "named", rest.count >= 2 {
                extensionURL = canonical(g[0], kind: "StructureDefinition")
                name = rest[1]
                rest = Array(rest.dropFirst(2))
            }
            let id = target.id + ":" + name
            touch(id, path: target.path)
            set(id, "sliceName", .string(name))
            guard let cardTok = rest.first, let card = Self.cardinality(cardTok) else {
                throw fail(r, "slice \(name) needs a cardinality")
            }
            set(id, "min", .number(String(card.min ?? 0)))
            sumMin += card.min ?? 0
            if let max = card.max { set(id, "max", .string(max)) }
            if let ext = extensionURL {
                set(id, "type", .array([.object([("code", .string("Extension")), ("profile", .array([.string(ext)]))])]))
            }
            try flags(r, id: id, Array(rest.dropFirst()))
        }
        // as SUSHI: the sliced element's minimum is at least the sum of its slices' minimums
        let currentMin = elements[target.id]?["min"]?.int ?? target.baseMin
        if sumMin > currentMin { set(target.id, "min", .number(String(sumMin))) }
    }

    /// Sets `path` (dot-separated, `[n]` indexes; arrays of slicing discriminators, constraints… default
    /// to index 0) to the FSH literal `value`.
    func setCaret(_ r: FSHRule, on obj: inout JSONValue, path: String, value: String, elementType: String?) throws(FSHError) {
        let v = literal(value)
        let segs = path.split(separator: ".").map(String.init)
        func assign(_ node: inout JSONValue, _ i: Int) {
            var seg = segs[i]
            var index: Int?
            if let b = seg.firstIndex(of: "["), seg.hasSuffix("]") {
                index = Int(seg[seg.index(after: b)..<seg.index(before: seg.endIndex)])
                seg = String(seg[..<b])
            }
            let arrays: Set<String> = ["discriminator", "constraint", "alias", "code", "type", "mapping", "example", "condition",
                                       "contact", "jurisdiction", "useContext", "context", "keyword"]
            if index == nil && ((i == 0 && arrays.contains(seg)) || seg == "discriminator") { index = 0 }
            if case .object = node {} else { node = .object([]) }
            if let index {
                var arr = node[seg]?.array ?? []
                while arr.count <= index { arr.append(.object([])) }
                if i == segs.count - 1 { arr[index] = v } else { assign(&arr[index], i + 1) }
                node[seg] = .array(arr)
            } else {
                if i == segs.count - 1 { node[seg] = v; return }
                var child = node[seg] ?? .object([])
                assign(&child, i + 1)
                node[seg] = child
            }
        }
        guard !segs.isEmpty else { throw fail(r, "empty caret path") }
        assign(&obj, 0)
    }

    /// An FSH literal as JSON (codes become their code text).
    func literal(_ s: String) -> JSONValue {
        if s.hasPrefix("\"") { return .string(FSHTank.unquote(s)) }
        if s == "true" || s == "false" { return .bool(s == "true") }
        if s.hasPrefix("#") { return .string(String(s.dropFirst())) }
        if Double(s) != nil { return .number(s) }
        return .string(compiler.tank.aliases[s] ?? s)
    }

    /// `pattern`/`fixed` suffix and value for an assignment to an element of `types`.
    func typedValue(_ r: FSHRule, _ raw: String, display: String?, types: [String]) throws(FSHError) -> (String, JSONValue) {
        let type = types.count == 1 ? types[0] : (types.first ?? "")
        func cap(_ t: String) -> String { (t.first?.uppercased() ?? "") + t.dropFirst() }
        if let hash = raw.firstIndex(of: "#"), !raw.hasPrefix("\"") {
            let sys = String(raw[..<hash])
            var code = String(raw[raw.index(after: hash)...])
            if code.hasPrefix("\"") { code = FSHTank.unquote(code) }
            let system = sys.isEmpty ? nil : canonical(sys, kind: "CodeSystem")
            var coding: [(String, JSONValue)] = []
            if let system { coding.append(("system", .string(system))) }
            coding.append(("code", .string(code)))
            if let display { coding.append(("display", .string(display))) }
            switch type {
            case "code", "string", "uri":
                return (cap(type), .string(code))
            case "Coding":
                return ("Coding", .object(coding))
            case "CodeableConcept":
                return ("CodeableConcept", .object([("coding", .array([.object(coding)]))]))
            case "Quantity":
                var q: [(String, JSONValue)] = []
                if let system { q.append(("system", .string(system))) }
                q.append(("code", .string(code)))
                return ("Quantity", .object(q))
            default:
                throw fail(r, "cannot assign a code to an element of type \(types.joined(separator: "|"))")
            }
        }
        let v = literal(raw)
        guard !type.isEmpty else { throw fail(r, "cannot infer the type of the assigned element") }
        return (cap(type), v)
    }

    /// Canonical for a name in the tank, an alias, or a URL.
    func canonical(_ s: String, kind: String) -> String {
        if let a = compiler.tank.aliases[s] { return a }
        if s.contains(":") { return s }
        switch kind {
        case "ValueSet": if let id = compiler.tank.valueSets[s] { return compiler.canonicalBase + "/ValueSet/" + id }
        case "CodeSystem": if let id = compiler.tank.codeSystems[s] { return compiler.canonicalBase + "/CodeSystem/" + id }
        default: break
        }
        if let u = compiler.url(ofProfile: s) { return u }
        return "http://hl7.org/fhir/\(kind)/" + s
    }

    /// Types of an `only` rule item: `string`, `Identifier`, a profile name, `Reference(A or B)`.
    func typeRef(_ r: FSHRule, _ s: String) throws(FSHError) -> [JSONValue] {
        for wrapper in ["Reference", "Canonical", "CodeableReference"] where s.hasPrefix(wrapper + "(") && s.hasSuffix(")") {
            let inner = s.dropFirst(wrapper.count + 1).dropLast()
            let targets = inner.split(separator: " ").map(String.init).filter { $0 != "or" && $0 != "|" }
            let urls = targets.map { t -> JSONValue in .string(canonical(t, kind: "StructureDefinition")) }
            return [.object([("code", .string(wrapper.lowercased() == "canonical" ? "canonical" : wrapper)), ("targetProfile", .array(urls))])]
        }
        if let p = compiler.tank.profiles[s], let u = compiler.url(ofProfile: s) {
            let parentType: String
            if let sd = compiler.resolve("http://hl7.org/fhir/StructureDefinition/" + p.parent) { parentType = sd["type"]?.string ?? p.parent }
            else if let pp = compiler.tank.profiles[p.parent] { parentType = pp.parent }
            else { parentType = p.parent }
            return [.object([("code", .string(parentType)), ("profile", .array([.string(u)]))])]
        }
        if let a = compiler.tank.aliases[s] ?? (s.contains("://") ? s : nil), let sd = compiler.resolve(a), let t = sd["type"]?.string {
            return [.object([("code", .string(t)), ("profile", .array([.string(a)]))])]
        }
        guard compiler.resolve("http://hl7.org/fhir/StructureDefinition/" + s) != nil else {
            throw fail(r, "unknown type \(s)")
        }
        return [.object([("code", .string(s))])]
    }

    // MARK: paths

    struct Target { var id: String; var path: String; var types: [String]; var baseMin: Int }

    /// Turns an FSH path (`input[idNat_Struct].valueCodeableConcept.coding`) into the element id and
    /// path, walking the parent's snapshot and the datatypes' snapshots (typed choice names map to the
    /// `[x]` element), and reports the element's types (as narrowed by earlier `only` rules).
    func resolvePath(_ r: FSHRule, _ fshPath: String) throws(FSHError) -> Target {
        var segs: [(name: String, slice: String?)] = []
        var depth = 0, cur = ""
        for c in fshPath {
            if c == "[" { depth += 1 } else if c == "]" { depth -= 1 }
            if c == "." && depth == 0 { segs.append(Self.segment(cur)); cur = "" } else { cur.append(c) }
        }
        if !cur.isEmpty { segs.append(Self.segment(cur)) }
        var elems = baseSD["snapshot"]?["element"]?.array ?? []
        var ctxPath = type           // path prefix within `elems`
        var id = type, path = type
        var types: [String] = []
        var baseMin = 0
        for (n, seg) in segs.enumerated() {
            var name = seg.name
            var found = elems.first { $0["path"]?.string == ctxPath + "." + name }
            var impliedType: String?
            if found == nil {
                // typed choice name: valueCodeableConcept → value[x]
                for e in elems {
                    guard let p = e["path"]?.string, p.hasPrefix(ctxPath + "."), p.hasSuffix("[x]") else { continue }
                    let stem = String(p.dropFirst(ctxPath.count + 1).dropLast(3))
                    guard !stem.contains("."), name.hasPrefix(stem), name.count > stem.count else { continue }
                    let tn = String(name.dropFirst(stem.count))
                    let lowered = (tn.first?.lowercased() ?? "") + tn.dropFirst()
                    let codes = (e["type"]?.array ?? []).compactMap { $0["code"]?.string }
                    if let code = codes.first(where: { $0 == tn || $0 == lowered }) {
                        found = e; impliedType = code; name = stem + "[x]"; break
                    }
                }
            }
            if found == nil, n > 0, types.count == 1, let sd = compiler.resolve("http://hl7.org/fhir/StructureDefinition/" + types[0]),
               let tElems = sd["snapshot"]?["element"]?.array {
                // step into the datatype
                elems = tElems
                ctxPath = types[0]
                found = elems.first { $0["path"]?.string == ctxPath + "." + name }
            }
            guard let el = found else {
                throw fail(r, "path '\(fshPath)': no element '\(seg.name)' under '\(path)'")
            }
            ctxPath += "." + name
            id += "." + name + (seg.slice.map { ":" + $0 } ?? "")
            path += "." + name
            types = (el["type"]?.array ?? []).compactMap { $0["code"]?.string }
            baseMin = el["min"]?.int ?? 0
            if let narrowed = elements[id]?["type"]?.array ?? elements[Self.unsliced(id)]?["type"]?.array {
                types = narrowed.compactMap { $0["code"]?.string }
            } else if let impliedType {
                types = [impliedType]
            }
            if elements[id]?["min"] != nil && seg.slice != nil { baseMin = elements[id]?["min"]?.int ?? baseMin }
            // a contentReference (`#Questionnaire.item`) continues in the referenced element
            if let cref = el["contentReference"]?.string, let hash = cref.firstIndex(of: "#") {
                ctxPath = String(cref[cref.index(after: hash)...])
            }
        }
        return Target(id: id, path: path, types: types, baseMin: baseMin)
    }

    static func segment(_ s: String) -> (name: String, slice: String?) {
        if s.hasSuffix("[x]") { return (s, nil) }
        if let b = s.firstIndex(of: "["), s.hasSuffix("]") {
            return (String(s[..<b]), String(s[s.index(after: b)..<s.index(before: s.endIndex)]))
        }
        return (s, nil)
    }

    /// `Task.input:a.value[x]` → `Task.input.value[x]`.
    static func unsliced(_ id: String) -> String { IDPath.pathOf(id) }
}
