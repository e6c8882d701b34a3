import Foundation
import FHIRModels

/// Turns FSH `Instance:` entities of an `FSHTank` into FHIR JSON, the way SUSHI does for the rules the
/// SDO examples use:
/// - `id` = the instance name, `meta.profile` = the canonical of `InstanceOf` when it is a profile;
/// - implied values first (SUSHI's "implied properties"): elements with `min >= 1` and a fixed or pattern
///   value, and required slices (created in profile order, each with the fixed/pattern values of its
///   direct children — the values that make the item match its slice);
/// - then the rules in order: `* path = value` with codes (`#c`, `$alias#c "display"`, `System#c`),
///   strings, booleans, numbers, dates, `Reference(name)`, inline instances (`entry[=].resource = name`);
///   paths with slice names (`input[idNat_Struct].valueIdentifier.value`: the slice is found in the
///   profile's snapshot, its item is created with the slice's fixed/pattern values), numeric and soft
///   indexes (`[0]`, `[+]`, `[=]`); an assigned complex value is merged into the implied one;
/// - members in element definition order (`ModelInfo`), `resourceType` first.
/// Path-only rules (`* input[idNat_Struct]`) create nothing, as in SUSHI.
public struct FSHInstanceCompiler {
    public var tank: FSHTank
    public var canonicalBase: String
    /// StructureDefinitions with snapshots by canonical (profiles and core types).
    public var resolve: (String) -> JSONValue?
    /// Instance names used in rules that are misspelt in the source → the declared instance name.
    public var nameCorrections: [String: String] = [:]

    public init(tank: FSHTank, canonicalBase: String, resolve: @escaping (String) -> JSONValue?) {
        self.tank = tank; self.canonicalBase = canonicalBase; self.resolve = resolve
    }

    /// Canonical of the profile an instance claims, nil when `InstanceOf` is a core resource.
    public func profileURL(of instance: FSHInstance) -> String? {
        let of = instance.instanceOf
        if let p = tank.profiles[of] { return canonicalBase + "/StructureDefinition/" + (p.id.isEmpty ? p.name : p.id) }
        if let a = tank.aliases[of] { return a }
        if of.contains("://") { return of }
        return nil
    }

    /// Names of the instances that are not inline (one resource each), in source order.
    public var topLevelInstances: [String] {
        tank.instanceOrder.filter { tank.instances[$0]?.usage != "inline" }
    }

    /// The instance as FHIR JSON.
    public func instance(_ name: String) throws(FSHError) -> JSONValue {
        try instance(name, visiting: [])
    }

    func instance(_ name: String, visiting: Set<String>) throws(FSHError) -> JSONValue {
        let real = tank.instances[name] != nil ? name : (nameCorrections[name] ?? name)
        guard let inst = tank.instances[real] else { throw FSHError(file: "-", line: 0, message: "no instance named \(name)") }
        guard !visiting.contains(real) else { throw FSHError(file: inst.file, line: inst.line, message: "instance \(real) contains itself") }
        var b = try InstanceBuilder(compiler: self, instance: inst, visiting: visiting.union([real]))
        return try b.build()
    }
}

/// Elements of one snapshot by id, with their direct children.
private final class SnapshotIndex {
    let byID: [String: JSONValue]
    let children: [String: [JSONValue]]

    init(_ sd: JSONValue) {
        var byID: [String: JSONValue] = [:]
        var children: [String: [JSONValue]] = [:]
        for e in sd["snapshot"]?["element"]?.array ?? [] {
            guard let id = e["id"]?.string else { continue }
            byID[id] = e
            // the parent id is everything before the last '.' that is not inside a slice name
            if let dot = Self.lastDot(id) { children[String(id[..<dot]), default: []].append(e) }
        }
        self.byID = byID; self.children = children
    }

    static func lastDot(_ id: String) -> String.Index? {
        // slice names never contain '.', but they may follow it (`Task.input:a.value[x]`)
        id.lastIndex(of: ".")
    }
}

private struct SDContext {
    let index: SnapshotIndex
    let id: String
    var element: JSONValue? { index.byID[id] }
}

