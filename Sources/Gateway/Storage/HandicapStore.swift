/// The module Handicap's own tables (docs/handicap-flows.md): the MDPHs known to the platform, the
/// decision registry (idNat_Decision), one notification per (decision, targeted EG), the log of
/// status events, and the search masks that hide finished notifications from the polling flows.
/// The FHIR resources themselves (DocumentReference, Consent, Task) stay in the generic per-tenant
/// store, so that paging, versions and `_lastUpdated` polling work unchanged.

/// What a decision is, from the CDA `typeDeDecision` (No_Type_Decision).
public enum DecisionKind: String, Sendable, CaseIterable {
    case attribution, renewal, revision, closure
}

/// Where a decision stands on the platform.
public enum DecisionState: String, Sendable, CaseIterable {
    /// Notified and followed.
    case active
    /// Cancelled by the MDPH (status 37).
    case cancelled
    /// Rights closed by a closure decision (reason 174).
    case closed
    /// Replaced by a revision (reason 173) or by a renewal (its follow-up continues on the renewal).
    case superseded
}

/// An MDPH allowed to submit decisions: the EG its client acts for, and its OID (1.2.250.1.213.7.n).
public struct MDPHRecord: Sendable, Equatable {
    public var establishment: String
    public var oid: String
    public var name: String
    public init(establishment: String, oid: String, name: String) { self.establishment = establishment; self.oid = oid; self.name = name }
}

/// One orientation decision in the registry, keyed by its platform id idNat_Decision.
public struct DecisionRecord: Sendable, Equatable {
    public var idNat: String
    public var mdphOID: String
    public var idDecision: String
    /// The MDPH's EG (its tenant: the platform DocumentReferences answered to the MDPH live there).
    public var mdphEstablishment: String
    /// `OrientedPerson.personKey`: the same person across decisions.
    public var personKey: String
    public var kind: DecisionKind
    public var state: DecisionState
    /// CDA `versionNumber` of the current version.
    public var version: Int
    /// CDA `ClinicalDocument/id` of the current version (`root^extension`), the parent a replacement must name.
    public var documentId: String
    /// The current "Individu et Décision" CDA, as submitted by the MDPH.
    public var cda: [UInt8]
    /// The "Évaluation" CDA, as submitted, when the MDPH sent one.
    public var evaluationCDA: [UInt8]?
    /// The platform DocumentReferences in the MDPH's tenant (decision, evaluation).
    public var mdphDocumentId: String?
    public var mdphEvaluationId: String?
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(idNat: String, mdphOID: String, idDecision: String, mdphEstablishment: String, personKey: String, kind: DecisionKind,
                state: DecisionState, version: Int, documentId: String, cda: [UInt8], evaluationCDA: [UInt8]? = nil,
                mdphDocumentId: String? = nil, mdphEvaluationId: String? = nil, createdAt: Timestamp, updatedAt: Timestamp) {
        self.idNat = idNat; self.mdphOID = mdphOID; self.idDecision = idDecision; self.mdphEstablishment = mdphEstablishment
        self.personKey = personKey; self.kind = kind; self.state = state; self.version = version; self.documentId = documentId
        self.cda = cda; self.evaluationCDA = evaluationCDA; self.mdphDocumentId = mdphDocumentId; self.mdphEvaluationId = mdphEvaluationId
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }
}

/// A decision as notified to one targeted EG.
public struct NotificationRecord: Sendable, Equatable {
    public var idNat: String
    public var establishment: String
    /// The DocumentReference (57830-2) in the EG's tenant.
    public var documentId: String
    /// Categories of the decision's rights that target this EG: `R244:<organisation category>`, `R66:<FINESS
    /// establishment category>` (the ESRP/ESPO rule on trial statuses).
    public var categories: [String]
    /// Last JDV_J252 status known to the platform for this notification, and when it was set.
    public var platformStatus: String?
    public var platformStatusAt: Timestamp?
    /// Set when the processing is finished (docs/handicap-flows.md, LIFE rules); the reason is a status or reason code.
    public var finishedAt: Timestamp?
    public var finishedReason: String?
    /// Last consent (flow 2) and the evaluation DocumentReference (51848-0) made visible to this EG.
    public var consentId: String?
    public var evaluationDocumentId: String?
    /// Tagged for recovery ("reprise"): when and by whom (operator name or client id).
    public var recoveryAt: Timestamp?
    public var recoveryBy: String?
    public var createdAt: Timestamp

    public var isFinished: Bool { finishedAt != nil }

