import FHIRModels
import Validation

/// The operator's side of the module Handicap (operator certificate only), each change audited in
/// its transaction:
///
///     POST /admin/handicap/mdph?establishment=EG&oid=OID&name=NAME   register an MDPH (the EG its client acts for, its OID)
///     POST /admin/handicap/recovery?decision=IDNAT[&establishment=EG][&status=CODE]   tag for recovery
///     GET  /admin/handicap/decision/{idNat}                           the decision, its notifications and status events
///     GET  /admin/handicap/aptitude?client=CLIENT_ID                  the aptitude report (JSON)
///
/// The same operations exist on the command line (`fhir-gateway admin --db FILE mdph|recovery|decision|aptitude …`).
enum HandicapAdminRoutes {
    static func json(_ value: JSONValue, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body: value.serialized())
    }

    static func parameter(_ ctx: Router.Context, _ name: String) throws(FHIRError) -> String {
        guard let v = ctx.query.first(name), !v.isEmpty else {
            throw FHIRError(status: 400, code: .required, rule: "ADMIN-PARAMETER", "paramètre \(name) requis")
        }
        return v
    }

    static func register(in r: inout Router, store: any GatewayStore) {
        r.add("POST", "/admin/handicap/mdph", .operator) { ctx throws(FHIRError) in
            let mdph = MDPHRecord(establishment: try parameter(ctx, "establishment"), oid: try parameter(ctx, "oid"), name: try parameter(ctx, "name"))
            do { try registerMDPH(store: store, mdph, by: ctx.peer?.commonName ?? "operator", requestId: ctx.requestId) }
            catch let e as HandicapFlows.OperatorFailure { throw FHIRError(status: e.status, code: .value, rule: e.rule, e.message) }
            catch { throw FHIRRoutes.storeFailure(error) }
            return HTTPResponse(status: 204)
        }
        r.add("POST", "/admin/handicap/recovery", .operator) { ctx throws(FHIRError) in
            let tagged: [NotificationRecord]
            do {
                tagged = try HandicapFlows.operatorRecovery(store: store, idNat: try parameter(ctx, "decision"), establishment: ctx.query.first("establishment"),
                                                            platformStatus: ctx.query.first("status"), by: ctx.peer?.commonName ?? "operator",
                                                            requestId: ctx.requestId)
            } catch let e as HandicapFlows.OperatorFailure {
                throw FHIRError(status: e.status, code: e.status == 404 ? .notFound : .value, rule: e.rule, e.message)
            } catch let e as FHIRError { throw e } catch { throw FHIRRoutes.storeFailure(error) }
            return json(.object([("tagged", .array(tagged.map(notificationJSON)))]))
        }
        r.add("GET", "/admin/handicap/decision/{idNat}", .operator) { ctx throws(FHIRError) in
            let idNat = ctx.path["idNat"] ?? ""
            let found: JSONValue?
            do { found = try decisionJSON(store: store, idNat: idNat) } catch { throw FHIRRoutes.storeFailure(error) }
            guard let found else { throw FHIRError(status: 404, code: .notFound, rule: "PH-DECISION-UNKNOWN", "décision \(idNat) inconnue") }
            return json(found)
        }
        r.add("GET", "/admin/handicap/aptitude", .operator) { ctx throws(FHIRError) in
            let client = try parameter(ctx, "client")
            do { return json(try HandicapFlows.aptitude(store: store, clientId: client).json) } catch { throw FHIRRoutes.storeFailure(error) }
        }
    }

    static func registerMDPH(store: any GatewayStore, _ mdph: MDPHRecord, by: String, requestId: String? = nil) throws {
        guard StructureId(mdph.establishment) != nil else {
            throw HandicapFlows.OperatorFailure(status: 400, rule: "ADMIN-PARAMETER", message: "'\(mdph.establishment)' n'est pas un idNat_Struct")
        }
        let arcs = mdph.oid.split(separator: ".", omittingEmptySubsequences: false)
        guard mdph.oid.hasPrefix("1.2.250.1.213.7."), arcs.count == 7, let n = Int(arcs[6]), n > 0 else {
            throw HandicapFlows.OperatorFailure(status: 400, rule: "ADMIN-PARAMETER", message: "'\(mdph.oid)' n'est pas un OID de MDPH (1.2.250.1.213.7.n)")
        }
        try store.write { tx in
            try tx.upsertMDPH(mdph)
            try tx.audit(AuditEntry(requestId: requestId, geographicEntityId: mdph.establishment, interaction: "mdph-register", status: 200,
                                    outcome: "\(mdph.oid) by \(by)"))
        }
    }

    static func notificationJSON(_ n: NotificationRecord) -> JSONValue {
        var m: [(String, JSONValue)] = [("idNatDecision", .string(n.idNat)), ("establishment", .string(n.establishment)),
                                        ("documentReference", .string(n.documentId))]
        let optional: [(String, String?)] = [("platformStatus", n.platformStatus), ("platformStatusAt", n.platformStatusAt?.fhirInstant),
                                             ("finishedAt", n.finishedAt?.fhirInstant), ("finishedReason", n.finishedReason),
                                             ("consent", n.consentId), ("evaluationDocumentReference", n.evaluationDocumentId),
                                             ("recoveryAt", n.recoveryAt?.fhirInstant), ("recoveryBy", n.recoveryBy)]
        for (k, v) in optional { if let v { m.append((k, .string(v))) } }
        if !n.categories.isEmpty { m.append(("categories", .array(n.categories.map { .string($0) }))) }
        return .object(m)
    }

    static func decisionJSON(store: any GatewayStore, idNat: String) throws -> JSONValue? {
        try store.read { tx in
            guard let d = try tx.decision(idNat: idNat) else { return nil }
            var notifications: [JSONValue] = []
            for n in try tx.notifications(idNat: idNat) {
                var json = notificationJSON(n)
                let events: [JSONValue] = try tx.statusEvents(idNat: idNat, establishment: n.establishment).map { e in
                    var m: [(String, JSONValue)] = [("sequence", .number(String(e.sequence))), ("task", .string(e.taskId)),
                                                    ("origin", .string(e.origin.rawValue)), ("at", .string(e.recordedAt.fhirInstant))]
                    let optional: [(String, String?)] = [("clientId", e.clientId), ("statutESMS", e.statusESMS), ("motifESMS", e.reasonESMS),
                                                         ("statutUnite", e.statusUnit), ("motifUnite", e.reasonUnit), ("idUnite", e.unitId)]
                    for (k, v) in optional { if let v { m.append((k, .string(v))) } }
                    if e.recovery { m.append(("recovery", .bool(true))) }
                    if e.forced { m.append(("forced", .bool(true))) }
                    return .object(m)
                }
                json["statusEvents"] = .array(events)
                notifications.append(json)
            }
            return .object([("idNatDecision", .string(d.idNat)), ("mdphOID", .string(d.mdphOID)), ("idDecision", .string(d.idDecision)),
                            ("kind", .string(d.kind.rawValue)), ("state", .string(d.state.rawValue)), ("version", .number(String(d.version))),
                            ("hasEvaluation", .bool(d.evaluationCDA != nil)), ("notifications", .array(notifications))])
        }
    }
}

