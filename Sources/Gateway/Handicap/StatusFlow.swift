import Foundation
import FHIRModels
import Validation
import Mappers

/// `POST /fhir/Task`: flow 4 for a DUI (the person's status in its ESMS / unit), and the MDPH's
/// events (37 decision cancelled, 46 admission impossible entérinée, 49 notification cancelled,
/// 54 reactivated) for an MDPH client. One new Task per event, never updated; the event reaches the
/// other concerned ESMS through flow 5 (copies in their tenants, `origin=event`).
extension HandicapFlows {
    func postTask(_ ctx: Router.Context) throws(FHIRError) -> HTTPResponse {
        let caller = try Self.caller(ctx)
        guard caller.client.role == .dui || caller.client.role == .mdph else { throw Self.forbiddenRole(caller, "POST Task") }
        let tree = try RequestBody.resource(ctx, type: "Task")
        let (status, force, warnings) = try readTask(tree)
        let poster = Poster(tenant: caller.tenant, clientId: caller.client.clientId) { ctx.auditEntry(status: 201, resourceIds: $0, outcome: $1) }
        let (stored, notes): (StoredResource, [OutcomeIssue]) = try write { tx in
            caller.client.role == .mdph
                ? (try self.recordMDPHEvent(tx, poster, tree: tree, status: status, warnings: warnings), [])
                : try self.recordESMSStatus(tx, poster, tree: tree, status: status, force: force, warnings: warnings)
        }
        return try Self.created(ctx, stored, informational: notes + warnings.filter { !$0.isError })
    }

    /// What a posted Task says, checked before any store access: esms-task (v4.0.7, or what
    /// `meta.profile` claims when it names esms-task or the 4.0.5 sdo-task) + core + the French rules
    /// (422 with every issue); the status it carries; whether it forces the platform status (§6).
    func readTask(_ tree: ElementTree) throws(FHIRError) -> (status: PersonStatus, force: Bool, warnings: [OutcomeIssue]) {
        guard let task = TaskView(tree) else { throw FHIRError(status: 400, code: .invalid, rule: "BODY-RESOURCE-TYPE", "ressource Task attendue") }
        let claimed = task.profiles.contains { p in SDORules.taskProfiles.contains(String(p.split(separator: "|").first ?? "")) }
        let validation = RequestBody.clientIssues(self.validation.validate(tree, profiles: claimed ? [] : [SDOCodeSystems.taskProfile]), type: "Task")
        if validation.contains(where: \.isError) { throw .unprocessable(validation) }
        let force = tree.child(tree.root, "meta").map { meta in
            tree.children(meta, "tag").contains { tree.childValue($0, "system") == Self.flagSystem && tree.childValue($0, "code") == Self.forceCode }
        } ?? false
        return (PersonStatus(task: task), force, validation)
    }

    /// Who posts a status Task: the EG it acts for (`struct_idnat`), its client, and the audit entry of
    /// the success (resource ids, outcome), written in the same transaction. The caller of `POST Task`,
    /// or the sandbox seed replaying the same events.
    struct Poster {
        var tenant: String
        var clientId: String?
        var audit: (_ resourceIds: [String], _ outcome: String?) -> AuditEntry
    }

    // MARK: flow 4 (DUI)

