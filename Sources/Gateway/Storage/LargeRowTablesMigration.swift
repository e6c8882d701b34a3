/// Tables whose rows carry documents become rowid tables: SQLite advises WITHOUT ROWID only for rows
/// under about 1/20 of a page (docs/storage.md, "Why rowid tables").
extension Migration {
    /// `resource` and `resource_version` become rowid tables with a UNIQUE key instead of WITHOUT ROWID
    /// tables. Their rows carry whole FHIR bodies (1–7 KB: a decision's DocumentReference holds its CDA in
    /// base64), and a WITHOUT ROWID table keeps whole rows in its b-tree, interior pages included: a
    /// handful of rows per page, a deep tree, and every insert rebalancing pages full of bodies. SQLite
    /// advises WITHOUT ROWID only for rows under about 1/20 of a page. Measured on a module Handicap
    /// store (docs/performance.md, "Gateway"): a flow-4 POST read ~200 pages before, ~90 after, and used
    /// a quarter to a third less server CPU; polling likewise.
    ///
    /// `search_key` keeps its foreign key to `resource`: it is rebuilt against the new table first (a
    /// DROP TABLE of a parent would cascade into it), then both are renamed, which rewrites the reference.
    /// Rows are copied in (tenant, type, last_updated, id) order, the order polling reads them.
    static let resourceRowidTables = Migration(version: 9, summary: "resource and resource_version as rowid tables (large bodies)", sql: """
        CREATE TABLE resource_rowid (
            tenant       TEXT    NOT NULL,
            type         TEXT    NOT NULL,
            id           TEXT    NOT NULL,
            version      INTEGER NOT NULL CHECK (version >= 1),
            last_updated INTEGER NOT NULL,
            body         BLOB    NOT NULL,
            UNIQUE (tenant, type, id)
        );
        INSERT INTO resource_rowid (tenant, type, id, version, last_updated, body)
            SELECT tenant, type, id, version, last_updated, body FROM resource ORDER BY tenant, type, last_updated, id;
        CREATE TABLE search_key_rebuilt (
            tenant TEXT NOT NULL,
            type   TEXT NOT NULL,
            name   TEXT NOT NULL,
            value  TEXT NOT NULL,
            id     TEXT NOT NULL,
            PRIMARY KEY (tenant, type, name, value, id),
            FOREIGN KEY (tenant, type, id) REFERENCES resource_rowid (tenant, type, id) ON DELETE CASCADE
        ) WITHOUT ROWID;
        INSERT INTO search_key_rebuilt (tenant, type, name, value, id) SELECT tenant, type, name, value, id FROM search_key;
        DROP TABLE search_key;
        DROP TABLE resource;
        ALTER TABLE resource_rowid RENAME TO resource;
        ALTER TABLE search_key_rebuilt RENAME TO search_key;
        CREATE INDEX resource_by_last_updated ON resource (tenant, type, last_updated, id);
        CREATE INDEX search_key_by_resource ON search_key (tenant, type, id);
        CREATE TABLE resource_version_rowid (
            tenant       TEXT    NOT NULL,
            type         TEXT    NOT NULL,
            id           TEXT    NOT NULL,
            version      INTEGER NOT NULL,
            last_updated INTEGER NOT NULL,
            body         BLOB    NOT NULL,
            UNIQUE (tenant, type, id, version)
        );
        INSERT INTO resource_version_rowid (tenant, type, id, version, last_updated, body)
            SELECT tenant, type, id, version, last_updated, body FROM resource_version ORDER BY last_updated, tenant, type, id, version;
        DROP TABLE resource_version;
        ALTER TABLE resource_version_rowid RENAME TO resource_version;
        """)

    /// `hdc_decision` likewise: each row holds the decision's CDA (~4 KB) and its evaluation, and flow 4
    /// reads a decision by idNat_Decision on every status (and one per other EG in the fan-out). At
    /// 100,000 decisions those WITHOUT ROWID lookups were a quarter of a flow-4 POST's page reads.
    /// `hdc_notification` references it: rebuilt against the new table first, as `search_key` above.
    static let decisionRowidTable = Migration(version: 10, summary: "hdc_decision as a rowid table (it holds the CDA documents)", sql: """
        CREATE TABLE hdc_decision_rowid (
            id_nat             TEXT    NOT NULL UNIQUE,
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
        );
        INSERT INTO hdc_decision_rowid (id_nat, mdph_oid, id_decision, mdph_eg, person_key, kind, state, version, document_id, cda,
                                        evaluation_cda, mdph_document_id, mdph_evaluation_id, created_at, updated_at)
            SELECT id_nat, mdph_oid, id_decision, mdph_eg, person_key, kind, state, version, document_id, cda, evaluation_cda,
                   mdph_document_id, mdph_evaluation_id, created_at, updated_at FROM hdc_decision ORDER BY created_at, id_nat;
        CREATE TABLE hdc_notification_rebuilt (
            id_nat                 TEXT    NOT NULL REFERENCES hdc_decision_rowid (id_nat),
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
        INSERT INTO hdc_notification_rebuilt SELECT id_nat, eg_id, document_id, categories, platform_status, platform_status_at, finished_at,
            finished_reason, consent_id, evaluation_document_id, recovery_at, recovery_by, created_at FROM hdc_notification;
        DROP TABLE hdc_notification;
        DROP TABLE hdc_decision;
        ALTER TABLE hdc_decision_rowid RENAME TO hdc_decision;
        ALTER TABLE hdc_notification_rebuilt RENAME TO hdc_notification;
        CREATE INDEX hdc_decision_by_person ON hdc_decision (person_key);
        CREATE INDEX hdc_notification_by_eg ON hdc_notification (eg_id, id_nat);
        """)
}
