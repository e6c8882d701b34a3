import Foundation
import FHIRModels
import Mappers
import Synchronization

/// Pulls the ROR FHIR API for one establishment (or one unit), follows `Bundle.link[next]`, projects
/// and hands the batch to the synchronizer. Every pull is a recorded run; a failure (TLS, timeout,
/// HTTP error, unreadable page) records the run as failed and leaves the mirror untouched, because
/// nothing is applied before the last page is in.
///
/// Queries (ror.md §2.4, scenario 2/3): per establishment
/// `HealthcareService?organization:above.identifier=https://finess.esante.gouv.fr|{FINESS}&_include:iterate=HealthcareService:organization`,
/// with `_lastUpdated=ge{watermark − overlap}` when incremental; per unit
/// `HealthcareService?identifier={idOffre}&_include:iterate=HealthcareService:organization`, or
/// `Organization?identifier=https://oi.esante.gouv.fr|{idOI}&_include:iterate=Organization:partof` for a node.
public final class RorRefresher: Sendable {
    public let synchronizer: RorSynchronizer
    public let client: RorHTTPClient
    public let overlapSeconds: Int64
    /// A full pull (reconciliation, detects deletions) at least this often; incremental pulls otherwise.
    public let reconcileEverySeconds: Int64
    static let pageSize = 200
    static let maxPages = 500

    /// Establishments being pulled in this process: a second refresh of the same EG (daily job and admin
    /// API at once) is refused rather than applying an older snapshot after a newer one.
    private let inFlight = Mutex<Set<String>>([])

    public init(synchronizer: RorSynchronizer, client: RorHTTPClient, overlapSeconds: Int64 = 86_400, reconcileEverySeconds: Int64 = 7 * 86_400) {
        self.synchronizer = synchronizer; self.client = client
        self.overlapSeconds = overlapSeconds; self.reconcileEverySeconds = reconcileEverySeconds
    }

    var base: String {
        var b = client.configuration.baseURL
        while b.hasSuffix("/") { b.removeLast() }
        return b
    }

    struct Failure: Error { var issue: OutcomeIssue }

    // MARK: pulls

    /// Establishment-level refresh (cascades to all its units), or one unit with `unit`. The trigger
    /// defaults to `initial` for a first pull, `manualEstablishment`/`manualUnit` otherwise.
    @discardableResult
    public func refresh(establishment eg: String, unit: String? = nil, trigger: RorSyncTrigger? = nil) throws -> RorSyncRun {
        guard inFlight.withLock({ $0.insert(eg).inserted }) else {
            throw RorActionError("ROR-BUSY", "un rafraîchissement de \(eg) est déjà en cours")
        }
        defer { inFlight.withLock { _ = $0.remove(eg) } }
        return try pull(establishment: eg, unit: unit, trigger: trigger)
    }

    func pull(establishment eg: String, unit: String?, trigger: RorSyncTrigger?) throws -> RorSyncRun {
        let store = synchronizer.store
        let known = try store.read { tx in (try tx.rorEstablishment(eg), try tx.rorNodes(establishment: eg), try tx.rorPairings(establishment: eg)) }
        guard let finess = StructureId(eg).flatMap({ $0.kind == .finess ? String(eg.dropFirst()) : nil }) else {
            throw RorActionError("ROR-ARGUMENT", "\(eg) n'est pas un établissement 1 + FINESS")
        }
        if let unit {
            var run = try synchronizer.startRun(establishment: eg, trigger: trigger ?? .manualUnit, scope: "unit \(unit)")
            do {
                let node = known.1.values.first { $0.node.rorId == unit && $0.node.level != .other }
                var trees: [ElementTree] = []
                var batch = RorBatch(complete: false)
                if let node {
                    trees = try pages(nodeQuery(node.node, finess: finess), into: &run)
                    batch = try synchronizer.project(trees, establishment: eg, complete: false)
                    if !batch.nodes.contains(where: { $0.logicalId == node.node.logicalId }) { batch.missingNodes.insert(node.node.logicalId) }
                } else {
                    trees = try pages(offerQuery(unit), into: &run)
                    batch = try synchronizer.project(trees, establishment: eg, complete: false)
                    if !batch.offers.contains(where: { $0.rorId == unit }) { batch.missingOffers.insert(unit) }
                }
                return try synchronizer.apply(batch, to: run)
            } catch let f as Failure {
                synchronizer.fail(run, [f.issue]); run.status = .failed; return run
            }
        }
        // Only a `daily` pull with a watermark is incremental; the first pull of an EG is `initial`.
        let watermark = known.0?.watermark
        let effective: RorSyncTrigger = watermark == nil ? .initial : trigger == .daily ? .daily : trigger == .reconcile ? .reconcile : .manualEstablishment
        let full = effective != .daily
        let from = full ? nil : watermark.map { Timestamp(milliseconds: $0.milliseconds - overlapSeconds * 1000) }
        var run = try synchronizer.startRun(establishment: eg, trigger: effective, scope: full ? "establishment (full)" : "establishment", watermarkFrom: from)
        do {
            var trees = try pages(establishmentQuery(finess: finess, since: from), into: &run)
            var batch = try synchronizer.project(trees, establishment: eg, complete: full)
            if full {
                // A paired unit missing from the full pull: look it up alone (moved to another EG, or gone).
                let pairings = known.2.map(\.pairing)
                for p in pairings {
                    if p.level == .offer, !batch.offers.contains(where: { $0.rorId == p.rorId }) {
                        trees += try pages(offerQuery(p.rorId), into: &run)
                    } else if p.level != .offer, let id = p.targetLogicalId, !batch.nodes.contains(where: { $0.logicalId == id }),
                              let node = known.1[id]?.node {
                        trees += try pages(nodeQuery(node, finess: finess), into: &run)
                    }
                }
                batch = try synchronizer.project(trees, establishment: eg, complete: true)
                batch.missingOffers = Set(pairings.filter { p in p.level == .offer && !batch.offers.contains { $0.rorId == p.rorId } }.map(\.rorId))
                batch.missingNodes = Set(pairings.compactMap { p in
                    p.level == .offer ? nil : p.targetLogicalId.flatMap { id in batch.nodes.contains { $0.logicalId == id } ? nil : id }
                })
            }
            return try synchronizer.apply(batch, to: run)
        } catch let f as Failure {
            synchronizer.fail(run, [f.issue]); run.status = .failed; return run
        }
    }

