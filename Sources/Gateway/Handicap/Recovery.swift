import FHIRModels
import Validation
import Mappers

/// Data recovery ("reprise", item 5): decisions whose study began on the platform before the ESMS
/// switched interoperability on are tagged — by the operator (admin API / CLI) or by the ESMS itself
/// (`POST /fhir/Task/$reprise`) —; flow 1 then returns each one again (a new version of its
/// DocumentReference) with `meta.tag` = `reprise` and the platform status as a TRE_R357 coding. A DUI
/// may then force the platform status to its own with a flow-4 Task tagged `forcer-statut-plateforme`
/// (StatusFlow; audited as `force-platform-status`).
extension HandicapFlows {
    /// An operator request (admin API or CLI) refused: HTTP status, rule code, message.
    public struct OperatorFailure: Error, Sendable, CustomStringConvertible {
        public var status: Int
        public var rule: String
        public var message: String
        public var description: String { "\(rule): \(message)" }
    }

    /// Tags the unfinished notifications of decision `idNat` (all, or the one of `establishment`) for
    /// recovery; `platformStatus` (JDV_J252) replaces the platform status when given. Returns the
    /// notifications tagged. Finished notifications are left alone (the masks keep hiding them).
    static func tagForRecovery(_ tx: any StoreWriteTransaction, idNat: String, establishment: String?, platformStatus: String?,
                               by: String) throws -> [NotificationRecord] {
        if let s = platformStatus, SDORules.esmsStatuses[s] == nil {
            throw OperatorFailure(status: 422, rule: "PH-RECOVERY-STATUS", message: "\(s) n'est pas un statut ESMS (JDV_J252)")
        }
        guard try tx.decision(idNat: idNat) != nil else {
            throw OperatorFailure(status: 404, rule: "PH-DECISION-UNKNOWN", message: "décision \(idNat) inconnue")
        }
        var candidates = try tx.notifications(idNat: idNat)
        if let establishment { candidates = candidates.filter { $0.establishment == establishment } }
        guard !candidates.isEmpty else {
            throw OperatorFailure(status: 404, rule: "PH-DECISION-UNKNOWN", message: "décision \(idNat) non notifiée à \(establishment ?? "aucun établissement")")
        }
        var tagged: [NotificationRecord] = []
        for var n in candidates where !n.isFinished {
            if let s = platformStatus { n.platformStatus = s }
            let document = try restate(tx, tenant: n.establishment, id: n.documentId, tags: platformStatusTags(n, recovery: true))
            if platformStatus != nil { n.platformStatusAt = document.lastUpdated }
            n.recoveryAt = document.lastUpdated
            n.recoveryBy = by
            try tx.updateNotification(n)

            tagged.append(n)
        }
        return tagged
    }

    /// The operator's tagging (admin API and CLI), audited in the same transaction.
    public static func operatorRecovery(store: any GatewayStore, idNat: String, establishment: String?, platformStatus: String?,
                                        by: String, requestId: String? = nil) throws -> [NotificationRecord] {
        try store.write { tx in
            let tagged = try tagForRecovery(tx, idNat: idNat, establishment: establishment, platformStatus: platformStatus, by: by)
            try tx.audit(AuditEntry(requestId: requestId, geographicEntityId: establishment, interaction: "recovery-tag", resourceType: "DocumentReference",
                                    resourceIds: tagged.map(\.documentId), status: 200, outcome: "\(idNat) by \(by)"))
            return tagged
        }
    }

    /// `POST /fhir/Task/$reprise`: the ESMS tags its own notifications. Body: nothing (every unfinished
    /// notification of the EG not yet tagged) or a Parameters with `idNat_Decision` (valueString or
    /// valueIdentifier), repeated. Answer: a Parameters listing the `idNat_Decision` tagged.
    func recoveryRequest(_ ctx: Router.Context) throws(FHIRError) -> HTTPResponse {
        let caller = try Self.caller(ctx)
        guard caller.client.role == .dui else { throw Self.forbiddenRole(caller, "$reprise") }
        var asked: [(idNat: String, path: String)] = []
        if !ctx.request.body.isEmpty {
            let tree = try RequestBody.resource(ctx, type: "Parameters")
            for p in tree.children(tree.root, "parameter") {
                guard tree.childValue(p, "name") == "idNat_Decision" else {
                    throw .unprocessable([Self.issue("PH-RECOVERY-PARAMETER", .notSupported, tree.path(p), "seul le paramètre idNat_Decision est accepté")])
                }
                let value = tree.child(p, "valueString").flatMap { tree.value($0) }
                    ?? tree.child(p, "valueIdentifier").flatMap { tree.childValue($0, "value") }
                guard let value else {
                    throw .unprocessable([Self.issue("PH-RECOVERY-PARAMETER", .required, tree.path(p), "idNat_Decision sans valeur (valueString ou valueIdentifier)")])
                }
                asked.append((value, tree.path(p)))
            }
        }
        let eg = caller.tenant
        let tagged: [NotificationRecord] = try write { tx in
            var ids: [String] = []
            if asked.isEmpty {
                ids = try tx.notifications(establishment: eg, recoveryOnly: false).filter { !$0.isFinished && $0.recoveryAt == nil }.map(\.idNat)
            } else {
                for a in asked {
                    guard let n = try tx.notification(idNat: a.idNat, establishment: eg) else { throw Self.unknownDecision(a.path) }
                    if n.isFinished {
                        throw FHIRError.unprocessable([Self.issue("PH-NOTIFICATION-FINISHED", .businessRule, a.path,
                                                                  "le traitement de cette notification est terminé (\(n.finishedReason ?? "-"))")])
                    }
                    ids.append(a.idNat)
                }
            }
            var tagged: [NotificationRecord] = []
            for id in ids {
                tagged += try Self.tagForRecovery(tx, idNat: id, establishment: eg, platformStatus: nil, by: caller.client.clientId)
            }
            try tx.audit(ctx.auditEntry(status: 200, resourceIds: tagged.map(\.documentId), outcome: "recovery-tag"))
            return tagged
        }
        var b = ElementTreeBuilder(resourceType: "Parameters")
        for n in tagged {
            b.begin("parameter"); b.primitive("name", "idNat_Decision"); b.primitive("valueString", n.idNat); b.end()
        }
        return FHIRResponse.resource(b.build(), format: ctx.format)
    }
}
