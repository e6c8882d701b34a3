import Foundation
import FHIRModels

/// A StructureDefinition snapshot compiled once into what the validator needs: a flat array of element
/// rules (index 0 is the root), children and slices referenced by index, and for each rule a table from
/// `ModelInfo` element id to child rule so that instance nodes find their rule without string work.
public final class ValidationPlan: Sendable {
    /// Canonical URL of the StructureDefinition.
    public let url: String
    /// `url|version` when the definition has a version: the form used in messages (`from ...`).
    public let versionedURL: String
    /// The constrained type (`Patient`, `Extension`, `HumanName`, `string`).
    public let typeName: String
    public let modelType: ModelInfo.TypeID
    /// Whether this is a base definition (`derivation` is not `constraint`).
    public let isBase: Bool
    public let rules: [ElementRule]
    /// For extension definitions: where the extension may be used.
    public let contexts: [ExtensionContext]
    /// For extension definitions: the root element says `isModifier`.
    public let isModifierExtension: Bool
    /// For extension definitions: `contextInvariant` FHIRPath expressions, evaluated on the element
    /// holding the extension (nil when one does not parse).
    public let contextInvariants: [(text: String, expression: FHIRPathExpression?)]

    /// Per rule, which of the per-node rule checks can apply (read by the walk for every node: one
    /// immutable array read instead of several accesses to the rule's mutable properties).
    let checks: [RuleChecks]
    /// Per rule, what the walk needs to go through its children, and the flattened child lookup tables:
    /// immutable copies of the rules' (mutable, class-held) fields, read once per node.
    let walkInfo: [RuleWalk]
    let lookupTable: [Int32]
    let childTable: [Int32]

    init(url: String, versionedURL: String, typeName: String, modelType: ModelInfo.TypeID, isBase: Bool,
         rules: [ElementRule], contexts: [ExtensionContext], isModifierExtension: Bool,
         contextInvariants: [(text: String, expression: FHIRPathExpression?)] = []) {
        self.url = url; self.versionedURL = versionedURL; self.typeName = typeName; self.modelType = modelType
        self.isBase = isBase; self.rules = rules; self.contexts = contexts; self.isModifierExtension = isModifierExtension
        self.contextInvariants = contextInvariants
        self.checks = rules.map(RuleChecks.init)
        var info: [RuleWalk] = []
        var lookups: [Int32] = [], children: [Int32] = []
        info.reserveCapacity(rules.count)
        for (i, r) in rules.enumerated() {
            var source = i
            if r.children.isEmpty && r.contentReference >= 0 { source = Int(r.contentReference) }
            info.append(RuleWalk(childSource: rules[source].children.isEmpty ? -1 : Int32(source), max: r.max, elementID: r.elementID,
                                 hasSlices: !r.slices.isEmpty, hasRequired: !r.requiredChildren.isEmpty,
                                 lookupBase: r.lookupBase, lookupStart: Int32(lookups.count), lookupCount: Int32(r.lookup.count),
                                 childrenStart: Int32(children.count), childrenCount: Int32(r.children.count)))
            lookups += r.lookup
            children += r.children
        }
        self.walkInfo = info
        self.lookupTable = lookups
        self.childTable = children
    }

    /// For a complex extension: whether `url` (relative) names one of its sub-extensions, i.e. a slice
    /// of its root `extension` element whose url is fixed to it. An extension whose `extension` element
    /// is not sliced defines none.
    func definesSubExtension(_ url: String) -> Bool {
        guard let root = rules.first,
              let ext = root.children.first(where: { rules[Int($0)].name == "extension" }) else { return false }
        let bytes = Array(url.utf8)
        for s in rules[Int(ext)].slices {
            if rules[Int(s)].sliceName == url { return true }
            for c in rules[Int(s)].children where rules[Int(c)].name == "url" {
                if case .primitive(let fixed)? = rules[Int(c)].fixed ?? rules[Int(c)].pattern, fixed == bytes { return true }
            }
        }
        return false
    }

    /// Child rule of `rule` for an instance node instantiating model element `element`.
    @inline(__always)
    func child(of rule: Int32, element: Int32) -> Int32 {
        let w = walkInfo[Int(rule)]
        let offset = element &- w.lookupBase
        if offset >= 0 && offset < w.lookupCount { return lookupTable[Int(w.lookupStart + offset)] }
        var k: Int32 = 0
        while k < w.childrenCount {
            let c = childTable[Int(w.childrenStart + k)]
            if walkInfo[Int(c)].elementID == element { return c }
            k += 1
        }
        return -1
    }
}

