import Foundation
import FHIRModels
import Validation
import Mappers

/// The sandbox's data for the module Handicap (issue 4, item 7): the test MDPH, test persons, ROR
/// units for each demo DUI establishment, and decisions covering every kind of event an editor must
/// handle, so that the "Done means" scenario can be played by two editors against `serve --sandbox`.
///
/// Everything goes through the code the API runs: the ROR units through the ROR import path (a
/// collection Bundle built here → `RorSynchronizer.project` / `apply`, then pairing and the
/// establishment's states); the decisions as CDA documents written by `DecisionDocumentWriter` and
/// taken by `HandicapFlows.intake` (the CDA reader, then the registry: `POST DocumentReference`);
/// statuses and MDPH events as esms-task Tasks checked by `HandicapFlows.readTask` and recorded by
/// `recordESMSStatus` / `recordMDPHEvent` (`POST Task`). The seed runs in one transaction, each step
/// at its own instant (`nextWriteInstant`), so that a reset is atomic for a running server while the
/// lifecycle rules (LIFE-2 masks) see the same sequence of commits as with real requests. Each step is
/// audited (`sandbox-seed`). Decisions and events are recorded for the pseudo-client `sandbox-seed`, so
/// that they never count in an editor's aptitude report.
enum SandboxSeed {
    static let actor = "sandbox-seed"
    /// The MDPH's number (the "code" column of the MDPH OID annex, a département number); 990 belongs to
    /// no MDPH of the annex (its OID 1.2.250.1.213.7.999 is outside the annex's 1–118 too).
    static let mdphNumber = "990"
    static var mdph: MDPHRecord { MDPHRecord(establishment: Sandbox.mdphEstablishment, oid: Sandbox.mdphOID, name: "MDPH du bac à sable") }
    static var responsibleMDPH: InstanceIdentifier { InstanceIdentifier(root: Sandbox.mdphOID, extension: "\(mdphNumber)-BAC A SABLE") }

    // MARK: the data

    struct Person {
        var name: String
        var given: String
        var gender: String
        var birthDate: String
        /// 13-character NIR body (born abroad, country code 999: no real person has it); nil = no INS,
        /// the person is known by the MDPH individual file id only.
        var nir: String?
        var individualId: String

        var oriented: OrientedPerson {
            let ins = nir.flatMap { body in INS.key(of: body).map { (OrientedPerson.INSKind.nir, body + ($0 < 10 ? "0\($0)" : String($0))) } }
            return OrientedPerson(ins: ins, mdphIndividualId: InstanceIdentifier(root: Sandbox.mdphOID, extension: individualId), birthName: name,
                                  usedName: nil, givenNames: [given], gender: gender, birthDate: birthDate)
        }
    }

    static let persons: [Person] = [
        Person(name: "ESSAI", given: "Léa", gender: "F", birthDate: "20080314", nir: "2080399999001", individualId: "990-000001"),
        Person(name: "DEMO", given: "Lucas", gender: "M", birthDate: "20100602", nir: "1100699999002", individualId: "990-000002"),
        Person(name: "EXEMPLE", given: "Chloé", gender: "F", birthDate: "20071123", nir: "2071199999003", individualId: "990-000003"),
        Person(name: "FICTIF", given: "Hugo", gender: "M", birthDate: "20090130", nir: "1090199999004", individualId: "990-000004"),
        Person(name: "MODELE", given: "Inès", gender: "F", birthDate: "20110909", nir: "2110999999005", individualId: "990-000005"),
        Person(name: "PROTOTYPE", given: "Nathan", gender: "M", birthDate: "20060417", nir: nil, individualId: "990-000006"),
        Person(name: "MAQUETTE", given: "Jade", gender: "F", birthDate: "20051201", nir: nil, individualId: "990-000007"),
    ]

