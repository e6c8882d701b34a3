import FHIRModels
import Mappers

// MARK: - records

/// Sync bookkeeping of one establishment (EG, `1`+FINESS).
public struct RorEstablishmentSync: Sendable, Equatable {
    public var establishment: String
    public var state: RorSyncState
    /// Start time of the last successful pull (incremental pulls ask `_lastUpdated=ge{watermark − overlap}`).
    public var watermark: Timestamp?
    /// Start time of the last successful full pull (reconciliation).
    public var lastFullSyncAt: Timestamp?
    public var stateChangedAt: Timestamp
    public var stateChangedBy: String?

    public init(establishment: String, state: RorSyncState = .nonSynchronise, watermark: Timestamp? = nil, lastFullSyncAt: Timestamp? = nil,
                stateChangedAt: Timestamp, stateChangedBy: String? = nil) {
        self.establishment = establishment; self.state = state; self.watermark = watermark; self.lastFullSyncAt = lastFullSyncAt
        self.stateChangedAt = stateChangedAt; self.stateChangedBy = stateChangedBy
    }
}

/// What the ROR last said about one offer, in the copy kept for one tracked EG (where the ROR places
/// it is in `offer.finessChain`: a moved offer stays in the old EG's copy, which is how the move is seen);
/// `goneAt` once a full pull of that EG no longer had it.
public struct RorSourceOffer: Sendable, Equatable {
    public var offer: RorOffer
    /// The tracked EG whose copy this is (`1`+FINESS).
    public var establishment: String
    public var seenAt: Timestamp
    public var goneAt: Timestamp?
    public init(offer: RorOffer, establishment: String, seenAt: Timestamp, goneAt: Timestamp? = nil) {
        self.offer = offer; self.establishment = establishment; self.seenAt = seenAt; self.goneAt = goneAt
    }
    /// Declared in the ROR under this EG right now.
    public var isDeclared: Bool { goneAt == nil && offer.belongs(to: establishment) }
}

/// An Organization seen in one tracked EG's pulls; `goneAt` once looked up and not found.
public struct RorSourceNode: Sendable, Equatable {
    public var node: RorNode
    public var establishment: String
    public var seenAt: Timestamp
    public var goneAt: Timestamp?
    public init(node: RorNode, establishment: String, seenAt: Timestamp, goneAt: Timestamp? = nil) {
        self.node = node; self.establishment = establishment; self.seenAt = seenAt; self.goneAt = goneAt
    }
}

/// A pairing with the facts the mirror applied for it (compared with the ROR on every run).
public struct RorStoredPairing: Sendable, Equatable {
    public var pairing: RorPairing
    public var applied: RorUnitFacts
    public var pairedAt: Timestamp
    public var pairedBy: String?
}

public struct RorAlert: Sendable, Equatable {
    public var id: Int64
    public var establishment: String
    public var platformUnit: String?
    public var rorId: String?
    public var kind: RorAlertKind
    public var severity: RorAlertSeverity { kind.severity }
    public var suspendsUpdates: Bool { severity.suspendsUpdates }
    public var fhirPath: String
    public var oldValue: String?
    public var newValue: String?
    public var detectedAt: Timestamp
    public var runId: Int64?
    public var status: RorAlertStatus
    public var statusBy: String?
    public var statusAt: Timestamp?

    public init(id: Int64 = 0, establishment: String, platformUnit: String?, rorId: String?, kind: RorAlertKind, fhirPath: String,
                oldValue: String?, newValue: String?, detectedAt: Timestamp, runId: Int64?, status: RorAlertStatus = .open,
                statusBy: String? = nil, statusAt: Timestamp? = nil) {
        self.id = id; self.establishment = establishment; self.platformUnit = platformUnit; self.rorId = rorId; self.kind = kind
        self.fhirPath = fhirPath; self.oldValue = oldValue; self.newValue = newValue; self.detectedAt = detectedAt; self.runId = runId
        self.status = status; self.statusBy = statusBy; self.statusAt = statusAt
    }
}

public enum RorSyncTrigger: String, Sendable, CaseIterable {
    case daily, manualEstablishment, manualUnit, initial, reconcile
}

public enum RorRunStatus: String, Sendable { case running, succeeded, failed }