/// What the walk reads for every node about a rule (a plain value: no reference counting, no exclusivity
/// checks on the rule's mutable properties).
struct RuleWalk: Sendable {
    /// The rule whose children are walked (the rule itself, or its `contentReference`); -1 when none.
    var childSource: Int32
    var max: Int32
    var elementID: Int32
    var hasSlices: Bool
    var hasRequired: Bool
    var lookupBase: Int32
    var lookupStart: Int32
    var lookupCount: Int32
    var childrenStart: Int32
    var childrenCount: Int32
}

/// The checks `Walker.checkRule` may have to run for a rule (computed when the plan is published, after
/// which rules do not change).
struct RuleChecks: OptionSet, Sendable {
    let rawValue: UInt16
    static let allowedTypes = RuleChecks(rawValue: 1 << 0)
    static let fixed = RuleChecks(rawValue: 1 << 1)
    static let pattern = RuleChecks(rawValue: 1 << 2)
    static let maxLength = RuleChecks(rawValue: 1 << 3)
    static let binding = RuleChecks(rawValue: 1 << 4)
    static let targetProfiles = RuleChecks(rawValue: 1 << 5)
    static let invariants = RuleChecks(rawValue: 1 << 6)
    static let typeProfiles = RuleChecks(rawValue: 1 << 7)
    /// minLength, minValue/maxValue, mustHaveValue, valueAlternatives.
    static let valueRules = RuleChecks(rawValue: 1 << 8)
    static let languageControl = RuleChecks(rawValue: 1 << 9)

    init(rawValue: UInt16) { self.rawValue = rawValue }

    init(_ r: ElementRule) {
        var c: RuleChecks = []
        if !r.allowedTypes.isEmpty { c.insert(.allowedTypes) }
        if r.fixed != nil { c.insert(.fixed) }
        if r.pattern != nil { c.insert(.pattern) }
        if r.maxLength > 0 { c.insert(.maxLength) }
        if r.valueSet != nil { c.insert(.binding) }
        if r.hasTargetProfiles { c.insert(.targetProfiles) }
        if r.hasInvariants { c.insert(.invariants) }
        if r.hasTypeProfiles { c.insert(.typeProfiles) }
        if r.minLength > 0 || r.minValue != nil || r.maxValue != nil || r.mustHaveValue || !r.valueAlternatives.isEmpty {
            c.insert(.valueRules)
        }
        if !r.languageControl.isEmpty { c.insert(.languageControl) }
        self = c
    }
}

public struct ExtensionContext: Sendable {
    public enum Kind: String, Sendable { case element, `extension`, fhirpath }
    public var kind: Kind
    public var expression: String
    /// For `fhirpath` contexts: the parsed expression (nil when it does not parse).
    public var compiled: FHIRPathExpression?
}

public enum BindingStrength: String, Sendable { case required, extensible, preferred, example }

public struct TypeRule: Sendable {
    /// Type code as written (`Quantity`, `Reference`, `BackboneElement`).
    public var code: String
    /// `ModelInfo` type id of the code, -1 when it is not a model type (FHIRPath system types).
    public var typeID: ModelInfo.TypeID
    public var profiles: [String]
    public var targetProfiles: [String]
    /// Declared as a FHIRPath system type (`System.String` of `Resource.id`, `Extension.url`, primitive
    /// values): the instance's type is the model's, whatever FHIR type the definition's tooling wrote.
    public var isSystem = false
}

public struct Constraint: Sendable {
    public var key: String
    public var severity: IssueSeverity
    public var human: String
    public var expression: String?
    /// Checked natively by the validator (never handed to the FHIRPath evaluator).
    public var native: Bool
    /// Defined by a core R4 definition (`source`): already checked by the core pass on the same node.
    public var fromCore: Bool
    /// Compiled by the invariant evaluator, when one is configured and the expression compiles.
    public var compiled: CompiledInvariant?
}