    /// One ROR offer of a demo establishment, paired with a platform unit of the same name.
    struct Unit {
        var establishment: String
        var platformUnit: String
        var rorId: String
        var name: String
        /// TRE_R244 (in JDV_J34), TRE_R213 (in JDV_J264), TRE_R240 (in JDV_J30).
        var category: String
        var careMode: String
        var temporality: String
        var sequential: Bool
        /// TRE_R211 activity and the FINESS establishment category (TRE_R66) the decisions name.
        var activity: String
        var finessCategory: String
    }

    /// Two offers for each of the first two DUI establishments (an IME for dui-a, a MAS/FAM for dui-b).
    static func units(_ a: String, _ b: String) -> [Unit] {
        [Unit(establishment: a, platformUnit: "IME-INTERNAT", rorId: "99/0101001", name: "IME du bac à sable - internat", category: "48",
              careMode: "46", temporality: "02", sequential: false, activity: "107", finessCategory: "183"),
         Unit(establishment: a, platformUnit: "IME-ACCUEIL-JOUR", rorId: "99/0101002", name: "IME du bac à sable - accueil de jour", category: "48",
              careMode: "47", temporality: "02", sequential: true, activity: "107", finessCategory: "183"),
         Unit(establishment: b, platformUnit: "MAS-HEBERGEMENT", rorId: "99/0200001", name: "MAS du bac à sable - hébergement permanent",
              category: "40", careMode: "46", temporality: "02", sequential: false, activity: "111", finessCategory: "255"),
         Unit(establishment: b, platformUnit: "FAM-ACCUEIL-TEMPORAIRE", rorId: "99/0200002", name: "FAM du bac à sable - accueil temporaire",
              category: "39", careMode: "46", temporality: "01", sequential: false, activity: "111", finessCategory: "437")]
    }

    struct DecisionSpec {
        /// What the decision shows (`seed.decisions[].scenario` in sandbox.json).
        var scenario: String
        var idDecision: String
        var type: DecisionType
        var person: Int
        /// Units (indexes in `units`) the rights target: one right per unit, with the unit's offer.
        var targets: [Int]
        var related: [String] = []
        var closureDate: String? = nil
    }

    enum Step {
        case decision(DecisionSpec)
        case evaluation(idDecision: String)
        /// A flow-4 status posted for the unit's EG; with `unitStatus`, the unit block of that unit.
        case status(idDecision: String, unit: Int, status: String, reason: String?, unitStatus: String?)
        /// An MDPH event: on the whole decision (`unit` nil) or on the notification of the unit's EG.
        case mdphEvent(idDecision: String, unit: Int?, status: String, reason: String?, comment: String)
    }