private struct InstanceBuilder {
    let compiler: FSHInstanceCompiler
    let instance: FSHInstance
    let visiting: Set<String>
    let model = ModelInfo.r4
    let profileURL: String?
    let rootType: ModelInfo.TypeID
    let rootContext: SDContext
    var indexes: [String: SnapshotIndex] = [:]
    /// Last index used by `[n]`/`[+]`/`[=]`, by array path (`entry`, `input[3].valueCodeableConcept.coding`).
    var softIndex: [String: Int] = [:]
    /// Slice name (or nil) of every item of every array created so far, by array path.
    var labels: [String: [String?]] = [:]

    init(compiler: FSHInstanceCompiler, instance: FSHInstance, visiting: Set<String>) throws(FSHError) {
        self.compiler = compiler
        self.instance = instance
        self.visiting = visiting
        let url = compiler.profileURL(of: instance)
        self.profileURL = url
        let sdURL = url ?? "http://hl7.org/fhir/StructureDefinition/" + instance.instanceOf
        guard let sd = compiler.resolve(sdURL), let typeName = sd["type"]?.string, let t = ModelInfo.r4.type(named: typeName) else {
            throw FSHError(file: instance.file, line: instance.line,
                           message: "InstanceOf \(instance.instanceOf) of \(instance.name): no StructureDefinition \(sdURL)")
        }
        self.rootType = t
        let idx = SnapshotIndex(sd)
        self.rootContext = SDContext(index: idx, id: typeName)
        indexes[sdURL] = idx
    }

    func fail(_ r: FSHRule, _ message: String) -> FSHError { FSHError(file: r.file, line: r.line, message: message) }

    mutating func build() throws(FSHError) -> JSONValue {
        var root = newNode(rootContext, type: rootType, key: "", sliceItem: false)
        let typeName = model[type: rootType].name
        root["resourceType"] = .string(typeName)
        root["id"] = .string(instance.name)
        for r in instance.rules { try apply(r, to: &root) }
        if let profileURL {
            var meta = root["meta"] ?? .object([])
            var profiles = meta["profile"]?.array ?? []
            if !profiles.contains(.string(profileURL)) { profiles.insert(.string(profileURL), at: 0) }
            meta["profile"] = .array(profiles)
            root["meta"] = meta
        }
        return ordered(root, type: rootType)
    }

    // MARK: rules

    struct Segment { var name: String; var bracket: String? }

    static func segments(_ path: String) -> [Segment] {
        var segs: [Segment] = []
        var cur = "", depth = 0
        for c in path {
            if c == "[" { depth += 1 } else if c == "]" { depth -= 1 }
            if c == "." && depth == 0 { segs.append(segment(cur)); cur = "" } else { cur.append(c) }
        }
        if !cur.isEmpty { segs.append(segment(cur)) }
        return segs
    }

    static func segment(_ s: String) -> Segment {
        if let b = s.firstIndex(of: "["), s.hasSuffix("]"), !s.hasSuffix("[x]") {
            return Segment(name: String(s[..<b]), bracket: String(s[s.index(after: b)..<s.index(before: s.endIndex)]))
        }
        return Segment(name: s, bracket: nil)
    }

    mutating func apply(_ r: FSHRule, to root: inout JSONValue) throws(FSHError) {
        let t = FSHTank.tokenize(r.text)
        guard let path = t.first else { return }
        if t.count == 1 { return }            // a path rule: sets nothing
        guard t[1] == "=", t.count >= 3 else { throw fail(r, "unsupported instance rule '\(r.text)'") }
        if path.hasPrefix("^") { throw fail(r, "caret rules are not supported in instances: '\(r.text)'") }
        let segs = Self.segments(path)
        guard !segs.isEmpty else { throw fail(r, "empty path") }
        let display = t.count >= 4 && t[3].hasPrefix("\"") ? FSHTank.unquote(t[3]) : nil
        try assign(&root, ctx: rootContext, type: rootType, key: "", segs: segs[...], raw: t[2], display: display, rule: r)
    }