    public init(idNat: String, establishment: String, documentId: String, categories: [String] = [], platformStatus: String? = nil,
                platformStatusAt: Timestamp? = nil,
                finishedAt: Timestamp? = nil, finishedReason: String? = nil, consentId: String? = nil, evaluationDocumentId: String? = nil,
                recoveryAt: Timestamp? = nil, recoveryBy: String? = nil, createdAt: Timestamp) {
        self.idNat = idNat; self.establishment = establishment; self.documentId = documentId; self.categories = categories
        self.platformStatus = platformStatus
        self.platformStatusAt = platformStatusAt; self.finishedAt = finishedAt; self.finishedReason = finishedReason
        self.consentId = consentId; self.evaluationDocumentId = evaluationDocumentId; self.recoveryAt = recoveryAt
        self.recoveryBy = recoveryBy; self.createdAt = createdAt
    }
}

/// Who produced a status event.
public enum StatusOrigin: String, Sendable { case esms, mdph, platform }

/// One status event on a notification (a flow-4 Task, an MDPH event, or a platform event).
public struct StatusEventRecord: Sendable, Equatable {
    public var sequence: Int64
    public var idNat: String
    public var establishment: String
    /// The Task that carries it, in the producer's tenant.
    public var taskId: String
    public var clientId: String?
    public var origin: StatusOrigin
    public var statusESMS: String?
    public var reasonESMS: String?
    public var statusUnit: String?
    public var reasonUnit: String?
    public var unitId: String?
    public var unitDate: String?
    /// Posted while the notification was tagged for recovery; `forced`: the DUI forced the platform status.
    public var recovery: Bool
    public var forced: Bool
    public var recordedAt: Timestamp

    public init(sequence: Int64 = 0, idNat: String, establishment: String, taskId: String, clientId: String?, origin: StatusOrigin,
                statusESMS: String?, reasonESMS: String? = nil, statusUnit: String? = nil, reasonUnit: String? = nil, unitId: String? = nil,
                unitDate: String? = nil, recovery: Bool = false, forced: Bool = false, recordedAt: Timestamp) {
        self.sequence = sequence; self.idNat = idNat; self.establishment = establishment; self.taskId = taskId; self.clientId = clientId
        self.origin = origin; self.statusESMS = statusESMS; self.reasonESMS = reasonESMS; self.statusUnit = statusUnit
        self.reasonUnit = reasonUnit; self.unitId = unitId; self.unitDate = unitDate; self.recovery = recovery; self.forced = forced
        self.recordedAt = recordedAt
    }
}

/// A successful read of a resource by a client, from the audit trail (aptitude check).
public struct AuditedRead: Sendable, Equatable {
    public var establishment: String
    public var resourceId: String
    public var at: Timestamp
}

public protocol HandicapReads {
    func mdph(establishment: String) throws -> MDPHRecord?
    func decision(idNat: String) throws -> DecisionRecord?
    func decision(mdphOID: String, idDecision: String) throws -> DecisionRecord?
    /// Every notification of a decision, ordered by EG.
    func notifications(idNat: String) throws -> [NotificationRecord]
    func notification(idNat: String, establishment: String) throws -> NotificationRecord?
    /// Notifications of one EG, optionally only those tagged for recovery, ordered by idNat.
    func notifications(establishment: String, recoveryOnly: Bool) throws -> [NotificationRecord]
    /// Unfinished notifications of active decisions about one person, ordered by EG then newest decision first.
    func liveNotifications(personKey: String) throws -> [NotificationRecord]
    /// Status events of one notification, oldest first.
    func statusEvents(idNat: String, establishment: String) throws -> [StatusEventRecord]
    /// Status events posted by one client, oldest first.
    func statusEvents(clientId: String) throws -> [StatusEventRecord]
    /// Audited successful reads of `type` by one client (from the audit trail), oldest first.
    func auditedReads(clientId: String, type: String) throws -> [AuditedRead]
    /// The search keys of the current version of a resource (to write a new version that keeps them).
    func searchKeys(tenant: String, type: String, id: String) throws -> [SearchKey]
}

