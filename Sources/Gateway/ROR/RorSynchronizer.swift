import FHIRModels
import Mappers
import Validation

/// What one pull (or one file import) brought for one establishment, already projected.
public struct RorBatch: Sendable {
    public var offers: [RorOffer] = []
    public var nodes: [RorNode] = []
    public var issues: [OutcomeIssue] = []
    /// A full pull of the establishment: offers of its copy that are missing from it are gone.
    public var complete: Bool
    /// idROR of offers / logical ids of nodes looked up one by one and not found (gone).
    public var missingOffers: Set<String> = []
    public var missingNodes: Set<String> = []
    public init(complete: Bool) { self.complete = complete }
}

/// Refusal of an operator/referent action on the ROR sync (pairing rules, state, unknown alert).
public struct RorActionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var rule: String
    public var message: String
    public init(_ rule: String, _ message: String) { self.rule = rule; self.message = message }
    init(_ refusal: RorPairingRefusal) { self.init(refusal.rule.rawValue, refusal.message) }
    public var description: String { "\(message) [\(rule)]" }
}

/// The ROR mirror's synchronisation engine over the store (no network here: `RorRefresher` pulls).
///
/// Every write is one SQLite transaction with its audit record (ids, codes and counts only):
/// a batch goes to the EG's source copy, then paired units are compared with it (ror.md §4.5):
/// blocking and impacting changes raise alerts that suspend the establishment's updates; while
/// updates are active, informative changes are applied to the mirror automatically.
public final class RorSynchronizer: Sendable {
    public let store: any GatewayStore
    public let projector: RorProjector
    let clock: @Sendable () -> Timestamp

    public init(store: any GatewayStore, terminology: any TerminologyProvider, clock: @escaping @Sendable () -> Timestamp = { .now() }) {
        self.store = store
        self.projector = RorProjector(terminology: terminology)
        self.clock = clock
    }

    static func day(_ t: Timestamp) -> String { String(t.fhirInstant.prefix(10)) }

    // MARK: projection

    /// Projects inputs (single resources or bundles) for one EG, resolving organisations across all
    /// inputs and those kept from earlier pulls of that EG.
    public func project(_ trees: [ElementTree], establishment: String, complete: Bool) throws -> RorBatch {
        try store.read { tx in try project(tx, trees, establishment: establishment, complete: complete) }
    }

    /// `project` with the organisations kept in `tx` (a transaction that may already hold writes).
    public func project(_ tx: any StoreReadTransaction, _ trees: [ElementTree], establishment: String, complete: Bool) throws -> RorBatch {
        let today = Self.day(clock())
        var known = try tx.rorNodes(establishment: establishment).mapValues(\.node)
        // Organisations first, from every input, so that an offer may name one given in another file.
        for t in trees { for n in projector.project(t, today: today).nodes { known[n.logicalId] = n } }
        var batch = RorBatch(complete: complete)
        var seenNodes = Set<String>()
        for t in trees {
            let p = projector.project(t, today: today, knownNodes: known)
            batch.offers += p.offers
            batch.issues += p.issues
            for n in p.nodes where seenNodes.insert(n.logicalId).inserted { batch.nodes.append(n) }
        }
        return batch
    }

    // MARK: runs

    public func startRun(establishment: String, trigger: RorSyncTrigger, scope: String, watermarkFrom: Timestamp? = nil) throws -> RorSyncRun {
        try store.write { tx in try startRun(tx, establishment: establishment, trigger: trigger, scope: scope, watermarkFrom: watermarkFrom) }
    }

    public func startRun(_ tx: any StoreWriteTransaction, establishment: String, trigger: RorSyncTrigger, scope: String,
                         watermarkFrom: Timestamp? = nil) throws -> RorSyncRun {
        var run = RorSyncRun(establishment: establishment, trigger: trigger, scope: scope, startedAt: clock(), watermarkFrom: watermarkFrom)
        if try tx.rorEstablishment(establishment) == nil {
            try tx.putRorEstablishment(RorEstablishmentSync(establishment: establishment, stateChangedAt: run.startedAt))
        }
        run.id = try tx.startRorRun(run)
        return run
    }

