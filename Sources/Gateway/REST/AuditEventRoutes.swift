import Foundation
import FHIRModels

/// The audit log as FHIR R4 `AuditEvent` for the operator (operator certificate, no token):
/// `GET /fhir/AuditEvent` (search: `date` and `_lastUpdated` bounds on the recorded instant, `agent`
/// = client id, `entity` = resource id, `_count`, paging by `_cursor`) and `GET /fhir/AuditEvent/{seq}`.
/// Each record maps to one AuditEvent whose id is the record's sequence number; no health content
/// exists in the records, so none can appear here.
enum AuditEventRoutes {
    static let agentRoleSystem = "https://fhir-gateway.example.fr/CodeSystem/audit-agent-role"
    static let clientIdSystem = "https://fhir-gateway.example.fr/client-id"
    static let requestIdSystem = "https://fhir-gateway.example.fr/request-id"
    /// `idNat_Struct` (FINESS or SIRET prefixed by its type), the identifier of EJ and EG.
    static let structureIdSystem = "urn:oid:1.2.250.1.71.4.2.2"
    static let searchParameters: [(name: String, type: String)] = [("date", "date"), ("_lastUpdated", "date"), ("agent", "token"),
                                                                    ("entity", "token"), ("_count", "number")]

    static func register(in r: inout Router, store: any GatewayStore) {
        r.add("GET", "/fhir/AuditEvent", .operator) { ctx throws(FHIRError) in try search(ctx, store: store) }
        r.add("GET", "/fhir/AuditEvent/{id}", .operator) { ctx throws(FHIRError) in
            let raw = ctx.path["id"] ?? ""
            guard let seq = Int64(raw), seq > 0, String(seq) == raw else {
                throw FHIRError(status: 404, code: .notFound, rule: "NOT-FOUND", "AuditEvent/\(raw) introuvable")
            }
            let record: AuditRecord?
            do { record = try store.read { tx in try tx.auditRecord(sequence: seq) } } catch { throw FHIRRoutes.storeFailure(error) }
            guard let record else { throw FHIRError(status: 404, code: .notFound, rule: "NOT-FOUND", "AuditEvent/\(raw) introuvable") }
            var response = FHIRResponse.resource(auditEvent(record), format: ctx.format)
            response.headers.append(("Last-Modified", HTTPResponse.httpDate(Date(timeIntervalSince1970: Double(record.recordedAt.milliseconds) / 1000))))
            return response
        }
    }

    /// The AuditEvent entry of the CapabilityStatement's `rest.resource` list.
    static func describe(in b: inout ElementTreeBuilder) {
        b.begin("resource")
        b.primitive("type", "AuditEvent")
        b.primitive("documentation", "Journal d'audit, réservé au certificat de l'opérateur (sans jeton).")
        for code in ["read", "search-type"] { b.begin("interaction"); b.primitive("code", code); b.end() }
        for p in searchParameters { b.begin("searchParam"); b.primitive("name", p.name); b.primitive("type", p.type); b.end() }
        b.end()
    }

