import FHIRModels
import Synchronization

/// Options of the definitions-driven validator.
public struct ValidatorOptions: Sendable {
    /// Evaluate FHIRPath invariants through the configured `InvariantEvaluator` (native ones always run).
    public var checkInvariants = true
    /// Check narrative XHTML (allowed elements/attributes, no scripts).
    public var checkXHTML = true
    /// Write resources inside other resources the way the Java validator does in expressions:
    /// `Bundle.entry[0].resource/*Patient/p1*/.gender` instead of `Bundle.entry[0].resource.gender`.
    public var javaResourceComments = false
    /// Profiles every resource of a type must conform to (`ImplementationGuide.global`), e.g.
    /// `["Patient": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"]]`; applied to
    /// contained and Bundle entry resources too.
    public var globalProfiles: [String: [String]] = [:]
    /// Strings that look like embedded HTML (`<script>`, `<img ...>`) are errors (else information), as
    /// the Java validator's security checks.
    public var securityChecks = false
    /// URLs on example.org / example.com are accepted (the Java validator's `examples` setting).
    public var allowExampleURLs = true
    /// Check the resource type a literal reference names (`Group/1`) against the element's target
    /// profiles when the reference does not resolve inside the resource or its Bundle (references that
    /// resolve are always checked, against their target's actual type). The Java validator checks them
    /// only when its reference policy asks for types (`CHECK_TYPE` and stronger, not `IGNORE`).
    public var checkUnresolvedReferenceTypes = true
    public init() {}
}

/// Validates `ElementTree`s against StructureDefinitions: the core definition of each resource type,
/// the profiles named in `meta.profile`, and profiles asked for explicitly.
///
/// Definitions come from a `StructureDefinitionProvider` (always with snapshots) and are compiled once
/// per canonical URL into a `ValidationPlan` (thread-safe cache); codes are checked through an optional
/// `TerminologyProvider`; FHIRPath invariants through an `InvariantEvaluator` (default: the project's
/// FHIRPath engine, `FHIRPathInvariants`; the invariants the validator knows natively — ele-1, ext-1,
/// dom-3, the Bundle rules — always run; `options.checkInvariants = false` turns the others off).
///
/// ```swift
/// let validator = Validator(definitions: store, terminology: terminology)
/// let issues = validator.validate(tree, profiles: ["https://.../StructureDefinition/esms-task"])
/// ```
/// The validator is `Sendable` and meant to be shared by concurrent requests.
public final class Validator: Sendable {
    public static let coreBase = "http://hl7.org/fhir/StructureDefinition/"

    public let definitions: any StructureDefinitionProvider
    public let terminology: (any TerminologyProvider)?
    public let invariants: (any InvariantEvaluator)?
    public let options: ValidatorOptions
    public let model: ModelInfo
    let compiler: PlanCompiler
    let kinds: [PrimitiveKind]
    let ids: WellKnownTypes
    private let cache = Mutex<[String: PlanSlot]>([:])
    private let targetTypes = Mutex<[ObjectIdentifier: TargetTypes]>([:])
    /// Answers of the terminology store by (code, system, display, value set); only for a
    /// `TerminologyStore`, a value whose answers cannot change once the validator holds it.
    private let codeResults = Mutex<[CodeKey: CodeValidation]>([:])
    private let memoizeCodes: Bool
    static let codeResultLimit = 50_000

    struct CodeKey: Hashable, Sendable {
        let code: String; let system: String?; let display: String?; let valueSet: String

        /// Equal keys hash alike: the code fully, the long URLs and the display by their length and last
        /// bytes (they share long prefixes; hashing them whole dominated the lookup).
        func hash(into h: inout Hasher) {
            h.combine(code)
            Self.mix(system, &h)
            Self.mix(display, &h)
            Self.mix(valueSet, &h)
        }

        static func mix(_ s: String?, _ h: inout Hasher) {
            guard let s else { h.combine(-1); return }
            h.combine(s.utf8.count)
            for b in s.utf8.suffix(8) { h.combine(b) }
        }
    }

    struct TargetTypes: Sendable { let rule: ElementRule; let allowed: [String]? }

    enum PlanSlot: Sendable { case plan(ValidationPlan), missing }

    public init(definitions: any StructureDefinitionProvider, terminology: (any TerminologyProvider)? = nil,
                invariants: (any InvariantEvaluator)? = nil, options: ValidatorOptions = ValidatorOptions(),
                model: ModelInfo = .r4) {
        self.definitions = definitions
        self.terminology = terminology
        let evaluator: (any InvariantEvaluator)? = options.checkInvariants ? (invariants ?? FHIRPathInvariants(terminology: terminology)) : nil
        self.invariants = evaluator
        self.options = options
        self.model = model
        self.compiler = PlanCompiler(model: model, invariants: evaluator)
        self.kinds = model.types.map { $0.kind == .primitive ? PrimitiveKind(name: $0.name) : .none }
        self.ids = WellKnownTypes(model)
        self.memoizeCodes = terminology is TerminologyStore
    }