    /// The scenario, in the order the API would have received it. Unit indexes: 0, 1 = dui-a's EG
    /// (internat, accueil de jour), 2, 3 = dui-b's EG (MAS, FAM temporaire).
    static let steps: [Step] = [
        // Attribution targeting one EG of each DUI, with the evaluation (the "Done means" scenario).
        .decision(DecisionSpec(scenario: "attribution-evaluation", idDecision: "SBX-0001", type: .attribution, person: 0, targets: [1, 3])),
        .evaluation(idDecision: "SBX-0001"),
        // Renewal: dui-a's status (47 "Usager entré", unit 186) carries over to the renewal.
        .decision(DecisionSpec(scenario: "renouvelee", idDecision: "SBX-0002", type: .attribution, person: 1, targets: [0])),
        .status(idDecision: "SBX-0002", unit: 0, status: "47", reason: nil, unitStatus: "186"),
        .decision(DecisionSpec(scenario: "renouvellement", idDecision: "SBX-0003", type: .renewal, person: 1, targets: [0], related: ["SBX-0002"])),
        // Revision: the decision notified to dui-b is replaced by one notified to dui-a (dui-b gets 37 / 173).
        .decision(DecisionSpec(scenario: "revisee", idDecision: "SBX-0004", type: .attribution, person: 2, targets: [2])),
        .decision(DecisionSpec(scenario: "revision", idDecision: "SBX-0005", type: .revision, person: 2, targets: [1], related: ["SBX-0004"])),
        // Closure of rights: both EGs get 37 / 174.
        .decision(DecisionSpec(scenario: "cloturee", idDecision: "SBX-0006", type: .attribution, person: 3, targets: [0, 2])),
        .decision(DecisionSpec(scenario: "cloture", idDecision: "SBX-0007", type: .closure, person: 3, targets: [0, 2], related: ["SBX-0006"],
                               closureDate: "20260630")),
        // MDPH cancellation (37 on the whole decision), seen by both EGs.
        .decision(DecisionSpec(scenario: "annulee", idDecision: "SBX-0008", type: .attribution, person: 4, targets: [1, 3])),
        .mdphEvent(idDecision: "SBX-0008", unit: nil, status: "37", reason: nil, comment: "Décision annulée par la CDAPH : erreur sur la personne"),
        // Cancelled then reactivated (54) by the MDPH; the person has no INS (MDPH file id only).
        .decision(DecisionSpec(scenario: "reactivee", idDecision: "SBX-0009", type: .attribution, person: 5, targets: [0])),
        .mdphEvent(idDecision: "SBX-0009", unit: nil, status: "37", reason: nil, comment: "Décision annulée par la CDAPH"),
        .mdphEvent(idDecision: "SBX-0009", unit: nil, status: "54", reason: nil, comment: "Décision réactivée après recours gracieux"),
        // Admission impossible: dui-b signals it (45), the MDPH endorses it (46).
        .decision(DecisionSpec(scenario: "admission-impossible", idDecision: "SBX-0010", type: .attribution, person: 6, targets: [3])),
        .status(idDecision: "SBX-0010", unit: 3, status: "45", reason: "86", unitStatus: nil),
        .mdphEvent(idDecision: "SBX-0010", unit: 3, status: "46", reason: "86", comment: "Admission impossible entérinée par la MDPH"),
    ]

    // MARK: documents and Tasks

    static func decision(_ s: DecisionSpec, units: [Unit]) -> OrientationDecision {
        let oid = Sandbox.mdphOID
        let nature = switch s.type { case .renewal: "2"; case .revision: "3"; default: "1" }
        let rights = s.targets.map { i in
            let u = units[i]
            return RightOrBenefit(typeCode: "13.2", openingDate: "20260201", expiryDate: "20310131",
                                  targetedStructures: s.type == .closure ? [] : [u.establishment], receptionTemporality: u.temporality,
                                  sequentialReception: u.sequential, careMode: u.careMode, organisationCategory: u.category,
                                  establishmentCategory: u.finessCategory, nature: nature, qualification: "1", globalSupportPlan: false)
        }
        return OrientationDecision(
            documentId: InstanceIdentifier(root: oid + ".1", extension: "\(s.idDecision)-v1"),
            setId: InstanceIdentifier(root: oid + ".2", extension: "SET-\(s.idDecision)"), versionNumber: 1, replacesDocumentId: nil,
            effectiveTime: "20260115100000+0100", person: persons[s.person].oriented, mdphOID: oid, idDecision: s.idDecision,
            decisionType: s.type, decisionDate: "20260115", closureEffectiveDate: s.closureDate, relatedDecisionIds: s.related, rights: rights,
            motivations: ["364"], responsibleMDPH: responsibleMDPH)
    }

    static func evaluation(idNat: String, idDecision: String, person: OrientedPerson) -> EvaluationDocument {
        EvaluationDocument(documentId: InstanceIdentifier(root: Sandbox.mdphOID + ".3", extension: "EVAL-\(idDecision)"),
                           setId: InstanceIdentifier(root: Sandbox.mdphOID + ".2", extension: idNat), versionNumber: 1, replacesDocumentId: nil,
                           effectiveTime: "20260112090000+0100", person: person, responsibleMDPH: responsibleMDPH, evaluationDate: "20260112")
    }

