import Foundation
import FHIRModels

/// The terminology store: code systems and expanded value sets, loaded from the project-owned
/// compiled store (`Terminologies/`, written by `fhir-gateway import-terminologies`) plus resources
/// added for one run (`--load`).
///
/// A value type: build it (load, then `load(resource:)`), then share it; copies are immutable for
/// their readers, so concurrent validation needs no lock. Validation does no I/O: every check is a
/// few hash lookups in expansions computed when the value set was added.
///
/// Outcomes (see `CodeValidation.Outcome`):
/// * a listed member that is deprecated/retired/inactive in its code system, or whose end date
///   (`dateFin`, `deprecationDate`, `retirementDate`) is on or before `referenceDate`, is
///   `notInValueSet` (message gives the value set and the date), unless `compose.inactive` is true;
/// * a code absent from a `complete` code system is `unknownCode`;
/// * `unknownSystem` whenever membership cannot be decided offline: the value set draws on a whole
///   system the store does not hold (LOINC, SNOMED CT, `urn:ietf:bcp:47`, `urn:ietf:bcp:13`…), or
///   on a system published with `content` `not-present`, `example` or `fragment` and the code is not
///   among the listed ones, or on a filter the store could not evaluate. A validator may downgrade
///   `unknownSystem` to a warning; `knowsCodeSystem` is true only for `complete` systems.
public struct TerminologyStore: TerminologyProvider, Sendable {
    /// Day (`YYYY-MM-DD`) against which end dates are compared; taken from the sources (the most
    /// recent resource date), not from the clock, so that results do not change by themselves.
    public var referenceDate: String

    private var codeSystems: [String: TerminologyCodeSystem] = [:]
    private var currentCodeSystem: [String: String] = [:]
    private var valueSets: [String: TerminologyValueSet] = [:]
    private var currentValueSet: [String: String] = [:]

    public init(referenceDate: String) {
        self.referenceDate = referenceDate
    }

    public enum LoadError: Error, CustomStringConvertible {
        case unsupported(String)
        case invalid(String)
        public var description: String {
            switch self {
            case .unsupported(let s), .invalid(let s): return s
            }
        }
    }

    // MARK: - Lookups

    private static func key(_ url: String, _ version: String?) -> String { url + "|" + (version ?? "") }

    /// The code system with this canonical (`url` or `url|version`); the most recent version when none is given.
    public func codeSystem(_ canonical: String) -> TerminologyCodeSystem? {
        let (url, version) = CanonicalVersion.split(canonical)
        return codeSystem(url: url, version: version)
    }

    func codeSystem(url: String, version: String?) -> TerminologyCodeSystem? {
        if let version, let cs = codeSystems[Self.key(url, version)] { return cs }
        return currentCodeSystem[url].flatMap { codeSystems[$0] }
    }

    /// The value set with this canonical (`url` or `url|version`); the most recent version when none is given.
    public func valueSet(_ canonical: String) -> TerminologyValueSet? {
        let (url, version) = CanonicalVersion.split(canonical)
        if let version { return valueSets[Self.key(url, version)] }
        return currentValueSet[url].flatMap { valueSets[$0] }
    }

    /// The display of a code in the (current version of the) code system, or the label a value set gives it
    /// when the store has no such code system.
    public func display(system: String, code: String) -> String? {
        if let d = codeSystem(system)?[code]?.display { return d }
        for key in currentValueSet.values.sorted() {
            if let label = valueSets[key]?.members[system]?.codes[code]?.first { return label }
        }
        return nil
    }

    /// Every code system (all versions), ordered by URL then version.
    public var allCodeSystems: [TerminologyCodeSystem] { codeSystems.keys.sorted().compactMap { codeSystems[$0] } }
    /// Every value set (all versions), ordered by URL then version.
    public var allValueSets: [TerminologyValueSet] { valueSets.keys.sorted().compactMap { valueSets[$0] } }

    /// Versions held for a value set URL, for messages.
    public func valueSetVersions(_ url: String) -> [String] {
        valueSets.values.filter { $0.url == url }.map { $0.version ?? "(no version)" }.sorted()
    }

    // MARK: - Adding resources

    /// Adds a code system as is (the compiled store path).
    mutating func insert(_ cs: TerminologyCodeSystem) {
        let k = Self.key(cs.url, cs.version)
        codeSystems[k] = cs
        if let cur = currentCodeSystem[cs.url], cur != k, let old = codeSystems[cur],
           !CanonicalVersion.isNewer(cs.version, than: old.version) { return }
        currentCodeSystem[cs.url] = k
    }