/// One synchronisation run: trigger, scope, window, requests, counts and outcome.
public struct RorSyncRun: Sendable, Equatable {
    public var id: Int64
    public var establishment: String?
    public var trigger: RorSyncTrigger
    /// `establishment`, `unit <idROR>`, or `files <n>`.
    public var scope: String
    public var startedAt: Timestamp
    public var endedAt: Timestamp?
    public var watermarkFrom: Timestamp?
    public var watermarkTo: Timestamp?
    public var requests: [String]
    public var pages: Int
    /// Offers received / offers of the establishment written / units of the mirror changed / alerts raised.
    public var received: Int
    public var applied: Int
    public var unitsUpdated: Int
    public var alertsRaised: Int
    public var status: RorRunStatus
    /// The failure, or the projection issues, as an OperationOutcome (JSON text).
    public var outcome: String?

    public init(id: Int64 = 0, establishment: String?, trigger: RorSyncTrigger, scope: String, startedAt: Timestamp, endedAt: Timestamp? = nil,
                watermarkFrom: Timestamp? = nil, watermarkTo: Timestamp? = nil, requests: [String] = [], pages: Int = 0, received: Int = 0,
                applied: Int = 0, unitsUpdated: Int = 0, alertsRaised: Int = 0, status: RorRunStatus = .running, outcome: String? = nil) {
        self.id = id; self.establishment = establishment; self.trigger = trigger; self.scope = scope; self.startedAt = startedAt
        self.endedAt = endedAt; self.watermarkFrom = watermarkFrom; self.watermarkTo = watermarkTo; self.requests = requests
        self.pages = pages; self.received = received; self.applied = applied; self.unitsUpdated = unitsUpdated
        self.alertsRaised = alertsRaised; self.status = status; self.outcome = outcome
    }
}

// MARK: - protocol

public protocol RorSyncReads {
    func rorEstablishment(_ establishment: String) throws -> RorEstablishmentSync?
    func rorEstablishments() throws -> [RorEstablishmentSync]
    func rorSourceOffer(establishment: String, rorId: String) throws -> RorSourceOffer?
    /// The EG's copy of the offers (gone and moved ones included), ordered by idROR.
    func rorSourceOffers(establishment: String) throws -> [RorSourceOffer]
    /// Organisations seen in this EG's pulls, by logical id.
    func rorNodes(establishment: String) throws -> [String: RorSourceNode]
    func rorPairings(establishment: String) throws -> [RorStoredPairing]
    func rorAlert(id: Int64) throws -> RorAlert?
    /// The EG's alerts, newest first; `pendingOnly` keeps open and acknowledged ones.
    func rorAlerts(establishment: String, pendingOnly: Bool) throws -> [RorAlert]
    func rorRun(id: Int64) throws -> RorSyncRun?
    /// The EG's runs, newest first.
    func rorRuns(establishment: String, limit: Int) throws -> [RorSyncRun]
    /// When the mirror row was last written (the HealthcareService `meta.lastUpdated`).
    func rorUnitMirroredAt(establishment: String, rorId: String) throws -> Timestamp?
}

public protocol RorSyncWrites: RorSyncReads, RorUnitMirrorWrites {
    func putRorEstablishment(_ e: RorEstablishmentSync) throws
    func putRorSourceOffer(_ o: RorSourceOffer) throws
    func putRorNode(_ node: RorSourceNode) throws
    func putRorPairing(_ p: RorStoredPairing) throws
    @discardableResult
    func deleteRorPairing(establishment: String, platformUnit: String) throws -> Bool
    @discardableResult
    func addRorAlert(_ alert: RorAlert) throws -> Int64
    func setRorAlertStatus(id: Int64, _ status: RorAlertStatus, by: String?, at: Timestamp) throws
    @discardableResult
    func startRorRun(_ run: RorSyncRun) throws -> Int64
    func finishRorRun(_ run: RorSyncRun) throws
}

// MARK: - schema

