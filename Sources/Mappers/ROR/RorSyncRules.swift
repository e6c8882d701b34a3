/// The platform's ROR synchronisation rules, as pure values and functions (the Gateway stores them
/// and runs them in transactions): establishment sync states and their transitions, alert kinds and
/// severities, the classification of a ROR change, and the pairing rules.

/// Per-establishment synchronisation state (platform values).
public enum RorSyncState: String, Sendable, CaseIterable {
    case nonSynchronise, enCoursDeSynchronisation, synchronisationStructurelleValidee, miseAJourOffreActive, miseAJourOffreSuspendue

    /// Whether ROR changes reach the mirror (informative ones automatically).
    public var appliesUpdates: Bool { self == .miseAJourOffreActive }
    /// Whether changes are compared with the mirror and alerts raised.
    public var watchesChanges: Bool { self == .miseAJourOffreActive || self == .miseAJourOffreSuspendue }
    /// Units may be created from the ROR once the structure is validated (never while pairing).
    public var allowsUnitCreation: Bool {
        self == .synchronisationStructurelleValidee || self == .miseAJourOffreActive || self == .miseAJourOffreSuspendue
    }

    /// The state after `event`, or nil when the transition is not allowed (ror.md §4.5).
    public func after(_ event: RorSyncEvent) -> RorSyncState? {
        switch (self, event) {
        case (_, .reset): .nonSynchronise
        case (.nonSynchronise, .startPairing): .enCoursDeSynchronisation
        case (.enCoursDeSynchronisation, .validateStructure): .synchronisationStructurelleValidee
        case (.synchronisationStructurelleValidee, .activateUpdates): .miseAJourOffreActive
        case (.miseAJourOffreActive, .suspend): .miseAJourOffreSuspendue
        case (.miseAJourOffreSuspendue, .resume): .miseAJourOffreActive
        default: nil
        }
    }
}

public enum RorSyncEvent: String, Sendable, CaseIterable {
    /// The referent starts pairing platform units with ROR units.
    case startPairing
    /// All platform units are paired; the referent validates the structure.
    case validateStructure
    /// Automatic offer updates are switched on.
    case activateUpdates
    /// A blocking or impacting alert is open.
    case suspend
    /// Every blocking/impacting alert is resolved or validated.
    case resume
    /// Unpair everything.
    case reset
}

public enum RorAlertSeverity: String, Sendable, CaseIterable {
    case bloquante, impactante, informative
    /// Blocking and impacting alerts suspend the establishment's updates until fixed / validated.
    public var suspendsUpdates: Bool { self != .informative }
}

public enum RorAlertStatus: String, Sendable, CaseIterable {
    case open, acknowledged, validated, resolved
    /// Still to be dealt with (an acknowledged blocking alert still suspends).
    public var isPending: Bool { self == .open || self == .acknowledged }
}

/// What changed (or what the projection noticed), with its severity and the FHIR path compared.
public enum RorAlertKind: String, Sendable, CaseIterable {
    // bloquante: the unit no longer matches its pairing.
    case categoryChanged, activityChanged, careModeChanged, activityFieldChanged, movedEstablishment
    // impactante: closure of the unit or of a node above it, or the unit is gone from the ROR.
    case closed, gone
    // informative: applied automatically.
    case temporaryClosure, reopened, nameChanged, temporalityChanged, sequentialReceptionChanged
    // informative notes of the projection (the DUI field is left empty).
    case careModeOutsideJ264, careModeMissing, categoryOutsideJ34, temporalityOutsideJ30, ambiguousProjection

    public var severity: RorAlertSeverity {
        switch self {
        case .categoryChanged, .activityChanged, .careModeChanged, .activityFieldChanged, .movedEstablishment: .bloquante
        case .closed, .gone: .impactante
        default: .informative
        }
    }

    /// Notes describe the current projection (a condition) rather than a change (an event).
    public var isNote: Bool {
        switch self {
        case .careModeOutsideJ264, .careModeMissing, .categoryOutsideJ34, .temporalityOutsideJ30, .ambiguousProjection: true
        default: false
        }
    }

    /// The FHIR path compared (ror.md §4.5); closures give their own path.
    public var fhirPath: String {
        switch self {
        case .categoryChanged, .categoryOutsideJ34: "HealthcareService.category"
        case .activityChanged: "HealthcareService.specialty"
        case .careModeChanged, .careModeOutsideJ264, .careModeMissing: "HealthcareService.characteristic:careMode"
        case .activityFieldChanged: "HealthcareService.type"
        case .movedEstablishment: "HealthcareService.providedBy"
        case .closed, .temporaryClosure, .reopened: "HealthcareService.notAvailable:closingReopeningDate"
        case .gone: "HealthcareService"
        case .nameChanged: "HealthcareService.name"
        case .temporalityChanged, .temporalityOutsideJ30: "HealthcareService.characteristic:receptionType"
        case .sequentialReceptionChanged: "HealthcareService.characteristic:receptionModality"
        case .ambiguousProjection: "HealthcareService"
        }
    }