    /// Records a failed run (the mirror and the source copy are left as they were).
    public func fail(_ run: RorSyncRun, _ issues: [OutcomeIssue]) {
        var r = run
        r.status = .failed
        r.endedAt = clock()
        r.outcome = String(decoding: OperationOutcomeBuilder.json(issues), as: UTF8.self)
        do {
            try store.write { tx in
                try tx.finishRorRun(r)
                try tx.audit(AuditEntry(geographicEntityId: r.establishment, interaction: "ror-sync", resourceType: "HealthcareService",
                                        status: 502, outcome: "run \(r.id) \(r.trigger.rawValue) failed"))
            }
        } catch {
            Log.error("ror.run.record.failed", [("run", String(r.id)), ("error", "\(error)")])
        }
        Log.warning("ror.sync.failed", [("run", String(r.id)), ("establishment", r.establishment ?? "-"), ("trigger", r.trigger.rawValue),
                                        ("reason", issues.first?.message ?? "-")])
    }

    /// Applies a batch to the EG's source copy, compares the paired units, finishes the run; one transaction.
    @discardableResult
    /// `fromServer`: a pull of the live ROR moves the watermark (and a full one the reconciliation date);
    /// a file import does not.
    public func apply(_ batch: RorBatch, to run: RorSyncRun, by actor: String = "ror-sync", fromServer: Bool = true) throws -> RorSyncRun {
        let r = try store.write { tx in try apply(tx, batch, to: run, by: actor, fromServer: fromServer) }
        Log.info("ror.sync", [("run", String(r.id)), ("establishment", r.establishment ?? "-"), ("trigger", r.trigger.rawValue),
                              ("offers", String(r.applied)), ("units", String(r.unitsUpdated)), ("alerts", String(r.alertsRaised))])
        return r
    }

    /// `apply` inside the caller's transaction (no log line).
    public func apply(_ tx: any StoreWriteTransaction, _ batch: RorBatch, to run: RorSyncRun, by actor: String = "ror-sync",
                      fromServer: Bool = true) throws -> RorSyncRun {
        guard let eg = run.establishment else { throw StoreError.invalidArgument("ROR run without establishment") }
        let now = clock()
        var r = run
        let counts = try applySource(tx, batch, establishment: eg, now: now)
        let evaluation = try evaluate(tx, establishment: eg, runId: r.id, now: now, by: actor)
        r.received = batch.offers.count
        r.applied = counts
        r.unitsUpdated = evaluation.units
        r.alertsRaised = evaluation.alerts
        r.status = .succeeded
        r.endedAt = clock()
        r.watermarkTo = fromServer ? r.startedAt : nil
        r.outcome = batch.issues.isEmpty ? nil : String(decoding: OperationOutcomeBuilder.json(batch.issues), as: UTF8.self)
        if fromServer, var e = try tx.rorEstablishment(eg) {
            if r.trigger != .manualUnit { e.watermark = r.startedAt }
            if batch.complete { e.lastFullSyncAt = r.startedAt }
            try tx.putRorEstablishment(e)
        }
        try tx.finishRorRun(r)
        try tx.audit(AuditEntry(geographicEntityId: eg, interaction: "ror-sync", resourceType: "HealthcareService",
                                resourceIds: Array(Set(batch.offers.map(\.rorId))).sorted().prefix(50).map { $0 }, status: 200,
                                outcome: "run \(r.id) \(r.trigger.rawValue): \(r.applied) offers, \(r.unitsUpdated) units, \(r.alertsRaised) alerts"))
        return r
    }

    /// Source copy of the EG: its organisations, and the offers that hang under it or that it already
    /// knew (a moved offer keeps its old copy, updated: that is how the move is seen). Returns how many
    /// offers were written.
    func applySource(_ tx: any StoreWriteTransaction, _ batch: RorBatch, establishment eg: String, now: Timestamp) throws -> Int {
        let nodes = try tx.rorNodes(establishment: eg)
        for n in batch.nodes { try tx.putRorNode(RorSourceNode(node: n, establishment: eg, seenAt: now)) }
        for id in batch.missingNodes {
            if var n = nodes[id], n.goneAt == nil { n.goneAt = now; try tx.putRorNode(n) }
        }
        let existing = Dictionary(try tx.rorSourceOffers(establishment: eg).map { ($0.offer.rorId, $0) }, uniquingKeysWith: { a, _ in a })
        var written = 0
        var seen = Set<String>()
        for o in batch.offers where seen.insert(o.rorId).inserted {
            guard o.belongs(to: eg) || existing[o.rorId] != nil else { continue }
            try tx.putRorSourceOffer(RorSourceOffer(offer: o, establishment: eg, seenAt: now))
            written += 1
        }
        for (id, e) in existing where e.goneAt == nil && !seen.contains(id) && (batch.missingOffers.contains(id) || (batch.complete && e.offer.belongs(to: eg))) {
            var gone = e
            gone.goneAt = now
            try tx.putRorSourceOffer(gone)
        }
        return written
    }

