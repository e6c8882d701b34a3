import FHIRModels
import Validation

/// Code systems, value sets and extensions of the ROR exposure model (ME 3.0) that the mirror reads.
/// Identifiers are routed on `identifier.system`, codings on `coding.system` (never on `meta.profile`
/// or `identifier.type`, which the ROR does not fill reliably).
public enum RorSystems {
    public static let finess = "https://finess.esante.gouv.fr"
    public static let oi = "https://oi.esante.gouv.fr"
    static let nos = "https://mos.esante.gouv.fr/NOS/"
    public static let offerIdentifierType = nos + "TRE_R355-TypeIdentifiantOffre/FHIR/TRE-R355-TypeIdentifiantOffre"
    public static let category = nos + "TRE_R244-CategorieOrganisation/FHIR/TRE-R244-CategorieOrganisation"
    public static let activityField = nos + "TRE_R227-ChampActivite/FHIR/TRE-R227-ChampActivite"
    public static let activity = nos + "TRE_R211-ActiviteOperationnelle/FHIR/TRE-R211-ActiviteOperationnelle"
    public static let temporality = nos + "TRE_R240-TemporaliteAccueil/FHIR/TRE-R240-TemporaliteAccueil"
    public static let receptionModality = nos + "TRE_R338-ModaliteAccueil/FHIR/TRE-R338-ModaliteAccueil"
    public static let careMode = nos + "TRE_R213-ModePriseEnCharge/FHIR/TRE-R213-ModePriseEnCharge"
    public static let closingType = nos + "TRE_R286-TypeFermeture/FHIR/TRE-R286-TypeFermeture"
    public static let internalOrganizationType = nos + "TRE_R207-TypeOrganisationInterne/FHIR/TRE-R207-TypeOrganisationInterne"
    /// JDV bindings of the DUI unit block (SDO ESMSTask).
    public static let categoryValueSet = nos + "JDV_J34-CategorieOrganisation-ROR/FHIR/JDV-J34-CategorieOrganisation-ROR"
    public static let temporalityValueSet = nos + "JDV_J30-TemporaliteAccueil-ROR/FHIR/JDV-J30-TemporaliteAccueil-ROR"
    public static let careModeValueSet = nos + "JDV_J264-ModeEtCentreDePriseEnCharge-MDPH/FHIR/JDV-J264-ModeEtCentreDePriseEnCharge-MDPH"
    /// TRE_R338 `01` "Accueil séquentiel accepté".
    public static let sequentialReceptionCode = "01"
    static let rorExtension = "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/"
    public static let organizationPeriod = "http://hl7.org/fhir/StructureDefinition/organization-period"
    public static let organizationClosingType = rorExtension + "ror-organization-closing-type"
    public static let organizationReopeningDate = rorExtension + "ror-organization-reopening-date"
    /// `HealthcareService.notAvailable` slice holding the offer's closure (start) and planned reopening (end).
    public static let closingReopeningSlice = "closingReopeningDate"
}

/// Where a ROR node sits in the structure: an establishment (anything carrying a FINESS: the EG,
/// or the EJ above it), an internal organisation by its OIType (TRE_R207 1–4), or an offer.
public enum RorLevel: String, Sendable, CaseIterable {
    case establishment = "EG", pole = "POLE", service = "SERVICE", functionalUnit = "UF", elementaryUnit = "UE", offer = "OFFER", other = "OTHER"

    /// Elementary level: an offer or an "unité élémentaire" OI. Pairing above it forbids pairing below.
    public var isElementary: Bool { self == .offer || self == .elementaryUnit }
}

/// A closure read from the ROR: start date, planned reopening, closure type (TRE_R286), and the
/// FHIR path it came from. Dates are FHIR dates/dateTimes as written (compared on their date part).
public struct RorClosure: Sendable, Equatable {
    public var start: String?
    public var plannedReopening: String?
    /// TRE_R286: DEF définitive, PRO provisoire, PRE prévisionnelle, ERR, NDI, CHP, EML.
    public var type: String?
    public var path: String