    /// A DUI's status for its EG (`poster.tenant`), in the caller's transaction: every check of the
    /// table in docs/handicap-flows.md §3, then the Task, the status event, the platform status, the
    /// lifecycle and the flow-5 fan-out. Returns the stored Task and the warnings.
    func recordESMSStatus(_ tx: any StoreWriteTransaction, _ poster: Poster, tree: ElementTree, status: PersonStatus, force: Bool,
                          warnings: [OutcomeIssue]) throws -> (StoredResource, [OutcomeIssue]) {
        let eg = poster.tenant
        guard let idNat = status.idNatDecision, let d = try tx.decision(idNat: idNat),
              var n = try tx.notification(idNat: idNat, establishment: eg) else {
            throw Self.unknownDecision(status.paths["idNat_Decision"])
        }
        var issues: [OutcomeIssue] = []
        func refuse(_ rule: String, _ code: IssueType, _ path: String, _ message: String, severity: IssueSeverity = .error) {
            issues.append(Self.issue(rule, code, path, message, severity: severity))
        }
        if status.idNatStruct != eg {
            refuse("PH-STRUCT-MISMATCH", .businessRule, status.path("idNat_Struct"),
                   "idNat_Struct vaut \(status.idNatStruct ?? "rien") alors que l'appel est fait pour l'établissement \(eg) (en-tête struct_idnat)")
        }
        if status.idDecision != d.idDecision || (status.idDecisionSystem.map { $0 != "urn:oid:\(d.mdphOID)" } ?? false) {
            refuse("PH-DECISION-MISMATCH", .businessRule, status.path("idDecision"),
                   "idDecision ne correspond pas à la décision \(idNat) (attendu \(d.idDecision), système urn:oid:\(d.mdphOID) s'il est donné)")
        }
        if force {
            if n.recoveryAt == nil {
                refuse("PH-FORCE-NOT-RECOVERY", .businessRule, "Task.meta.tag",
                       "forcer le statut plateforme n'est possible que pour une décision marquée en reprise")
            }
            if status.statusESMS == nil {
                refuse("PH-FORCE-WITHOUT-STATUS", .required, "Task.meta.tag", "forcer le statut plateforme exige un statutESMS")
            }
        } else if n.isFinished {
            refuse("PH-NOTIFICATION-FINISHED", .businessRule, status.path("idNat_Decision"),
                   "le traitement de cette notification est terminé (\(n.finishedReason ?? "-")) : plus aucun statut n'est accepté")
        }
        var categories = Set(n.categories)
        if let c = status.unitCategory { categories.insert("R244:\(c)") }
        if let unitId = status.unitId {
            if let unit = try tx.rorUnit(establishment: eg, rorId: unitId) {
                if let c = unit.organisationCategory { categories.insert("R244:\(c)") }
                issues += Self.unitConsistency(status, unit: unit)
            } else {
                refuse("PH-UNIT-UNKNOWN", .businessRule, status.path("idUnite"),
                       "l'unité \(unitId) n'est pas une unité ROR de l'établissement \(eg) connue de la plateforme (miroir ROR)")
            }
        }
        issues += StatusRules.check(status, issuer: .esms, categories: categories)
        if issues.contains(where: \.isError) { throw FHIRError.unprocessable(issues.filter(\.isError) + issues.filter { !$0.isError } + warnings) }

        let own = try tx.create(tenant: eg, type: "Task", keys: [SearchKey("origin", "own"), SearchKey("decision", idNat)]) { meta in
            RequestBody.stamped(tree, meta).serialized()
        }
        let at = own.lastUpdated
        try tx.appendStatusEvent(StatusEventRecord(idNat: idNat, establishment: eg, taskId: own.id, clientId: poster.clientId,
                                                   origin: .esms, statusESMS: status.statusESMS, reasonESMS: status.reasonESMS,
                                                   statusUnit: status.statusUnit, reasonUnit: status.reasonUnit, unitId: status.unitId,
                                                   unitDate: status.dateUnit, recovery: n.recoveryAt != nil, forced: force, recordedAt: at))
        // Flow 5: the other EGs with a live notification for the same person get the event.
        try Self.fanOut(tx, status: status, from: d, excluding: eg)
        if let s = status.statusESMS { n.platformStatus = s; n.platformStatusAt = at }
        if force {
            try tx.audit(poster.audit([own.id], "force-platform-status \(idNat) \(status.statusESMS ?? "")"))
            if n.isFinished { try Self.reopen(tx, &n) }
        }
        if let s = status.statusESMS, StatusRules.finalStatuses.contains(s) {
            try Self.finish(tx, &n, reason: s, at: at)
        } else {
            try tx.updateNotification(n)
        }
        try tx.audit(poster.audit([own.id], nil))
        return (own, issues)
    }

