import Foundation
import FHIRModels

/// Routes outside the FHIR API: `/health` (any verified certificate, no token, no data),
/// `/metrics` (Prometheus text, operator certificate only) and the operator's admin API.
enum OperationsRoutes {
    static func register(in r: inout Router, metrics: Metrics, store: any GatewayStore) {
        r.add("GET", "/health", .certificate) { _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                         body: JSONValue.object([("status", .string("ok"))]).serialized())
        }
        r.add("GET", "/metrics", .operator) { _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array(metrics.render().utf8))
        }
        // Audit records after a sequence number, oldest first (no health content is ever recorded).
        r.add("GET", "/admin/audit", .operator) { ctx throws(FHIRError) in
            let after = Int64(ctx.query.first("after") ?? "0") ?? -1
            let limit = Int(ctx.query.first("limit") ?? "500") ?? -1
            guard after >= 0, (1...5000).contains(limit) else {
                throw FHIRError(status: 400, code: .value, rule: "ADMIN-PARAMETER", "after ≥ 0 et 1 ≤ limit ≤ 5000")
            }
            let records: [AuditRecord]
            do { records = try store.read { tx in try tx.auditRecords(after: after, limit: limit) } } catch {
                throw FHIRError(status: 500, code: .exception, rule: "ADMIN-STORE", "lecture du journal d'audit impossible")
            }
            let list: [JSONValue] = records.map { rec in
                let e = rec.entry
                var m: [(String, JSONValue)] = [("sequence", .number(String(rec.sequence))), ("recordedAt", .string(rec.recordedAt.fhirInstant)),
                                                ("interaction", .string(e.interaction)), ("status", .number(String(e.status)))]
                let optional: [(String, String?)] = [("requestId", e.requestId), ("outcome", e.outcome), ("clientId", e.clientId),
                                                     ("legalEntityId", e.legalEntityId), ("geographicEntityId", e.geographicEntityId),
                                                     ("resourceType", e.resourceType), ("tenant", e.tenant)]
                for (k, v) in optional { if let v { m.append((k, .string(v))) } }
                return .object(m)
            }
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                                body: JSONValue.object([("records", .array(list))]).serialized())
        }
        // The audit hash chain, recomputed now: intact, or the first record that does not match.
        r.add("GET", "/admin/audit/verify", .operator) { _ throws(FHIRError) in
            let result: (broken: Int64?, count: Int64)
            do {
                result = (try store.verifyAuditChain(), try store.read { tx in try tx.auditCount() })
            } catch {
                throw FHIRError(status: 500, code: .exception, rule: "ADMIN-STORE", "lecture du journal d'audit impossible")
            }
            var m: [(String, JSONValue)] = [("intact", .bool(result.broken == nil)), ("records", .number(String(result.count)))]
            if let b = result.broken { m.append(("firstBrokenSequence", .number(String(b)))) }
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                                body: JSONValue.object(m).serialized())
        }
        // Activation switches: EJ by the operator, EG by the structure's referent (performed here by
        // the operator on their behalf). Tokens are not revoked: every call re-reads the live state.
        let switches: [(path: String, action: String, change: @Sendable (any StoreWriteTransaction, String, String) throws -> Void)] = [
            ("ej", "activate", { tx, id, by in try tx.activateLegalEntity(id: id, by: by, at: .now()) }),
            ("ej", "suspend", { tx, id, _ in try tx.suspendLegalEntity(id: id, at: .now()) }),
            ("eg", "activate", { tx, id, by in try tx.activateGeographicEntity(id: id, by: by, at: .now()) }),
            ("eg", "deactivate", { tx, id, _ in try tx.deactivateGeographicEntity(id: id, at: .now()) }),
        ]
        for s in switches {
            r.add("POST", "/admin/\(s.path)/{id}/\(s.action)", .operator) { ctx throws(FHIRError) in
                let id = ctx.path["id"] ?? ""
                let by = ctx.peer?.commonName ?? "operator"
                do {
                    try store.write { tx in
                        try s.change(tx, id, by)
                        try tx.audit(AuditEntry(requestId: ctx.requestId, legalEntityId: s.path == "ej" ? id : nil,
                                                geographicEntityId: s.path == "eg" ? id : nil, interaction: "\(s.path)-\(s.action)", status: 200))
                    }
                } catch StoreError.notFound {
                    throw FHIRError(status: 404, code: .notFound, rule: "ADMIN-ENTITY", "\(s.path.uppercased()) \(id) inconnu")
                } catch {
                    throw FHIRError(status: 500, code: .exception, rule: "ADMIN-STORE", "\(error)")
                }
                return HTTPResponse(status: 204)
            }
        }
    }
}