    // MARK: comparison

    /// What the ROR says now about a paired target, or nil when it is gone.
    func currentFacts(_ p: RorPairing, tx: any StoreReadTransaction, nodes: [String: RorSourceNode], today: String) throws -> RorUnitFacts? {
        let eg = p.establishment
        if p.level == .offer {
            guard let o = try tx.rorSourceOffer(establishment: eg, rorId: p.rorId), o.goneAt == nil else { return nil }
            return RorUnitFacts(offer: o.offer, establishment: eg, today: today)
        }
        guard let id = p.targetLogicalId, let n = nodes[id], n.goneAt == nil else { return nil }
        let offers = try tx.rorSourceOffers(establishment: eg).filter { $0.goneAt == nil && $0.offer.nodeChain.contains(id) }.map(\.offer)
        return RorUnitFacts(node: n.node, establishment: Self.locate(n.node, nodes: nodes, preferring: eg), offers: offers,
                            mirrorEstablishment: eg, today: today)
    }

    /// The EG (`1`+FINESS) a node hangs under: the preferred one when it is on the chain, else the nearest.
    static func locate(_ node: RorNode, nodes: [String: RorSourceNode], preferring eg: String) -> String {
        var finess: [String] = []
        var cur: RorNode? = node
        var steps = 0
        while let n = cur, steps < 16 {
            if let f = n.finess { finess.append("1" + f) }
            cur = n.parentLogicalId.flatMap { nodes[$0]?.node }
            steps += 1
        }
        return finess.contains(eg) ? eg : finess.first ?? eg
    }

    /// The parents of a node (logical ids, nearest first).
    static func parents(of node: RorNode, nodes: [String: RorSourceNode]) -> [String] {
        var out: [String] = []
        var next = node.parentLogicalId
        while let id = next, out.count < 16, !out.contains(id) {
            out.append(id)
            next = nodes[id]?.node.parentLogicalId
        }
        return out
    }

    /// Compares every paired unit of the EG with the ROR (only once updates are switched on): blocking
    /// and impacting changes open alerts (resolved by themselves when the ROR goes back); the state
    /// follows (suspended while one is pending); when active, informative changes are applied.
    func evaluate(_ tx: any StoreWriteTransaction, establishment eg: String, runId: Int64?, now: Timestamp, by actor: String) throws -> (units: Int, alerts: Int) {
        guard var est = try tx.rorEstablishment(eg), est.state.watchesChanges else { return (0, 0) }
        let today = Self.day(now)
        let pairings = try tx.rorPairings(establishment: eg)
        let nodes = try tx.rorNodes(establishment: eg)
        var pending = try tx.rorAlerts(establishment: eg, pendingOnly: true)
        var raised = 0, units = 0
        var current: [String: RorUnitFacts] = [:]
        var changes: [String: [RorDetectedChange]] = [:]
        func raise(_ unit: RorPairing, _ kind: RorAlertKind, path: String, old: String?, new: String?) throws {
            let a = RorAlert(establishment: eg, platformUnit: unit.platformUnit, rorId: unit.rorId, kind: kind, fhirPath: path, oldValue: old,
                             newValue: new, detectedAt: now, runId: runId)
            var stored = a
            stored.id = try tx.addRorAlert(a)
            pending.append(stored)
            raised += 1
        }
        func resolve(_ a: RorAlert) throws {
            try tx.setRorAlertStatus(id: a.id, .resolved, by: actor, at: now)
            pending.removeAll { $0.id == a.id }
        }
        for stored in pairings {
            let p = stored.pairing
            let facts = try currentFacts(p, tx: tx, nodes: nodes, today: today)
            let found = RorChangeClassifier.changes(applied: stored.applied, current: facts)
            if let facts { current[p.platformUnit] = facts }
            changes[p.platformUnit] = found
            let suspending = found.filter { $0.kind.severity.suspendsUpdates }
            for a in pending where a.platformUnit == p.platformUnit && a.suspendsUpdates
                && !suspending.contains(where: { $0.kind == a.kind && $0.newValue == a.newValue }) {
                try resolve(a)
            }
            for c in suspending where !pending.contains(where: { $0.platformUnit == p.platformUnit && $0.kind == c.kind && $0.newValue == c.newValue }) {
                try raise(p, c.kind, path: c.path, old: c.oldValue, new: c.newValue)
            }
        }
        let suspended = pending.contains { $0.suspendsUpdates }
        let next: RorSyncState? = est.state == .miseAJourOffreActive && suspended ? est.state.after(.suspend)
            : est.state == .miseAJourOffreSuspendue && !suspended ? est.state.after(.resume) : nil
        if let next {
            est.state = next
            est.stateChangedAt = now
            est.stateChangedBy = actor
            try tx.putRorEstablishment(est)
            try tx.audit(AuditEntry(geographicEntityId: eg, interaction: "ror-state", status: 200, outcome: next.rawValue))
        }
        guard est.state.appliesUpdates else { return (0, raised) }
        for stored in pairings {
            let p = stored.pairing
            guard let facts = current[p.platformUnit] else { continue }
            let informative = (changes[p.platformUnit] ?? []).filter { $0.kind.severity == .informative }
            let merged = RorChangeClassifier.merge(applied: stored.applied, current: facts, accepting: Set(informative.map(\.kind)))
            if merged != stored.applied {
                try write(stored, applied: merged, tx: tx, now: now)
                if merged.unit != stored.applied.unit { units += 1 }
            }
            for c in informative { try raise(p, c.kind, path: c.path, old: c.oldValue, new: c.newValue) }
            // Notes are conditions: one pending alert while the projection says so.
            for n in facts.notes where !pending.contains(where: { $0.platformUnit == p.platformUnit && $0.kind == n.kind && $0.newValue == n.value }) {
                try raise(p, n.kind, path: n.path, old: nil, new: n.value)
            }
            for a in pending where a.platformUnit == p.platformUnit && a.kind.isNote
                && !facts.notes.contains(where: { $0.kind == a.kind && $0.value == a.newValue }) {
                try resolve(a)
            }
        }
        return (units, raised)
    }

