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
}
