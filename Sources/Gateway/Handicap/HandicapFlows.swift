import Foundation
import FHIRModels
import Validation
import Mappers

/// The module Handicap behind the FHIR routes (docs/handicap-flows.md): the MDPH's decision intake
/// and events, the five SDO flows of the DUI, the lifecycle rules, recovery and the aptitude check.
/// Every request is one store transaction: the checks read inside it, and either everything is
/// written (resources, registry rows, masks, the audit record) or nothing.
public final class HandicapFlows: Sendable {
    let store: any GatewayStore
    let validation: ValidationEngine
    /// Prefix of the idNat_Decision this gateway assigns (`D`; `S` in sandbox mode, so that test
    /// numbers can never be mistaken for real ones).
    let idNatPrefix: String

    public init(store: any GatewayStore, validation: ValidationEngine, sandbox: Bool) {
        self.store = store
        self.validation = validation
        self.idNatPrefix = sandbox ? "S" : "D"
    }

    /// Flags the gateway puts in `meta.tag` (recovery) or reads there (forcing the platform status).
    static let flagSystem = "https://fhir-gateway.example.fr/CodeSystem/handicap-flag"
    static let recoveryTag = DecisionDocumentReference.Tag(system: flagSystem, code: "reprise", display: "Décision en reprise de données")
    static let forceCode = "forcer-statut-plateforme"

    // MARK: transactions

    /// One write transaction; FHIRErrors thrown inside roll it back and come out as they are.
    func write<T: Sendable>(_ body: (any StoreWriteTransaction) throws -> T) throws(FHIRError) -> T {
        do { return try store.write(body) } catch let e as FHIRError { throw e } catch { throw FHIRRoutes.storeFailure(error) }
    }

    func read<T: Sendable>(_ body: (any StoreReadTransaction) throws -> T) throws(FHIRError) -> T {
        do { return try store.read(body) } catch let e as FHIRError { throw e } catch { throw FHIRRoutes.storeFailure(error) }
    }

    static func caller(_ ctx: Router.Context) throws(FHIRError) -> AuthorizedCaller {
        guard let caller = ctx.caller else { throw FHIRError(status: 500, code: .exception, rule: "ROUTE", "route mal déclarée") }
        return caller
    }

    static func issue(_ rule: String, _ code: IssueType, _ expression: String?, _ message: String, severity: IssueSeverity = .error) -> OutcomeIssue {
        OutcomeIssue(severity: severity, code: code, message: message, expression: expression, rule: rule)
    }

    /// 404 that does not tell "unknown" from "not yours" (security.md §3.7.5).
    static func unknownDecision(_ expression: String?) -> FHIRError {
        let i = issue("PH-DECISION-UNKNOWN", .notFound, expression, "décision inconnue ou non notifiée à cet établissement")
        return FHIRError(status: 404, code: .notFound, rule: "PH-DECISION-UNKNOWN", i.message, details: [i])
    }

    static func forbiddenRole(_ caller: AuthorizedCaller, _ what: String) -> FHIRError {
        FHIRError(status: 403, code: .forbidden, rule: "PH-ROLE", "\(what) : non autorisé pour un client de rôle \(caller.client.role.rawValue)")
    }

    /// The stored resource as its tree (the created/updated answer).
    static func tree(_ stored: StoredResource) throws(FHIRError) -> ElementTree { try FHIRRoutes.parse(stored) }

    static func created(_ ctx: Router.Context, _ stored: StoredResource, informational: [OutcomeIssue] = []) throws(FHIRError) -> HTTPResponse {
        FHIRResponse.created(stored, tree: try tree(stored), baseURL: ctx.baseURL, prefer: ReturnPreference.parse(ctx.request.header("Prefer")),
                             format: ctx.format, informational: informational)
    }

    // MARK: identifiers

    /// idNat_Decision: prefix, 10-digit sequence, 2-digit key 97 − (sequence mod 97): `D000000004285`.
    static func idNat(prefix: String, sequence: Int64) -> String {
        let digits = String(sequence)
        return prefix + String(repeating: "0", count: max(0, 10 - digits.count)) + digits + key(sequence)
    }

    static func key(_ sequence: Int64) -> String {
        let k = 97 - Int(sequence % 97)
        return k < 10 ? "0\(k)" : String(k)
    }

    /// Whether `value` has the shape of an idNat_Decision this gateway assigns (any prefix letter).
    static func isIdNat(_ value: String) -> Bool {
        let b = Array(value.utf8)
        guard b.count == 13, (65...90).contains(b[0]), b.dropFirst().allSatisfy({ (48...57).contains($0) }),
              let n = Int64(String(decoding: b[1..<11], as: UTF8.self)) else { return false }
        return String(decoding: b[11...], as: UTF8.self) == key(n)
    }

    static func today(_ t: Timestamp) -> String { String(t.fhirInstant.prefix(10)) }

    // MARK: documents

    static func keys(_ c: DecisionDocumentReference.Content) -> [SearchKey] {
        DecisionDocumentReference.searchKeys(c).map { SearchKey($0.name, $0.value) }
    }