    /// What the referent reads.
    public var label: String {
        switch self {
        case .categoryChanged: "la catégorie d'organisation a changé dans le ROR"
        case .activityChanged: "l'activité opérationnelle a changé dans le ROR"
        case .careModeChanged: "le mode de prise en charge a changé dans le ROR"
        case .activityFieldChanged: "le champ d'activité (type) a changé dans le ROR"
        case .movedEstablishment: "l'unité est rattachée à un autre établissement dans le ROR"
        case .closed: "l'unité ou une structure au-dessus d'elle est fermée dans le ROR"
        case .gone: "l'unité n'existe plus dans le ROR"
        case .temporaryClosure: "fermeture temporaire dans le ROR"
        case .reopened: "réouverture dans le ROR"
        case .nameChanged: "le nom a changé dans le ROR"
        case .temporalityChanged: "la temporalité d'accueil a changé dans le ROR"
        case .sequentialReceptionChanged: "l'accueil séquentiel a changé dans le ROR"
        case .careModeOutsideJ264: "mode de prise en charge ROR hors JDV_J264 : non transmis au DUI"
        case .careModeMissing: "aucun mode de prise en charge dans le ROR"
        case .categoryOutsideJ34: "catégorie ROR hors JDV_J34 : non transmise au DUI"
        case .temporalityOutsideJ30: "temporalité ROR hors JDV_J30 : non transmise au DUI"
        case .ambiguousProjection: "les offres sous cette structure ne concordent pas : valeur non transmise au DUI"
        }
    }
}

/// What the mirror holds for one paired unit (or what the ROR currently says about it): the DUI unit
/// plus the raw ROR facts the blocking rules compare.
public struct RorUnitFacts: Sendable, Equatable {
    public var unit: RorUnit
    /// Where the ROR places the unit (`1`+FINESS).
    public var establishment: String
    public var level: RorLevel
    public var rawCategory: String?
    public var activityField: String?
    public var activities: [String]
    public var closure: RorClosure?
    public var notes: [RorProjectionNote]

    public init(unit: RorUnit, establishment: String, level: RorLevel, rawCategory: String?, activityField: String?, activities: [String],
                closure: RorClosure?, notes: [RorProjectionNote]) {
        self.unit = unit; self.establishment = establishment; self.level = level; self.rawCategory = rawCategory
        self.activityField = activityField; self.activities = activities; self.closure = closure; self.notes = notes
    }

    /// Facts of an offer paired at the elementary level.
    public init(offer: RorOffer, establishment: String, today: String) {
        let located = offer.finessChain.first { "1" + $0 == establishment }.map { "1" + $0 } ?? offer.finessChain.first.map { "1" + $0 } ?? establishment
        self.init(unit: offer.unit(establishment: establishment, today: today), establishment: located, level: .offer,
                  rawCategory: offer.rawCategory, activityField: offer.activityField, activities: offer.activities,
                  closure: offer.closure, notes: offer.notes)
    }

    /// Facts of a node (EG or OI) paired above the elementary level, aggregated from the offers it
    /// provides: a value is kept only when all of them agree (else nil and an `ambiguousProjection` note).
    public init(node: RorNode, establishment located: String, offers: [RorOffer], mirrorEstablishment: String, today: String) {
        var notes: [RorProjectionNote] = []
        func common(_ values: [String?], _ path: String) -> String? {
            let distinct = Set(values.map { $0 ?? "" })
            if distinct.count > 1 { notes.append(RorProjectionNote(kind: .ambiguousProjection, path: path, value: distinct.sorted().joined(separator: "|"))) }
            return distinct.count == 1 ? values.first ?? nil : nil
        }
        let rawCategory = common(offers.map(\.rawCategory), "HealthcareService.category")
        let category = common(offers.map(\.category), "HealthcareService.category")
        let temporality = common(offers.map(\.temporality), "HealthcareService.characteristic:receptionType")
        let rorCareMode = common(offers.map(\.rorCareMode), "HealthcareService.characteristic:careMode")
        let careMode = common(offers.map(\.careMode), "HealthcareService.characteristic:careMode")
        let activityField = common(offers.map(\.activityField), "HealthcareService.type")
        let sequential = Set(offers.map(\.sequentialReception))
        if sequential.count > 1 {
            notes.append(RorProjectionNote(kind: .ambiguousProjection, path: "HealthcareService.characteristic:receptionModality", value: "false|true"))
        }
        for n in offers.flatMap(\.notes) where !notes.contains(n) { notes.append(n) }
        var closure = node.closure.flatMap { $0.isClosed(on: today) ? $0 : nil }
        if closure == nil, !offers.isEmpty, offers.allSatisfy({ !$0.isOpen(on: today) }) { closure = offers.first?.closure }
        let lastUpdated = ([node.lastUpdated] + offers.map(\.lastUpdated)).compactMap { $0 }.max()
        let unit = RorUnit(establishment: mirrorEstablishment, rorId: node.rorId ?? node.logicalId, name: node.name ?? "",
                           organisationCategory: category, receptionTemporality: temporality, sequentialReception: sequential == [true],
                           rorCareMode: rorCareMode, careMode: careMode, isOpen: !(closure?.isClosed(on: today) ?? false), rorLastUpdated: lastUpdated)
        self.init(unit: unit, establishment: located, level: node.level, rawCategory: rawCategory, activityField: activityField,
                  activities: Set(offers.flatMap(\.activities)).sorted(), closure: closure, notes: notes)
    }
}