public protocol HandicapWrites: HandicapReads {
    func upsertMDPH(_ mdph: MDPHRecord) throws
    /// The next idNat_Decision sequence number: strictly increasing, never reused (even if the transaction that took it rolls back,
    /// a later one takes a number above every committed one).
    func nextDecisionSequence() throws -> Int64
    func insertDecision(_ decision: DecisionRecord) throws
    func updateDecision(_ decision: DecisionRecord) throws
    func insertNotification(_ notification: NotificationRecord) throws
    func updateNotification(_ notification: NotificationRecord) throws
    /// Appends the event; returns its sequence number.
    @discardableResult
    func appendStatusEvent(_ event: StatusEventRecord) throws -> Int64
    /// Hides, from searches that apply masks, the resources of `tenant` carrying search key `key`, except those whose
    /// lastUpdated is `keeping` (the commit that finished the notification). Replaces any mask on the same key.
    func mask(tenant: String, key: SearchKey, keeping: Timestamp) throws
    func unmask(tenant: String, key: SearchKey) throws
}

extension Migration {
    static let handicapFlows = Migration(version: 8, summary: "module Handicap: MDPHs, decisions, notifications, status events, search masks", sql: """
        CREATE TABLE hdc_sequence (
            name  TEXT    PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO hdc_sequence (name, value) VALUES ('idnat_decision', 0);
        CREATE TABLE hdc_mdph (
            eg_id TEXT PRIMARY KEY,
            oid   TEXT NOT NULL UNIQUE CHECK (oid GLOB '1.2.250.1.213.7.[1-9]*' AND oid NOT GLOB '1.2.250.1.213.7.*[^0-9]*'),
            name  TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE hdc_decision (
            id_nat             TEXT    PRIMARY KEY,
            mdph_oid           TEXT    NOT NULL,
            id_decision        TEXT    NOT NULL,
            mdph_eg            TEXT    NOT NULL,
            person_key         TEXT    NOT NULL,
            kind               TEXT    NOT NULL CHECK (kind IN ('attribution', 'renewal', 'revision', 'closure')),
            state              TEXT    NOT NULL CHECK (state IN ('active', 'cancelled', 'closed', 'superseded')),
            version            INTEGER NOT NULL CHECK (version >= 1),
            document_id        TEXT    NOT NULL,
            cda                BLOB    NOT NULL,
            evaluation_cda     BLOB,
            mdph_document_id   TEXT,
            mdph_evaluation_id TEXT,
            created_at         INTEGER NOT NULL,
            updated_at         INTEGER NOT NULL,
            UNIQUE (mdph_oid, id_decision)
        ) WITHOUT ROWID;
        CREATE INDEX hdc_decision_by_person ON hdc_decision (person_key);
        CREATE TABLE hdc_notification (
            id_nat                 TEXT    NOT NULL REFERENCES hdc_decision (id_nat),
            eg_id                  TEXT    NOT NULL,
            document_id            TEXT    NOT NULL,
            categories             TEXT    NOT NULL,
            platform_status        TEXT,
            platform_status_at     INTEGER,
            finished_at            INTEGER,
            finished_reason        TEXT,
            consent_id             TEXT,
            evaluation_document_id TEXT,
            recovery_at            INTEGER,
            recovery_by            TEXT,
            created_at             INTEGER NOT NULL,
            PRIMARY KEY (id_nat, eg_id)
        ) WITHOUT ROWID;
        CREATE INDEX hdc_notification_by_eg ON hdc_notification (eg_id, id_nat);
        CREATE TABLE hdc_status_event (
            seq          INTEGER PRIMARY KEY AUTOINCREMENT,
            id_nat       TEXT    NOT NULL,
            eg_id        TEXT    NOT NULL,
            task_id      TEXT    NOT NULL,
            client_id    TEXT,
            origin       TEXT    NOT NULL CHECK (origin IN ('esms', 'mdph', 'platform')),
            statut_esms  TEXT,
            motif_esms   TEXT,
            statut_unite TEXT,
            motif_unite  TEXT,
            unit_id      TEXT,
            unit_date    TEXT,
            recovery     INTEGER NOT NULL CHECK (recovery IN (0, 1)),
            forced       INTEGER NOT NULL CHECK (forced IN (0, 1)),
            recorded_at  INTEGER NOT NULL
        );
        CREATE INDEX hdc_status_event_by_notification ON hdc_status_event (id_nat, eg_id, seq);
        CREATE INDEX hdc_status_event_by_client ON hdc_status_event (client_id, seq);
        -- Generic masking of search results (SearchQuery.applyMasks): resources of `tenant` carrying the search key
        -- (name, value) are hidden, except the version written at `kept_last_updated`.
        CREATE TABLE search_mask (
            tenant            TEXT    NOT NULL,
            name              TEXT    NOT NULL,
            value             TEXT    NOT NULL,
            kept_last_updated INTEGER NOT NULL,
            PRIMARY KEY (tenant, name, value)
        ) WITHOUT ROWID;
        """)
}