extension Migration {
    static let rorSync = Migration(version: 7, summary: "ROR sync: establishment states, source offers and nodes, pairings, alerts, runs", sql: """
        CREATE TABLE ror_establishment (
            eg_id             TEXT PRIMARY KEY,
            state             TEXT NOT NULL CHECK (state IN ('nonSynchronise', 'enCoursDeSynchronisation', 'synchronisationStructurelleValidee',
                                                             'miseAJourOffreActive', 'miseAJourOffreSuspendue')),
            watermark         INTEGER,
            last_full_sync_at INTEGER,
            state_changed_at  INTEGER NOT NULL,
            state_changed_by  TEXT
        ) WITHOUT ROWID;
        CREATE TABLE ror_offer (
            eg_id   TEXT NOT NULL,
            ror_id  TEXT NOT NULL,
            facts   TEXT NOT NULL,
            seen_at INTEGER NOT NULL,
            gone_at INTEGER,
            PRIMARY KEY (eg_id, ror_id)
        ) WITHOUT ROWID;
        CREATE TABLE ror_node (
            eg_id      TEXT NOT NULL,
            logical_id TEXT NOT NULL,
            facts      TEXT NOT NULL,
            seen_at    INTEGER NOT NULL,
            gone_at    INTEGER,
            PRIMARY KEY (eg_id, logical_id)
        ) WITHOUT ROWID;
        CREATE TABLE ror_pairing (
            eg_id             TEXT NOT NULL,
            platform_unit     TEXT NOT NULL,
            ror_id            TEXT NOT NULL,
            level             TEXT NOT NULL,
            ssr               INTEGER NOT NULL CHECK (ssr IN (0, 1)),
            chain             TEXT NOT NULL,
            target_logical_id TEXT,
            created_from_ror  INTEGER NOT NULL CHECK (created_from_ror IN (0, 1)),
            applied           TEXT NOT NULL,
            paired_at         INTEGER NOT NULL,
            paired_by         TEXT,
            PRIMARY KEY (eg_id, platform_unit),
            UNIQUE (eg_id, ror_id)
        ) WITHOUT ROWID;
        CREATE TABLE ror_alert (
            alert_id      INTEGER PRIMARY KEY AUTOINCREMENT,
            eg_id         TEXT NOT NULL,
            platform_unit TEXT,
            ror_id        TEXT,
            severity      TEXT NOT NULL CHECK (severity IN ('bloquante', 'impactante', 'informative')),
            kind          TEXT NOT NULL,
            fhir_path     TEXT NOT NULL,
            old_value     TEXT,
            new_value     TEXT,
            detected_at   INTEGER NOT NULL,
            run_id        INTEGER,
            status        TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'validated', 'resolved')),
            status_by     TEXT,
            status_at     INTEGER
        );
        CREATE INDEX ror_alert_by_eg ON ror_alert (eg_id, status);
        CREATE TABLE ror_sync_run (
            run_id         INTEGER PRIMARY KEY AUTOINCREMENT,
            eg_id          TEXT,
            trigger        TEXT NOT NULL CHECK (trigger IN ('daily', 'manualEstablishment', 'manualUnit', 'initial', 'reconcile')),
            scope          TEXT NOT NULL,
            started_at     INTEGER NOT NULL,
            ended_at       INTEGER,
            watermark_from INTEGER,
            watermark_to   INTEGER,
            requests       TEXT NOT NULL,
            pages          INTEGER NOT NULL,
            received       INTEGER NOT NULL,
            applied        INTEGER NOT NULL,
            units_updated  INTEGER NOT NULL,
            alerts_raised  INTEGER NOT NULL,
            status         TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
            outcome        TEXT
        );
        CREATE INDEX ror_sync_run_by_eg ON ror_sync_run (eg_id, run_id);
        """)
}

// MARK: - SQLite

extension SQLiteStoreTransaction: RorSyncWrites {
    private func requireWrite() throws {
        guard writable else { throw StoreError.invalidArgument("write in a read transaction") }
    }

    private static let establishmentColumns = "eg_id, state, watermark, last_full_sync_at, state_changed_at, state_changed_by"

    private func establishment(_ s: SQLiteStatement) throws -> RorEstablishmentSync {
        guard let state = RorSyncState(rawValue: s.text(1) ?? "") else { throw StoreError.invalidArgument("ror_establishment.state") }
        return RorEstablishmentSync(establishment: s.text(0) ?? "", state: state, watermark: s.optionalInt64(2).map(Timestamp.init),
                                    lastFullSyncAt: s.optionalInt64(3).map(Timestamp.init), stateChangedAt: Timestamp(milliseconds: s.int64(4)),
                                    stateChangedBy: s.text(5))
    }

    func rorEstablishment(_ eg: String) throws -> RorEstablishmentSync? {
        try collect("SELECT \(Self.establishmentColumns) FROM ror_establishment WHERE eg_id = ?1", [.text(eg)], establishment).first
    }

    func rorEstablishments() throws -> [RorEstablishmentSync] {
        try collect("SELECT \(Self.establishmentColumns) FROM ror_establishment ORDER BY eg_id", [], establishment)
    }