    /// Adds an already expanded value set (the compiled store path).
    mutating func insert(_ vs: TerminologyValueSet) {
        let k = Self.key(vs.url, vs.version)
        valueSets[k] = vs
        if let cur = currentValueSet[vs.url], cur != k, let old = valueSets[cur],
           !CanonicalVersion.isNewer(vs.version, than: old.version) { return }
        currentValueSet[vs.url] = k
    }

    /// Adds a ValueSet, a CodeSystem or a Bundle of them (e.g. for `--load`). Code systems are added
    /// first, then value sets are expanded against everything the store holds; a resource with the
    /// same `url|version` as one already held replaces it. Value sets whose expansion was unresolved
    /// are expanded again when code systems are added. Other resource types are refused.
    public mutating func load(resource: JSONValue, source: String = "--load") throws {
        var list: [JSONValue] = []
        switch resource["resourceType"]?.string {
        case "Bundle":
            for e in resource["entry"]?.array ?? [] {
                guard let r = e["resource"] else { continue }
                let t = r["resourceType"]?.string
                if t == "CodeSystem" || t == "ValueSet" { list.append(r) }
            }
        case "CodeSystem", "ValueSet": list.append(resource)
        case let t: throw LoadError.unsupported("cannot load a \(t ?? "resource without resourceType") into the terminology store")
        }
        for r in list where r["url"]?.string == nil {
            throw LoadError.invalid("\(r["resourceType"]?.string ?? "resource") \(r["id"]?.string ?? "") has no url")
        }
        add(list.map { ($0, source) })
    }

    /// Adds many resources at once (the importer's path): code systems, then value sets, each value
    /// set expanded after the value sets it imports.
    public mutating func add(_ resources: [(resource: JSONValue, source: String)]) {
        var addedSystems = false
        for (r, source) in resources where r["resourceType"]?.string == "CodeSystem" {
            if let cs = TerminologyResources.codeSystem(r, source: source) { insert(cs); addedSystems = true }
        }
        var pending: [String: [(JSONValue, String)]] = [:]
        var order: [String] = []
        for (r, source) in resources where r["resourceType"]?.string == "ValueSet" {
            guard let url = r["url"]?.string else { continue }
            if pending[url] == nil { order.append(url) }
            pending[url, default: []].append((r, source))
        }
        if addedSystems {
            // Value sets that could not be expanded before may be expandable now.
            for vs in allValueSets where vs.isUnresolved && vs.compose != nil && pending[vs.url] == nil {
                var r: JSONValue = .object([("resourceType", .string("ValueSet")), ("url", .string(vs.url))])
                if let v = vs.version { r["version"] = .string(v) }
                if let n = vs.name { r["name"] = .string(n) }
                if let t = vs.title { r["title"] = .string(t) }
                if let d = vs.date { r["date"] = .string(d) }
                if let s = vs.status { r["status"] = .string(s) }
                r["compose"] = vs.compose
                pending[vs.url, default: []].append((r, vs.source))
                order.append(vs.url)
            }
        }
        var visiting: Set<String> = []
        for url in order { expandPending(url: url, version: nil, pending: &pending, visiting: &visiting) }
    }

    /// Expands and inserts every pending version of `url`.
    private mutating func expandPending(url: String, version: String?, pending: inout [String: [(JSONValue, String)]],
                                        visiting: inout Set<String>) {
        guard let list = pending[url], !visiting.contains(url) else { return }
        visiting.insert(url)
        for (r, source) in list { insert(expand(r, source: source, pending: &pending, visiting: &visiting)) }
        pending[url] = nil
        visiting.remove(url)
    }

    private mutating func resolveImport(_ canonical: String, pending: inout [String: [(JSONValue, String)]],
                                        visiting: inout Set<String>) -> TerminologyValueSet? {
        let (url, version) = CanonicalVersion.split(canonical)
        if pending[url] != nil { expandPending(url: url, version: version, pending: &pending, visiting: &visiting) }
        return valueSet(canonical) ?? (version != nil ? valueSet(url) : nil)
    }