    /// Walks `segs` from `node` (of `type`, described by `ctx` when the profile reaches it), creating
    /// missing nodes with their implied values, and assigns the value at the end.
    mutating func assign(_ node: inout JSONValue, ctx: SDContext?, type: ModelInfo.TypeID, key: String,
                         segs: ArraySlice<Segment>, raw: String, display: String?, rule: FSHRule) throws(FSHError) {
        let seg = segs.first!
        var nodeType = type
        if model[type: type].isAbstract, let rt = node["resourceType"]?.string, let concrete = model.type(named: rt) { nodeType = concrete }
        guard let (element, childType) = model.resolve(nodeType, name: seg.name) else {
            throw fail(rule, "no element '\(seg.name)' in \(model[type: nodeType].name)")
        }
        let info = model[element: element]
        if info.isChoice && seg.name == info.name { throw fail(rule, "name the type of choice '\(seg.name)[x]' (e.g. \(seg.name)String)") }
        let isSlice = seg.bracket.map { Int($0) == nil && $0 != "+" && $0 != "=" } ?? false
        let childCtx = try step(ctx, nodeType: nodeType, element: info.name + (info.isChoice ? "[x]" : ""),
                                slice: isSlice ? seg.bracket : nil, rule: rule)
        let memberKey = key.isEmpty ? seg.name : key + "." + seg.name
        let last = segs.count == 1
        if model.repeats(element) {
            var items = node[seg.name]?.array ?? []
            var itemLabels = labels[memberKey] ?? []
            while itemLabels.count < items.count { itemLabels.append(nil) }
            let index: Int
            switch seg.bracket {
            case nil: index = 0
            case "+": index = (softIndex[memberKey] ?? -1) + 1
            case "=": index = softIndex[memberKey] ?? 0
            case let b? where Int(b) != nil: index = Int(b)!
            case let slice?: index = itemLabels.firstIndex(of: slice) ?? items.count
            }
            if !isSlice { softIndex[memberKey] = index }
            let itemKey = memberKey + "[\(index)]"
            while items.count <= index {
                let creating = items.count == index
                let item = creating ? newNode(childCtx, type: childType, key: itemKey, sliceItem: isSlice) : .object([])
                items.append(item)
                itemLabels.append(creating && isSlice ? seg.bracket : nil)
            }
            labels[memberKey] = itemLabels
            if last {
                items[index] = Self.merge(items[index], try value(raw, display: display, type: childType, rule: rule))
            } else {
                var child = items[index]
                try assign(&child, ctx: childCtx, type: childType, key: itemKey, segs: segs.dropFirst(), raw: raw, display: display, rule: rule)
                items[index] = child
            }
            node[seg.name] = .array(items)
        } else {
            if let b = seg.bracket, b != "0", b != "=" { throw fail(rule, "'\(seg.name)' does not repeat: [\(b)] is not allowed") }
            if last {
                let v = try value(raw, display: display, type: childType, rule: rule)
                let existing = node[seg.name] ?? (model.kind(childType) == .primitive ? nil : newNode(childCtx, type: childType, key: memberKey, sliceItem: false))
                node[seg.name] = existing.map { Self.merge($0, v) } ?? v
            } else {
                var child = node[seg.name] ?? newNode(childCtx, type: childType, key: memberKey, sliceItem: false)
                try assign(&child, ctx: childCtx, type: childType, key: memberKey, segs: segs.dropFirst(), raw: raw, display: display, rule: rule)
                node[seg.name] = child
            }
        }
    }

    /// The snapshot element of a child (`name` is the element name, `value[x]` for a choice), going into
    /// the datatype's own definition when the profile does not reach that far.
    mutating func step(_ ctx: SDContext?, nodeType: ModelInfo.TypeID, element name: String, slice: String?,
                       rule: FSHRule) throws(FSHError) -> SDContext? {
        var candidates: [SDContext] = []
        if let ctx { candidates.append(SDContext(index: ctx.index, id: ctx.id + "." + name)) }
        if model.kind(nodeType) == .complex {
            let typeName = model[type: nodeType].name
            let url = "http://hl7.org/fhir/StructureDefinition/" + typeName
            if let idx = index(for: url) { candidates.append(SDContext(index: idx, id: typeName + "." + name)) }
        }
        guard let base = candidates.first(where: { $0.element != nil }) else {
            if let slice { throw fail(rule, "slice '\(slice)' of '\(name)': the profile has no such element") }
            return nil
        }
        guard let slice else { return base }
        let sliced = SDContext(index: base.index, id: base.id + ":" + slice)
        guard sliced.element != nil else {
            throw fail(rule, "no slice '\(slice)' on \(base.id) in the profile of \(instance.name)")
        }
        return sliced
    }

