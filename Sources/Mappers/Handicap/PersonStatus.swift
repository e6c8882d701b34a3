import FHIRModels
import Validation

/// A person's status as an esms-task Task carries it (flow 4 in, flow 5 out): the 16 inputs of the
/// profile reduced to their values, plus where each input sits so that a refusal can name the
/// faulty element (`Task.input[4].value.ofType(CodeableConcept)`).
public struct PersonStatus: Sendable, Equatable {
    public var idNatStruct: String?
    public var nomESMS: String?
    public var idDecision: String?
    /// `system` of the idDecision identifier, when given (the gateway writes `urn:oid:<MDPH OID>`).
    public var idDecisionSystem: String?
    public var idNatDecision: String?
    public var statusESMS: String?
    public var reasonESMS: String?
    public var dateESMS: String?
    public var unitId: String?
    public var unitName: String?
    public var unitCategory: String?
    public var unitTemporality: String?
    public var unitSequential: Bool?
    public var unitCareMode: String?
    public var statusUnit: String?
    public var reasonUnit: String?
    public var dateUnit: String?
    public var description: String?
    /// Input code → FHIRPath of that input's `value[x]` in the Task it was read from.
    public var paths: [String: String]

    public init(idNatStruct: String? = nil, nomESMS: String? = nil, idDecision: String? = nil, idDecisionSystem: String? = nil,
                idNatDecision: String? = nil, statusESMS: String? = nil, reasonESMS: String? = nil, dateESMS: String? = nil,
                unitId: String? = nil, unitName: String? = nil, unitCategory: String? = nil, unitTemporality: String? = nil,
                unitSequential: Bool? = nil, unitCareMode: String? = nil, statusUnit: String? = nil, reasonUnit: String? = nil,
                dateUnit: String? = nil, description: String? = nil, paths: [String: String] = [:]) {
        self.idNatStruct = idNatStruct; self.nomESMS = nomESMS; self.idDecision = idDecision; self.idDecisionSystem = idDecisionSystem
        self.idNatDecision = idNatDecision; self.statusESMS = statusESMS; self.reasonESMS = reasonESMS; self.dateESMS = dateESMS
        self.unitId = unitId; self.unitName = unitName; self.unitCategory = unitCategory; self.unitTemporality = unitTemporality
        self.unitSequential = unitSequential; self.unitCareMode = unitCareMode; self.statusUnit = statusUnit; self.reasonUnit = reasonUnit
        self.dateUnit = dateUnit; self.description = description; self.paths = paths
    }

    /// FHIRPath of an input's value, or of the Task when the input is absent.
    public func path(_ code: String) -> String { paths[code] ?? "Task" }

    /// Reads the inputs of a Task recognised by `type.coding` (SDO input code system + code), as the
    /// profile's slices do; the first input of each code counts (the profile allows one).
    public init(task: TaskView) {
        let tree = task.tree
        var values: [String: ElementTree.NodeID] = [:]
        var paths: [String: String] = [:]
        for input in task.inputs {
            guard let code = input.type?.codings.first(where: { $0.system == SDORules.inputCodeSystem })?.code,
                  values[code] == nil, let value = input.value else { continue }
            values[code] = value
            paths[code] = tree.path(value)
        }
        func identifier(_ code: String) -> String? { values[code].flatMap { tree.childValue($0, "value") } }
        func primitive(_ code: String) -> String? { values[code].flatMap { tree.value($0) } }
        /// The code of the coding in `system`, else of the first coding (the binding check names a wrong system).
        func coded(_ code: String, _ system: String) -> String? {
            guard let v = values[code] else { return nil }
            let concept = CodeableConceptView(tree: tree, node: v)
            return concept.code(in: system) ?? concept.codings.first?.code
        }
        self.init(idNatStruct: identifier("idNat_Struct"), nomESMS: primitive("nomESMS"), idDecision: identifier("idDecision"),
                  idDecisionSystem: values["idDecision"].flatMap { tree.childValue($0, "system") },
                  idNatDecision: identifier("idNat_Decision"),
                  statusESMS: coded("statutESMS", SDOCodeSystems.status), reasonESMS: coded("motifESMS", SDOCodeSystems.reason),
                  dateESMS: primitive("dateStatutESMS"), unitId: identifier("idUnite"), unitName: primitive("nomUnite"),
                  unitCategory: coded("categorieOrganisation", SDOCodeSystems.organisationCategory),
                  unitTemporality: coded("temporaliteAccueil", SDOCodeSystems.temporality),
                  unitSequential: primitive("accueilSequentiel").map { $0 == "true" },
                  unitCareMode: coded("modePriseCharge", SDOCodeSystems.careMode), statusUnit: coded("statutUnite", SDOCodeSystems.status),
                  reasonUnit: coded("motifUnite", SDOCodeSystems.reason), dateUnit: primitive("dateStatutUnite"),
                  description: task.description, paths: paths)
        // Identifier values: point at `.value` (the element a caller must fix).
        for code in ["idNat_Struct", "idDecision", "idNat_Decision", "idUnite"] where self.paths[code] != nil {
            self.paths[code]! += ".value"
        }
    }
}