    /// Creates the DocumentReference of `content` in `tenant`, or a new version of `id` there.
    @discardableResult
    static func putDocument(_ tx: any StoreWriteTransaction, tenant: String, id: String?, _ content: DecisionDocumentReference.Content) throws
        -> StoredResource {
        let body: (ResourceMeta) throws -> [UInt8] = { meta in
            FHIRJSONWriter.write(DecisionDocumentReference.build(content, id: meta.id, versionId: meta.versionId, lastUpdated: meta.lastUpdated.fhirInstant))
        }
        if let id { return try tx.update(tenant: tenant, type: "DocumentReference", id: id, ifMatch: nil, keys: keys(content), body: body) }
        return try tx.create(tenant: tenant, type: "DocumentReference", keys: keys(content), body: body)
    }

    /// A new version of a stored DocumentReference with another `status` and/or `meta.tag`s (the CDA is kept).
    @discardableResult
    static func restate(_ tx: any StoreWriteTransaction, tenant: String, id: String, status: String? = nil,
                        tags: [DecisionDocumentReference.Tag]? = nil) throws -> StoredResource {
        guard let current = try tx.read(tenant: tenant, type: "DocumentReference", id: id) else {
            throw StoreError.notFound(type: "DocumentReference", id: id)
        }
        let keys = try tx.searchKeys(tenant: tenant, type: "DocumentReference", id: id)
        return try tx.update(tenant: tenant, type: "DocumentReference", id: id, ifMatch: current.versionId, keys: keys) { meta in
            var json = try JSONValue.parse(current.body)
            if let status { json["status"] = .string(status) }
            if let tags {
                var m = json["meta"] ?? .object([])
                m["tag"] = tags.isEmpty ? nil : .array(tags.map { .object([("system", .string($0.system)), ("code", .string($0.code)),
                                                                            ("display", .string($0.display))]) })
                json["meta"] = m
            }
            json["date"] = .string(meta.lastUpdated.fhirInstant)
            return RequestBody.stamped(json, meta).serialized()
        }
    }

    /// The tags that show a notification's platform status in flow 1 (recovery, renewal carry-over).
    static func platformStatusTags(_ n: NotificationRecord, recovery: Bool) -> [DecisionDocumentReference.Tag] {
        var tags: [DecisionDocumentReference.Tag] = []
        if recovery { tags.append(recoveryTag) }
        if let s = n.platformStatus {
            tags.append(.init(system: SDOCodeSystems.status, code: s, display: SDORules.esmsStatuses[s] ?? s))
        }
        return tags
    }

    // MARK: events and lifecycle

    /// A platform-built status Task delivered to the EG of `n` through flow 5 (MDPH event, closure,
    /// revision…), recorded as a status event of `n`.
    @discardableResult
    static func deliverEvent(_ tx: any StoreWriteTransaction, to n: NotificationRecord, decision d: DecisionRecord, statusESMS: String,
                             reason: String? = nil, date: String? = nil, description: String? = nil, origin: StatusOrigin,
                             clientId: String?) throws -> StoredResource {
        let name = try tx.geographicEntity(id: n.establishment)?.name ?? n.establishment
        let stored = try tx.create(tenant: n.establishment, type: "Task", keys: [SearchKey("origin", "event"), SearchKey("decision", n.idNat)]) { meta in
            let status = PersonStatus(idNatStruct: n.establishment, nomESMS: name, idDecision: d.idDecision, idDecisionSystem: "urn:oid:\(d.mdphOID)",
                                      idNatDecision: d.idNat, statusESMS: statusESMS, reasonESMS: reason, dateESMS: date ?? today(meta.lastUpdated),
                                      description: description)
            return FHIRJSONWriter.write(PersonStatusTask.build(status, id: meta.id, versionId: meta.versionId, lastUpdated: meta.lastUpdated.fhirInstant))
        }
        try tx.appendStatusEvent(StatusEventRecord(idNat: n.idNat, establishment: n.establishment, taskId: stored.id, clientId: clientId,
                                                   origin: origin, statusESMS: statusESMS, reasonESMS: reason, recovery: n.recoveryAt != nil,
                                                   recordedAt: stored.lastUpdated))
        return stored
    }

    /// LIFE-2: the notification's processing is finished at `at` (the commit time): flows 1 and 5 hide
    /// its resources from then on, except the ones written by that commit.
    static func finish(_ tx: any StoreWriteTransaction, _ n: inout NotificationRecord, reason: String, at: Timestamp) throws {
        n.finishedAt = at
        n.finishedReason = reason
        try tx.updateNotification(n)
        try tx.mask(tenant: n.establishment, key: SearchKey("decision", n.idNat), keeping: at)
    }

    static func reopen(_ tx: any StoreWriteTransaction, _ n: inout NotificationRecord) throws {
        n.finishedAt = nil
        n.finishedReason = nil
        try tx.updateNotification(n)
        try tx.unmask(tenant: n.establishment, key: SearchKey("decision", n.idNat))
    }
}