/// One difference between the mirror and the ROR.
public struct RorDetectedChange: Sendable, Equatable {
    public var kind: RorAlertKind
    public var path: String
    public var oldValue: String?
    public var newValue: String?
    public init(kind: RorAlertKind, path: String, oldValue: String?, newValue: String?) {
        self.kind = kind; self.path = path; self.oldValue = oldValue; self.newValue = newValue
    }
}

public enum RorChangeClassifier {
    /// Differences between what the mirror holds (`applied`) and what the ROR says (`current`, nil
    /// when the unit is gone from the ROR), each with its alert kind (severity follows from the kind).
    public static func changes(applied: RorUnitFacts, current: RorUnitFacts?) -> [RorDetectedChange] {
        guard let current else { return [RorDetectedChange(kind: .gone, path: RorAlertKind.gone.fhirPath, oldValue: applied.unit.rorId, newValue: nil)] }
        var out: [RorDetectedChange] = []
        func compare(_ kind: RorAlertKind, _ old: String?, _ new: String?) {
            if old != new { out.append(RorDetectedChange(kind: kind, path: kind.fhirPath, oldValue: old, newValue: new)) }
        }
        compare(.movedEstablishment, applied.establishment, current.establishment)
        compare(.categoryChanged, applied.rawCategory, current.rawCategory)
        compare(.activityChanged, list(applied.activities), list(current.activities))
        compare(.careModeChanged, applied.unit.rorCareMode, current.unit.rorCareMode)
        compare(.activityFieldChanged, applied.activityField, current.activityField)
        let wasOpen = applied.unit.isOpen, isOpen = current.unit.isOpen
        if wasOpen && !isOpen, let c = current.closure {
            let kind: RorAlertKind = c.isTemporary ? .temporaryClosure : .closed
            out.append(RorDetectedChange(kind: kind, path: c.path, oldValue: "ouverte", newValue: c.summary))
        } else if !wasOpen && isOpen {
            out.append(RorDetectedChange(kind: .reopened, path: RorAlertKind.reopened.fhirPath, oldValue: "fermée", newValue: "ouverte"))
        }
        compare(.nameChanged, applied.unit.name, current.unit.name)
        compare(.temporalityChanged, applied.unit.receptionTemporality, current.unit.receptionTemporality)
        compare(.sequentialReceptionChanged, String(applied.unit.sequentialReception), String(current.unit.sequentialReception))
        return out
    }

    static func list(_ codes: [String]) -> String? { codes.isEmpty ? nil : codes.joined(separator: ",") }

    /// The mirror's facts once `accepted` changes are taken from `current` (the others keep the mirror's
    /// value). Informative changes are accepted automatically; blocking and impacting ones only when
    /// the referent validates the alert.
    public static func merge(applied: RorUnitFacts, current: RorUnitFacts, accepting accepted: Set<RorAlertKind>) -> RorUnitFacts {
        var m = applied
        if accepted.contains(.movedEstablishment) { m.establishment = current.establishment }
        if accepted.contains(.categoryChanged) {
            m.rawCategory = current.rawCategory; m.unit.organisationCategory = current.unit.organisationCategory
        }
        if accepted.contains(.activityChanged) { m.activities = current.activities }
        if accepted.contains(.careModeChanged) { m.unit.rorCareMode = current.unit.rorCareMode; m.unit.careMode = current.unit.careMode }
        if accepted.contains(.activityFieldChanged) { m.activityField = current.activityField }
        if !accepted.isDisjoint(with: [.closed, .temporaryClosure, .reopened]) { m.unit.isOpen = current.unit.isOpen; m.closure = current.closure }
        if accepted.contains(.nameChanged) { m.unit.name = current.unit.name }
        if accepted.contains(.temporalityChanged) { m.unit.receptionTemporality = current.unit.receptionTemporality }
        if accepted.contains(.sequentialReceptionChanged) { m.unit.sequentialReception = current.unit.sequentialReception }
        // Projection notes and bookkeeping always follow the ROR; a field whose raw code is unchanged keeps its projection.
        m.notes = current.notes
        m.unit.rorLastUpdated = current.unit.rorLastUpdated
        if m.rawCategory == current.rawCategory { m.unit.organisationCategory = current.unit.organisationCategory }
        if m.unit.rorCareMode == current.unit.rorCareMode { m.unit.careMode = current.unit.careMode }
        return m
    }
}