    /// The unit block against the ROR mirror: the unit must be open (except to end a stay there); its
    /// category and care mode must be the mirrored ones; a different name or offer is only a warning
    /// (names are typed by people, the ROR stays the reference).
    static func unitConsistency(_ s: PersonStatus, unit: RorUnit) -> [OutcomeIssue] {
        var issues: [OutcomeIssue] = []
        if !unit.isOpen, !["180", "188"].contains(s.statusUnit ?? "") {
            issues.append(issue("PH-UNIT-CLOSED", .businessRule, s.path("idUnite"),
                                "l'unité \(unit.rorId) est fermée dans le ROR : seuls les statuts 180 et 188 y sont encore acceptés"))
        }
        if let mirrored = unit.organisationCategory, let sent = s.unitCategory, sent != mirrored {
            issues.append(issue("PH-UNIT-CATEGORY", .businessRule, s.path("categorieOrganisation"),
                                "categorieOrganisation \(sent) ne correspond pas à celle de l'unité \(unit.rorId) dans le ROR (\(mirrored))"))
        }
        if let mirrored = unit.careMode, let sent = s.unitCareMode, sent != mirrored {
            issues.append(issue("PH-UNIT-CARE-MODE", .businessRule, s.path("modePriseCharge"),
                                "modePriseCharge \(sent) ne correspond pas au mode de prise en charge de l'unité \(unit.rorId) (\(mirrored), JDV_J264)"))
        }
        if let sent = s.unitName, comparable(sent) != comparable(unit.name) {
            issues.append(issue("PH-UNIT-NAME", .businessRule, s.path("nomUnite"),
                                "nomUnite « \(sent) » diffère du nom ROR de l'unité \(unit.rorId) (« \(unit.name) »)", severity: .warning))
        }
        if let mirrored = unit.receptionTemporality, let sent = s.unitTemporality, sent != mirrored {
            issues.append(issue("PH-UNIT-OFFER", .businessRule, s.path("temporaliteAccueil"),
                                "temporaliteAccueil \(sent) diffère de celle de l'unité dans le ROR (\(mirrored))", severity: .warning))
        }
        if let sent = s.unitSequential, sent != unit.sequentialReception {
            issues.append(issue("PH-UNIT-OFFER", .businessRule, s.path("accueilSequentiel"),
                                "accueilSequentiel \(sent) diffère de l'unité dans le ROR (\(unit.sequentialReception))", severity: .warning))
        }
        return issues
    }