    private mutating func expand(_ r: JSONValue, source: String, pending: inout [String: [(JSONValue, String)]],
                                 visiting: inout Set<String>) -> TerminologyValueSet {
        let compose = r["compose"]
        var members: [String: SystemMembership] = [:]
        for inc in compose?["include"]?.array ?? [] {
            let part = evaluate(include: inc, pending: &pending, visiting: &visiting)
            union(&members, part)
        }
        for exc in compose?["exclude"]?.array ?? [] {
            let part = evaluate(include: exc, pending: &pending, visiting: &visiting)
            subtract(&members, part)
        }
        let unresolved = members.values.contains { $0.unresolved != nil }
        if let contains = r["expansion"]?["contains"]?.array, compose == nil || unresolved {
            // A published expansion is used when there is no compose, or when the compose cannot be evaluated.
            var published: [String: SystemMembership] = [:]
            TerminologyResources.expansionCodes(contains, into: &published)
            members = published
        }
        let stillUnresolved = members.values.contains { $0.unresolved != nil }
        return TerminologyValueSet(url: r["url"]?.string ?? "", version: r["version"]?.string, name: r["name"]?.string,
                                   title: r["title"]?.string, date: datePart(r["date"]?.string), status: r["status"]?.string,
                                   source: source, includesInactive: compose?["inactive"]?.bool == true,
                                   members: members, compose: stillUnresolved ? compose.map(Self.compactCompose) : nil)
    }

    /// The compose without narrative-only parts (extensions, lockedDate), for re-expansion.
    static func compactCompose(_ c: JSONValue) -> JSONValue {
        var out: [(String, JSONValue)] = []
        if let i = c["inactive"] { out.append(("inactive", i)) }
        for key in ["include", "exclude"] {
            guard let list = c[key]?.array else { continue }
            out.append((key, .array(list.map { inc in
                var o: [(String, JSONValue)] = []
                for k in ["system", "version", "valueSet"] { if let v = inc[k] { o.append((k, v)) } }
                if let concepts = inc["concept"]?.array {
                    o.append(("concept", .array(concepts.map { c in
                        var x: [(String, JSONValue)] = [("code", c["code"] ?? .null)]
                        if let d = c["display"] { x.append(("display", d)) }
                        return .object(x)
                    })))
                }
                if let f = inc["filter"] { o.append(("filter", f)) }
                return .object(o)
            })))
        }
        return .object(out)
    }

    private mutating func evaluate(include inc: JSONValue, pending: inout [String: [(JSONValue, String)]],
                                   visiting: inout Set<String>) -> [String: SystemMembership] {
        var part: [String: SystemMembership] = [:]
        let system = inc["system"]?.string
        if let system {
            let version = inc["version"]?.string
            var m = SystemMembership()
            let concepts = inc["concept"]?.array ?? []
            let filters = inc["filter"]?.array ?? []
            if !concepts.isEmpty {
                for c in concepts {
                    guard let code = c["code"]?.string else { continue }
                    var labels: [String] = []
                    if let d = c["display"]?.string { labels.append(d) }
                    labels += TerminologyResources.designationValues(c["designation"], excluding: c["display"]?.string)
                    m.codes[code, default: []].append(contentsOf: labels)
                }
            } else if !filters.isEmpty {
                if let cs = codeSystem(url: system, version: version), !cs.concepts.isEmpty {
                    switch TerminologyFilters.apply(filters, to: cs) {
                    case .success(let codes):
                        for c in codes { m.codes[c] = [] }
                        if !cs.isComplete { m.unresolved = "filter over a code system published with content '\(cs.content)'" }
                    case .failure(let reason):
                        m.unresolved = reason.message
                    }
                } else {
                    m.unresolved = "filter on code system \(system), which the store does not hold"
                }
            } else {
                m.all = true
                m.allVersion = version
            }
            part[system] = m
        }
        let imports = (inc["valueSet"]?.array ?? []).compactMap(\.string)
        if !imports.isEmpty {
            var sets: [[String: SystemMembership]] = []
            for canonical in imports {
                guard let vs = resolveImport(canonical, pending: &pending, visiting: &visiting) else {
                    return ["*": SystemMembership(unresolved: "imported value set \(canonical) is not available")]
                }
                sets.append(vs.members)
            }
            var result = system != nil ? part : sets.removeFirst()
            for s in sets { result = intersect(result, s) }
            part = result
        }
        return part
    }

    // MARK: - Membership algebra

    private func codeExists(_ code: String, system: String, version: String?) -> Bool {
        guard let cs = codeSystem(url: system, version: version), cs.isComplete else { return true }
        return cs[code] != nil
    }

    private func isMember(_ code: String, _ m: SystemMembership, system: String) -> Bool {
        if m.excluded.contains(code) { return false }
        if m.codes[code] != nil { return true }
        return m.all && codeExists(code, system: system, version: m.allVersion)
    }