    static func search(_ ctx: Router.Context, store: any GatewayStore) throws(FHIRError) -> HTTPResponse {
        var query = AuditQuery(count: PageSize.defaultSize)
        func ts(_ d: Date) -> Timestamp { Timestamp(milliseconds: Int64((d.timeIntervalSince1970 * 1000).rounded(.down))) }
        for (name, value) in ctx.query.items {
            switch name {
            case "date", "_lastUpdated":
                let bound: DateBound
                do { bound = try DateBound.parse(value) } catch { throw FHIRError(status: 400, code: .value, rule: "SEARCH-VALUE", error.description) }
                guard let interval = bound.interval else {
                    throw FHIRError(status: 400, code: .notSupported, rule: "SEARCH-PREFIX", "\(name) accepte les préfixes eq, gt, ge, lt, le, sa, eb")
                }
                // Several bounds intersect.
                if let from = interval.from.map(ts) { query.recordedFrom = max(query.recordedFrom ?? from, from) }
                if let before = interval.before.map(ts) { query.recordedBefore = min(query.recordedBefore ?? before, before) }
            case "agent", "entity":
                // A plain value or `Type/id` for entity; `system|value` with the client-id system for agent.
                var v = value
                if name == "agent", let bar = v.firstIndex(of: "|") {
                    guard v[..<bar].isEmpty || String(v[..<bar]) == clientIdSystem else {
                        throw FHIRError(status: 400, code: .value, rule: "SEARCH-VALUE", "agent : identifiant de client attendu (\(clientIdSystem)|id)")
                    }
                    v = String(v[v.index(after: bar)...])
                }
                if name == "entity", let slash = v.lastIndex(of: "/") { v = String(v[v.index(after: slash)...]) }
                guard !v.isEmpty, !v.contains(" ") else { throw FHIRError(status: 400, code: .value, rule: "SEARCH-VALUE", "\(name) : valeur vide ou invalide") }
                if name == "agent" {
                    guard query.clientId == nil || query.clientId == v else { throw FHIRError(status: 400, code: .value, rule: "SEARCH-VALUE", "un seul agent à la fois") }
                    query.clientId = v
                } else {
                    guard query.resourceId == nil || query.resourceId == v else { throw FHIRError(status: 400, code: .value, rule: "SEARCH-VALUE", "une seule entity à la fois") }
                    query.resourceId = v
                }
            case "_count":
                do { query.count = try PageSize.parse(value) } catch { throw FHIRError(status: 400, code: .value, rule: "SEARCH-VALUE", error.description) }
            case "_cursor":
                guard let after = Int64(value), after >= 0 else { throw FHIRError(status: 400, code: .value, rule: "SEARCH-CURSOR", "_cursor invalide") }
                query.after = after
            case "_format":
                continue
            default:
                throw FHIRError(status: 400, code: .notSupported, rule: "SEARCH-PARAMETER", "paramètre de recherche non pris en charge : \(name)")
            }
        }
        // One more row than the page tells whether a next page exists.
        let page = query.count
        query.count = page + 1
        let rows: [AuditRecord]
        do { rows = try store.read { tx in try tx.auditRecords(matching: query) } } catch { throw FHIRRoutes.storeFailure(error) }
        let shown = Array(rows.prefix(page))
        let next = rows.count > page ? shown.last.map { String($0.sequence) } : nil
        let entries = shown.map { (fullUrl: "\(ctx.baseURL)/fhir/AuditEvent/\($0.sequence)", resource: auditEvent($0)) }
        return FHIRResponse.resource(FHIRResponse.searchset(baseURL: ctx.baseURL, type: "AuditEvent", query: ctx.query, next: next, entries: entries),
                                     format: ctx.format)
    }

    // MARK: mapping

    /// What an interaction is, in AuditEvent terms: type, subtype (restful-interaction or DICOM),
    /// and action (C, R, U, D, E).
    static func classify(_ interaction: String) -> (type: (system: String, code: String, display: String),
                                                    subtype: (system: String, code: String, display: String)?, action: String) {
        let dcm = "http://dicom.nema.org/resources/ontology/DCM"
        let rest = ("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation")
        let restful = "http://hl7.org/fhir/restful-interaction"
        let securityAlert = (dcm, "110113", "Security Alert")
        switch interaction {
        case "read": return (rest, (restful, "read", "read"), "R")
        case "vread": return (rest, (restful, "vread", "vread"), "R")
        case "history": return (rest, (restful, "history-instance", "history-instance"), "R")
        case "search": return (rest, (restful, "search-type", "search-type"), "E")
        case "create": return (rest, (restful, "create", "create"), "C")
        case "update": return (rest, (restful, "update", "update"), "U")
        case "patch": return (rest, (restful, "patch", "patch"), "U")
        case "delete": return (rest, (restful, "delete", "delete"), "D")
        case ValidateRoutes.operationName: return (rest, (restful, "operation", "operation"), "E")
        case "token": return ((dcm, "110114", "User Authentication"), (dcm, "110122", "Login"), "E")
        case "tls-handshake": return (securityAlert, (dcm, "110126", "Node Authentication"), "E")
        case "http", "http-parse": return (securityAlert, nil, "E")
        case "tls-reload", "crl-refresh": return (securityAlert, (dcm, "110129", "Security Configuration"), "E")
        case let i where i.hasPrefix("ej-") || i.hasPrefix("eg-"):
            return (securityAlert, (dcm, "110136", "Security Roles Changed"), i.hasSuffix("-add") ? "C" : "U")
        case let i where i.hasPrefix("client-") || i == "enrol":
            return (securityAlert, (dcm, "110137", "User Security Attributes Changed"), i.hasSuffix("-add") || i == "enrol" ? "C" : "U")
        default: return ((dcm, "110100", "Application Activity"), nil, "E")
        }
    }