    public init(start: String?, plannedReopening: String?, type: String?, path: String) {
        self.start = start; self.plannedReopening = plannedReopening; self.type = type; self.path = path
    }

    /// Closed on `today` (`YYYY-MM-DD`): the closure has started and the planned reopening (if any) is
    /// still ahead, or a closure type other than "prévisionnelle" is set without any date.
    public func isClosed(on today: String) -> Bool {
        if let start {
            guard Self.day(start) <= today else { return false }
            if let reopening = plannedReopening, Self.day(reopening) <= today { return false }
            return true
        }
        return type != nil && type != "PRE"
    }

    /// A temporary closure (type "provisoire", or a planned reopening date): "always possible", it is
    /// applied without validation. Any other closure is definitive and needs the referent.
    public var isTemporary: Bool { type == "PRO" || plannedReopening != nil }

    static func day(_ s: String) -> String { String(s.prefix(10)) }

    public var summary: String {
        [start.map { "du \($0)" }, plannedReopening.map { "réouverture prévue \($0)" }, type.map { "type \($0)" }]
            .compactMap { $0 }.joined(separator: ", ")
    }
}

/// An Organization of the ROR structure (EJ, EG, pôle, service, UF, UE).
public struct RorNode: Sendable, Equatable {
    /// `Organization.id` on the ROR server.
    public var logicalId: String
    public var level: RorLevel
    public var finess: String?
    /// `identifier[system=https://oi.esante.gouv.fr].value` for internal organisations.
    public var idOI: String?
    public var name: String?
    /// `partOf` target's logical id.
    public var parentLogicalId: String?
    public var closure: RorClosure?
    public var lastUpdated: String?

    public init(logicalId: String, level: RorLevel, finess: String?, idOI: String?, name: String?, parentLogicalId: String?,
                closure: RorClosure?, lastUpdated: String?) {
        self.logicalId = logicalId; self.level = level; self.finess = finess; self.idOI = idOI; self.name = name
        self.parentLogicalId = parentLogicalId; self.closure = closure; self.lastUpdated = lastUpdated
    }

    /// The id the platform uses for this node as a unit: the OI identifier, else `1`+FINESS for an EG.
    public var rorId: String? { idOI ?? finess.map { "1" + $0 } }
}

/// Something the projection noticed on one offer that the referent should know about (it becomes
/// an informative alert once the unit is paired).
public struct RorProjectionNote: Sendable, Equatable, Hashable {
    public var kind: RorAlertKind
    public var path: String
    public var value: String?
    public init(kind: RorAlertKind, path: String, value: String?) { self.kind = kind; self.path = path; self.value = value }
}

/// One ROR offer (HealthcareService) as the mirror needs it, with the raw ROR codes kept next to
/// their DUI projections so that changes can be classified.
public struct RorOffer: Sendable, Equatable {
    public var logicalId: String?
    /// identifiantOffre (idROR of an elementary unit).
    public var rorId: String
    public var name: String
    public var providerLogicalId: String?
    /// Logical ids from `providedBy` up the `partOf` chain, as far as it could be resolved.
    public var nodeChain: [String]
    /// FINESS identifiers met on that chain, nearest first (the EG, then its EJ).
    public var finessChain: [String]
    /// Raw TRE_R244 code, and the same code when it is in JDV_J34 (the DUI binding).
    public var rawCategory: String?
    public var category: String?
    /// TRE_R227 (champ d'activité, `HealthcareService.type`).
    public var activityField: String?
    /// TRE_R211 codes (`specialty`), sorted.
    public var activities: [String]
    public var rawTemporality: String?
    public var temporality: String?
    public var sequentialReception: Bool
    /// TRE_R213 as published, and its JDV_J264 projection (nil outside J264).
    public var rorCareMode: String?
    public var careMode: String?
    /// The offer's own closure, or the first closed node on its chain.
    public var closure: RorClosure?
    public var lastUpdated: String?
    public var notes: [RorProjectionNote]