/// A pairing: one platform unit ↔ one ROR level (an offer, or an EG/OI node).
public struct RorPairing: Sendable, Equatable {
    public var establishment: String
    public var platformUnit: String
    /// idROR of the target: identifiantOffre, the OI identifier, or `1`+FINESS for an EG.
    public var rorId: String
    public var level: RorLevel
    /// An SSR (SMR) receiving unit.
    public var ssr: Bool
    /// ROR logical ids of the target and of the nodes above it (offer: its provider chain).
    public var chain: [String]
    public var targetLogicalId: String?
    public var createdFromRor: Bool

    public init(establishment: String, platformUnit: String, rorId: String, level: RorLevel, ssr: Bool, chain: [String],
                targetLogicalId: String?, createdFromRor: Bool) {
        self.establishment = establishment; self.platformUnit = platformUnit; self.rorId = rorId; self.level = level; self.ssr = ssr
        self.chain = chain; self.targetLogicalId = targetLogicalId; self.createdFromRor = createdFromRor
    }
}

/// Why a pairing (or a unit creation) is refused; messages are in French for the operator/referent.
public struct RorPairingRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Rule: String, Sendable {
        case platformUnitAlreadyPaired = "ROR-PAIRING-ONE-LEVEL"
        case rorUnitAlreadyPaired = "ROR-PAIRING-TAKEN"
        case belowHigherPairing = "ROR-PAIRING-BELOW"
        case aboveExistingPairing = "ROR-PAIRING-ABOVE"
        case ssrNotElementary = "ROR-PAIRING-SSR-LEVEL"
        case ssrActivities = "ROR-PAIRING-SSR-ACTIVITY"
        case notDeclared = "ROR-UNIT-UNKNOWN"
        case notOpen = "ROR-UNIT-CLOSED"
        case state = "ROR-STATE"
    }
    public var rule: Rule
    public var message: String
    public init(_ rule: Rule, _ message: String) { self.rule = rule; self.message = message }
    public var description: String { "\(message) [\(rule.rawValue)]" }
}

public enum RorPairingRules {
    /// Checks a new pairing against the existing ones of the establishment (DOMAIN.md): one platform
    /// unit ↔ exactly one ROR level; no two platform units on the same ROR unit; a unit paired above the
    /// elementary level forbids pairing below it (and the reverse order is refused for the same reason);
    /// an SSR receiving unit pairs only with an elementary unit declaring a single activity.
    public static func check(_ new: RorPairing, activities: [String], existing: [RorPairing]) -> RorPairingRefusal? {
        if let p = existing.first(where: { $0.platformUnit == new.platformUnit }) {
            return RorPairingRefusal(.platformUnitAlreadyPaired, "l'unité \(new.platformUnit) est déjà appariée à \(p.rorId) : une unité s'apparie à un seul niveau ROR")
        }
        if let p = existing.first(where: { $0.rorId == new.rorId }) {
            return RorPairingRefusal(.rorUnitAlreadyPaired, "l'unité ROR \(new.rorId) est déjà appariée à l'unité \(p.platformUnit)")
        }
        if let target = new.targetLogicalId {
            // An existing pairing above the elementary level whose node is on the new target's chain.
            if let p = existing.first(where: { !$0.level.isElementary && $0.targetLogicalId.map { new.chain.contains($0) } == true }) {
                return RorPairingRefusal(.belowHigherPairing,
                                         "\(new.rorId) est sous \(p.rorId), appariée au-dessus du niveau élémentaire (unité \(p.platformUnit))")
            }
            if !new.level.isElementary, let p = existing.first(where: { $0.chain.contains(target) }) {
                return RorPairingRefusal(.aboveExistingPairing,
                                         "\(p.rorId) (unité \(p.platformUnit)) est déjà appariée sous \(new.rorId) : apparier au-dessus du niveau élémentaire l'interdit")
            }
        }
        if new.ssr {
            guard new.level.isElementary else {
                return RorPairingRefusal(.ssrNotElementary, "une unité SSR ne s'apparie qu'à une unité ROR élémentaire (\(new.rorId) est de niveau \(new.level.rawValue))")
            }
            guard activities.count == 1 else {
                return RorPairingRefusal(.ssrActivities,
                                         "une unité SSR ne s'apparie qu'à une unité ROR déclarant une seule activité (\(new.rorId) en déclare \(activities.count))")
            }
        }
        return nil
    }
}
