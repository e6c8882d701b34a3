import FHIRModels

/// Why a snapshot could not be generated.
public struct SnapshotError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `baseDefinition` is absent or cannot be resolved (or has no snapshot).
        case missingBase
        /// A differential element names a path (or slice) that exists neither in the base nor in the
        /// types it can be expanded into.
        case unknownPath
        /// A slice element whose `sliceName` disagrees with its id.
        case invalidSlice
        /// Children are constrained on an element whose type cannot be expanded (several types,
        /// unknown type, primitive value…).
        case cannotExpand
        /// The StructureDefinition itself is malformed (no differential element path, …).
        case invalidDefinition
        /// A constraint the base already fixes differently (a fixed value changed); the snapshot is
        /// generated with the profile's value, but no instance can conform to both.
        case conflict
    }
    public var kind: Kind
    /// Canonical URL of the profile being generated.
    public var profile: String
    /// The differential element id concerned, when there is one.
    public var element: String?
    public var message: String

    public init(_ kind: Kind, profile: String, element: String? = nil, message: String) {
        self.kind = kind; self.profile = profile; self.element = element; self.message = message
    }

    public var description: String {
        if let element { return "snapshot of \(profile): element '\(element)': \(message)" }
        return "snapshot of \(profile): \(message)"
    }
}

/// Generates `snapshot.element` from `differential.element` the way the reference tools do: walk the
/// base snapshot (resolved through `baseDefinition`), apply each differential element in order, create
/// slices after the sliced element, and inline a datatype's (or type profile's) snapshot when the
/// differential constrains the children of an element of that type.
public enum SnapshotGenerator {
    /// Returns `sd` with a full `snapshot`. `resolve` returns a StructureDefinition *with a snapshot*
    /// for a canonical URL (`url` or `url|version`); it is used for the base and for datatype and
    /// type-profile expansion.
    public static func generate(_ sd: JSONValue, resolve: (String) -> JSONValue?) throws(SnapshotError) -> JSONValue {
        try generate(sd, lenient: false, resolve: resolve).definition
    }

    /// As `generate(_:resolve:)`; when `lenient`, differential elements whose path matches nothing are
    /// skipped and returned as `issues` (the reference validator's behaviour) instead of failing.
    public static func generate(_ sd: JSONValue, lenient: Bool,
                                resolve: (String) -> JSONValue?) throws(SnapshotError) -> (definition: JSONValue, issues: [SnapshotError]) {
        let r = try generateCollecting(sd, lenient: lenient, resolve: resolve)
        return (r.definition, r.issues)
    }

    /// Problems of a differential as the Java validator reports them when it validates a
    /// StructureDefinition: rules of the differential itself (path agreeing with the id, discriminator
    /// types, no slicing at the root), then a failed generation, then constraints that contradict the base.
    public static func check(_ sd: JSONValue, resolve: (String) -> JSONValue?) -> [SnapshotError] {
        let url = sd["url"]?.string ?? sd["id"]?.string ?? "(StructureDefinition without url)"
        var problems: [SnapshotError] = []
        let diff = sd["differential"]?["element"]?.array ?? []
        for (i, d) in diff.enumerated() {
            guard let path = d["path"]?.string else { continue }
            let id = d["id"]?.string
            if i == 0 && !path.contains(".") && d["slicing"] != nil {
                problems.append(SnapshotError(.invalidDefinition, profile: url, element: id ?? path,
                                              message: "the profile has slicing at the root ('\(path)'), which is not allowed"))
            }
            if let id, IDPath.pathOf(id) != path {
                problems.append(SnapshotError(.invalidDefinition, profile: url, element: id,
                                              message: "the path '\(path)' does not agree with the element id '\(id)' (expected '\(IDPath.pathOf(id))')"))
            }
            for disc in d["slicing"]?["discriminator"]?.array ?? [] {
                if let t = disc["type"]?.string, Slicing.Discriminator.Kind(rawValue: t) == nil {
                    problems.append(SnapshotError(.invalidDefinition, profile: url, element: id ?? path,
                                                  message: "unknown discriminator type '\(t)'"))
                }
            }
        }
        if !problems.isEmpty { return problems }
        do {
            return try generateCollecting(sd, lenient: false, resolve: resolve).conflicts
        } catch {
            return [error]
        }
    }