    public init(logicalId: String?, rorId: String, name: String, providerLogicalId: String?, nodeChain: [String], finessChain: [String],
                rawCategory: String?, category: String?, activityField: String?, activities: [String], rawTemporality: String?,
                temporality: String?, sequentialReception: Bool, rorCareMode: String?, careMode: String?, closure: RorClosure?,
                lastUpdated: String?, notes: [RorProjectionNote]) {
        self.logicalId = logicalId; self.rorId = rorId; self.name = name; self.providerLogicalId = providerLogicalId
        self.nodeChain = nodeChain; self.finessChain = finessChain; self.rawCategory = rawCategory; self.category = category
        self.activityField = activityField; self.activities = activities; self.rawTemporality = rawTemporality
        self.temporality = temporality; self.sequentialReception = sequentialReception; self.rorCareMode = rorCareMode
        self.careMode = careMode; self.closure = closure; self.lastUpdated = lastUpdated; self.notes = notes
    }

    /// Whether the offer hangs under this EG (`1`+FINESS).
    public func belongs(to establishment: String) -> Bool { finessChain.contains { "1" + $0 == establishment } }

    public func isOpen(on today: String) -> Bool { !(closure?.isClosed(on: today) ?? false) }

    /// The DUI-facing unit of this offer for one EG.
    public func unit(establishment: String, today: String) -> RorUnit {
        RorUnit(establishment: establishment, rorId: rorId, name: name, organisationCategory: category, receptionTemporality: temporality,
                sequentialReception: sequentialReception, rorCareMode: rorCareMode, careMode: careMode, isOpen: isOpen(on: today),
                rorLastUpdated: lastUpdated)
    }
}

/// The projection of one input: offers, structure nodes, and what could not be used (issues with
/// severity, code, FHIRPath and a French message).
public struct RorProjection: Sendable {
    public var offers: [RorOffer] = []
    public var nodes: [RorNode] = []
    public var issues: [OutcomeIssue] = []
    public init() {}
}

/// ROR `HealthcareService` (+ providing `Organization`s) → `RorOffer`/`RorUnit`.
///
/// Input: one HealthcareService or Organization, a `searchset` Bundle (offers as `match`, their
/// organisations as `include`) or a `collection` Bundle. `providedBy` and `partOf` references are
/// resolved against the input first, then `knownNodes` (organisations from earlier pulls). Codes are
/// checked with the injected terminology: a category outside JDV_J34, a temporality outside JDV_J30
/// or a care mode outside JDV_J264 is left out of the DUI projection, with a note.
public struct RorProjector: Sendable {
    public let terminology: any TerminologyProvider

    public init(terminology: any TerminologyProvider) { self.terminology = terminology }

    public func project(_ tree: ElementTree, today: String, knownNodes: [String: RorNode] = [:]) -> RorProjection {
        var out = RorProjection()
        var offers: [ElementTree.NodeID] = []
        var organizations: [ElementTree.NodeID] = []
        switch tree.typeName(tree.root) {
        case "HealthcareService": offers.append(tree.root)
        case "Organization": organizations.append(tree.root)
        case "Bundle":
            let bundle = BundleView(tree: tree, node: tree.root)
            guard bundle.type == "searchset" || bundle.type == "collection" else {
                out.issues.append(OutcomeIssue(severity: .error, code: .notSupported,
                                               message: "Bundle de type \(bundle.type ?? "absent") : seuls searchset et collection sont acceptés",
                                               expression: "Bundle.type", rule: "ROR-INPUT"))
                return out
            }
            for entry in bundle.entries {
                guard let r = entry.resource else { continue }
                switch tree.typeName(r) {
                case "HealthcareService": offers.append(r)
                case "Organization": organizations.append(r)
                case "OperationOutcome":
                    out.issues.append(OutcomeIssue(severity: .warning, code: .informational,
                                                   message: "le serveur ROR a joint un OperationOutcome à sa réponse", expression: tree.path(r),
                                                   rule: "ROR-OUTCOME"))
                default: continue  // Location, PractitionerRole…: not part of the mirror
                }
            }
        default:
            out.issues.append(OutcomeIssue(severity: .error, code: .notSupported,
                                           message: "ressource \(tree.typeName(tree.root) ?? "inconnue") : attendu HealthcareService, Organization ou Bundle",
                                           expression: tree.typeName(tree.root), rule: "ROR-INPUT"))
            return out
        }
        var nodes = knownNodes
        for o in organizations {
            do {
                let n = try node(OrganizationView(tree: tree, node: o))
                nodes[n.logicalId] = n
                out.nodes.append(n)
            } catch { out.issues.append(error.issue) }
        }
        for h in offers {
            do { out.offers.append(try offer(HealthcareServiceView(tree: tree, node: h), nodes: nodes, today: today)) } catch {
                out.issues.append(error.issue)
            }
        }
        return out
    }