    mutating func index(for url: String) -> SnapshotIndex? {
        if let i = indexes[url] { return i }
        guard let sd = compiler.resolve(url) else { return nil }
        let i = SnapshotIndex(sd)
        indexes[url] = i
        return i
    }

    /// A new object for an element: its implied values (children with `min >= 1` — or any child of a
    /// slice item — with a fixed or pattern value; required slices with their own implied values).
    mutating func newNode(_ ctx: SDContext?, type: ModelInfo.TypeID, key: String, sliceItem: Bool) -> JSONValue {
        var obj = JSONValue.object([])
        guard let ctx, model.kind(type) != .primitive else { return obj }
        for child in ctx.index.children[ctx.id] ?? [] {
            guard let cid = child["id"]?.string else { continue }
            let last = String(cid.dropFirst(ctx.id.count + 1))
            let parts = last.split(separator: ":", maxSplits: 1).map(String.init)
            let name = parts[0], sliceName = parts.count > 1 ? parts[1] : nil
            let min = child["min"]?.int ?? 0
            let stem = name.hasSuffix("[x]") ? String(name.dropLast(3)) : name
            if let (suffix, v) = Self.fixedOrPattern(child) {
                guard min >= 1 || sliceItem else { continue }
                if sliceName != nil && !name.hasSuffix("[x]") { continue }
                let jsonKey = name.hasSuffix("[x]") ? stem + suffix : name
                guard let (element, _) = model.resolve(type, name: jsonKey) else { continue }
                let wrapped: JSONValue = model.repeats(element) ? .array([v]) : v
                obj[jsonKey] = obj[jsonKey].map { Self.merge($0, wrapped) } ?? wrapped
            } else if let sliceName, min >= 1, !name.hasSuffix("[x]"), name != "extension", name != "modifierExtension",
                      let (element, childType) = model.resolve(type, name: name), model.repeats(element) {
                let arrayKey = key.isEmpty ? name : key + "." + name
                var items = obj[name]?.array ?? []
                var itemLabels = labels[arrayKey] ?? []
                for _ in 0..<min {
                    let item = newNode(SDContext(index: ctx.index, id: cid), type: childType,
                                       key: arrayKey + "[\(items.count)]", sliceItem: true)
                    items.append(item)
                    itemLabels.append(sliceName)
                }
                labels[arrayKey] = itemLabels
                obj[name] = .array(items)
            }
        }
        return obj
    }

    static func fixedOrPattern(_ e: JSONValue) -> (String, JSONValue)? {
        for (k, v) in e.members ?? [] {
            if k.hasPrefix("fixed") { return (String(k.dropFirst(5)), v) }
            if k.hasPrefix("pattern") { return (String(k.dropFirst(7)), v) }
        }
        return nil
    }

    static func merge(_ a: JSONValue, _ b: JSONValue) -> JSONValue {
        switch (a, b) {
        case (.object, .object(let bm)):
            var out = a
            for (k, v) in bm { out[k] = out[k].map { merge($0, v) } ?? v }
            return out
        case (.array(let x), .array(let y)):
            var out = x
            for (i, v) in y.enumerated() { if i < out.count { out[i] = merge(out[i], v) } else { out.append(v) } }
            return .array(out)
        default:
            return b
        }
    }

    // MARK: values

    func canonical(_ s: String, kind: String) -> String {
        if let a = compiler.tank.aliases[s] { return a }
        if s.contains(":") { return s }
        if kind == "CodeSystem", let id = compiler.tank.codeSystems[s] { return compiler.canonicalBase + "/CodeSystem/" + id }
        if kind == "ValueSet", let id = compiler.tank.valueSets[s] { return compiler.canonicalBase + "/ValueSet/" + id }
        return s
    }