    static func generateCollecting(_ sd: JSONValue, lenient: Bool, resolve: (String) -> JSONValue?) throws(SnapshotError)
        -> (definition: JSONValue, issues: [SnapshotError], conflicts: [SnapshotError]) {
        let url = sd["url"]?.string ?? sd["id"]?.string ?? "(StructureDefinition without url)"
        guard let baseURL = sd["baseDefinition"]?.string else {
            throw SnapshotError(.missingBase, profile: url, message: "no baseDefinition")
        }
        guard let base = resolve(baseURL) ?? resolve(Canonical.stripVersion(baseURL)) else {
            throw SnapshotError(.missingBase, profile: url, message: "base \(baseURL) not found")
        }
        guard let baseElements = base["snapshot"]?["element"]?.array, !baseElements.isEmpty else {
            throw SnapshotError(.missingBase, profile: url, message: "base \(baseURL) has no snapshot")
        }
        let diff = sd["differential"]?["element"]?.array ?? []
        let ids = try diffIds(diff, profile: url)
        var issues: [SnapshotError] = []
        var conflicts: [SnapshotError] = []
        let elements = try withoutActuallyEscaping(resolve) { (r) throws(SnapshotError) -> [Element] in
            var work = Work(profile: url, resolve: r)
            work.elements = baseElements.map { Element(json: $0) }
            work.original = work.elements
            for (d, id) in zip(diff, ids) {
                do throws(SnapshotError) {
                    try work.apply(d, id: id)
                } catch {
                    guard lenient && error.kind == .unknownPath else { throw error }
                    issues.append(error)
                }
            }
            conflicts = work.conflicts
            return work.elements
        }
        var out = sd
        for key in ["type", "kind", "abstract"] where out[key] == nil { out[key] = base[key] }
        if out["derivation"] == nil { out["derivation"] = .string("constraint") }
        out["snapshot"] = .object([("element", .array(elements.map(\.output)))])
        return (out, issues, conflicts)
    }

    /// Element ids for the differential: the declared `id`, or one computed from `path` and the
    /// slice context (children listed after a slice belong to that slice until the sliced path recurs).
    static func diffIds(_ diff: [JSONValue], profile: String) throws(SnapshotError) -> [String] {
        var active: [(path: String, id: String)] = []
        var ids: [String] = []
        for d in diff {
            guard let path = d["path"]?.string, !path.isEmpty else {
                throw SnapshotError(.invalidDefinition, profile: profile, element: d["id"]?.string,
                                    message: "differential element without path")
            }
            if let id = d["id"]?.string, !id.isEmpty { ids.append(id); continue }
            var id = path
            if let ctx = active.filter({ path.hasPrefix($0.path + ".") }).max(by: { $0.path.count < $1.path.count }) {
                id = ctx.id + path.dropFirst(ctx.path.count)
            }
            active.removeAll { $0.path == path || $0.path.hasPrefix(path + ".") }
            if let slice = d["sliceName"]?.string {
                id += ":" + slice
                active.append((path, id))
            }
            ids.append(id)
        }
        return ids
    }
}

/// Canonical URL helpers (`url|version`).
public enum Canonical {
    public static func stripVersion(_ url: String) -> String {
        guard let bar = url.firstIndex(of: "|") else { return url }
        return String(url[..<bar])
    }
    public static func split(_ url: String) -> (url: String, version: String?) {
        guard let bar = url.firstIndex(of: "|") else { return (url, nil) }
        return (String(url[..<bar]), String(url[url.index(after: bar)...]))
    }
}

/// One snapshot element being built.
struct Element {
    var id: String
    var path: String
    var json: JSONValue