extension SQLiteStoreTransaction: HandicapWrites {
    private func requireWrite() throws {
        guard writable else { throw StoreError.invalidArgument("write in a read transaction") }
    }

    // MARK: MDPH

    func mdph(establishment: String) throws -> MDPHRecord? {
        try c.queryOne("SELECT eg_id, oid, name FROM hdc_mdph WHERE eg_id = ?1", [.text(establishment)]) { s in
            MDPHRecord(establishment: s.text(0) ?? "", oid: s.text(1) ?? "", name: s.text(2) ?? "")
        }
    }

    func upsertMDPH(_ m: MDPHRecord) throws {
        try requireWrite()
        try c.run("""
            INSERT INTO hdc_mdph (eg_id, oid, name) VALUES (?1, ?2, ?3)
            ON CONFLICT (eg_id) DO UPDATE SET oid = excluded.oid, name = excluded.name
            """, [.text(m.establishment), .text(m.oid), .text(m.name)])
    }

    // MARK: decisions

    private static let decisionColumns = """
        id_nat, mdph_oid, id_decision, mdph_eg, person_key, kind, state, version, document_id, cda, evaluation_cda,
        mdph_document_id, mdph_evaluation_id, created_at, updated_at
        """

    private func decision(_ s: SQLiteStatement) -> DecisionRecord {
        DecisionRecord(idNat: s.text(0) ?? "", mdphOID: s.text(1) ?? "", idDecision: s.text(2) ?? "", mdphEstablishment: s.text(3) ?? "",
                       personKey: s.text(4) ?? "", kind: DecisionKind(rawValue: s.text(5) ?? "") ?? .attribution,
                       state: DecisionState(rawValue: s.text(6) ?? "") ?? .active, version: s.int(7), documentId: s.text(8) ?? "",
                       cda: s.blob(9) ?? [], evaluationCDA: s.blob(10), mdphDocumentId: s.text(11), mdphEvaluationId: s.text(12),
                       createdAt: Timestamp(milliseconds: s.int64(13)), updatedAt: Timestamp(milliseconds: s.int64(14)))
    }

    private func decisionValues(_ d: DecisionRecord) -> [SQLiteValue] {
        [.text(d.idNat), .text(d.mdphOID), .text(d.idDecision), .text(d.mdphEstablishment), .text(d.personKey), .text(d.kind.rawValue),
         .text(d.state.rawValue), .integer(Int64(d.version)), .text(d.documentId), .blob(d.cda), d.evaluationCDA.map { .blob($0) } ?? .null,
         d.mdphDocumentId.sql, d.mdphEvaluationId.sql, .integer(d.createdAt.milliseconds), .integer(d.updatedAt.milliseconds)]
    }

    func decision(idNat: String) throws -> DecisionRecord? {
        try c.queryOne("SELECT \(Self.decisionColumns) FROM hdc_decision WHERE id_nat = ?1", [.text(idNat)]) { s in decision(s) }
    }

    func decision(mdphOID: String, idDecision: String) throws -> DecisionRecord? {
        try c.queryOne("SELECT \(Self.decisionColumns) FROM hdc_decision WHERE mdph_oid = ?1 AND id_decision = ?2",
                       [.text(mdphOID), .text(idDecision)]) { s in decision(s) }
    }

    func nextDecisionSequence() throws -> Int64 {
        try requireWrite()
        try c.run("UPDATE hdc_sequence SET value = value + 1 WHERE name = 'idnat_decision'")
        guard let v = try c.queryOne("SELECT value FROM hdc_sequence WHERE name = 'idnat_decision'", [], { s in s.int64(0) }) else {
            throw StoreError.integrityCheckFailed("idNat_Decision sequence row missing")
        }
        return v
    }