    struct Refusal: Error { var issue: OutcomeIssue }

    func node(_ org: OrganizationView) throws(Refusal) -> RorNode {
        guard let id = org.id, !id.isEmpty else {
            throw Refusal(issue: OutcomeIssue(severity: .warning, code: .required, message: "Organization sans id logique : ignorée (non référençable)",
                                         expression: org.path, rule: "ROR-ORGANIZATION-ID"))
        }
        let finess = org.identifier(system: RorSystems.finess)
        let idOI = org.identifier(system: RorSystems.oi)
        var level = RorLevel.other
        if let code = org.types.lazy.compactMap({ $0.code(in: RorSystems.internalOrganizationType) }).first {
            level = ["1": .pole, "2": .service, "3": .functionalUnit, "4": .elementaryUnit][code] ?? .other
        } else if finess != nil {
            level = .establishment
        }
        var closure: RorClosure?
        let period = org.extensions(RorSystems.organizationPeriod).first?.valuePeriod
        let closingType = org.extensions(RorSystems.organizationClosingType).first?.valueCodeableConcept?.code(in: RorSystems.closingType)
        let reopening = org.extensions(RorSystems.organizationReopeningDate).first?.primitiveValue
        if period?.end != nil || closingType != nil {
            let path = period?.end != nil ? "Organization.extension:organization-period.value.end" : "Organization.extension:ror-organization-closing-type"
            closure = RorClosure(start: period?.end, plannedReopening: reopening, type: closingType, path: path)
        }
        return RorNode(logicalId: id, level: level, finess: finess, idOI: idOI, name: org.name,
                                parentLogicalId: org.partOf?.reference.flatMap(Self.logicalId(of:)), closure: closure, lastUpdated: org.lastUpdated)
    }

    /// `Organization/123`, `https://host/fhir/Organization/123` or `Organization/123/_history/2` → `123`.
    static func logicalId(of reference: String) -> String? {
        var parts = reference.split(separator: "/")
        if parts.count >= 4, parts[parts.count - 2] == "_history" { parts.removeLast(2) }
        guard parts.count >= 2, parts[parts.count - 2] == "Organization", let last = parts.last, !last.isEmpty else { return nil }
        return String(last)
    }

    func inValueSet(_ code: String, _ system: String, _ valueSet: String) -> Bool {
        let r = terminology.validate(code: code, system: system, display: nil, valueSet: valueSet)
        // A value set the store lacks cannot be held against the ROR: keep the code.
        return r.outcome == .valid || r.outcome == .unknownValueSet
    }