    func write(_ stored: RorStoredPairing, applied: RorUnitFacts, tx: any StoreWriteTransaction, now: Timestamp) throws {
        var p = stored
        p.applied = applied
        try tx.putRorPairing(p)
        try tx.upsertRorUnit(applied.unit, at: now)
    }

    // MARK: referent / operator actions

    func establishment(_ tx: any StoreWriteTransaction, _ eg: String, now: Timestamp) throws -> RorEstablishmentSync {
        if let e = try tx.rorEstablishment(eg) { return e }
        let e = RorEstablishmentSync(establishment: eg, stateChangedAt: now)
        try tx.putRorEstablishment(e)
        return e
    }

    /// Pairs a platform unit with a ROR level of the EG (an offer by identifiantOffre, an OI by its
    /// identifier, the EG by `1`+FINESS), under the pairing rules. The mirror row is written from the
    /// ROR as it is now. Pairing in `nonSynchronise` starts the synchronisation.
    @discardableResult
    public func pair(establishment eg: String, platformUnit: String, rorId: String, ssr: Bool = false, by actor: String) throws -> RorStoredPairing {
        try attach(establishment: eg, platformUnit: platformUnit, rorId: rorId, ssr: ssr, create: false, by: actor)
    }

    /// Creates a platform unit from a ROR unit: only once the structure is validated, and only when the
    /// unit is declared in the ROR under this EG and open there (no closure, no closure type).
    @discardableResult
    public func createUnit(establishment eg: String, rorId: String, platformUnit: String? = nil, ssr: Bool = false, by actor: String) throws -> RorStoredPairing {
        try attach(establishment: eg, platformUnit: platformUnit ?? rorId, rorId: rorId, ssr: ssr, create: true, by: actor)
    }

    func attach(establishment eg: String, platformUnit: String, rorId: String, ssr: Bool, create: Bool, by actor: String) throws -> RorStoredPairing {
        try store.write { tx in try attach(tx, establishment: eg, platformUnit: platformUnit, rorId: rorId, ssr: ssr, create: create, by: actor) }
    }