    init(json: JSONValue) {
        let path = json["path"]?.string ?? ""
        self.path = path
        self.id = json["id"]?.string ?? path
        var j = json
        if j["base"] == nil {
            j["base"] = .object([("path", .string(path)), ("min", j["min"] ?? .number("0")), ("max", j["max"] ?? .string("*"))])
        }
        self.json = j
    }

    init(id: String, path: String, json: JSONValue) { self.id = id; self.path = path; self.json = json }

    /// The element with `id` first and `path` second, as published snapshots have them.
    var output: JSONValue {
        var m: [(String, JSONValue)] = [("id", .string(id)), ("path", .string(path))]
        for (k, v) in json.members ?? [] where k != "id" && k != "path" { m.append((k, v)) }
        return .object(m)
    }

    var typeCodes: [String] {
        var out: [String] = []
        for t in json["type"]?.array ?? [] { if let c = t["code"]?.string, !out.contains(c) { out.append(c) } }
        return out
    }

    /// Last segment of the id (`value[x]:valueQuantity`).
    var lastIDSegment: Substring { IDPath.lastSegment(id) }
}

enum IDPath {
    /// Splits an element id into its dot-separated segments; dots inside slice names after `:` up to the
    /// next `.` are not supported (as in the reference tools' ids).
    static func lastSegment(_ id: String) -> Substring {
        guard let dot = id.lastIndex(of: ".") else { return Substring(id) }
        return id[id.index(after: dot)...]
    }
    static func parent(_ id: String) -> String? {
        guard let dot = id.lastIndex(of: ".") else { return nil }
        return String(id[..<dot])
    }
    /// `Patient.identifier:a/b.system` → `Patient.identifier.system`.
    static func pathOf(_ id: String) -> String {
        id.split(separator: ".", omittingEmptySubsequences: false).map { seg -> Substring in
            if let c = seg.firstIndex(of: ":") { return seg[..<c] }
            return seg
        }.joined(separator: ".")
    }
}

struct Work {
    let profile: String
    let resolve: (String) -> JSONValue?
    var elements: [Element] = []
    /// The base snapshot as resolved (for contentReference expansion).
    var original: [Element] = []
    /// Choice elements this generation sliced by type (typed names in the differential).
    var typeSlicedChoices: Set<String> = []
    /// Constraints of the differential that contradict the base (a fixed value changed).
    var conflicts: [SnapshotError] = []

    init(profile: String, resolve: @escaping (String) -> JSONValue?) {
        self.profile = profile; self.resolve = resolve
    }

    func find(_ id: String) -> Int? { elements.firstIndex { $0.id == id } }

    func error(_ kind: SnapshotError.Kind, _ id: String, _ message: String) -> SnapshotError {
        SnapshotError(kind, profile: profile, element: id, message: message)
    }

    mutating func apply(_ d: JSONValue, id: String) throws(SnapshotError) {
        if let i = find(id) { merge(i, d, impliedType: nil); return }
        let last = IDPath.lastSegment(id)
        if let colon = last.firstIndex(of: ":") {
            let sliceName = String(last[last.index(after: colon)...])
            let prefix = id.dropLast(last.count)
            var slicedID = String(prefix) + last[..<colon]
            if let slash = sliceName.lastIndex(of: "/") {
                slicedID += ":" + sliceName[..<slash]
            }
            let slicedIndex = try ensure(slicedID)
            // expanding the sliced element's type profile may have brought the slice in
            if let i = find(id) { merge(i, d, impliedType: nil); return }
            if let declared = d["sliceName"]?.string, declared != sliceName {
                throw error(.invalidSlice, id, "sliceName '\(declared)' does not match the id")
            }
            let i = try createSlice(slicedIndex, sliceID: id, sliceName: sliceName)
            merge(i, d, impliedType: nil)
            return
        }
        let (i, implied) = try ensureResolved(id)
        merge(i, d, impliedType: implied)
    }

    mutating func ensure(_ id: String) throws(SnapshotError) -> Int { try ensureResolved(id).0 }