    func putRorEstablishment(_ e: RorEstablishmentSync) throws {
        try requireWrite()
        try c.run("""
            INSERT INTO ror_establishment (\(Self.establishmentColumns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            ON CONFLICT (eg_id) DO UPDATE SET state = excluded.state, watermark = excluded.watermark, last_full_sync_at = excluded.last_full_sync_at,
                state_changed_at = excluded.state_changed_at, state_changed_by = excluded.state_changed_by
            """, [.text(e.establishment), .text(e.state.rawValue), e.watermark.sql, e.lastFullSyncAt.sql, .integer(e.stateChangedAt.milliseconds),
                  e.stateChangedBy.sql])
    }

    // Source offers and nodes.

    private func sourceOffer(_ s: SQLiteStatement) throws -> RorSourceOffer {
        RorSourceOffer(offer: try RorCodec.offer(s.text(2) ?? ""), establishment: s.text(1) ?? "", seenAt: Timestamp(milliseconds: s.int64(3)),
                       goneAt: s.optionalInt64(4).map(Timestamp.init))
    }

    private func collect<T>(_ sql: String, _ values: [SQLiteValue], _ row: (SQLiteStatement) throws -> T) throws -> [T] {
        var out: [T] = []
        var failure: (any Error)?
        _ = try c.query(sql, values) { s -> Bool in
            do { out.append(try row(s)) } catch { failure = error }
            return true
        }
        if let failure { throw failure }
        return out
    }

    func rorSourceOffer(establishment: String, rorId: String) throws -> RorSourceOffer? {
        try collect("SELECT ror_id, eg_id, facts, seen_at, gone_at FROM ror_offer WHERE eg_id = ?1 AND ror_id = ?2",
                    [.text(establishment), .text(rorId)], sourceOffer).first
    }

    func rorSourceOffers(establishment: String) throws -> [RorSourceOffer] {
        try collect("SELECT ror_id, eg_id, facts, seen_at, gone_at FROM ror_offer WHERE eg_id = ?1 ORDER BY ror_id", [.text(establishment)], sourceOffer)
    }

    func putRorSourceOffer(_ o: RorSourceOffer) throws {
        try requireWrite()
        try c.run("""
            INSERT INTO ror_offer (ror_id, eg_id, facts, seen_at, gone_at) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (eg_id, ror_id) DO UPDATE SET facts = excluded.facts, seen_at = excluded.seen_at, gone_at = excluded.gone_at
            """, [.text(o.offer.rorId), .text(o.establishment), .text(RorCodec.text(RorCodec.json(o.offer))), .integer(o.seenAt.milliseconds), o.goneAt.sql])
    }

    func rorNodes(establishment: String) throws -> [String: RorSourceNode] {
        let nodes = try collect("SELECT eg_id, facts, seen_at, gone_at FROM ror_node WHERE eg_id = ?1", [.text(establishment)]) { s in
            RorSourceNode(node: try RorCodec.node(s.text(1) ?? ""), establishment: s.text(0) ?? "", seenAt: Timestamp(milliseconds: s.int64(2)),
                          goneAt: s.optionalInt64(3).map(Timestamp.init))
        }
        return Dictionary(nodes.map { ($0.node.logicalId, $0) }, uniquingKeysWith: { a, _ in a })
    }

    func putRorNode(_ n: RorSourceNode) throws {
        try requireWrite()
        try c.run("""
            INSERT INTO ror_node (eg_id, logical_id, facts, seen_at, gone_at) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (eg_id, logical_id) DO UPDATE SET facts = excluded.facts, seen_at = excluded.seen_at, gone_at = excluded.gone_at
            """, [.text(n.establishment), .text(n.node.logicalId), .text(RorCodec.text(RorCodec.json(n.node))), .integer(n.seenAt.milliseconds),
                  n.goneAt.sql])
    }

    // Pairings.