    // MARK: planting

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The first activated EG of each DUI client (dui-a, dui-b).
    static var duiEstablishments: [String] {
        Sandbox.clients.filter { $0.role == .dui }.compactMap { $0.establishments.first(where: \.active)?.id }
    }

    /// Plants the seed in `tx` (one transaction, one instant per step) and returns its description for
    /// sandbox.json. The store must hold no decision of the sandbox MDPH and no ROR data of the demo EGs.
    static func plant(_ tx: any StoreWriteTransaction, flows: HandicapFlows, ror: RorSynchronizer) throws -> JSONValue {
        let egs = duiEstablishments
        guard egs.count >= 2 else { throw Failure(description: "sandbox seed: two DUI establishments expected") }
        let units = units(egs[0], egs[1])
        // The bound a poll uses to see the whole seed: before its first write (any later commit is later).
        let mark = try tx.storeClock()
        let pollFrom = Timestamp(milliseconds: max(mark, (Timestamp.now().milliseconds - 1000) / 1000 * 1000))
        func audit(_ tenant: String?, _ type: String, _ ids: [String], _ outcome: String?) -> AuditEntry {
            AuditEntry(geographicEntityId: tenant, interaction: actor, resourceType: type, resourceIds: ids, status: 201, outcome: outcome)
        }

        try tx.upsertMDPH(mdph)
        try tx.audit(AuditEntry(geographicEntityId: mdph.establishment, interaction: actor, status: 200, outcome: "mdph \(mdph.oid) \(mdphNumber)"))
        for eg in egs.prefix(2) {
            tx.nextWriteInstant()
            try plantUnits(tx, ror: ror, establishment: eg, units: units.filter { $0.establishment == eg })
        }
        var idNats: [String: String] = [:]
        var specs: [String: DecisionSpec] = [:]
        for step in steps {
            tx.nextWriteInstant()
            switch step {
            case .decision(let spec):
                let intake = try flows.intake(tx, mdph: mdph, kind: .decision, cda: DecisionDocumentWriter.write(decision(spec, units: units)),
                                              official: nil, clientId: actor)
                idNats[spec.idDecision] = intake.idNat
                specs[spec.idDecision] = spec
                try tx.audit(audit(mdph.establishment, "DocumentReference", [intake.stored.id, intake.idNat], "\(spec.scenario) \(intake.outcome)"))
            case .evaluation(let idDecision):
                guard let idNat = idNats[idDecision], let person = specs[idDecision]?.person else {
                    throw Failure(description: "sandbox seed: evaluation of an unknown decision \(idDecision)")
                }
                let cda = DecisionDocumentWriter.write(evaluation(idNat: idNat, idDecision: idDecision, person: persons[person].oriented))
                let intake = try flows.intake(tx, mdph: mdph, kind: .evaluation, cda: cda, official: nil, clientId: actor)
                try tx.audit(audit(mdph.establishment, "DocumentReference", [intake.stored.id, intake.idNat], intake.outcome))
            case .status(let idDecision, let unit, let code, let reason, let unitStatus):
                let u = units[unit]
                var status = try eventStatus(tx, idNats, idDecision, establishment: u.establishment, code: code, reason: reason, comment: nil)
                if let unitStatus {
                    status.unitId = u.rorId; status.unitName = u.name; status.unitCategory = u.category; status.unitCareMode = u.careMode
                    status.unitTemporality = u.temporality; status.unitSequential = u.sequential
                    status.statusUnit = unitStatus; status.dateUnit = status.dateESMS
                }
                let tree = PersonStatusTask.request(status)
                let read = try flows.readTask(tree)
                let poster = HandicapFlows.Poster(tenant: u.establishment, clientId: actor) { audit(u.establishment, "Task", $0, $1) }
                _ = try flows.recordESMSStatus(tx, poster, tree: tree, status: read.status, force: read.force, warnings: read.warnings)
            case .mdphEvent(let idDecision, let unit, let code, let reason, let comment):
                let target = unit.map { units[$0].establishment } ?? mdph.establishment
                let status = try eventStatus(tx, idNats, idDecision, establishment: target, code: code, reason: reason, comment: comment)
                let tree = PersonStatusTask.request(status)
                let read = try flows.readTask(tree)
                let poster = HandicapFlows.Poster(tenant: mdph.establishment, clientId: actor) { audit(mdph.establishment, "Task", $0, $1) }
                _ = try flows.recordMDPHEvent(tx, poster, tree: tree, status: read.status, warnings: read.warnings)
            }
        }
        return try describe(tx, units: units, idNats: idNats, pollFrom: pollFrom)
    }