/// A fixed or pattern value, parsed from the StructureDefinition JSON into names as bytes so it can be
/// compared with element tree nodes without building strings.
public indirect enum FixedValue: Sendable, CustomStringConvertible {
    case primitive([UInt8])
    /// Members as written (messages), and the same members smallest first: the order in which matching
    /// compares them, so that a short distinguishing member (`code`) is checked before a long shared
    /// one (`system`).
    case complex([Member], cheapestFirst: [Member])

    public struct Member: Sendable {
        public var name: [UInt8]
        public var items: [FixedValue]
    }

    init?(json: JSONValue) {
        switch json {
        case .string(let s): self = .primitive(Array(s.utf8))
        case .number(let n): self = .primitive(Array(n.utf8))
        case .bool(let b): self = .primitive(Array((b ? "true" : "false").utf8))
        case .null, .array: return nil
        case .object(let members):
            var out: [Member] = []
            for (k, v) in members where !k.hasPrefix("_") {
                let items: [FixedValue] = if case .array(let a) = v { a.compactMap { FixedValue(json: $0) } } else { FixedValue(json: v).map { [$0] } ?? [] }
                if !items.isEmpty { out.append(Member(name: Array(k.utf8), items: items)) }
            }
            self = .complex(out, cheapestFirst: out.enumerated().sorted { a, b in
                let wa = a.element.items.reduce(0) { $0 + $1.size }, wb = b.element.items.reduce(0) { $0 + $1.size }
                return wa != wb ? wa < wb : a.offset < b.offset
            }.map(\.element))
        }
    }

    /// Bytes of the primitive values it holds.
    var size: Int {
        switch self {
        case .primitive(let b): b.count
        case .complex(let members, _): members.reduce(0) { $0 + $1.items.reduce(0) { $0 + $1.size } }
        }
    }

    /// Members reached by following member names (used when a discriminator path goes below a pattern).
    func descend(_ names: ArraySlice<String>) -> [FixedValue] {
        guard let first = names.first else { return [self] }
        guard case .complex(let members, _) = self else { return [] }
        let key = Array(first.utf8)
        var out: [FixedValue] = []
        for m in members where m.name == key || (m.name.starts(with: key) && m.name.count > key.count && m.name[key.count] >= 0x41 && m.name[key.count] <= 0x5A) {
            for i in m.items { out += i.descend(names.dropFirst()) }
        }
        return out
    }

    public var description: String {
        switch self {
        case .primitive(let b): return "'" + String(decoding: b, as: UTF8.self) + "'"
        case .complex(let members, _):
            return "{" + members.map { m in
                String(decoding: m.name, as: UTF8.self) + ": " + (m.items.count == 1 ? m.items[0].description : "[" + m.items.map(\.description).joined(separator: ", ") + "]")
            }.joined(separator: ", ") + "}"
        }
    }
}

/// A `minValue[x]` / `maxValue[x]` of an element definition, parsed once.
public enum ValueBound: Sendable, CustomStringConvertible {
    case number(Decimal, text: String)
    case dateTime(FHIRPathDateTime, text: String)
    case time(FHIRPathDateTime, text: String)
    case quantity(Decimal, system: String?, code: String?, text: String)

    /// `key` is the element definition property (`minValueInteger`, `maxValueDate`, ...).
    init?(key: String, json: JSONValue) {
        // `minValue` and `maxValue` have the same length.
        switch key.dropFirst(8) {
        case "Integer", "PositiveInt", "UnsignedInt", "Decimal", "Integer64":
            guard let text = Self.numberText(json) ?? json.string, let d = FHIRPathValue.parseDecimal(text) else { return nil }
            self = .number(d, text: text)
        case "Date", "DateTime", "Instant":
            guard let text = json.string, let d = FHIRPathDateTime.parseDateTime(text) else { return nil }
            self = .dateTime(d, text: text)
        case "Time":
            guard let text = json.string, let t = FHIRPathDateTime.parseTime(text) else { return nil }
            self = .time(t, text: text)
        case "Quantity":
            guard let value = json["value"], let text = Self.numberText(value), let d = FHIRPathValue.parseDecimal(text) else { return nil }
            let code = json["code"]?.string
            self = .quantity(d, system: json["system"]?.string, code: code, text: text + (code.map { " " + $0 } ?? ""))
        default:
            return nil
        }
    }

    static func numberText(_ json: JSONValue) -> String? {
        if case .number(let t) = json { return t }
        return nil
    }

    public var description: String {
        switch self {
        case .number(_, let t), .dateTime(_, let t), .time(_, let t), .quantity(_, _, _, let t): t
        }
    }
}

public struct Slicing: Sendable {
    public enum Rules: String, Sendable { case open, closed, openAtEnd }
    public struct Discriminator: Sendable {
        public enum Kind: String, Sendable { case value, pattern, type, profile, exists }
        public var kind: Kind
        public var path: String
    }
    public var discriminators: [Discriminator]
    public var ordered: Bool
    public var rules: Rules
}

/// How one slice recognises its members, per discriminator.
public struct SliceTest: Sendable {
    public enum Step: Sendable {
        case child(String)
        case ofType(String)
        case extensionURL(String)
        /// `resolve()`: from a Reference to the resource it points to (contained or in the Bundle).
        case resolve
    }
    public enum Check: Sendable {
        case value(FixedValue, exact: Bool)
        case type([ModelInfo.TypeID])
        case exists(Bool)
        case profile([String])
        /// The resource a `resolve()` path reaches is of the type of one of these target profiles.
        case resolvedType([String])
        /// The discriminator could not be turned into a test (e.g. `resolve().code`): it does not decide.
        case undecided
    }
    public var steps: [Step]
    public var check: Check
}