    func rorPairings(establishment: String) throws -> [RorStoredPairing] {
        try collect("""
            SELECT eg_id, platform_unit, ror_id, level, ssr, chain, target_logical_id, created_from_ror, applied, paired_at, paired_by
            FROM ror_pairing WHERE eg_id = ?1 ORDER BY platform_unit
            """, [.text(establishment)]) { s in
            let pairing = RorPairing(establishment: s.text(0) ?? "", platformUnit: s.text(1) ?? "", rorId: s.text(2) ?? "",
                                     level: RorLevel(rawValue: s.text(3) ?? "") ?? .other, ssr: s.int(4) == 1,
                                     chain: (s.text(5) ?? "").split(separator: " ").map(String.init), targetLogicalId: s.text(6),
                                     createdFromRor: s.int(7) == 1)
            return RorStoredPairing(pairing: pairing, applied: try RorCodec.facts(s.text(8) ?? ""), pairedAt: Timestamp(milliseconds: s.int64(9)),
                                    pairedBy: s.text(10))
        }
    }

    func putRorPairing(_ p: RorStoredPairing) throws {
        try requireWrite()
        let x = p.pairing
        try c.run("""
            INSERT INTO ror_pairing (eg_id, platform_unit, ror_id, level, ssr, chain, target_logical_id, created_from_ror, applied, paired_at, paired_by)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            ON CONFLICT (eg_id, platform_unit) DO UPDATE SET ror_id = excluded.ror_id, level = excluded.level, ssr = excluded.ssr, chain = excluded.chain,
                target_logical_id = excluded.target_logical_id, created_from_ror = excluded.created_from_ror, applied = excluded.applied,
                paired_at = excluded.paired_at, paired_by = excluded.paired_by
            """, [.text(x.establishment), .text(x.platformUnit), .text(x.rorId), .text(x.level.rawValue), .integer(x.ssr ? 1 : 0),
                  .text(x.chain.joined(separator: " ")), x.targetLogicalId.sql, .integer(x.createdFromRor ? 1 : 0),
                  .text(RorCodec.text(RorCodec.json(p.applied))), .integer(p.pairedAt.milliseconds), p.pairedBy.sql])
    }

    func deleteRorPairing(establishment: String, platformUnit: String) throws -> Bool {
        try requireWrite()
        return try c.run("DELETE FROM ror_pairing WHERE eg_id = ?1 AND platform_unit = ?2", [.text(establishment), .text(platformUnit)]) > 0
    }

    // Alerts.

    private static let alertColumns = "alert_id, eg_id, platform_unit, ror_id, kind, fhir_path, old_value, new_value, detected_at, run_id, status, status_by, status_at"

    private func alert(_ s: SQLiteStatement) throws -> RorAlert {
        guard let kind = RorAlertKind(rawValue: s.text(4) ?? ""), let status = RorAlertStatus(rawValue: s.text(10) ?? "") else {
            throw StoreError.invalidArgument("ror_alert \(s.int64(0)): unknown kind or status")
        }
        return RorAlert(id: s.int64(0), establishment: s.text(1) ?? "", platformUnit: s.text(2), rorId: s.text(3), kind: kind,
                        fhirPath: s.text(5) ?? "", oldValue: s.text(6), newValue: s.text(7), detectedAt: Timestamp(milliseconds: s.int64(8)),
                        runId: s.optionalInt64(9), status: status, statusBy: s.text(11), statusAt: s.optionalInt64(12).map(Timestamp.init))
    }

    func rorAlert(id: Int64) throws -> RorAlert? {
        try collect("SELECT \(Self.alertColumns) FROM ror_alert WHERE alert_id = ?1", [.integer(id)], alert).first
    }

    func rorAlerts(establishment: String, pendingOnly: Bool) throws -> [RorAlert] {
        try collect("""
            SELECT \(Self.alertColumns) FROM ror_alert WHERE eg_id = ?1 AND (?2 = 0 OR status IN ('open', 'acknowledged')) ORDER BY alert_id DESC
            """, [.text(establishment), .integer(pendingOnly ? 1 : 0)], alert)
    }

    func addRorAlert(_ a: RorAlert) throws -> Int64 {
        try requireWrite()
        try c.run("""
            INSERT INTO ror_alert (eg_id, platform_unit, ror_id, severity, kind, fhir_path, old_value, new_value, detected_at, run_id, status, status_by, status_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
            """, [.text(a.establishment), a.platformUnit.sql, a.rorId.sql, .text(a.severity.rawValue), .text(a.kind.rawValue), .text(a.fhirPath),
                  a.oldValue.sql, a.newValue.sql, .integer(a.detectedAt.milliseconds), a.runId.map { .integer($0) } ?? .null,
                  .text(a.status.rawValue), a.statusBy.sql, a.statusAt.sql])
        return try c.queryOne("SELECT last_insert_rowid()") { s in s.int64(0) } ?? 0
    }