    /// The status a Task carries for decision `idDecision` and EG `establishment` (its registry name), dated today.
    static func eventStatus(_ tx: any StoreWriteTransaction, _ idNats: [String: String], _ idDecision: String, establishment: String,
                            code: String, reason: String?, comment: String?) throws -> PersonStatus {
        guard let idNat = idNats[idDecision] else { throw Failure(description: "sandbox seed: status for an unknown decision \(idDecision)") }
        let name = establishment == mdph.establishment ? mdph.name : try tx.geographicEntity(id: establishment)?.name ?? establishment
        return PersonStatus(idNatStruct: establishment, nomESMS: name, idDecision: idDecision, idDecisionSystem: "urn:oid:\(Sandbox.mdphOID)",
                            idNatDecision: idNat, statusESMS: code, reasonESMS: reason, dateESMS: HandicapFlows.today(.now()), description: comment)
    }

    // MARK: ROR

    /// The ROR collection Bundle of one demo EG: its EJ and EG Organizations and one HealthcareService
    /// per unit, as the ROR publishes them (FINESS identifiers, TRE_R355 #35 offer identifiers, codings).
    static func rorBundle(establishment eg: String, legalEntity ej: String, units: [Unit]) -> ElementTree {
        let finess = String(eg.dropFirst()), ejFiness = String(ej.dropFirst())
        let lastUpdated = "2026-01-05T09:00:00+01:00"
        var b = ElementTreeBuilder(resourceType: "Bundle")
        b.primitive("type", "collection")
        func coding(_ name: String, _ system: String, _ code: String) {
            b.begin(name); b.begin("coding"); b.primitive("system", system); b.primitive("code", code); b.end(); b.end()
        }
        func organization(id: String, finess: String, name: String, partOf: String?) {
            b.begin("entry")
            b.primitive("fullUrl", "https://ror.sandbox.test/fhir/Organization/\(id)")
            b.resource("resource", type: "Organization")
            b.primitive("id", id)
            b.begin("meta"); b.primitive("lastUpdated", lastUpdated); b.end()
            b.begin("identifier"); b.primitive("system", RorSystems.finess); b.primitive("value", finess); b.end()
            b.primitive("name", name)
            if let partOf { b.begin("partOf"); b.primitive("reference", "Organization/\(partOf)"); b.end() }
            b.end()
            b.end()
        }
        organization(id: "sbx-ej-\(ejFiness)", finess: ejFiness, name: "ORGANISME GESTIONNAIRE DU BAC A SABLE \(ejFiness)", partOf: nil)
        organization(id: "sbx-eg-\(finess)", finess: finess, name: "ETABLISSEMENT DU BAC A SABLE \(finess)", partOf: "sbx-ej-\(ejFiness)")
        for u in units {
            b.begin("entry")
            let id = "sbx-hs-" + u.rorId.replacingOccurrences(of: "/", with: "-")
            b.primitive("fullUrl", "https://ror.sandbox.test/fhir/HealthcareService/\(id)")
            b.resource("resource", type: "HealthcareService")
            b.primitive("id", id)
            b.begin("meta"); b.primitive("lastUpdated", lastUpdated); b.end()
            b.begin("identifier"); coding("type", RorSystems.offerIdentifierType, "35"); b.primitive("value", u.rorId); b.end()
            b.begin("providedBy"); b.primitive("reference", "Organization/sbx-eg-\(finess)"); b.end()
            coding("category", RorSystems.category, u.category)
            coding("type", RorSystems.activityField, "04")
            coding("specialty", RorSystems.activity, u.activity)
            b.primitive("name", u.name)
            coding("characteristic", RorSystems.careMode, u.careMode)
            coding("characteristic", RorSystems.temporality, u.temporality)
            if u.sequential { coding("characteristic", RorSystems.receptionModality, RorSystems.sequentialReceptionCode) }
            b.end()
            b.end()
        }
        return b.build()
    }