    /// An FSH value as the JSON of an element of `type`.
    mutating func value(_ raw: String, display: String?, type: ModelInfo.TypeID, rule: FSHRule) throws(FSHError) -> JSONValue {
        let typeName = model[type: type].name
        if !raw.hasPrefix("\""), let hash = raw.firstIndex(of: "#") {
            let sys = String(raw[..<hash])
            var code = String(raw[raw.index(after: hash)...])
            if code.hasPrefix("\"") { code = FSHTank.unquote(code) }
            var coding: [(String, JSONValue)] = []
            if !sys.isEmpty { coding.append(("system", .string(canonical(sys, kind: "CodeSystem")))) }
            coding.append(("code", .string(code)))
            if let display { coding.append(("display", .string(display))) }
            switch typeName {
            case "code", "string", "uri": return .string(code)
            case "Coding": return .object(coding)
            case "CodeableConcept": return .object([("coding", .array([.object(coding)]))])
            case "Quantity": return .object(coding.filter { $0.0 != "display" } + (display.map { [("unit", .string($0))] } ?? []))
            default: throw fail(rule, "cannot assign a code to an element of type \(typeName)")
            }
        }
        if raw.hasPrefix("\"") {
            guard model.kind(type) == .primitive, model[type: type].jsonKind == .string else {
                throw fail(rule, "cannot assign a string to an element of type \(typeName)")
            }
            return .string(FSHTank.unquote(raw))
        }
        if raw == "true" || raw == "false" {
            guard typeName == "boolean" else { throw fail(rule, "cannot assign a boolean to an element of type \(typeName)") }
            return .bool(raw == "true")
        }
        if raw.hasPrefix("Reference(") && raw.hasSuffix(")") {
            guard typeName == "Reference" else { throw fail(rule, "cannot assign a Reference to an element of type \(typeName)") }
            let target = String(raw.dropFirst(10).dropLast()).trimmingCharacters(in: .whitespaces)
            let name = compiler.tank.instances[target] != nil ? target : (compiler.nameCorrections[target] ?? target)
            if let inst = compiler.tank.instances[name] {
                let sdURL = compiler.profileURL(of: inst) ?? "http://hl7.org/fhir/StructureDefinition/" + inst.instanceOf
                guard let rt = compiler.resolve(sdURL)?["type"]?.string else { throw fail(rule, "type of instance \(name) unknown") }
                return .object([("reference", .string(rt + "/" + name))])
            }
            return .object([("reference", .string(target))])
        }
        if model.kind(type) == .primitive {
            switch typeName {
            case "integer", "positiveInt", "unsignedInt", "decimal":
                guard Double(raw) != nil else { throw fail(rule, "'\(raw)' is not a number") }
                return .number(raw)
            case "date", "dateTime", "instant", "time":
                return .string(raw)
            default:
                throw fail(rule, "cannot assign '\(raw)' to an element of type \(typeName)")
            }
        }
        // an instance name: the resource goes inline
        let name = compiler.tank.instances[raw] != nil ? raw : (compiler.nameCorrections[raw] ?? raw)
        guard compiler.tank.instances[name] != nil else { throw fail(rule, "'\(raw)' is not a value nor a known instance") }
        guard typeName == "Resource" || model.isResource(type) else {
            throw fail(rule, "instance \(name) assigned to an element of type \(typeName)")
        }
        return try compiler.instance(name, visiting: visiting)
    }

    // MARK: order

    /// Members in element definition order (`resourceType` first), recursively.
    func ordered(_ v: JSONValue, type: ModelInfo.TypeID) -> JSONValue {
        guard case .object(let members) = v else { return v }
        var t = type
        if let rt = v["resourceType"]?.string, let concrete = model.type(named: rt) { t = concrete }
        let keyed = members.enumerated().map { (i, m) -> (Int32, Int, (String, JSONValue)) in
            if m.0 == "resourceType" { return (-1, i, m) }
            guard let (element, childType) = model.resolve(t, name: m.0) else { return (Int32.max, i, m) }
            let child: JSONValue
            if case .array(let items) = m.1 { child = .array(items.map { ordered($0, type: childType) }) } else { child = ordered(m.1, type: childType) }
            return (element, i, (m.0, child))
        }
        return .object(keyed.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map(\.2))
    }
}