    func offer(_ hs: HealthcareServiceView, nodes: [String: RorNode], today: String) throws(Refusal) -> RorOffer {
        // identifiantOffre: the identifier typed TRE_R355 #35, else the first one with a value.
        let typed = hs.identifiers.first { $0.type?.has(system: RorSystems.offerIdentifierType, code: "35") == true && $0.value != nil }
        guard let rorId = (typed ?? hs.identifiers.first { $0.value?.isEmpty == false })?.value, !rorId.isEmpty else {
            throw Refusal(issue: OutcomeIssue(severity: .error, code: .required,
                                         message: "offre ROR sans identifiant (identifiantOffre, TRE_R355 #35) : ignorée",
                                         expression: hs.path + ".identifier", rule: "ROR-OFFER-ID"))
        }
        var notes: [RorProjectionNote] = []
        // Provider chain: providedBy, then partOf upwards (bounded, cycles stop it).
        var chain: [String] = [], finess: [String] = []
        var closure: RorClosure?
        var next = hs.providedBy?.reference.flatMap(Self.logicalId(of:))
        let provider = next
        while let id = next, chain.count < 16, !chain.contains(id) {
            chain.append(id)
            guard let n = nodes[id] else { break }
            if let f = n.finess { finess.append(f) }
            if closure == nil, let c = n.closure, c.isClosed(on: today) { closure = c }
            next = n.parentLogicalId
        }
        guard !finess.isEmpty else {
            let why = provider == nil ? "sans providedBy vers une Organization"
                : "dont l'établissement (FINESS) n'a pu être trouvé par providedBy/partOf (Organization/\(chain.last ?? "?") absente de l'entrée)"
            throw Refusal(issue: OutcomeIssue(severity: .error, code: .notFound, message: "offre ROR \(rorId) \(why) : ignorée",
                                         expression: hs.path + ".providedBy", rule: "ROR-OFFER-ESTABLISHMENT"))
        }
        let path = "HealthcareService"
        let rawCategory = hs.categoryCodings.first { $0.system == RorSystems.category }?.code
        var category = rawCategory
        if let c = rawCategory, !inValueSet(c, RorSystems.category, RorSystems.categoryValueSet) {
            category = nil
            notes.append(RorProjectionNote(kind: .categoryOutsideJ34, path: path + ".category", value: c))
        }
        let rawTemporality = hs.characteristicCodings.first { $0.system == RorSystems.temporality }?.code
        var temporality = rawTemporality
        if let t = rawTemporality, !inValueSet(t, RorSystems.temporality, RorSystems.temporalityValueSet) {
            temporality = nil
            notes.append(RorProjectionNote(kind: .temporalityOutsideJ30, path: path + ".characteristic:receptionType", value: t))
        }
        let sequential = hs.characteristicCodings.contains { $0.system == RorSystems.receptionModality && $0.code == RorSystems.sequentialReceptionCode }
        let rorCareMode = hs.characteristicCodings.first { $0.system == RorSystems.careMode }?.code
        var careMode: String?
        if let m = rorCareMode {
            if inValueSet(m, RorSystems.careMode, RorSystems.careModeValueSet) {
                careMode = m
            } else {
                notes.append(RorProjectionNote(kind: .careModeOutsideJ264, path: path + ".characteristic:careMode", value: m))
            }
        } else {
            notes.append(RorProjectionNote(kind: .careModeMissing, path: path + ".characteristic:careMode", value: nil))
        }
        // The offer's own closure comes first: notAvailable:closingReopeningDate + temporalityStopService (TRE_R286).
        let slice = hs.notAvailable.first { $0.elementId == RorSystems.closingReopeningSlice }
        let stopType = hs.characteristicCodings.first { $0.system == RorSystems.closingType }?.code
        if slice?.during?.start != nil || stopType != nil {
            let own = RorClosure(start: slice?.during?.start, plannedReopening: slice?.during?.end, type: stopType,
                                 path: slice?.during?.start != nil ? path + ".notAvailable:closingReopeningDate.during.start"
                                                                     : path + ".characteristic:temporalityStopService")
            if own.isClosed(on: today) || closure == nil { closure = own }
        }
        let activities = Set(hs.specialtyCodings.filter { $0.system == RorSystems.activity }.compactMap(\.code)).sorted()
        return RorOffer(logicalId: hs.id, rorId: rorId, name: hs.name ?? "", providerLogicalId: provider, nodeChain: chain,
                                 finessChain: finess, rawCategory: rawCategory, category: category,
                                 activityField: hs.typeCodings.first { $0.system == RorSystems.activityField }?.code, activities: activities,
                                 rawTemporality: rawTemporality, temporality: temporality, sequentialReception: sequential,
                                 rorCareMode: rorCareMode, careMode: careMode, closure: closure, lastUpdated: hs.lastUpdated, notes: notes)
    }
}
