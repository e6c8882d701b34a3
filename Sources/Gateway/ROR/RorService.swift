import Foundation
import FHIRModels
import Mappers
import Synchronization
import Validation

/// The project's terminology store, loaded on first use (the gateway starts without paying for it;
/// only a ROR projection needs it). A store that cannot be loaded is logged and answers
/// `unknownValueSet`, which the projection treats as "cannot check: keep the ROR code".
public final class LazyTerminology: TerminologyProvider, Sendable {
    let directory: String
    private let loaded = Mutex<TerminologyStore?>(nil)
    private let failed = Mutex(false)

    public init(directory: String = DataDirectory.terminologies(in: DataDirectory.locate())) { self.directory = directory }

    var store: TerminologyStore? {
        if let s = loaded.withLock({ $0 }) { return s }
        guard !failed.withLock({ $0 }) else { return nil }
        do {
            let s = try TerminologyStore.load(directory: directory)
            loaded.withLock { $0 = s }
            return s
        } catch {
            failed.withLock { $0 = true }
            Log.error("terminology.load.failed", [("directory", directory), ("error", "\(error)")])
            return nil
        }
    }

    public func validate(code: String, system: String?, display: String?, valueSet: String) -> CodeValidation {
        store?.validate(code: code, system: system, display: display, valueSet: valueSet)
            ?? CodeValidation(outcome: .unknownValueSet, message: "terminology store not loaded (\(directory))")
    }

    public func knowsCodeSystem(_ url: String) -> Bool { store?.knowsCodeSystem(url) ?? false }
}

/// The ROR mirror's parts for one gateway: the synchronizer (always), and the refresher when a ROR
/// base URL is configured.
public final class RorService: Sendable {
    public let synchronizer: RorSynchronizer
    public let refresher: RorRefresher?

    public init(configuration: GatewayConfiguration, store: any GatewayStore, terminology: any TerminologyProvider = LazyTerminology()) {
        let synchronizer = RorSynchronizer(store: store, terminology: terminology)
        self.synchronizer = synchronizer
        refresher = configuration.rorClient.map {
            RorRefresher(synchronizer: synchronizer, client: RorHTTPClient(configuration: $0), overlapSeconds: Int64(configuration.rorOverlapSeconds))
        }
    }

    // MARK: JSON views (admin API and command line)

    static func json(_ run: RorSyncRun) -> JSONValue {
        var m: [(String, JSONValue)] = [("run", .number(String(run.id))), ("trigger", .string(run.trigger.rawValue)), ("scope", .string(run.scope)),
                                        ("status", .string(run.status.rawValue)), ("startedAt", .string(run.startedAt.fhirInstant)),
                                        ("pages", .number(String(run.pages))), ("received", .number(String(run.received))),
                                        ("applied", .number(String(run.applied))), ("unitsUpdated", .number(String(run.unitsUpdated))),
                                        ("alertsRaised", .number(String(run.alertsRaised))), ("requests", .array(run.requests.map { .string($0) }))]
        if let e = run.establishment { m.append(("establishment", .string(e))) }
        if let t = run.endedAt { m.append(("endedAt", .string(t.fhirInstant))) }
        if let t = run.watermarkFrom { m.append(("watermarkFrom", .string(t.fhirInstant))) }
        if let t = run.watermarkTo { m.append(("watermarkTo", .string(t.fhirInstant))) }
        if let o = run.outcome, let v = try? JSONValue.parse(Array(o.utf8)) { m.append(("outcome", v)) }
        return .object(m)
    }

    static func json(_ a: RorAlert) -> JSONValue {
        var m: [(String, JSONValue)] = [("id", .number(String(a.id))), ("severity", .string(a.severity.rawValue)), ("kind", .string(a.kind.rawValue)),
                                        ("label", .string(a.kind.label)), ("fhirPath", .string(a.fhirPath)), ("status", .string(a.status.rawValue)),
                                        ("suspendsUpdates", .bool(a.suspendsUpdates)), ("detectedAt", .string(a.detectedAt.fhirInstant))]
        let optional: [(String, String?)] = [("platformUnit", a.platformUnit), ("rorId", a.rorId), ("oldValue", a.oldValue), ("newValue", a.newValue),
                                             ("statusBy", a.statusBy)]
        for (k, v) in optional { if let v { m.append((k, .string(v))) } }
        if let r = a.runId { m.append(("runId", .number(String(r)))) }
        return .object(m)
    }