    /// The daily job: every tracked establishment, incremental unless its last full pull is older than
    /// the reconciliation period. Stops between establishments when `stopping()` says so.
    @discardableResult
    public func daily(stopping: () -> Bool = { false }) -> [RorSyncRun] {
        let establishments: [RorEstablishmentSync]
        do { establishments = try synchronizer.store.read { tx in try tx.rorEstablishments() } } catch {
            Log.error("ror.daily.failed", [("error", "\(error)")])
            return []
        }
        var runs: [RorSyncRun] = []
        let now = synchronizer.clock()
        for e in establishments {
            if stopping() { break }
            let due = e.lastFullSyncAt.map { now.milliseconds - $0.milliseconds >= reconcileEverySeconds * 1000 } ?? true
            do { runs.append(try refresh(establishment: e.establishment, trigger: due ? .reconcile : .daily)) } catch {
                Log.error("ror.daily.failed", [("establishment", e.establishment), ("error", "\(error)")])
            }
        }
        return runs
    }

    // MARK: queries

    func query(_ path: String, _ items: [(String, String)]) -> String {
        base + "/" + path + "?" + items.map { "\($0.0)=\(FHIRRoutes.escape($0.1))" }.joined(separator: "&")
    }

    func establishmentQuery(finess: String, since: Timestamp?) -> String {
        var items = [("organization:above.identifier", RorSystems.finess + "|" + finess),
                     ("_include:iterate", "HealthcareService:organization"), ("_count", String(Self.pageSize))]
        if let since { items.append(("_lastUpdated", "ge" + since.fhirInstant)) }
        return query("HealthcareService", items)
    }

    func offerQuery(_ rorId: String) -> String {
        query("HealthcareService", [("identifier", rorId), ("_include:iterate", "HealthcareService:organization")])
    }

    func nodeQuery(_ node: RorNode, finess: String) -> String {
        let identifier = node.idOI.map { RorSystems.oi + "|" + $0 } ?? RorSystems.finess + "|" + (node.finess ?? finess)
        return query("Organization", [("identifier", identifier), ("_include:iterate", "Organization:partof")])
    }

    /// Same scheme, host and port as the configured base: a `next` link elsewhere is refused (the
    /// client certificate is never presented to another server).
    func sameOrigin(_ url: String) -> Bool {
        guard let a = URLComponents(string: url), let b = URLComponents(string: base) else { return false }
        return a.scheme?.lowercased() == "https" && a.scheme?.lowercased() == b.scheme?.lowercased()
            && a.host?.lowercased() == b.host?.lowercased() && (a.port ?? 443) == (b.port ?? 443)
    }

    /// Every page of a search, following `next`; each page must be a searchset Bundle.
    func pages(_ first: String, into run: inout RorSyncRun) throws(Failure) -> [ElementTree] {
        var trees: [ElementTree] = []
        var next: String? = first
        while let url = next {
            guard run.pages < Self.maxPages else {
                throw Failure(issue: OutcomeIssue(severity: .error, code: .tooCostly, message: "plus de \(Self.maxPages) pages : pull interrompu", rule: "ROR-PAGES"))
            }
            guard sameOrigin(url) else {
                throw Failure(issue: OutcomeIssue(severity: .error, code: .security, message: "lien next hors du serveur ROR configuré refusé : \(url)",
                                                  expression: "Bundle.link.where(relation='next').url", rule: "ROR-NEXT-ORIGIN"))
            }
            run.requests.append(url)
            let response: RorHTTPResponse
            do { response = try client.get(url) } catch {
                throw Failure(issue: OutcomeIssue(severity: .error, code: error.isTimeout ? .timeout : .transient,
                                                  message: "ROR injoignable (\(error.description))", rule: "ROR-TRANSPORT"))
            }
            run.pages += 1
            guard response.status == 200 else {
                throw Failure(issue: OutcomeIssue(severity: .error, code: .exception, message: "le ROR a répondu HTTP \(response.status) à \(url)",
                                                  rule: "ROR-HTTP-STATUS"))
            }
            let tree: ElementTree
            do { tree = try FHIRJSONReader.read(response.body) } catch {
                throw Failure(issue: OutcomeIssue(severity: .error, code: .structure, message: "réponse du ROR illisible : \(error.message)",
                                                  location: error.location, rule: "ROR-RESPONSE"))
            }
            guard let bundle = BundleView(tree), bundle.type == "searchset" else {
                throw Failure(issue: OutcomeIssue(severity: .error, code: .structure, message: "réponse du ROR : Bundle searchset attendu",
                                                  expression: tree.typeName(tree.root), rule: "ROR-RESPONSE"))
            }
            trees.append(tree)
            next = bundle.link("next")
        }
        return trees
    }
}