    /// Index of the element `id`, expanding its ancestors' types as needed; a typed choice name
    /// (`valueQuantity`) resolves to the choice element (`value[x]`) and returns the implied type.
    mutating func ensureResolved(_ id: String) throws(SnapshotError) -> (Int, JSONValue?) {
        if let i = find(id) { return (i, nil) }
        guard let parentID = IDPath.parent(id) else {
            throw error(.unknownPath, id, "no element with this path in the base (root is '\(elements.first?.id ?? "")')")
        }
        let last = IDPath.lastSegment(id)
        if last.contains(":") {
            throw error(.unknownPath, id, "slice '\(last)' is not defined in the base or earlier in the differential")
        }
        let p = try ensure(parentID)
        // the parent may have resolved to another id (a typed choice name became a type slice)
        let actualID = elements[p].id + "." + last
        if let i = find(actualID) { return (i, nil) }
        if !hasChildren(p) {
            try expand(p, for: id)
        }
        if let i = find(actualID) { return (i, nil) }
        if let (choice, type) = choiceRename(parentID: elements[p].id, segment: String(last)) {
            // as the reference tools do for R4 differentials: `valueQuantity` is the type slice
            // `value[x]:valueQuantity` of the choice element, sliced by type
            let sliceID = elements[choice].id + ":" + last
            if let i = find(sliceID) { return (i, nil) }
            // (a choice already restricted to that one type is used as is)
            if elements[choice].typeCodes.count == 1 { return (choice, nil) }
            if elements[choice].json["slicing"] == nil {
                elements[choice].json["slicing"] = .object([
                    ("discriminator", .array([.object([("type", .string("type")), ("path", .string("$this"))])])),
                    ("ordered", .bool(false)), ("rules", .string("closed")),
                ])
                typeSlicedChoices.insert(elements[choice].id)
                elements[choice].json["type"] = .array([])
            }
            if typeSlicedChoices.contains(elements[choice].id), let t = type?.array {
                // the choice keeps only the types of its type slices (closed slicing)
                elements[choice].json["type"] = .array((elements[choice].json["type"]?.array ?? []) + t)
            }
            let i = try createSlice(choice, sliceID: sliceID, sliceName: String(last))
            if let type { elements[i].json["type"] = type }
            return (i, nil)
        }
        let kids = children(of: p).map { String(IDPath.lastSegment(elements[$0].id)) }.filter { !$0.contains(":") }
        throw error(.unknownPath, id,
                    "no element '\(last)' under '\(parentID)' (known: \(kids.prefix(40).joined(separator: ", ")))")
    }

    func hasChildren(_ i: Int) -> Bool {
        i + 1 < elements.count && elements[i + 1].id.hasPrefix(elements[i].id + ".")
    }

    func children(of i: Int) -> [Int] {
        let prefix = elements[i].id + "."
        var out: [Int] = []
        var j = i + 1
        while j < elements.count, elements[j].id.hasPrefix(prefix) || elements[j].id.hasPrefix(elements[i].id + ":") {
            if elements[j].id.hasPrefix(prefix), !elements[j].id.dropFirst(prefix.count).contains(".") { out.append(j) }
            j += 1
        }
        return out
    }

    func choiceRename(parentID: String, segment: String) -> (Int, JSONValue?)? {
        guard let p = find(parentID) else { return nil }
        for c in children(of: p) {
            let name = IDPath.lastSegment(elements[c].id)
            guard name.hasSuffix("[x]") else { continue }
            let stem = name.dropLast(3)
            guard segment.hasPrefix(stem), segment.count > stem.count else { continue }
            let typeName = segment.dropFirst(stem.count)
            guard let f = typeName.first, f.isUppercase else { continue }
            let lowered = f.lowercased() + typeName.dropFirst()
            for t in elements[c].json["type"]?.array ?? [] {
                if let code = t["code"]?.string, code == typeName || code == lowered {
                    return (c, .array([t]))
                }
            }
        }
        return nil
    }