/// One element of a compiled definition. A class so that the walk reads rules without copying them;
/// mutated only while its plan is being compiled, immutable once the plan is published.
public final class ElementRule: @unchecked Sendable {
    public var id: String
    public var path: String
    /// Last path segment without `[x]`.
    public var name: String
    public var sliceName: String?
    /// `ModelInfo` element id this rule applies to (-1 for the root and for non-model elements).
    public var elementID: Int32
    /// `ModelInfo` type of the instances when known (single type), else -1.
    public var modelType: ModelInfo.TypeID
    public var min: Int32
    /// -1 for `*`.
    public var max: Int32
    public var types: [TypeRule]
    /// Allowed `ModelInfo` types; empty when any type of the model element is fine.
    public var allowedTypes: [ModelInfo.TypeID]
    public var isChoice: Bool
    public var isModifier: Bool
    public var contentReference: Int32 = -1
    public var fixed: FixedValue?
    public var pattern: FixedValue?
    public var bindingStrength: BindingStrength?
    public var valueSet: String?
    public var constraints: [Constraint]
    public var maxLength: Int32
    public var slicing: Slicing?
    /// Slices of this element (rule indices) and, parallel, how each is recognised.
    public var slices: [Int32] = []
    public var sliceTests: [[SliceTest]] = []
    /// Non-slice child rules.
    public var children: [Int32] = []
    /// Child rules with `min > 0` or with a slice whose `min > 0`.
    public var requiredChildren: [Int32] = []
    /// Child rule per model element id, offset by `lookupBase`; -1 when none.
    public var lookupBase: Int32 = 0
    public var lookup: [Int32] = []
    /// Whether any child or slice is constrained beyond the base (not needed, kept for diagnostics).
    public private(set) var hasTypeProfiles = false
    public private(set) var hasTargetProfiles = false

    init(id: String, path: String, name: String, sliceName: String?, elementID: Int32, modelType: ModelInfo.TypeID,
         min: Int32, max: Int32, types: [TypeRule], allowedTypes: [ModelInfo.TypeID], isChoice: Bool, isModifier: Bool,
         fixed: FixedValue?, pattern: FixedValue?, bindingStrength: BindingStrength?, valueSet: String?,
         constraints: [Constraint], maxLength: Int32, slicing: Slicing?) {
        self.id = id; self.path = path; self.name = name; self.sliceName = sliceName; self.elementID = elementID
        self.modelType = modelType; self.min = min; self.max = max; self.types = types; self.allowedTypes = allowedTypes
        self.isChoice = isChoice; self.isModifier = isModifier; self.fixed = fixed; self.pattern = pattern
        self.bindingStrength = bindingStrength; self.valueSet = valueSet; self.constraints = constraints
        self.maxLength = maxLength; self.slicing = slicing
        self.hasTypeProfiles = types.contains { !$0.profiles.isEmpty }
        self.hasTargetProfiles = types.contains { !$0.targetProfiles.isEmpty }
    }
    /// Some constraint goes to the invariant evaluator.
    public internal(set) var hasInvariants = false
    /// Element definition extensions of later FHIR versions that R4 profiles use: `minLength`,
    /// `mustHaveValue` and `valueAlternatives` (R5 ElementDefinition elements, as 5.0 cross-version
    /// extensions) and `narrative-language-control`; and `minValue[x]`/`maxValue[x]`.
    public var minLength: Int32 = 0
    public var minValue: ValueBound?
    public var maxValue: ValueBound?
    public var mustHaveValue = false
    public var valueAlternatives: [String] = []
    public var languageControl: [String] = []
}

/// Handle to an invariant compiled by an `InvariantEvaluator`.
public struct CompiledInvariant: Sendable {
    public let payload: any Sendable
    public init(_ payload: any Sendable) { self.payload = payload }
}

/// The FHIRPath side of invariant checking, behind a small protocol so the validator does not depend on
/// one engine (`FHIRPathInvariants` is the project's). `compile` gets the constraint key (for technical
/// corrections) and the FHIR type of the element when known (`Patient`, `Patient.contact`, `HumanName`);
/// nil means the expression cannot be used. `check` returns nil when it could not be evaluated here;
/// `resource` is `%resource` when it is not the resource containing `node` (a resource checked as an
/// element of its container's definition, e.g. `Bundle.entry.resource`: `%resource` is the Bundle).
public protocol InvariantEvaluator: Sendable {
    func compile(_ expression: String, key: String, contextType: String?) -> CompiledInvariant?
    func check(_ invariant: CompiledInvariant, tree: ElementTree, node: ElementTree.NodeID, resource: ElementTree.NodeID?) -> Bool?
}

public enum PlanCompileError: Error, Sendable, CustomStringConvertible {
    case noSnapshot(String)
    case unknownType(String)
    public var description: String {
        switch self {
        case .noSnapshot(let u): "StructureDefinition \(u) has no snapshot"
        case .unknownType(let t): "StructureDefinition type '\(t)' is not a FHIR R4 type"
        }
    }
}