extension HandicapAdminRoutes {
    static let usageText = """
        mdph add EG OID NAME | recovery IDNAT [--establishment EG] [--status CODE] | decision IDNAT | aptitude --client CLIENT_ID [--json]
        """

    /// The module's `fhir-gateway admin` commands; nil when `cmd` is none of them.
    static func command(store: any GatewayStore, _ cmd: [String], operatorName: String) throws -> String? {
        func options(_ from: Int) throws -> [String: String] {
            var o: [String: String] = [:]
            var i = from
            while i < cmd.count {
                guard cmd[i].hasPrefix("--") else { throw AdminCommand.Failure.usage(usageText) }
                if cmd[i] == "--json" { o["json"] = "true"; i += 1; continue }
                guard i + 1 < cmd.count else { throw AdminCommand.Failure.usage(usageText) }
                o[String(cmd[i].dropFirst(2))] = cmd[i + 1]
                i += 2
            }
            return o
        }
        switch (cmd.first, cmd.count > 1 ? cmd[1] : nil) {
        case ("mdph", "add") where cmd.count == 5:
            try registerMDPH(store: store, MDPHRecord(establishment: cmd[2], oid: cmd[3], name: cmd[4]), by: operatorName)
            return "ok\n"
        case ("recovery", let idNat?):
            let o = try options(2)
            guard Set(o.keys).isSubset(of: ["establishment", "status"]) else { throw AdminCommand.Failure.usage(usageText) }
            let tagged = try HandicapFlows.operatorRecovery(store: store, idNat: idNat, establishment: o["establishment"], platformStatus: o["status"],
                                                            by: operatorName)
            return tagged.map { "\($0.idNat)\t\($0.establishment)\tDocumentReference/\($0.documentId)\t\($0.platformStatus ?? "-")" }
                .joined(separator: "\n") + (tagged.isEmpty ? "aucune notification en cours à marquer\n" : "\n")
        case ("decision", let idNat?) where cmd.count == 2:
            guard let json = try decisionJSON(store: store, idNat: idNat) else { throw StoreError.notFound(type: "Decision", id: idNat) }
            return json.serializedString(pretty: true) + "\n"
        case ("aptitude", _):
            let o = try options(1)
            guard let client = o["client"], Set(o.keys).isSubset(of: ["client", "json"]) else { throw AdminCommand.Failure.usage(usageText) }
            let report = try HandicapFlows.aptitude(store: store, clientId: client)
            return o["json"] != nil ? report.json.serializedString(pretty: true) + "\n" : report.text
        default:
            return nil
        }
    }
}