    /// Case-, accent- and spacing-insensitive form of a name.
    static func comparable(_ s: String) -> String {
        s.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: Locale(identifier: "fr_FR"))
            .split(whereSeparator: { $0.isWhitespace || $0 == "-" || $0 == "'" }).joined(separator: " ")
    }

    /// Copies an ESMS status event to every other EG that follows the same person (an unfinished
    /// notification of an active decision): one Task per EG, rewritten to that EG's decision when it
    /// was notified of another one, so that the DUI can attach it to a decision it knows.
    static func fanOut(_ tx: any StoreWriteTransaction, status: PersonStatus, from d: DecisionRecord, excluding eg: String) throws {
        var byEG: [String: NotificationRecord] = [:]
        var order: [String] = []
        for n in try tx.liveNotifications(personKey: d.personKey) where n.establishment != eg {
            if byEG[n.establishment] == nil { order.append(n.establishment); byEG[n.establishment] = n }
            else if n.idNat == d.idNat { byEG[n.establishment] = n }  // the same decision wins
        }
        for recipient in order {
            guard let n = byEG[recipient] else { continue }
            var copy = status
            if n.idNat != d.idNat, let theirs = try tx.decision(idNat: n.idNat) {
                copy.idNatDecision = theirs.idNat
                copy.idDecision = theirs.idDecision
                copy.idDecisionSystem = "urn:oid:\(theirs.mdphOID)"
            }
            try tx.create(tenant: recipient, type: "Task", keys: [SearchKey("origin", "event"), SearchKey("decision", n.idNat)]) { meta in
                FHIRJSONWriter.write(PersonStatusTask.build(copy, id: meta.id, versionId: meta.versionId, lastUpdated: meta.lastUpdated.fhirInstant))
            }
        }
    }

    // MARK: MDPH events

    /// An MDPH event (37, 46, 49, 54) posted for the MDPH of `poster.tenant`, in the caller's
    /// transaction: the status rules, then the decision or notification it targets, the MDPH's own Task,
    /// and the event delivered to each notification concerned (flow 5). Returns the MDPH's Task.
    func recordMDPHEvent(_ tx: any StoreWriteTransaction, _ poster: Poster, tree: ElementTree, status: PersonStatus,
                         warnings: [OutcomeIssue]) throws -> StoredResource {
        var issues = StatusRules.check(status, issuer: .mdph, categories: [])
        if status.statusESMS == nil {
            issues.append(Self.issue("PH-MDPH-STATUS", .required, "Task.input", "un évènement MDPH porte un statutESMS : 37, 46, 49 ou 54"))
        }
        if let unit = status.statusUnit {
            issues.append(Self.issue("PH-MDPH-STATUS", .businessRule, status.path("statutUnite"),
                                     "un évènement MDPH ne porte pas de statut d'unité (\(unit))"))
        }
        if issues.contains(where: \.isError) { throw FHIRError.unprocessable(issues + warnings) }
        let code = status.statusESMS ?? ""
        guard let mdph = try tx.mdph(establishment: poster.tenant) else {
            throw FHIRError(status: 403, code: .forbidden, rule: "PH-MDPH-UNKNOWN",
                            "l'établissement \(poster.tenant) n'est pas enregistré comme MDPH auprès de la plateforme")
        }
        guard let idNat = status.idNatDecision, var d = try tx.decision(idNat: idNat), d.mdphOID == mdph.oid else {
            throw Self.unknownDecision(status.paths["idNat_Decision"])
        }
        if status.idDecision != d.idDecision || (status.idDecisionSystem.map { $0 != "urn:oid:\(d.mdphOID)" } ?? false) {
            throw FHIRError.unprocessable([Self.issue("PH-DECISION-MISMATCH", .businessRule, status.path("idDecision"),
                                                      "idDecision ne correspond pas à la décision \(idNat) (attendu \(d.idDecision))")])
        }
        // idNat_Struct = the MDPH itself: the decision as a whole (37, 54); otherwise one notified ESMS (46, 49, 54).
        let whole = status.idNatStruct == poster.tenant
        var targets: [NotificationRecord]
        func refuse(_ rule: String, _ message: String, path: String = status.path("statutESMS")) -> FHIRError {
            .unprocessable([Self.issue(rule, .businessRule, path, message)])
        }
        if whole {
            guard code == "37" || code == "54" else {
                throw refuse("PH-MDPH-TARGET", "le statut \(code) vise un ESMS : idNat_Struct doit nommer l'établissement notifié", path: status.path("idNat_Struct"))
            }
            guard (code == "37" && d.state == .active) || (code == "54" && d.state == .cancelled) else {
                throw refuse("PH-DECISION-STATE", "la décision est à l'état \(d.state.rawValue) : le statut \(code) ne s'applique pas")
            }
            targets = try tx.notifications(idNat: idNat).filter { code == "37" ? !$0.isFinished : $0.finishedReason == "37" }
        } else {
            guard let eg = status.idNatStruct, let n = try tx.notification(idNat: idNat, establishment: eg) else {
                throw refuse("PH-MDPH-TARGET", "idNat_Struct ne désigne ni cette MDPH ni un établissement à qui la décision est notifiée",
                             path: status.path("idNat_Struct"))
            }
            switch code {
            case "37": throw refuse("PH-MDPH-TARGET", "le statut 37 annule toute la décision : idNat_Struct doit être celui de la MDPH (\(poster.tenant)) ; "
                                                    + "pour un seul établissement, envoyer 49", path: status.path("idNat_Struct"))
            case "54" where !n.isFinished: throw refuse("PH-NOTIFICATION-ACTIVE", "la notification est active : rien à réactiver")
            case "46" where n.platformStatus != "45":
                throw refuse("PH-ADMISSION-IMPOSSIBLE-NOT-SIGNALLED", "l'admission impossible n'a pas été signalée par l'ESMS (statut 45) : rien à entériner")
            case "46" where n.isFinished, "49" where n.isFinished:
                throw refuse("PH-NOTIFICATION-FINISHED", "le traitement de cette notification est déjà terminé (\(n.finishedReason ?? "-"))")
            default: break
            }
            targets = [n]
        }
        let own = try tx.create(tenant: poster.tenant, type: "Task", keys: [SearchKey("origin", "own"), SearchKey("decision", idNat)]) { meta in
            RequestBody.stamped(tree, meta).serialized()
        }
        let at = own.lastUpdated
        if whole {
            d.state = code == "37" ? .cancelled : .active
            d.updatedAt = at
            try tx.updateDecision(d)
        }
        for var n in targets {
            switch code {
            case "37", "49": try Self.restate(tx, tenant: n.establishment, id: n.documentId, status: "entered-in-error")
            case "54": try Self.restate(tx, tenant: n.establishment, id: n.documentId, status: Self.documentStatus(d.state))
            default: break
            }
            try Self.deliverEvent(tx, to: n, decision: d, statusESMS: code, reason: status.reasonESMS, date: status.dateESMS,
                                  description: status.description, origin: .mdph, clientId: poster.clientId)
            n.platformStatus = code; n.platformStatusAt = at
            if code == "54" { try Self.reopen(tx, &n) } else { try Self.finish(tx, &n, reason: code, at: at) }
        }
        try tx.audit(poster.audit([own.id], "mdph-event \(code) \(idNat)"))
        return own
    }
}
