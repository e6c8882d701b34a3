import FHIRModels
import Validation
import Mappers

/// `POST /fhir/Consent` (flow 2): the person agreed that this ESMS reads the evaluation of a decision
/// notified to it. The Consent is stored in the caller's tenant; the evaluation (when the MDPH sent
/// one, now or later) becomes a 51848-0 DocumentReference there, which flow 3 then finds.
extension HandicapFlows {
    /// `meta.source` must be the caller's idNat_Struct as is (`1`+FINESS or `3`+SIRET, sdo-flows.md Q9): a
    /// `uri` without a scheme is valid FHIR; `urn:oid:1.2.250.1.71.4.2.2|…` is not (an `urn:oid:` URI holds
    /// an OID only) and the example's `urn:uuid:` names nobody.
    static func sourceMatches(_ source: String?, establishment: String) -> Bool { source == establishment }

    func postConsent(_ ctx: Router.Context) throws(FHIRError) -> HTTPResponse {
        let caller = try Self.caller(ctx)
        guard caller.client.role == .dui else { throw Self.forbiddenRole(caller, "POST Consent") }
        let tree = try RequestBody.resource(ctx, type: "Consent")
        let issues = validation.validate(tree, profiles: [SDOCodeSystems.consentProfile])
        if issues.contains(where: \.isError) { throw .unprocessable(issues) }
        guard let consent = ConsentView(tree) else { throw FHIRError(status: 400, code: .invalid, rule: "BODY-RESOURCE-TYPE", "ressource Consent attendue") }
        let eg = caller.tenant
        if !Self.sourceMatches(consent.metaSource, establishment: eg) {
            throw .unprocessable([Self.issue("PH-CONSENT-SOURCE", .businessRule, "Consent.meta.source",
                                             "meta.source doit être l'idNat_Struct de l'établissement appelant (\(eg)) ; reçu \(consent.metaSource ?? "rien")")]
                                 + issues)
        }
        // provision.data.reference.identifier (official) = idNat_Decision; the profile makes it 1..1 per data.
        var references: [(idNat: String, path: String)] = []
        if let provision = tree.child(tree.root, "provision") {
            for data in tree.children(provision, "data") {
                guard let reference = tree.child(data, "reference"), let identifier = tree.child(reference, "identifier"),
                      let value = tree.child(identifier, "value"), let idNat = tree.value(value),
                      !references.contains(where: { $0.idNat == idNat }) else { continue }
                references.append((idNat, tree.path(value)))
            }
        }
        guard !references.isEmpty else {
            throw .unprocessable([Self.issue("PH-CONSENT-DECISION", .required, "Consent.provision.data", "le consentement désigne la décision par son idNat_Decision")])
        }
        let stored: StoredResource = try write { tx in
            var notifications: [NotificationRecord] = []
            for r in references {
                guard let n = try tx.notification(idNat: r.idNat, establishment: eg) else { throw Self.unknownDecision(r.path) }
                if n.isFinished {
                    throw FHIRError.unprocessable([Self.issue("PH-NOTIFICATION-FINISHED", .businessRule, r.path,
                                                              "le traitement de cette notification est terminé (\(n.finishedReason ?? "-"))")])
                }
                notifications.append(n)
            }
            let stored = try tx.create(tenant: eg, type: "Consent", keys: references.map { SearchKey("decision", $0.idNat) }) { meta in
                RequestBody.stamped(tree, meta).serialized()
            }
            for var n in notifications {
                n.consentId = stored.id
                if n.evaluationDocumentId == nil, let d = try tx.decision(idNat: n.idNat), d.evaluationCDA != nil, let source = d.mdphEvaluationId {
                    let cda = try Self.documentCDA(tx, tenant: d.mdphEstablishment, id: source)
                    n.evaluationDocumentId = try Self.putDocument(tx, tenant: eg, id: nil, Self.content(d, kind: .evaluation, cda: cda)).id
                }
                try tx.updateNotification(n)
            }
            try tx.audit(ctx.auditEntry(status: 201, resourceIds: [stored.id]))
            return stored
        }
        return try Self.created(ctx, stored, informational: issues.filter { !$0.isError })
    }
}