    func insertDecision(_ d: DecisionRecord) throws {
        try requireWrite()
        guard !d.idNat.isEmpty, !d.personKey.isEmpty else { throw StoreError.invalidArgument("decision without idNat or person key") }
        if try decision(idNat: d.idNat) != nil { throw StoreError.alreadyExists("decision \(d.idNat)") }
        if try decision(mdphOID: d.mdphOID, idDecision: d.idDecision) != nil {
            throw StoreError.alreadyExists("decision \(d.mdphOID)|\(d.idDecision)")
        }
        try c.run("INSERT INTO hdc_decision (\(Self.decisionColumns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                  decisionValues(d))
    }

    func updateDecision(_ d: DecisionRecord) throws {
        try requireWrite()
        let changed = try c.run("""
            UPDATE hdc_decision SET mdph_oid = ?2, id_decision = ?3, mdph_eg = ?4, person_key = ?5, kind = ?6, state = ?7, version = ?8,
                document_id = ?9, cda = ?10, evaluation_cda = ?11, mdph_document_id = ?12, mdph_evaluation_id = ?13,
                created_at = ?14, updated_at = ?15
            WHERE id_nat = ?1
            """, decisionValues(d))
        if changed == 0 { throw StoreError.notFound(type: "Decision", id: d.idNat) }
    }

    // MARK: notifications

    private static let notificationColumns = """
        n.id_nat, n.eg_id, n.document_id, n.categories, n.platform_status, n.platform_status_at, n.finished_at, n.finished_reason,
        n.consent_id, n.evaluation_document_id, n.recovery_at, n.recovery_by, n.created_at
        """

    private func notification(_ s: SQLiteStatement) -> NotificationRecord {
        NotificationRecord(idNat: s.text(0) ?? "", establishment: s.text(1) ?? "", documentId: s.text(2) ?? "",
                           categories: (s.text(3) ?? "").split(separator: " ").map(String.init), platformStatus: s.text(4),
                           platformStatusAt: s.optionalInt64(5).map(Timestamp.init), finishedAt: s.optionalInt64(6).map(Timestamp.init),
                           finishedReason: s.text(7), consentId: s.text(8), evaluationDocumentId: s.text(9),
                           recoveryAt: s.optionalInt64(10).map(Timestamp.init), recoveryBy: s.text(11),
                           createdAt: Timestamp(milliseconds: s.int64(12)))
    }

    private func notificationValues(_ n: NotificationRecord) -> [SQLiteValue] {
        [.text(n.idNat), .text(n.establishment), .text(n.documentId), .text(n.categories.joined(separator: " ")), n.platformStatus.sql,
         n.platformStatusAt.sql, n.finishedAt.sql, n.finishedReason.sql, n.consentId.sql, n.evaluationDocumentId.sql, n.recoveryAt.sql,
         n.recoveryBy.sql, .integer(n.createdAt.milliseconds)]
    }

    func notifications(idNat: String) throws -> [NotificationRecord] {
        try c.query("SELECT \(Self.notificationColumns) FROM hdc_notification n WHERE n.id_nat = ?1 ORDER BY n.eg_id", [.text(idNat)]) { s in
            notification(s)
        }
    }

    func notification(idNat: String, establishment: String) throws -> NotificationRecord? {
        try c.queryOne("SELECT \(Self.notificationColumns) FROM hdc_notification n WHERE n.id_nat = ?1 AND n.eg_id = ?2",
                       [.text(idNat), .text(establishment)]) { s in notification(s) }
    }

    func notifications(establishment: String, recoveryOnly: Bool) throws -> [NotificationRecord] {
        try c.query("""
            SELECT \(Self.notificationColumns) FROM hdc_notification n WHERE n.eg_id = ?1 AND (?2 = 0 OR n.recovery_at IS NOT NULL)
            ORDER BY n.id_nat
            """, [.text(establishment), .integer(recoveryOnly ? 1 : 0)]) { s in notification(s) }
    }

    func liveNotifications(personKey: String) throws -> [NotificationRecord] {
        try c.query("""
            SELECT \(Self.notificationColumns) FROM hdc_decision d JOIN hdc_notification n ON n.id_nat = d.id_nat
            WHERE d.person_key = ?1 AND d.state = 'active' AND n.finished_at IS NULL
            ORDER BY n.eg_id, d.created_at DESC, d.id_nat DESC
            """, [.text(personKey)]) { s in notification(s) }
    }

    func insertNotification(_ n: NotificationRecord) throws {
        try requireWrite()
        if try notification(idNat: n.idNat, establishment: n.establishment) != nil {
            throw StoreError.alreadyExists("notification \(n.idNat) → \(n.establishment)")
        }
        try c.run("""
            INSERT INTO hdc_notification (id_nat, eg_id, document_id, categories, platform_status, platform_status_at, finished_at,
                finished_reason, consent_id, evaluation_document_id, recovery_at, recovery_by, created_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
            """, notificationValues(n))
    }

    func updateNotification(_ n: NotificationRecord) throws {
        try requireWrite()
        let changed = try c.run("""
            UPDATE hdc_notification SET document_id = ?3, categories = ?4, platform_status = ?5, platform_status_at = ?6, finished_at = ?7,
                finished_reason = ?8, consent_id = ?9, evaluation_document_id = ?10, recovery_at = ?11, recovery_by = ?12, created_at = ?13

            WHERE id_nat = ?1 AND eg_id = ?2
            """, notificationValues(n))
        if changed == 0 { throw StoreError.notFound(type: "Notification", id: "\(n.idNat)|\(n.establishment)") }
    }

    // MARK: status events

    private static let eventColumns = """
        seq, id_nat, eg_id, task_id, client_id, origin, statut_esms, motif_esms, statut_unite, motif_unite, unit_id, unit_date,
        recovery, forced, recorded_at
        """

    private func event(_ s: SQLiteStatement) -> StatusEventRecord {
        StatusEventRecord(sequence: s.int64(0), idNat: s.text(1) ?? "", establishment: s.text(2) ?? "", taskId: s.text(3) ?? "",
                          clientId: s.text(4), origin: StatusOrigin(rawValue: s.text(5) ?? "") ?? .esms, statusESMS: s.text(6),
                          reasonESMS: s.text(7), statusUnit: s.text(8), reasonUnit: s.text(9), unitId: s.text(10), unitDate: s.text(11),
                          recovery: s.int(12) == 1, forced: s.int(13) == 1, recordedAt: Timestamp(milliseconds: s.int64(14)))
    }

    func statusEvents(idNat: String, establishment: String) throws -> [StatusEventRecord] {
        try c.query("SELECT \(Self.eventColumns) FROM hdc_status_event WHERE id_nat = ?1 AND eg_id = ?2 ORDER BY seq",
                    [.text(idNat), .text(establishment)]) { s in event(s) }
    }

    func statusEvents(clientId: String) throws -> [StatusEventRecord] {
        try c.query("SELECT \(Self.eventColumns) FROM hdc_status_event WHERE client_id = ?1 ORDER BY seq", [.text(clientId)]) { s in event(s) }
    }

    func appendStatusEvent(_ e: StatusEventRecord) throws -> Int64 {
        try requireWrite()
        try c.run("""
            INSERT INTO hdc_status_event (id_nat, eg_id, task_id, client_id, origin, statut_esms, motif_esms, statut_unite, motif_unite,
                unit_id, unit_date, recovery, forced, recorded_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
            """, [.text(e.idNat), .text(e.establishment), .text(e.taskId), e.clientId.sql, .text(e.origin.rawValue), e.statusESMS.sql,
                  e.reasonESMS.sql, e.statusUnit.sql, e.reasonUnit.sql, e.unitId.sql, e.unitDate.sql, .integer(e.recovery ? 1 : 0),
                  .integer(e.forced ? 1 : 0), .integer(e.recordedAt.milliseconds)])
        return c.lastInsertRowID
    }

    func auditedReads(clientId: String, type: String) throws -> [AuditedRead] {
        try c.query("""
            SELECT eg_id, resource_ids, recorded_at FROM audit
            WHERE client_id = ?1 AND resource_type = ?2 AND interaction = 'read' AND status = 200 ORDER BY seq
            """, [.text(clientId), .text(type)]) { s in
            AuditedRead(establishment: s.text(0) ?? "", resourceId: s.text(1) ?? "", at: Timestamp(milliseconds: s.int64(2)))
        }
    }

    func searchKeys(tenant: String, type: String, id: String) throws -> [SearchKey] {
        try c.query("SELECT name, value FROM search_key WHERE tenant = ?1 AND type = ?2 AND id = ?3 ORDER BY name, value",
                    [.text(tenant), .text(type), .text(id)]) { s in SearchKey(s.text(0) ?? "", s.text(1) ?? "") }
    }

    // MARK: search masks


    func mask(tenant: String, key: SearchKey, keeping: Timestamp) throws {
        try requireWrite()
        try c.run("""
            INSERT INTO search_mask (tenant, name, value, kept_last_updated) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT (tenant, name, value) DO UPDATE SET kept_last_updated = excluded.kept_last_updated
            """, [.text(tenant), .text(key.name), .text(key.value), .integer(keeping.milliseconds)])
    }

    func unmask(tenant: String, key: SearchKey) throws {
        try requireWrite()
        try c.run("DELETE FROM search_mask WHERE tenant = ?1 AND name = ?2 AND value = ?3", [.text(tenant), .text(key.name), .text(key.value)])
    }
}