    func setRorAlertStatus(id: Int64, _ status: RorAlertStatus, by: String?, at: Timestamp) throws {
        try requireWrite()
        let changed = try c.run("UPDATE ror_alert SET status = ?2, status_by = ?3, status_at = ?4 WHERE alert_id = ?1",
                                [.integer(id), .text(status.rawValue), by.sql, .integer(at.milliseconds)])
        if changed == 0 { throw StoreError.notFound(type: "RorAlert", id: String(id)) }
    }

    // Runs.

    private static let runColumns = """
        run_id, eg_id, trigger, scope, started_at, ended_at, watermark_from, watermark_to, requests, pages, received, applied, units_updated,
        alerts_raised, status, outcome
        """

    private func run(_ s: SQLiteStatement) throws -> RorSyncRun {
        guard let trigger = RorSyncTrigger(rawValue: s.text(2) ?? ""), let status = RorRunStatus(rawValue: s.text(14) ?? "") else {
            throw StoreError.invalidArgument("ror_sync_run \(s.int64(0)): unknown trigger or status")
        }
        let requests = (s.text(8) ?? "").split(separator: "\n").map(String.init)
        return RorSyncRun(id: s.int64(0), establishment: s.text(1), trigger: trigger, scope: s.text(3) ?? "", startedAt: Timestamp(milliseconds: s.int64(4)),
                          endedAt: s.optionalInt64(5).map(Timestamp.init), watermarkFrom: s.optionalInt64(6).map(Timestamp.init),
                          watermarkTo: s.optionalInt64(7).map(Timestamp.init), requests: requests, pages: s.int(9), received: s.int(10),
                          applied: s.int(11), unitsUpdated: s.int(12), alertsRaised: s.int(13), status: status, outcome: s.text(15))
    }

    func rorRun(id: Int64) throws -> RorSyncRun? {
        try collect("SELECT \(Self.runColumns) FROM ror_sync_run WHERE run_id = ?1", [.integer(id)], run).first
    }

    func rorRuns(establishment: String, limit: Int) throws -> [RorSyncRun] {
        try collect("SELECT \(Self.runColumns) FROM ror_sync_run WHERE eg_id = ?1 ORDER BY run_id DESC LIMIT ?2",
                    [.text(establishment), .integer(Int64(max(0, limit)))], run)
    }

    private func runValues(_ r: RorSyncRun) -> [SQLiteValue] {
        [r.establishment.sql, .text(r.trigger.rawValue), .text(r.scope), .integer(r.startedAt.milliseconds), r.endedAt.sql, r.watermarkFrom.sql,
         r.watermarkTo.sql, .text(r.requests.joined(separator: "\n")), .integer(Int64(r.pages)), .integer(Int64(r.received)),
         .integer(Int64(r.applied)), .integer(Int64(r.unitsUpdated)), .integer(Int64(r.alertsRaised)), .text(r.status.rawValue), r.outcome.sql]
    }

    func startRorRun(_ r: RorSyncRun) throws -> Int64 {
        try requireWrite()
        try c.run("""
            INSERT INTO ror_sync_run (eg_id, trigger, scope, started_at, ended_at, watermark_from, watermark_to, requests, pages, received, applied,
                                      units_updated, alerts_raised, status, outcome)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
            """, runValues(r))
        return try c.queryOne("SELECT last_insert_rowid()") { s in s.int64(0) } ?? 0
    }

    func finishRorRun(_ r: RorSyncRun) throws {
        try requireWrite()
        let changed = try c.run("""
            UPDATE ror_sync_run SET eg_id = ?1, trigger = ?2, scope = ?3, started_at = ?4, ended_at = ?5, watermark_from = ?6, watermark_to = ?7,
                requests = ?8, pages = ?9, received = ?10, applied = ?11, units_updated = ?12, alerts_raised = ?13, status = ?14, outcome = ?15
            WHERE run_id = ?16
            """, runValues(r) + [.integer(r.id)])
        if changed == 0 { throw StoreError.notFound(type: "RorSyncRun", id: String(r.id)) }
    }

    func rorUnitMirroredAt(establishment: String, rorId: String) throws -> Timestamp? {
        try c.queryOne("SELECT mirrored_at FROM ror_unit WHERE eg_id = ?1 AND ror_id = ?2", [.text(establishment), .text(rorId)]) { s in
            Timestamp(milliseconds: s.int64(0))
        }
    }
}