    /// `pair` (create false) or `createUnit` (create true) inside the caller's transaction.
    public func attach(_ tx: any StoreWriteTransaction, establishment eg: String, platformUnit: String, rorId: String, ssr: Bool = false,
                       create: Bool, by actor: String) throws -> RorStoredPairing {
        guard !platformUnit.isEmpty, !rorId.isEmpty else { throw RorActionError("ROR-ARGUMENT", "unité de la plateforme et idROR requis") }
        let now = clock()
        let today = Self.day(now)
        var est = try establishment(tx, eg, now: now)
        if create, !est.state.allowsUnitCreation {
            throw RorActionError(RorPairingRefusal(.state, "création d'unité depuis le ROR impossible dans l'état \(est.state.rawValue) (structure non validée)"))
        }
        let nodes = try tx.rorNodes(establishment: eg)
        var facts: RorUnitFacts
        var pairing: RorPairing
        if let o = try tx.rorSourceOffer(establishment: eg, rorId: rorId), o.isDeclared {
            facts = RorUnitFacts(offer: o.offer, establishment: eg, today: today)
            pairing = RorPairing(establishment: eg, platformUnit: platformUnit, rorId: rorId, level: .offer, ssr: ssr, chain: o.offer.nodeChain,
                                 targetLogicalId: o.offer.logicalId, createdFromRor: create)
        } else if let n = nodes.values.first(where: { $0.goneAt == nil && $0.node.rorId == rorId && $0.node.level != .other }),
                  Self.locate(n.node, nodes: nodes, preferring: eg) == eg {
            let offers = try tx.rorSourceOffers(establishment: eg).filter { $0.isDeclared && $0.offer.nodeChain.contains(n.node.logicalId) }.map(\.offer)
            facts = RorUnitFacts(node: n.node, establishment: eg, offers: offers, mirrorEstablishment: eg, today: today)
            pairing = RorPairing(establishment: eg, platformUnit: platformUnit, rorId: rorId, level: n.node.level, ssr: ssr,
                                 chain: Self.parents(of: n.node, nodes: nodes), targetLogicalId: n.node.logicalId, createdFromRor: create)
        } else {
            throw RorActionError(RorPairingRefusal(.notDeclared, "\(rorId) n'est pas une unité déclarée dans le ROR pour l'établissement \(eg)"))
        }
        if create, !facts.unit.isOpen || facts.closure?.type != nil {
            throw RorActionError(RorPairingRefusal(.notOpen, "\(rorId) n'est pas ouverte dans le ROR (\(facts.closure?.summary ?? "fermée")) : création refusée"))
        }
        let existing = try tx.rorPairings(establishment: eg).map(\.pairing)
        if let refusal = RorPairingRules.check(pairing, activities: facts.activities, existing: existing) { throw RorActionError(refusal) }
        // The ROR unit may be paired in another EG's mirror (a unit moved): one platform unit per ROR unit.
        if try tx.rorUnit(establishment: eg, rorId: rorId) != nil {
            throw RorActionError(RorPairingRefusal(.rorUnitAlreadyPaired, "l'unité ROR \(rorId) est déjà dans le miroir de \(eg)"))
        }
        let stored = RorStoredPairing(pairing: pairing, applied: facts, pairedAt: now, pairedBy: actor)
        try write(stored, applied: facts, tx: tx, now: now)
        if est.state == .nonSynchronise, let next = est.state.after(.startPairing) {
            est.state = next; est.stateChangedAt = now; est.stateChangedBy = actor
            try tx.putRorEstablishment(est)
        }
        try tx.audit(AuditEntry(geographicEntityId: eg, interaction: create ? "ror-unit-create" : "ror-pair", resourceType: "HealthcareService",
                                resourceIds: [rorId], status: 200, outcome: "\(platformUnit) ↔ \(rorId) (\(pairing.level.rawValue)) by \(actor)"))
        return stored
    }

    /// Removes a pairing and its mirror row; its pending alerts are resolved.
    public func unpair(establishment eg: String, platformUnit: String, by actor: String) throws {
        let now = clock()
        try store.write { tx in
            guard let p = try tx.rorPairings(establishment: eg).first(where: { $0.pairing.platformUnit == platformUnit }) else {
                throw RorActionError("ROR-PAIRING-UNKNOWN", "l'unité \(platformUnit) n'est pas appariée dans \(eg)")
            }
            try detach(p.pairing, tx: tx, now: now, by: actor)
            try tx.audit(AuditEntry(geographicEntityId: eg, interaction: "ror-unpair", resourceType: "HealthcareService", resourceIds: [p.pairing.rorId],
                                    status: 200, outcome: "\(platformUnit) by \(actor)"))
        }
    }