    /// State, pairings (with the mirrored unit), the source offers, pending alerts and the last runs.
    public func status(establishment eg: String, runs: Int = 10) throws -> JSONValue {
        try synchronizer.store.read { tx in
            let est = try tx.rorEstablishment(eg)
            let units: [JSONValue] = try tx.rorPairings(establishment: eg).map { p in
                let u = try tx.rorUnit(establishment: eg, rorId: p.pairing.rorId)
                var m: [(String, JSONValue)] = [("platformUnit", .string(p.pairing.platformUnit)), ("rorId", .string(p.pairing.rorId)),
                                                ("level", .string(p.pairing.level.rawValue)), ("ssr", .bool(p.pairing.ssr)),
                                                ("createdFromRor", .bool(p.pairing.createdFromRor)), ("open", .bool(u?.isOpen ?? false)),
                                                ("name", .string(u?.name ?? ""))]
                let optional: [(String, String?)] = [("category", u?.organisationCategory), ("temporality", u?.receptionTemporality),
                                                     ("rorCareMode", u?.rorCareMode), ("careMode", u?.careMode)]
                for (k, v) in optional { if let v { m.append((k, .string(v))) } }
                return .object(m)
            }
            let today = RorSynchronizer.day(.now())
            let offers: [JSONValue] = try tx.rorSourceOffers(establishment: eg).map { o in
                .object([("rorId", .string(o.offer.rorId)), ("name", .string(o.offer.name)), ("declared", .bool(o.isDeclared)),
                         ("open", .bool(o.offer.isOpen(on: today))), ("activities", .array(o.offer.activities.map { .string($0) }))])
            }
            return .object([("establishment", .string(eg)), ("state", .string((est?.state ?? .nonSynchronise).rawValue)),
                            ("watermark", est?.watermark.map { .string($0.fhirInstant) } ?? .null),
                            ("lastFullSyncAt", est?.lastFullSyncAt.map { .string($0.fhirInstant) } ?? .null),
                            ("units", .array(units)), ("offers", .array(offers)),
                            ("alerts", .array(try tx.rorAlerts(establishment: eg, pendingOnly: true).map(Self.json))),
                            ("runs", .array(try tx.rorRuns(establishment: eg, limit: runs).map(Self.json)))])
        }
    }
}

/// Operator routes of the ROR mirror (operator certificate only, like the rest of `/admin`):
///
///     GET  /admin/ror/{eg}                        state, units, offers, pending alerts, last runs
///     POST /admin/ror/{eg}/refresh[?unit=idROR]   manual refresh (establishment: full pull; or one unit)
///     POST /admin/ror/alerts/{id}/acknowledge     an alert was read
///     POST /admin/ror/alerts/{id}/validate        the referent accepts the ROR change
enum RorRoutes {
    static func json(_ status: Int, _ v: JSONValue) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body: v.serialized())
    }

    static func establishment(_ ctx: Router.Context) throws(FHIRError) -> String {
        let eg = ctx.path["eg"] ?? ""
        guard StructureId(eg)?.kind == .finess else { throw FHIRError(status: 400, code: .value, rule: "ADMIN-PARAMETER", "établissement 1 + FINESS attendu") }
        return eg
    }

    static func failure(_ error: any Error) -> FHIRError {
        if let e = error as? RorActionError {
            let unknown = e.rule == "ROR-ALERT-UNKNOWN"
            return FHIRError(status: unknown ? 404 : 409, code: unknown ? .notFound : .businessRule, rule: e.rule, e.message)
        }
        return FHIRError(status: 500, code: .exception, rule: "ADMIN-STORE", "\(error)")
    }

    static func register(in r: inout Router, ror: RorService) {
        r.add("GET", "/admin/ror/{eg}", .operator) { ctx throws(FHIRError) in
            let eg = try establishment(ctx)
            do { return json(200, try ror.status(establishment: eg)) } catch { throw failure(error) }
        }
        r.add("POST", "/admin/ror/{eg}/refresh", .operator) { ctx throws(FHIRError) in
            let eg = try establishment(ctx)
            guard let refresher = ror.refresher else {
                throw FHIRError(status: 503, code: .notSupported, rule: "ROR-NOT-CONFIGURED", "aucun serveur ROR configuré (rorBaseURL)")
            }
            let run: RorSyncRun
            do { run = try refresher.refresh(establishment: eg, unit: ctx.query.first("unit")) } catch { throw failure(error) }
            return json(run.status == .succeeded ? 200 : 502, RorService.json(run))
        }
        for action in ["acknowledge", "validate"] {
            r.add("POST", "/admin/ror/alerts/{id}/\(action)", .operator) { ctx throws(FHIRError) in
                guard let id = Int64(ctx.path["id"] ?? "") else { throw FHIRError(status: 400, code: .value, rule: "ADMIN-PARAMETER", "identifiant d'alerte numérique attendu") }
                let by = ctx.peer?.commonName ?? "operator"
                do {
                    if action == "validate" { try ror.synchronizer.validate(alert: id, by: by) } else { try ror.synchronizer.acknowledge(alert: id, by: by) }
                } catch { throw failure(error) }
                return HTTPResponse(status: 204)
            }
        }
    }
}