    /// Inlines the children of element `i`'s type (or type profile, or content reference).
    mutating func expand(_ i: Int, for target: String) throws(SnapshotError) {
        let e = elements[i]
        if let cref = e.json["contentReference"]?.string, let hash = cref.firstIndex(of: "#") {
            let refID = String(cref[cref.index(after: hash)...])
            let src = original.filter { $0.id.hasPrefix(refID + ".") }
            guard let refRoot = original.first(where: { $0.id == refID }), !src.isEmpty else {
                throw error(.cannotExpand, target, "content reference \(cref) of '\(e.id)' not found")
            }
            let inserted = src.map { c in
                Element(id: e.id + c.id.dropFirst(refID.count), path: e.path + c.path.dropFirst(refRoot.path.count), json: c.json)
            }
            elements.insert(contentsOf: inserted, at: i + 1)
            return
        }
        let types = e.json["type"]?.array ?? []
        var codes = e.typeCodes
        if codes.count > 1, let colon = e.lastIDSegment.firstIndex(of: ":") {
            // type slice `value[x]:valueQuantity`
            let seg = e.lastIDSegment
            let stem = seg[..<colon].dropLast(3)
            let sliceName = seg[seg.index(after: colon)...]
            if sliceName.hasPrefix(stem) {
                let t = sliceName.dropFirst(stem.count)
                let lowered = (t.first?.lowercased() ?? "") + t.dropFirst()
                codes = codes.filter { $0 == t || $0 == lowered }
            }
        }
        guard codes.count == 1, let code = codes.first else {
            throw error(.cannotExpand, target, codes.isEmpty
                ? "'\(e.id)' has no type to expand"
                : "'\(e.id)' has several types (\(codes.joined(separator: ", "))); restrict it to one type before constraining its children")
        }
        if code.hasPrefix("http://hl7.org/fhirpath/") {
            throw error(.cannotExpand, target, "'\(e.id)' is a primitive value (\(code)) and has no children")
        }
        var typeSD: JSONValue?
        let profiles = types.filter { $0["code"]?.string == code }.compactMap { $0["profile"]?.array }.flatMap { $0 }
        if profiles.count == 1, let p = profiles[0].string { typeSD = resolve(p) ?? resolve(Canonical.stripVersion(p)) }
        if typeSD == nil {
            let typeURL = code.contains(":") ? code : "http://hl7.org/fhir/StructureDefinition/" + code
            typeSD = resolve(typeURL)
        }
        guard let sd = typeSD, let elems = sd["snapshot"]?["element"]?.array, elems.count > 1 else {
            throw error(.cannotExpand, target, "type \(code) of '\(e.id)' is unknown or has no snapshot")
        }
        let primitive = sd["kind"]?.string == "primitive-type"
        let root = Element(json: elems[0])
        var inserted: [Element] = []
        for raw in elems.dropFirst() {
            let c = Element(json: raw)
            guard c.id.hasPrefix(root.id + "."), c.path.hasPrefix(root.path + ".") else { continue }
            if primitive, IDPath.lastSegment(c.id) == "value" { continue }
            inserted.append(Element(id: e.id + c.id.dropFirst(root.id.count),
                                    path: e.path + c.path.dropFirst(root.path.count), json: c.json))
        }
        elements.insert(contentsOf: inserted, at: i + 1)
    }