/// Compiles StructureDefinition snapshots into `ValidationPlan`s.
public struct PlanCompiler: Sendable {
    /// Invariant keys the validator checks itself (faster, and available without a FHIRPath engine).
    public static let nativeInvariants: Set<String> = [
        "ele-1", "ext-1", "dom-3", "txt-1", "txt-2",
        "bdl-1", "bdl-2", "bdl-3", "bdl-4", "bdl-5", "bdl-7", "bdl-8", "bdl-9", "bdl-10", "bdl-11", "bdl-12",
    ]

    public let model: ModelInfo
    public let invariants: (any InvariantEvaluator)?

    public init(model: ModelInfo = .r4, invariants: (any InvariantEvaluator)? = nil) {
        self.model = model; self.invariants = invariants
    }

    public func compile(_ sd: JSONValue) throws(PlanCompileError) -> ValidationPlan {
        let url = sd["url"]?.string ?? ""
        let version = sd["version"]?.string
        guard let elements = sd["snapshot"]?["elements"]?.array ?? sd["snapshot"]?["element"]?.array, !elements.isEmpty else {
            throw .noSnapshot(url)
        }
        let typeName = sd["type"]?.string ?? elements[0]["path"]?.string ?? ""
        let rootType = model.type(named: typeName) ?? -1
        if rootType < 0 && !typeName.contains("/") { throw .unknownType(typeName) }

        var rules: [ElementRule] = []
        rules.reserveCapacity(elements.count)
        // Stack of rule indices along the current path.
        var stack: [Int32] = []
        var contentReferences: [(Int32, String)] = []
        for (i, e) in elements.enumerated() {
            let path = e["path"]?.string ?? ""
            let sliceName = e["sliceName"]?.string
            let rule = makeRule(e, path: path, sliceName: sliceName)
            if i == 0 {
                rule.modelType = rootType
                rules.append(rule)
                stack = [0]
                continue
            }
            let parentPath = Self.parentPath(path)
            while let top = stack.last, rules[Int(top)].path != parentPath { stack.removeLast() }
            guard let parent = stack.last else { continue }
            resolveModel(rule, parentType: rules[Int(parent)].modelType)
            let index = Int32(rules.count)
            if let cr = e["contentReference"]?.string { contentReferences.append((index, cr)) }
            // A slice (or re-slice) attaches to the most recent sibling with the same path.
            if sliceName != nil, let base = rules[Int(parent)].children.last(where: { rules[Int($0)].path == path }) {
                rules.append(rule)
                var target = base
                // Re-slicing (`a/b`): attach to the slice being re-sliced when it exists.
                if let sn = sliceName, let slash = sn.lastIndex(of: "/") {
                    let baseSlice = String(sn[..<slash])
                    if let s = rules[Int(base)].slices.first(where: { rules[Int($0)].sliceName == baseSlice }) { target = s }
                }
                rules[Int(target)].slices.append(index)
            } else {
                rules.append(rule)
                rules[Int(parent)].children.append(index)
            }
            stack.append(index)
        }
        // contentReference, lookup tables, required children, slice tests.
        var byID: [String: Int32] = [:]
        for (i, r) in rules.enumerated() where byID[r.id] == nil { byID[r.id] = Int32(i) }
        var byPath: [String: Int32] = [:]
        for (i, r) in rules.enumerated() where r.sliceName == nil && byPath[r.path] == nil { byPath[r.path] = Int32(i) }
        for (ruleIndex, cr) in contentReferences {
            var key = cr
            if let hash = key.firstIndex(of: "#") { key = String(key[key.index(after: hash)...]) }
            rules[Int(ruleIndex)].contentReference = byID[key] ?? byPath[key] ?? -1
        }
        for i in rules.indices { finish(&rules, Int32(i)) }

        var contexts: [ExtensionContext] = []
        for c in sd["context"]?.array ?? [] {
            guard let expr = c["expression"]?.string else { continue }
            let kind = ExtensionContext.Kind(rawValue: c["type"]?.string ?? "element") ?? .element
            contexts.append(ExtensionContext(kind: kind, expression: expr,
                                             compiled: kind == .fhirpath ? try? FHIRPathExpression(expr) : nil))
        }
        let contextInvariants = (sd["contextInvariant"]?.array ?? []).compactMap(\.string).map { ($0, try? FHIRPathExpression($0)) }
        let isBase = sd["derivation"]?.string != "constraint"
        return ValidationPlan(url: url, versionedURL: version.map { url + "|" + $0 } ?? url, typeName: typeName,
                              modelType: rootType, isBase: isBase, rules: rules, contexts: contexts,
                              isModifierExtension: rules.first?.isModifier ?? false, contextInvariants: contextInvariants)
    }