    func detach(_ p: RorPairing, tx: any StoreWriteTransaction, now: Timestamp, by actor: String) throws {
        try tx.deleteRorPairing(establishment: p.establishment, platformUnit: p.platformUnit)
        try tx.deleteRorUnit(establishment: p.establishment, rorId: p.rorId)
        for a in try tx.rorAlerts(establishment: p.establishment, pendingOnly: true) where a.platformUnit == p.platformUnit {
            try tx.setRorAlertStatus(id: a.id, .resolved, by: actor, at: now)
        }
    }

    /// A referent/operator transition (suspend and resume are the engine's, not a person's).
    @discardableResult
    public func transition(establishment eg: String, _ event: RorSyncEvent, by actor: String) throws -> RorSyncState {
        try store.write { tx in try transition(tx, establishment: eg, event, by: actor) }
    }

    /// `transition` inside the caller's transaction.
    public func transition(_ tx: any StoreWriteTransaction, establishment eg: String, _ event: RorSyncEvent, by actor: String) throws -> RorSyncState {
        guard event != .suspend && event != .resume else {
            throw RorActionError("ROR-STATE", "la suspension et la reprise des mises à jour suivent les alertes, elles ne se commandent pas")
        }
        let now = clock()
        var est = try establishment(tx, eg, now: now)
        guard let next = est.state.after(event) else {
            throw RorActionError("ROR-STATE", "transition \(event.rawValue) impossible depuis l'état \(est.state.rawValue)")
        }
        let pairings = try tx.rorPairings(establishment: eg)
        if event == .validateStructure, pairings.isEmpty {
            throw RorActionError("ROR-STATE", "aucune unité appariée : la structure ne peut pas être validée")
        }
        if event == .reset {
            for p in pairings { try detach(p.pairing, tx: tx, now: now, by: actor) }
        }
        est.state = next; est.stateChangedAt = now; est.stateChangedBy = actor
        try tx.putRorEstablishment(est)
        try tx.audit(AuditEntry(geographicEntityId: eg, interaction: "ror-state", status: 200, outcome: "\(event.rawValue) → \(next.rawValue) by \(actor)"))
        // Switching updates on compares the mirror with the ROR at once.
        if event == .activateUpdates { _ = try evaluate(tx, establishment: eg, runId: nil, now: now, by: actor) }
        return try tx.rorEstablishment(eg)?.state ?? next
    }

    public func acknowledge(alert id: Int64, by actor: String) throws {
        let now = clock()
        try store.write { tx in
            guard let a = try tx.rorAlert(id: id), a.status.isPending else { throw RorActionError("ROR-ALERT-UNKNOWN", "alerte \(id) inconnue ou déjà traitée") }
            try tx.setRorAlertStatus(id: id, .acknowledged, by: actor, at: now)
            try tx.audit(AuditEntry(geographicEntityId: a.establishment, interaction: "ror-alert-acknowledge", resourceIds: a.rorId.map { [$0] } ?? [],
                                    status: 200, outcome: "alert \(id) \(a.kind.rawValue) by \(actor)"))
        }
    }

    /// The referent validates an alert: a blocking or impacting change is taken into the mirror (a unit
    /// gone or moved away leaves it), then updates resume if nothing else is pending.
    public func validate(alert id: Int64, by actor: String) throws {
        let now = clock()
        let today = Self.day(now)
        try store.write { tx in
            guard let a = try tx.rorAlert(id: id), a.status.isPending else { throw RorActionError("ROR-ALERT-UNKNOWN", "alerte \(id) inconnue ou déjà traitée") }
            let eg = a.establishment
            try tx.setRorAlertStatus(id: id, .validated, by: actor, at: now)
            if a.suspendsUpdates, let unit = a.platformUnit,
               let stored = try tx.rorPairings(establishment: eg).first(where: { $0.pairing.platformUnit == unit }) {
                let nodes = try tx.rorNodes(establishment: eg)
                let facts = try currentFacts(stored.pairing, tx: tx, nodes: nodes, today: today)
                if a.kind == .gone || a.kind == .movedEstablishment || facts == nil {
                    try detach(stored.pairing, tx: tx, now: now, by: actor)
                } else if let facts {
                    try write(stored, applied: RorChangeClassifier.merge(applied: stored.applied, current: facts, accepting: [a.kind]), tx: tx, now: now)
                }
            }
            try tx.audit(AuditEntry(geographicEntityId: eg, interaction: "ror-alert-validate", resourceIds: a.rorId.map { [$0] } ?? [],
                                    status: 200, outcome: "alert \(id) \(a.kind.rawValue) by \(actor)"))
            _ = try evaluate(tx, establishment: eg, runId: nil, now: now, by: actor)
        }
    }
}