    /// AuditEvent.outcome: 0 success, 4 minor failure (a refusal), 8 serious failure (server error).
    static func outcome(status: Int) -> String {
        switch status {
        case 200..<400: "0"
        case 500...: "8"
        default: "4"
        }
    }

    static func auditEvent(_ record: AuditRecord) -> ElementTree {
        let e = record.entry
        var b = ElementTreeBuilder(resourceType: "AuditEvent")
        func coding(_ name: String, _ c: (system: String, code: String, display: String)) {
            b.begin(name); b.primitive("system", c.system); b.primitive("code", c.code); b.primitive("display", c.display); b.end()
        }
        func codeable(_ name: String, _ system: String, _ code: String, _ display: String) {
            b.begin(name); coding("coding", (system, code, display)); b.end()
        }
        func agent(type: (system: String, code: String, display: String), role: String, whoType: String?, system: String?, value: String?,
                   display: String?, requestor: Bool) {
            b.begin("agent")
            b.begin("type"); coding("coding", type); b.end()
            codeable("role", agentRoleSystem, role, role)
            b.begin("who")
            if let whoType { b.primitive("type", whoType) }
            if let system, let value { b.begin("identifier"); b.primitive("system", system); b.primitive("value", value); b.end() }
            if let display { b.primitive("display", display) }
            b.end()
            b.primitive("requestor", requestor)
            b.end()
        }
        b.primitive("id", String(record.sequence))
        b.begin("meta"); b.primitive("lastUpdated", record.recordedAt.fhirInstant); b.end()
        let kind = classify(e.interaction)
        let described = e.status == 0 ? "TLS" : "HTTP \(e.status)"
        let summary = "\(e.interaction)\(e.resourceType.map { " \($0)" } ?? "") : \(described)\(e.outcome.map { " (\($0))" } ?? "")"
        b.begin("text")
        b.primitive("status", "generated")
        b.primitive("div", "<div xmlns=\"http://www.w3.org/1999/xhtml\">\(XHTML.escapeText(summary))</div>")
        b.end()
        coding("type", kind.type)
        if let subtype = kind.subtype { coding("subtype", subtype) }
        b.primitive("action", kind.action)
        b.primitive("recorded", record.recordedAt.fhirInstant)
        b.primitive("outcome", outcome(status: e.status))
        b.primitive("outcomeDesc", e.outcome.map { "\(described) : \($0)" } ?? described)
        let application = (system: "http://dicom.nema.org/resources/ontology/DCM", code: "110150", display: "Application")
        let provider = (system: "http://terminology.hl7.org/CodeSystem/v3-RoleClass", code: "PROV", display: "healthcare provider")
        if let client = e.clientId {
            agent(type: application, role: "client", whoType: "Device", system: clientIdSystem, value: client, display: client, requestor: true)
        } else {
            agent(type: application, role: "client", whoType: nil, system: nil, value: nil, display: "appelant non identifié", requestor: true)
        }
        if let ej = e.legalEntityId {
            agent(type: provider, role: "legal-entity", whoType: "Organization", system: structureIdSystem,
                  value: ej, display: nil, requestor: false)
        }
        if let eg = e.geographicEntityId {
            agent(type: provider, role: "geographic-entity", whoType: "Organization", system: structureIdSystem,
                  value: eg, display: nil, requestor: false)
        }
        b.begin("source")
        b.primitive("site", "fhir-gateway")
        b.begin("observer"); b.primitive("display", "fhir-gateway"); b.end()
        coding("type", ("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server"))
        b.end()
        let systemObject = (system: "http://terminology.hl7.org/CodeSystem/audit-entity-type", code: "2", display: "System Object")
        for id in e.resourceIds {
            b.begin("entity")
            b.begin("what")
            if let type = e.resourceType { b.primitive("reference", "\(type)/\(id)") } else {
                b.begin("identifier"); b.primitive("value", id); b.end()
            }
            b.end()
            coding("type", systemObject)
            b.end()
        }
        // The request itself: its X-Request-ID when there was one, the gateway's interaction name.
        b.begin("entity")
        if let requestId = e.requestId {
            b.begin("what"); b.begin("identifier"); b.primitive("system", requestIdSystem); b.primitive("value", requestId); b.end(); b.end()
        }
        coding("type", (systemObject.system, "4", "Other"))
        b.primitive("description", "requête à la passerelle")
        b.begin("detail"); b.primitive("type", "interaction"); b.primitive("valueString", e.interaction); b.end()
        b.end()
        return b.build()
    }
}