    /// Creates slice `sliceID` of element `slicedIndex` from its unsliced definition and children,
    /// inserted after the sliced element's existing children and slices.
    mutating func createSlice(_ slicedIndex: Int, sliceID: String, sliceName: String) throws(SnapshotError) -> Int {
        let sliced = elements[slicedIndex]
        let isReslice = sliceName.contains("/")
        if sliced.json["slicing"] == nil && !isReslice {
            let name = IDPath.lastSegment(IDPath.pathOf(sliced.id))
            if name == "extension" || name == "modifierExtension" {
                elements[slicedIndex].json["slicing"] = .object([
                    ("discriminator", .array([.object([("type", .string("value")), ("path", .string("url"))])])),
                    ("ordered", .bool(false)), ("rules", .string("open")),
                ])
            } else if name.hasSuffix("[x]") {
                // a choice is implicitly sliced by type
                elements[slicedIndex].json["slicing"] = .object([
                    ("discriminator", .array([.object([("type", .string("type")), ("path", .string("$this"))])])),
                    ("ordered", .bool(false)), ("rules", .string("open")),
                ])
            }
            // other elements sliced without a slicing definition are accepted, as the reference tools do
        }
        var end = slicedIndex + 1
        let childPrefix = sliced.id + "."
        let slicePrefix = isReslice ? sliced.id + "/" : sliced.id + ":"
        while end < elements.count, elements[end].id.hasPrefix(childPrefix) || elements[end].id.hasPrefix(slicePrefix) {
            end += 1
        }
        var root = elements[slicedIndex]
        root.id = sliceID
        root.json["slicing"] = nil
        root.json["sliceName"] = .string(sliceName)
        root.json["min"] = .number("0")
        var copies = [root]
        var j = slicedIndex + 1
        while j < elements.count, elements[j].id.hasPrefix(childPrefix) || elements[j].id.hasPrefix(slicePrefix) {
            if elements[j].id.hasPrefix(childPrefix) {
                var c = elements[j]
                c.id = sliceID + c.id.dropFirst(sliced.id.count)
                copies.append(c)
            }
            j += 1
        }
        elements.insert(contentsOf: copies, at: end)
        return end
    }

    static func describe(_ v: JSONValue) -> String {
        if let s = v.string { return "'\(s)'" }
        return String(decoding: v.serialized(), as: UTF8.self)
    }

    /// Applies one differential element's constraints to snapshot element `i`.
    mutating func merge(_ i: Int, _ d: JSONValue, impliedType: JSONValue?) {
        var e = elements[i].json
        if let impliedType, d["type"] == nil { e["type"] = impliedType }
        for (k, v) in d.members ?? [] {
            switch k {
            case "id", "path":
                continue
            case "constraint":
                var list = e["constraint"]?.array ?? []
                for c in v.array ?? [] {
                    if let key = c["key"]?.string, let at = list.firstIndex(where: { $0["key"]?.string == key }) {
                        list[at] = c
                    } else {
                        list.append(c)
                    }
                }
                e["constraint"] = .array(list)
            case "slicing":
                var s = e["slicing"] ?? .object([])
                for (sk, sv) in v.members ?? [] { s[sk] = sv }
                e["slicing"] = s
            case "condition", "mapping", "alias":
                var list = e[k]?.array ?? []
                for x in v.array ?? [] where !list.contains(x) { list.append(x) }
                e[k] = .array(list)
            default:
                if k.hasPrefix("fixed"), let was = e[k], was != v {
                    conflicts.append(error(.conflict, elements[i].id,
                                           "Value is \(Self.describe(v)) but is fixed to \(Self.describe(was)) in the base definition, which a profile cannot change"))
                }
                if k.hasPrefix("fixed") || k.hasPrefix("pattern") {
                    if case .object(let m) = e {
                        e = .object(m.filter { !$0.0.hasPrefix("fixed") && !$0.0.hasPrefix("pattern") })
                    }
                }
                e[k] = v
            }
        }
        // a type narrowed to one datatype profile brings that profile's root invariants (as SimpleQuantity's
        // sqty-1); resource and extension profiles keep theirs (they are checked when validating against them)
        if let types = d["type"]?.array, types.count == 1, let profiles = types[0]["profile"]?.array, profiles.count == 1,
           let p = profiles[0].string, let sd = resolve(p) ?? resolve(Canonical.stripVersion(p)),
           sd["derivation"]?.string == "constraint", sd["kind"]?.string == "complex-type", sd["type"]?.string != "Extension",
           let rootConstraints = sd["snapshot"]?["element"]?.array?.first?["constraint"]?.array {
            var list = e["constraint"]?.array ?? []
            for c in rootConstraints {
                let key = c["key"]?.string
                if !list.contains(where: { $0["key"]?.string == key }) { list.append(c) }
            }
            e["constraint"] = .array(list)
        }
        elements[i].json = e
    }
}