    /// What `fhir-gateway ror import` then `ror pair` and `ror state … validate-structure / activate-updates`
    /// do, in `tx`: the EG ends with its units mirrored and its updates switched on.
    static func plantUnits(_ tx: any StoreWriteTransaction, ror: RorSynchronizer, establishment eg: String, units: [Unit]) throws {
        guard let ej = try tx.geographicEntity(id: eg)?.legalEntityId else { throw Failure(description: "sandbox seed: EG \(eg) not in the registry") }
        let batch = try ror.project(tx, [rorBundle(establishment: eg, legalEntity: ej, units: units)], establishment: eg, complete: true)
        if let issue = batch.issues.first(where: \.isError) {
            throw Failure(description: "sandbox seed: ROR bundle of \(eg) refused: \(issue.message)")
        }
        let run = try ror.startRun(tx, establishment: eg, trigger: .initial, scope: "sandbox seed")
        _ = try ror.apply(tx, batch, to: run, by: actor, fromServer: false)
        for u in units { _ = try ror.attach(tx, establishment: eg, platformUnit: u.platformUnit, rorId: u.rorId, create: false, by: actor) }
        _ = try ror.transition(tx, establishment: eg, .validateStructure, by: actor)
        _ = try ror.transition(tx, establishment: eg, .activateUpdates, by: actor)
    }

    // MARK: description