    static func parentPath(_ path: String) -> String {
        guard let dot = path.lastIndex(of: ".") else { return "" }
        return String(path[..<dot])
    }

    private func makeRule(_ e: JSONValue, path: String, sliceName: String?) -> ElementRule {
        var last = path.split(separator: ".").last.map(String.init) ?? path
        let isChoice = last.hasSuffix("[x]")
        if isChoice { last.removeLast(3) }
        var types: [TypeRule] = []
        for t in e["type"]?.array ?? [] {
            guard var code = t["code"]?.string else { continue }
            let isSystem = code.hasPrefix("http://hl7.org/fhirpath/")
            if isSystem {
                // FHIRPath system type of `id`/`url`/primitive values: the declared FHIR type is in an extension.
                if let fhirType = t["extension"]?.array?.first(where: { $0["url"]?.string == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type" })?["valueUrl"]?.string {
                    code = fhirType
                }
            }
            types.append(TypeRule(code: code, typeID: model.type(named: code) ?? -1,
                                  profiles: t["profile"]?.array?.compactMap(\.string) ?? [],
                                  targetProfiles: t["targetProfile"]?.array?.compactMap(\.string) ?? [], isSystem: isSystem))
        }
        var fixed: FixedValue?
        var pattern: FixedValue?
        var maxLength: Int32 = 0
        for (k, v) in e.members ?? [] {
            if k.hasPrefix("fixed") { fixed = FixedValue(json: v) }
            else if k.hasPrefix("pattern") { pattern = FixedValue(json: v) }
            else if k == "maxLength" { maxLength = Int32(v.int ?? 0) }
        }
        var constraints: [Constraint] = []
        for c in e["constraint"]?.array ?? [] {
            guard let key = c["key"]?.string else { continue }
            let severity: IssueSeverity = c["severity"]?.string == "warning" ? .warning : .error
            let expression = c["expression"]?.string
            let native = Self.nativeInvariants.contains(key)
            var fromCore = false
            if let source = c["source"]?.string, source.hasPrefix(Validator.coreBase) {
                fromCore = model.type(named: String(source.dropFirst(Validator.coreBase.count))) != nil
            }
            constraints.append(Constraint(key: key, severity: severity, human: c["human"]?.string ?? key,
                                          expression: expression, native: native, fromCore: fromCore, compiled: nil))
        }
        var slicing: Slicing?
        if let s = e["slicing"] {
            let ds = (s["discriminator"]?.array ?? []).compactMap { d -> Slicing.Discriminator? in
                guard let k = d["type"]?.string.flatMap(Slicing.Discriminator.Kind.init(rawValue:)), let p = d["path"]?.string else { return nil }
                return Slicing.Discriminator(kind: k, path: p)
            }
            slicing = Slicing(discriminators: ds, ordered: s["ordered"]?.bool ?? false,
                              rules: Slicing.Rules(rawValue: s["rules"]?.string ?? "open") ?? .open)
        }
        let maxText = e["max"]?.string ?? "*"
        let binding = e["binding"]
        let rule = ElementRule(
            id: e["id"]?.string ?? path, path: path, name: last, sliceName: sliceName, elementID: -1, modelType: -1,
            min: Int32(e["min"]?.int ?? 0), max: maxText == "*" ? -1 : Int32(maxText) ?? -1,
            types: types, allowedTypes: [], isChoice: isChoice, isModifier: e["isModifier"]?.bool ?? false,
            fixed: fixed, pattern: pattern,
            bindingStrength: binding?["strength"]?.string.flatMap(BindingStrength.init(rawValue:)),
            valueSet: binding?["valueSet"]?.string, constraints: constraints, maxLength: maxLength, slicing: slicing)
        for (k, v) in e.members ?? [] {
            if k.hasPrefix("minValue") { rule.minValue = ValueBound(key: k, json: v) }
            else if k.hasPrefix("maxValue") { rule.maxValue = ValueBound(key: k, json: v) }
            else if k == "mustHaveValue" { rule.mustHaveValue = v.bool ?? false }
            else if k == "valueAlternatives" { rule.valueAlternatives = v.array?.compactMap(\.string) ?? [] }
        }
        for x in e["extension"]?.array ?? [] {
            switch x["url"]?.string {
            case Self.minLengthExtension: rule.minLength = Int32(clamping: x["valueInteger"]?.int ?? 0)
            case Self.mustHaveValueExtension: rule.mustHaveValue = x["valueBoolean"]?.bool ?? false
            case Self.valueAlternativesExtension: if let u = x["valueCanonical"]?.string { rule.valueAlternatives.append(u) }
            case Self.languageControlExtension: if let c = x["valueCode"]?.string { rule.languageControl.append(c) }
            default: break
            }
        }
        return rule
    }

    static let minLengthExtension = "http://hl7.org/fhir/StructureDefinition/minLength"
    static let mustHaveValueExtension = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.mustHaveValue"
    static let valueAlternativesExtension = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.valueAlternatives"
    static let languageControlExtension = "http://hl7.org/fhir/StructureDefinition/narrative-language-control"

    /// Finds the model element of a rule from its parent's model type and its name.
    private func resolveModel(_ rule: ElementRule, parentType: ModelInfo.TypeID) {
        guard parentType >= 0 else { return }
        var element: Int32 = -1
        var concrete: ModelInfo.TypeID = -1
        for i in model.elements(of: parentType) where model[element: i].name == rule.name {
            element = i; break
        }
        if element < 0, let (e, t) = model.resolve(parentType, name: rule.name) {
            // Renamed choice (`valueQuantity`).
            element = e; concrete = t; rule.isChoice = true
        }
        guard element >= 0 else { return }
        rule.elementID = element
        let info = model[element: element]
        var allowed: [ModelInfo.TypeID] = []
        for t in rule.types where t.typeID >= 0 && !t.isSystem { allowed.append(t.typeID) }
        if concrete >= 0 { allowed = [concrete] }
        // Only restrict when the rule names model types; backbone elements name `BackboneElement`/`Element`.
        if !info.isChoice {
            rule.modelType = info.types[0]
            let base = info.types[0]
            rule.allowedTypes = allowed.contains(where: { $0 >= 0 && (model.isA(base, $0) || model.isA($0, base)) }) && model[type: base].kind != .backbone
                ? allowed.filter { model.isA($0, base) || model.isA(base, $0) } : []
            if rule.allowedTypes == [base] { rule.allowedTypes = [] }
        } else {
            rule.allowedTypes = allowed
            if allowed.count == 1 { rule.modelType = allowed[0] }
            if Set(allowed) == Set(info.types) { rule.allowedTypes = [] }
        }
    }

    private func finish(_ rules: inout [ElementRule], _ index: Int32) {
        let r = rules[Int(index)]
        if let inv = invariants, r.constraints.contains(where: { !$0.native }) {
            let contextType = r.modelType >= 0 ? model[type: r.modelType].name : nil
            for i in r.constraints.indices where !r.constraints[i].native {
                guard let e = r.constraints[i].expression else { continue }
                r.constraints[i].compiled = inv.compile(e, key: r.constraints[i].key, contextType: contextType)
            }
            r.hasInvariants = r.constraints.contains { !$0.native && $0.compiled != nil }
        }
        var required: [Int32] = []
        for c in r.children where rules[Int(c)].min > 0 || rules[Int(c)].slices.contains(where: { rules[Int($0)].min > 0 }) {
            required.append(c)
        }
        rules[Int(index)].requiredChildren = required
        if r.modelType >= 0, !r.children.isEmpty {
            let range = model.elements(of: r.modelType)
            var lookup = [Int32](repeating: -1, count: range.count)
            for c in r.children {
                let e = rules[Int(c)].elementID
                if range.contains(e) && lookup[Int(e - range.lowerBound)] < 0 { lookup[Int(e - range.lowerBound)] = c }
            }
            rules[Int(index)].lookupBase = range.lowerBound
            rules[Int(index)].lookup = lookup
        }
        if let slicing = r.slicing, !r.slices.isEmpty {
            rules[Int(index)].sliceTests = r.slices.map { s in
                slicing.discriminators.map { sliceTest(rules, slice: s, discriminator: $0) }
            }
        }
    }

    /// Splits a discriminator path into steps (`extension('u').value.ofType(Quantity)`).
    static func steps(_ path: String) -> [SliceTest.Step]? {
        var out: [SliceTest.Step] = []
        var parts: [String] = []
        var depth = 0, cur = ""
        for ch in path {
            if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
            if ch == "." && depth == 0 { parts.append(cur); cur = "" } else { cur.append(ch) }
        }
        parts.append(cur)
        for p in parts {
            if p == "$this" { continue }
            if p.hasPrefix("ofType(") && p.hasSuffix(")") { out.append(.ofType(String(p.dropFirst(7).dropLast()))); continue }
            if p.hasPrefix("as(") && p.hasSuffix(")") { out.append(.ofType(String(p.dropFirst(3).dropLast()))); continue }
            if p.hasPrefix("extension(") && p.hasSuffix(")") {
                let u = String(p.dropFirst(10).dropLast().filter { $0 != "'" && $0 != "\"" })
                out.append(.extensionURL(u)); continue
            }
            if p == "resolve()" { out.append(.resolve); continue }
            if p.contains("(") { return nil }  // first(), where(), ...: not decidable here
            out.append(.child(p))
        }
        return out
    }

    /// The child `name` of a slice of `rule`, preferring required slices.
    static func throughSlices(_ rules: [ElementRule], _ rule: Int32, _ name: String) -> Int32? {
        let slices = rules[Int(rule)].slices.sorted { rules[Int($0)].min > rules[Int($1)].min }
        for s in slices {
            if let c = rules[Int(s)].children.first(where: { rules[Int($0)].name == name }) { return c }
        }
        return nil
    }

    private func sliceTest(_ rules: [ElementRule], slice: Int32, discriminator d: Slicing.Discriminator) -> SliceTest {
        guard let steps = Self.steps(d.path) else { return SliceTest(steps: [], check: .undecided) }
        // Walk the slice's rules along the path.
        var cur = slice
        var remaining: [String] = []
        var resolvedTargets: [String]?
        var i = 0
        while i < steps.count {
            switch steps[i] {
            case .resolve:
                // The target is another resource, described by the Reference's target profiles; a path
                // going on into it (`resolve().code`) is not decidable from this definition.
                guard i == steps.count - 1 else { return SliceTest(steps: steps, check: .undecided) }
                resolvedTargets = rules[Int(cur)].types.filter { $0.code == "Reference" }.flatMap(\.targetProfiles)
            case .child(let name):
                let r = rules[Int(cur)]
                if let c = r.children.first(where: { rules[Int($0)].name == name }) {
                    cur = c
                } else if let c = Self.throughSlices(rules, cur, name) {
                    // The path crosses a sliced element (`code.coding` sliced, `code` fixed in its slice):
                    // the value is the one a required slice fixes.
                    cur = c
                } else {
                    remaining = steps[i...].compactMap { if case .child(let n) = $0 { n } else { nil } }
                    i = steps.count; continue
                }
            case .ofType(let t):
                // A type slice of a choice may exist below (value[x]:valueQuantity); else the rule itself.
                let r = rules[Int(cur)]
                if let s = r.slices.first(where: { rules[Int($0)].types.count == 1 && rules[Int($0)].types[0].code == t }) { cur = s }
            case .extensionURL(let u):
                let r = rules[Int(cur)]
                guard let ext = r.children.first(where: { rules[Int($0)].name == "extension" }),
                      let s = rules[Int(ext)].slices.first(where: { rules[Int($0)].types.first?.profiles.contains(u) ?? false }) else {
                    return SliceTest(steps: steps, check: .undecided)
                }
                cur = s
            }
            i += 1
        }
        if let targets = resolvedTargets {
            guard !targets.isEmpty else { return SliceTest(steps: steps, check: .undecided) }
            switch d.kind {
            case .type: return SliceTest(steps: steps, check: .resolvedType(targets))
            case .profile: return SliceTest(steps: steps, check: .profile(targets))
            default: return SliceTest(steps: steps, check: .undecided)
            }
        }
        let target = rules[Int(cur)]
        // As the Java validator: an element the slice prohibits (max 0) at the discriminator path is matched
        // by its absence, whatever the discriminator type (a `$this` type slice with max 0 matches nothing,
        // so such a member falls to the slicing rules: an error when the slicing is closed).
        if remaining.isEmpty && target.max == 0 { return SliceTest(steps: steps, check: .exists(false)) }
        switch d.kind {
        case .value, .pattern:
            if let fv = target.fixed ?? target.pattern {
                let values = fv.descend(remaining[...])
                if values.count == 1 { return SliceTest(steps: steps, check: .value(values[0], exact: target.fixed != nil && d.kind == .value)) }
                return SliceTest(steps: steps, check: .undecided)
            }
            // Extensions sliced by url: the slice names its definition as a type profile.
            if remaining == ["url"] || (remaining.isEmpty && target.name == "url"), let p = rules[Int(slice)].types.first?.profiles.first {
                return SliceTest(steps: steps, check: .value(.primitive(Array(p.utf8)), exact: true))
            }
            return SliceTest(steps: steps, check: .undecided)
        case .type:
            guard remaining.isEmpty else { return SliceTest(steps: steps, check: .undecided) }
            let ids = target.types.map(\.typeID).filter { $0 >= 0 }
            return SliceTest(steps: steps, check: ids.isEmpty ? .undecided : .type(ids))
        case .exists:
            guard remaining.isEmpty else { return SliceTest(steps: steps, check: .undecided) }
            if target.max == 0 { return SliceTest(steps: steps, check: .exists(false)) }
            if target.min > 0 { return SliceTest(steps: steps, check: .exists(true)) }
            return SliceTest(steps: steps, check: .undecided)
        case .profile:
            guard remaining.isEmpty else { return SliceTest(steps: steps, check: .undecided) }
            let ps = target.types.flatMap(\.profiles)
            return SliceTest(steps: steps, check: ps.isEmpty ? .undecided : .profile(ps))
        }
    }
}