    private func union(_ a: inout [String: SystemMembership], _ b: [String: SystemMembership]) {
        for (sys, mb) in b {
            guard var ma = a[sys] else { a[sys] = mb; continue }
            if mb.all {
                if ma.all { ma.excluded.formIntersection(mb.excluded) } else {
                    ma.all = true; ma.allVersion = mb.allVersion
                    ma.excluded = mb.excluded.subtracting(ma.codes.keys)
                }
            } else if ma.all {
                ma.excluded.subtract(mb.codes.keys)
            }
            for (c, labels) in mb.codes {
                var l = ma.codes[c] ?? []
                for x in labels where !l.contains(x) { l.append(x) }
                ma.codes[c] = l
            }
            if ma.unresolved == nil { ma.unresolved = mb.unresolved }
            a[sys] = ma
        }
    }

    private func intersect(_ a: [String: SystemMembership], _ b: [String: SystemMembership]) -> [String: SystemMembership] {
        var out: [String: SystemMembership] = [:]
        if let star = a["*"] ?? b["*"] { out["*"] = star }
        for (sys, ma) in a where sys != "*" {
            guard let mb = b[sys] else { continue }
            var r = SystemMembership()
            r.unresolved = ma.unresolved ?? mb.unresolved
            if ma.all && mb.all {
                r.all = true; r.allVersion = ma.allVersion ?? mb.allVersion
                r.excluded = ma.excluded.union(mb.excluded)
            }
            for (c, l) in ma.codes where isMember(c, mb, system: sys) { r.codes[c] = l }
            for (c, l) in mb.codes where isMember(c, ma, system: sys) {
                var x = r.codes[c] ?? []
                for s in l where !x.contains(s) { x.append(s) }
                r.codes[c] = x
            }
            out[sys] = r
        }
        return out
    }

    private func subtract(_ a: inout [String: SystemMembership], _ e: [String: SystemMembership]) {
        for (sys, me) in e {
            if sys == "*" {
                for k in a.keys where a[k]?.unresolved == nil { a[k]?.unresolved = "exclude: \(me.unresolved ?? "")" }
                continue
            }
            guard var ma = a[sys] else { continue }
            if me.all {
                if me.excluded.isEmpty && me.unresolved == nil { a[sys] = nil; continue }
                // Whole system minus some codes excluded: only those codes can remain.
                let keep = me.excluded
                ma.codes = ma.codes.filter { keep.contains($0.key) }
                if ma.all {
                    ma.all = false
                    for c in keep where !ma.excluded.contains(c) && codeExists(c, system: sys, version: ma.allVersion) {
                        ma.codes[c] = ma.codes[c] ?? []
                    }
                }
            }
            for c in me.codes.keys {
                ma.codes[c] = nil
                if ma.all { ma.excluded.insert(c) }
            }
            if let u = me.unresolved, ma.unresolved == nil { ma.unresolved = "exclude could not be evaluated: \(u)" }
            a[sys] = ma
        }
    }

    // MARK: - Validation

    public func knowsCodeSystem(_ url: String) -> Bool {
        codeSystem(url)?.isComplete ?? false
    }

    public func validate(code: String, system: String?, display: String?, valueSet valueSetURL: String) -> CodeValidation {
        guard let vs = valueSet(valueSetURL) else {
            let (url, version) = CanonicalVersion.split(valueSetURL)
            let held = version != nil ? valueSetVersions(url) : []
            let extra = held.isEmpty ? "" : " (versions held: \(held.joined(separator: ", ")))"
            return CodeValidation(outcome: .unknownValueSet,
                                  message: "value set '\(valueSetURL)' is not known to the terminology store\(extra)")
        }
        let systems: [String]
        if let system { systems = [system] } else { systems = vs.members.keys.filter { $0 != "*" }.sorted() }
        if systems.isEmpty {
            if let star = vs.members["*"] {
                return CodeValidation(outcome: .unknownValueSet,
                                      message: "value set \(vs.label) cannot be evaluated offline: \(star.unresolved ?? "")")
            }
            return CodeValidation(outcome: .notInValueSet, message: "code '\(code)' is not in \(vs.label) (the value set is empty)")
        }
        var results: [Check] = []
        for s in systems {
            let r = check(code: code, system: s, in: vs)
            if r.outcome == .valid { return withDisplay(r, display: display, code: code, vs: vs) }
            results.append(r)
        }
        if results.count == 1 { return CodeValidation(outcome: results[0].outcome, message: results[0].message) }
        // No system given and several candidates: undecidable beats "not in the value set".
        if let u = results.first(where: { $0.outcome == .unknownSystem || $0.outcome == .unknownValueSet }) {
            return CodeValidation(outcome: u.outcome, message: u.message)
        }
        let deprecated = results.first { $0.inactive != nil }
        let why = deprecated?.inactive.map { " (\($0))" } ?? ""
        return CodeValidation(outcome: .notInValueSet, message: "code '\(code)' is not in \(vs.label)\(why)")
    }