/// The code systems of the SDO Task inputs (as in the IG examples and the NOS value sets).
extension ElementTreeBuilder {
    /// `id` and `meta` (version, lastUpdated, the SDO profile, tags) of a resource the platform serves;
    /// without `stored` (a request body), only the profile and tags.
    mutating func sdoHeader(stored: (id: String, versionId: Int, lastUpdated: String)?, profile: String,
                            tags: [(system: String, code: String, display: String)]) {
        if let stored { primitive("id", stored.id) }
        begin("meta")
        if let stored {
            primitive("versionId", String(stored.versionId))
            primitive("lastUpdated", stored.lastUpdated)
        }
        primitive("profile", profile)
        for t in tags { begin("tag"); primitive("system", t.system); primitive("code", t.code); primitive("display", t.display); end() }
        end()
    }
}

public enum SDOCodeSystems {
    public static let input = SDORules.inputCodeSystem
    public static let status = SDORules.statusCodeSystem
    public static let reason = "https://mos.esante.gouv.fr/NOS/TRE_R358-MotifStatutPersonnePriseCharge/FHIR/TRE-R358-MotifStatutPersonnePriseCharge"
    public static let organisationCategory = "https://mos.esante.gouv.fr/NOS/TRE_R244-CategorieOrganisation/FHIR/TRE-R244-CategorieOrganisation"
    public static let temporality = "https://mos.esante.gouv.fr/NOS/TRE_R240-TemporaliteAccueil/FHIR/TRE-R240-TemporaliteAccueil"
    public static let careMode = "https://mos.esante.gouv.fr/NOS/TRE_R213-ModePriseEnCharge/FHIR/TRE-R213-ModePriseEnCharge"
    public static let taskProfile = SDORules.taskProfiles[0]
    public static let documentReferenceProfile = "https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-document-reference"
    public static let consentProfile = SDORules.consentProfile
}

/// Builds esms-task Tasks the platform itself produces: MDPH events and platform events delivered
/// through flow 5 (cancellation, closure, reactivation…), one per receiving ESMS.
public enum PersonStatusTask {
    /// The Task for `status` with the given server id and meta (`lastUpdated` a FHIR instant).
    public static func build(_ status: PersonStatus, id: String, versionId: Int, lastUpdated: String, tags: [(system: String, code: String, display: String)] = [])
        -> ElementTree {
        make(status, stored: (id, versionId, lastUpdated), tags: tags)
    }

    /// The Task for `status` as a client posts it (flow 4, MDPH events): no id, versionId or lastUpdated,
    /// which the server assigns.
    public static func request(_ status: PersonStatus, tags: [(system: String, code: String, display: String)] = []) -> ElementTree {
        make(status, stored: nil, tags: tags)
    }

    static func make(_ status: PersonStatus, stored: (id: String, versionId: Int, lastUpdated: String)?,
                     tags: [(system: String, code: String, display: String)]) -> ElementTree {
        var b = ElementTreeBuilder(resourceType: "Task")
        b.sdoHeader(stored: stored, profile: SDOCodeSystems.taskProfile, tags: tags)
        b.primitive("status", "completed")
        b.primitive("intent", "plan")
        if let d = status.description { b.primitive("description", d) }
        func input(_ code: String, _ body: (inout ElementTreeBuilder) -> Void) {
            b.begin("input")
            b.begin("type"); b.begin("coding"); b.primitive("system", SDOCodeSystems.input); b.primitive("code", code); b.end(); b.end()
            body(&b)
            b.end()
        }
        func identifier(_ code: String, _ value: String?, system: String? = nil) {
            guard let value else { return }
            input(code) { b in b.begin("valueIdentifier"); if let system { b.primitive("system", system) }; b.primitive("value", value); b.end() }
        }
        func string(_ code: String, _ value: String?) { if let value { input(code) { $0.primitive("valueString", value) } } }
        func date(_ code: String, _ value: String?) { if let value { input(code) { $0.primitive("valueDate", value) } } }
        func coded(_ code: String, _ value: String?, _ system: String, _ display: String?) {
            guard let value else { return }
            input(code) { b in
                b.begin("valueCodeableConcept"); b.begin("coding")
                b.primitive("system", system); b.primitive("code", value)
                if let display { b.primitive("display", display) }
                b.end(); b.end()
            }
        }
        identifier("idNat_Struct", status.idNatStruct)
        string("nomESMS", status.nomESMS)
        coded("statutESMS", status.statusESMS, SDOCodeSystems.status, status.statusESMS.flatMap { SDORules.esmsStatuses[$0] })
        coded("motifESMS", status.reasonESMS, SDOCodeSystems.reason, status.reasonESMS.flatMap { StatusRules.reasonLabels[$0] })
        date("dateStatutESMS", status.dateESMS)
        identifier("idUnite", status.unitId)
        string("nomUnite", status.unitName)
        coded("categorieOrganisation", status.unitCategory, SDOCodeSystems.organisationCategory, nil)
        coded("temporaliteAccueil", status.unitTemporality, SDOCodeSystems.temporality, nil)
        if let s = status.unitSequential { input("accueilSequentiel") { $0.primitive("valueBoolean", s) } }
        coded("modePriseCharge", status.unitCareMode, SDOCodeSystems.careMode, nil)
        coded("statutUnite", status.statusUnit, SDOCodeSystems.status, status.statusUnit.flatMap { SDORules.unitStatuses[$0] })
        date("dateStatutUnite", status.dateUnit)
        coded("motifUnite", status.reasonUnit, SDOCodeSystems.reason, status.reasonUnit.flatMap { StatusRules.reasonLabels[$0] })
        identifier("idDecision", status.idDecision, system: status.idDecisionSystem)
        identifier("idNat_Decision", status.idNatDecision)
        return b.build()
    }
}