    /// The seed as sandbox.json describes it, read back from the store (`tx`): what an editor finds, and
    /// what flows 1 and 5 return to each EG when polling from `pollFrom`.
    static func describe(_ tx: any StoreWriteTransaction, units: [Unit], idNats: [String: String], pollFrom: Timestamp) throws -> JSONValue {
        let egs = Array(Set(units.map(\.establishment))).sorted()
        let since = [LastUpdatedBound(.gt, pollFrom)]
        var flow1: [String: Set<String>] = [:]
        var events: [JSONValue] = []
        for eg in egs {
            let docs = try tx.search(SearchQuery(tenant: eg, type: "DocumentReference", keys: [SearchKey("type", DecisionDocumentReference.Kind.decision.loinc)],
                                                 lastUpdated: since, count: SearchQuery.maxCount, applyMasks: true))
            flow1[eg] = Set(docs.resources.map(\.id))
            let tasks = try tx.search(SearchQuery(tenant: eg, type: "Task", keys: [SearchKey("origin", "event")], lastUpdated: since,
                                                  count: SearchQuery.maxCount, applyMasks: true))
            for t in tasks.resources {
                guard let view = TaskView(try FHIRJSONReader.read(t.body)) else { throw Failure(description: "sandbox seed: Task \(t.id) unreadable") }
                let s = PersonStatus(task: view)
                var m: [(String, JSONValue)] = [("establishment", .string(eg)), ("task", .string(t.id)),
                                                ("idNatDecision", .string(s.idNatDecision ?? "")), ("statutESMS", .string(s.statusESMS ?? ""))]
                if let r = s.reasonESMS { m.append(("motifESMS", .string(r))) }
                if let d = s.description { m.append(("description", .string(d))) }
                events.append(.object(m))
            }
        }
        var decisions: [JSONValue] = []
        var example: JSONValue = .null
        for step in steps {
            guard case .decision(let spec) = step, let idNat = idNats[spec.idDecision], let d = try tx.decision(idNat: idNat) else { continue }
            var notifications: [JSONValue] = []
            for n in try tx.notifications(idNat: idNat) {
                guard let doc = try tx.read(tenant: n.establishment, type: "DocumentReference", id: n.documentId),
                      let status = try JSONValue.parse(doc.body)["status"]?.string else {
                    throw Failure(description: "sandbox seed: DocumentReference of \(idNat) in \(n.establishment) missing")
                }
                var m: [(String, JSONValue)] = [("establishment", .string(n.establishment)), ("documentReference", .string(n.documentId)),
                                                ("documentStatus", .string(status)), ("inFlow1", .bool(flow1[n.establishment]?.contains(n.documentId) ?? false))]
                if let s = n.platformStatus { m.append(("platformStatus", .string(s))) }
                if let r = n.finishedReason { m.append(("finished", .string(r))) }
                notifications.append(.object(m))
                if spec.scenario == "attribution-evaluation", n.establishment == egs[0], example == .null {
                    example = .object([("establishment", .string(n.establishment)), ("documentReference", .string(n.documentId)),
                                       ("idNatDecision", .string(idNat))])
                }
            }
            let person = persons[spec.person].oriented
            decisions.append(.object([
                ("scenario", .string(spec.scenario)), ("idNatDecision", .string(idNat)), ("idDecision", .string(d.idDecision)),
                ("kind", .string(d.kind.rawValue)), ("state", .string(d.state.rawValue)), ("personKey", .string(person.personKey ?? "")),
                ("related", .array(spec.related.map { .string($0) })), ("evaluation", .bool(d.evaluationCDA != nil)),
                ("targets", .array(d.kind == .closure ? [] : Array(Set(spec.targets.map { units[$0].establishment })).sorted().map { .string($0) })),
                ("notifications", .array(notifications)),
            ]))
        }
        let personList: [JSONValue] = persons.map { p in
            let o = p.oriented
            var m: [(String, JSONValue)] = [("personKey", .string(o.personKey ?? "")), ("birthName", .string(p.name)), ("given", .string(p.given)),
                                            ("gender", .string(p.gender)), ("birthDate", .string(p.birthDate))]
            if let ins = o.ins { m.append(("insNir", .string(ins.value))) }
            m.append(("mdphIndividualId", .string("\(Sandbox.mdphOID)|\(p.individualId)")))
            return .object(m)
        }
        var establishments: [JSONValue] = []
        for eg in egs {
            let state = try tx.rorEstablishment(eg)?.state.rawValue ?? "nonSynchronise"
            let list: [JSONValue] = units.filter { $0.establishment == eg }.map { u in
                .object([("platformUnit", .string(u.platformUnit)), ("idROR", .string(u.rorId)),
                         ("healthcareService", .string(HealthcareServiceRoutes.resourceId(u.rorId) ?? "")), ("name", .string(u.name)),
                         ("categorieOrganisation", .string(u.category)), ("modePriseCharge", .string(u.careMode)),
                         ("temporaliteAccueil", .string(u.temporality)), ("accueilSequentiel", .bool(u.sequential))])
            }
            establishments.append(.object([("establishment", .string(eg)), ("rorState", .string(state)), ("units", .array(list))]))
        }
        return .object([
            ("pollFrom", .string(pollFrom.fhirInstant)), ("example", example),
            ("mdph", .object([("establishment", .string(mdph.establishment)), ("oid", .string(mdph.oid)), ("number", .string(mdphNumber)),
                              ("name", .string(mdph.name))])),
            ("persons", .array(personList)), ("establishments", .array(establishments)), ("decisions", .array(decisions)),
            ("events", .array(events)),
        ])
    }
}