    private struct Check {
        var outcome: CodeValidation.Outcome
        var message: String
        var labels: [String] = []
        var inactive: String? = nil
    }

    private func check(code: String, system: String, in vs: TerminologyValueSet) -> Check {
        let m = vs.members[system]
        let cs = codeSystem(url: system, version: m?.allVersion)
        let concept = cs?[code]
        let inactive = vs.includesInactive ? nil : concept?.inactiveReason(referenceDate: referenceDate)
        // Messages are built only for the outcome returned.
        var csLabel: String { cs.map { $0.label } ?? system }
        var unknownCode: Check {
            Check(outcome: .unknownCode,
                  message: "code '\(code)' is not defined in code system \(csLabel)\(cs?.version.map { " (version \($0))" } ?? "")")
        }
        func notIn(_ why: String? = nil) -> Check {
            if let inactive {
                return Check(outcome: .notInValueSet,
                             message: "code '\(code)' of \(csLabel) is not in \(vs.label): the code is \(inactive)", inactive: inactive)
            }
            return Check(outcome: .notInValueSet, message: "code '\(code)' is not in \(vs.label)\(why.map { " (\($0))" } ?? "")")
        }
        guard let m else {
            if let star = vs.members["*"] {
                return Check(outcome: .unknownValueSet,
                             message: "value set \(vs.label) cannot be fully evaluated offline: \(star.unresolved ?? "")")
            }
            if let cs, cs.isComplete, concept == nil { return unknownCode }
            return notIn("the value set does not include code system \(system)")
        }
        if m.excluded.contains(code) { return notIn("excluded by the value set") }
        if let listed = m.codes[code] {
            if inactive != nil { return notIn() }
            var labels = listed
            for l in concept?.labels ?? [] where !labels.contains(l) { labels.append(l) }
            return Check(outcome: .valid, message: "code '\(code)' is in \(vs.label)", labels: labels)
        }
        if m.all {
            if let cs, cs.content != "not-present" {
                if let concept {
                    if inactive != nil { return notIn() }
                    return Check(outcome: .valid, message: "code '\(code)' is in \(vs.label)", labels: concept.labels)
                }
                if cs.isComplete { return unknownCode }
                return Check(outcome: .unknownSystem,
                             message: "code system \(csLabel) is published with content '\(cs.content)': code '\(code)' cannot be checked offline")
            }
            return Check(outcome: .unknownSystem,
                         message: "code system \(system) is not available offline (\(vs.label) includes all of it): code '\(code)' cannot be checked")
        }
        if let cs, cs.isComplete, concept == nil { return unknownCode }
        if let u = m.unresolved {
            return Check(outcome: .unknownSystem, message: "membership of code '\(code)' in \(vs.label) cannot be decided offline: \(u)")
        }
        return notIn()
    }

    private func withDisplay(_ r: Check, display: String?, code: String, vs: TerminologyValueSet) -> CodeValidation {
        guard let display, !r.labels.isEmpty else { return CodeValidation(outcome: .valid, message: r.message) }
        let wanted = Self.normalizedLabel(display)
        if r.labels.contains(where: { Self.normalizedLabel($0) == wanted }) {
            return CodeValidation(outcome: .valid, message: r.message)
        }
        let known = r.labels.prefix(3).map { "'\($0)'" }.joined(separator: " or ")
        return CodeValidation(outcome: .valid,
                              displayMismatch: "display '\(display)' does not match the label of code '\(code)' in \(vs.label): expected \(known)",
                              message: r.message)
    }

    /// Label comparison key: case, accents, apostrophe/dash variants and whitespace runs ignored.
    static func normalizedLabel(_ s: String) -> String {
        let folded = s.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
        var out = ""
        var space = false
        for ch in folded.unicodeScalars {
            var c = ch
            switch c.value {
            case 0x2018, 0x2019, 0x02BC, 0x00B4, 0x0060: c = "'"
            case 0x2010...0x2015, 0x2212: c = "-"
            case 0x0152: out += "oe"; space = false; continue
            case 0x0153: out += "oe"; space = false; continue
            default: break
            }
            if c.properties.isWhitespace || c.value == 0x00A0 || c.value == 0x202F {
                space = !out.isEmpty
                continue
            }
            if space { out.unicodeScalars.append(" "); space = false }
            out.unicodeScalars.append(c)
        }
        return out
    }
}