    /// `terminology.validate(...)`, remembered per distinct question when the provider is a `TerminologyStore`.
    func validateCode(_ terminology: any TerminologyProvider, code: String, system: String?, display: String?,
                      valueSet: String) -> CodeValidation {
        guard memoizeCodes else { return terminology.validate(code: code, system: system, display: display, valueSet: valueSet) }
        let key = CodeKey(code: code, system: system, display: display, valueSet: valueSet)
        if let hit = codeResults.withLock({ $0[key] }) { return hit }
        let r = terminology.validate(code: code, system: system, display: display, valueSet: valueSet)
        codeResults.withLock { if $0.count < Self.codeResultLimit { $0[key] = r } }
        return r
    }

    /// The compiled plan of a StructureDefinition (compiled on first use, then cached); nil when the
    /// provider does not know the URL or the definition cannot be compiled.
    public func plan(for url: String) -> ValidationPlan? {
        if let slot = cache.withLock({ $0[url] }) {
            if case .plan(let p) = slot { return p }
            return nil
        }
        var plan: ValidationPlan?
        if let sd = definitions.structureDefinition(url: url) ?? versionless(url).flatMap({ definitions.structureDefinition(url: $0) }) {
            plan = try? compiler.compile(sd)
        }
        let slot: PlanSlot = plan.map { .plan($0) } ?? .missing
        return cache.withLock { c in
            if let existing = c[url], case .plan(let p) = existing { return p }
            c[url] = slot
            return plan
        }
    }

    /// Resource type names a Reference element may point to (from `targetProfile`), computed once per rule:
    /// nil when the check does not apply (no Reference target, `Resource`/`DomainResource` allowed, or a
    /// target profile that cannot be found). Stable because plan lookups (found or missing) are cached.
    func allowedTargetTypes(_ rule: ElementRule) -> [String]? {
        let key = ObjectIdentifier(rule)
        if let hit = targetTypes.withLock({ $0[key] }) { return hit.allowed }
        let allowed = computeAllowedTargetTypes(rule)
        // The rule is kept alive by the entry, so its identifier cannot be reused by another object.
        targetTypes.withLock { $0[key] = TargetTypes(rule: rule, allowed: allowed) }
        return allowed
    }

    /// The resource type a target profile constrains (nil when the profile cannot be found).
    func targetTypeName(_ profile: String) -> String? {
        if profile.hasPrefix(Validator.coreBase), model.type(named: String(profile.dropFirst(Validator.coreBase.count))) != nil {
            return String(profile.dropFirst(Validator.coreBase.count))
        }
        return plan(for: profile)?.typeName
    }

    private func computeAllowedTargetTypes(_ rule: ElementRule) -> [String]? {
        var allowed: [String] = []
        for t in rule.types where t.code == "Reference" {
            for p in t.targetProfiles {
                // An unknown target profile: cannot decide.
                guard let type = targetTypeName(p) else { return nil }
                allowed.append(type)
            }
        }
        guard !allowed.isEmpty, !allowed.contains("Resource"), !allowed.contains("DomainResource") else { return nil }
        return allowed
    }

    private func versionless(_ url: String) -> String? {
        guard let bar = url.firstIndex(of: "|") else { return nil }
        return String(url[..<bar])
    }

    /// Validates a resource (and everything inside it: contained resources, Bundle entries) and returns
    /// every issue found, errors and warnings alike, each with the FHIRPath of the faulty element.
    public func validate(_ tree: ElementTree, profiles: [String] = []) -> [OutcomeIssue] {
        guard !tree.isEmpty else { return [] }
        var w = Walker(validator: self, tree: tree)
        w.importStructureIssues()
        w.validateResource(tree.root, explicitProfiles: profiles)
        return w.finish()
    }
}

/// Type ids the validator special-cases.
struct WellKnownTypes: Sendable {
    let extensionType, reference, coding, codeableConcept, code, bundle, bundleEntry, canonical, uri, url, string, resource, narrative, attachment: ModelInfo.TypeID
    init(_ m: ModelInfo) {
        extensionType = m.type(named: "Extension") ?? -1
        reference = m.type(named: "Reference") ?? -1
        coding = m.type(named: "Coding") ?? -1
        codeableConcept = m.type(named: "CodeableConcept") ?? -1
        code = m.type(named: "code") ?? -1
        bundle = m.type(named: "Bundle") ?? -1
        bundleEntry = m.type(named: "Bundle.entry") ?? -1
        canonical = m.type(named: "canonical") ?? -1
        uri = m.type(named: "uri") ?? -1
        url = m.type(named: "url") ?? -1
        string = m.type(named: "string") ?? -1
        resource = m.type(named: "Resource") ?? -1
        narrative = m.type(named: "Narrative") ?? -1
        attachment = m.type(named: "Attachment") ?? -1
    }
}
