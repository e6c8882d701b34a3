import Foundation
import FHIRModels
import Validation
import Mappers

/// `POST /fhir/DocumentReference` by an MDPH client (item 1): the CDA "Individu et Décision"
/// (type 57830-2) registers a decision or a new version of one; the CDA "Évaluation" (51848-0),
/// whose `setId/@extension` is the idNat_Decision the platform answered, attaches the evaluation.
/// The answer is the platform DocumentReference in the MDPH's tenant (201 when created, 200 when a
/// known decision or evaluation got a new version or the same version was sent again).
extension HandicapFlows {
    var documentReader: DecisionDocumentReader { DecisionDocumentReader(terminology: validation.terminology) }

    static let dataExpression = "DocumentReference.content[0].attachment.data"

    func postDocument(_ ctx: Router.Context) throws(FHIRError) -> HTTPResponse {
        let caller = try Self.caller(ctx)
        guard caller.client.role == .mdph else { throw Self.forbiddenRole(caller, "POST DocumentReference (dépôt de décision MDPH)") }
        let tree = try RequestBody.resource(ctx, type: "DocumentReference")
        let validation = self.validation.validate(tree)
        if validation.contains(where: \.isError) { throw .unprocessable(validation) }
        guard let document = DocumentReferenceView(tree) else { throw FHIRError(status: 400, code: .invalid, rule: "BODY-RESOURCE-TYPE", "DocumentReference attendu") }
        let loinc = document.typeCodings.filter { $0.system == DecisionDocumentReference.loincSystem }.compactMap(\.code)
        guard loinc.count == 1, let kind = DecisionDocumentReference.Kind(loinc: loinc[0]) else {
            throw .unprocessable([Self.issue("PH-DOCUMENT-TYPE", .value, "DocumentReference.type",
                                             "type : un seul code LOINC, 57830-2 (Individu et Décision) ou 51848-0 (Évaluation)")] + validation)
        }
        let attachments = document.attachments
        guard attachments.count == 1, let data = attachments[0].data, let decoded = Data(base64Encoded: data), !decoded.isEmpty else {
            throw .unprocessable([Self.issue("PH-DOCUMENT-DATA", .required, Self.dataExpression,
                                             "un seul content, dont attachment.data porte le document CDA encodé en base64")] + validation)
        }
        let cda = [UInt8](decoded)
        let official = document.identifiers.first { $0.use == "official" }?.value
        let result: Intake = try write { tx in
            guard let mdph = try tx.mdph(establishment: caller.tenant) else {
                throw FHIRError(status: 403, code: .forbidden, rule: "PH-MDPH-UNKNOWN",
                                "l'établissement \(caller.tenant) n'est pas enregistré comme MDPH auprès de la plateforme")
            }
            let result = try intake(tx, mdph: mdph, kind: kind, cda: cda, official: official, clientId: caller.client.clientId)
            try tx.audit(ctx.auditEntry(status: result.created ? 201 : 200, resourceIds: [result.stored.id, result.idNat], outcome: result.outcome))
            return result
        }
        if result.created { return try Self.created(ctx, result.stored, informational: validation.filter { !$0.isError }) }
        var response = FHIRResponse.resource(try Self.tree(result.stored), format: ctx.format)
        response.headers.append(("Content-Location", "\(ctx.baseURL)/fhir/DocumentReference/\(result.stored.id)/_history/\(result.stored.versionId)"))
        response.headers.append(contentsOf: FHIRResponse.versionHeaders(result.stored))
        return response
    }
}

extension HandicapFlows {
    /// What the intake did with one MDPH document: the platform DocumentReference answered to the MDPH,
    /// whether it was created (201) or a new version / the same one (200), the decision's idNat_Decision,
    /// and the audit outcome.
    struct Intake: Sendable {
        var stored: StoredResource
        var created: Bool
        var idNat: String
        var outcome: String
    }

    /// An MDPH document once the HTTP layer has taken it apart (LOINC kind, CDA bytes, the official
    /// identifier of the posted DocumentReference, if any): reads the CDA, then registers the decision
    /// (or its new version) or attaches the evaluation, inside the caller's transaction. The one path
    /// of `POST DocumentReference` and of the sandbox seed (`SandboxSeed`).
    func intake(_ tx: any StoreWriteTransaction, mdph: MDPHRecord, kind: DecisionDocumentReference.Kind, cda: [UInt8], official: String?,
                clientId: String?) throws -> Intake {
        switch kind {
        case .decision:
            let reading = documentReader.readDecision(cda)
            guard let decision = reading.value else { throw FHIRError.unprocessable(reading.issues) }
            let registration = try register(tx, mdph: mdph, DecisionSubmission(decision: decision, cda: cda, stamp: { idNat in
                try DecisionDocumentWriter.stampingIdNatDecision(cda, idNatDecision: idNat)
            }), clientId: clientId)
            if let official, official != registration.decision.idNat {
                throw FHIRError.unprocessable([Self.issue("PH-DOCUMENT-IDENTIFIER", .value, "DocumentReference.identifier",
                                                          "l'identifiant officiel \(official) n'est pas l'idNat_Decision de cette décision (\(registration.decision.idNat))")])
            }
            let outcome = registration.unchanged ? "decision-unchanged" : registration.created ? "decision-created" : "decision-replaced"
            return Intake(stored: registration.mdphDocument, created: registration.created, idNat: registration.decision.idNat,
                          outcome: "\(outcome) v\(registration.decision.version)")
        case .evaluation:
            let reading = documentReader.readEvaluation(cda)
            guard let evaluation = reading.value else { throw FHIRError.unprocessable(reading.issues) }
            let setId = "/ClinicalDocument/setId/@extension"
            guard let idNat = evaluation.idNatDecision, let d = try tx.decision(idNat: idNat), d.mdphOID == mdph.oid else {
                throw Self.unknownDecision(setId)
            }
            if let official, official != idNat {
                throw FHIRError.unprocessable([Self.issue("PH-DOCUMENT-IDENTIFIER", .value, "DocumentReference.identifier",
                                                          "l'identifiant officiel \(official) diffère du setId de l'évaluation (\(idNat))")])
            }
            if let person = evaluation.person.personKey, person != d.personKey, evaluation.person.ins != nil {
                throw FHIRError.unprocessable([Self.issue("PH-EVALUATION-PERSON", .businessRule, "/ClinicalDocument/recordTarget/patientRole/id",
                                                          "l'évaluation ne concerne pas la personne de la décision \(idNat)")])
            }
            let stamped = try DecisionDocumentWriter.stampingIdNatDecision(cda, idNatDecision: idNat)
            let attached = try attachEvaluation(tx, mdph: mdph, decision: d, cda: cda, stamped: stamped)
            return Intake(stored: attached.document, created: attached.created, idNat: idNat, outcome: "evaluation v\(evaluation.versionNumber)")
        }
    }
}
