/// One schema step. Versions are 1, 2, 3… in order; a released migration is never edited, a change
/// is a new migration. `PRAGMA user_version` records the last applied one.
public struct Migration: Sendable {
    public let version: Int
    public let summary: String
    public let sql: String

    public init(version: Int, summary: String, sql: String) {
        self.version = version
        self.summary = summary
        self.sql = sql
    }
}

/// Applies pending migrations at open, all in one BEGIN IMMEDIATE transaction (the write lock also
/// keeps two processes from migrating at once): either the schema moves to the latest version
/// or it is left untouched. Running it again is a no-op. A file newer than this code is refused.
struct Migrator {
    let migrations: [Migration]

    init(_ migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    @discardableResult
    func migrate(_ connection: SQLiteConnection) throws -> (from: Int, to: Int) {
        for (i, m) in migrations.enumerated() where m.version != i + 1 {
            throw StoreError.invalidArgument("migration versions must be 1…n without gaps (found \(m.version) at \(i + 1))")
        }
        let latest = migrations.last?.version ?? 0
        return try connection.transaction(.immediate) {
            let current = try connection.queryOne("PRAGMA user_version") { s in s.int(0) } ?? 0
            guard current <= latest else { throw StoreError.schemaTooNew(found: current, supported: latest) }
            for m in migrations where m.version > current {
                try connection.execute(m.sql)
            }
            if current < latest { try connection.execute("PRAGMA user_version = \(latest)") }
            return (current, latest)
        }
    }
}

extension Migration {
    /// The gateway schema. Times are integer milliseconds since the Unix epoch (UTC).
    public static let all: [Migration] = [
        Migration(version: 1, summary: "versioned FHIR resources per tenant, history, search keys", sql: """
            CREATE TABLE resource (
                tenant       TEXT    NOT NULL,
                type         TEXT    NOT NULL,
                id           TEXT    NOT NULL,
                version      INTEGER NOT NULL CHECK (version >= 1),
                last_updated INTEGER NOT NULL,
                body         BLOB    NOT NULL,
                PRIMARY KEY (tenant, type, id)
            ) WITHOUT ROWID;
            CREATE INDEX resource_by_last_updated ON resource (tenant, type, last_updated, id);
            CREATE TABLE resource_version (
                tenant       TEXT    NOT NULL,
                type         TEXT    NOT NULL,
                id           TEXT    NOT NULL,
                version      INTEGER NOT NULL,
                last_updated INTEGER NOT NULL,
                body         BLOB    NOT NULL,
                PRIMARY KEY (tenant, type, id, version)
            ) WITHOUT ROWID;
            CREATE TABLE search_key (
                tenant TEXT NOT NULL,
                type   TEXT NOT NULL,
                name   TEXT NOT NULL,
                value  TEXT NOT NULL,
                id     TEXT NOT NULL,
                PRIMARY KEY (tenant, type, name, value, id),
                FOREIGN KEY (tenant, type, id) REFERENCES resource (tenant, type, id) ON DELETE CASCADE
            ) WITHOUT ROWID;
            CREATE INDEX search_key_by_resource ON search_key (tenant, type, id);
            -- High-water mark of lastUpdated: each write transaction takes max(now, mark + 1 ms), so
            -- lastUpdated strictly increases between transactions and `_lastUpdated=gt` polling never misses a commit.
            CREATE TABLE store_clock (
                id           INTEGER PRIMARY KEY CHECK (id = 1),
                last_updated INTEGER NOT NULL
            );
            INSERT INTO store_clock (id, last_updated) VALUES (1, 0);
            """),
        Migration(version: 2, summary: "registry: legal and geographic entities, clients, secrets, enrolments, tokens", sql: """
            CREATE TABLE legal_entity (
                ej_id        TEXT PRIMARY KEY CHECK (ej_id GLOB '1[0-9AB][0-9AB][0-9AB][0-9AB][0-9AB][0-9AB][0-9AB][0-9AB][0-9AB]'
                                                  OR ej_id GLOB '3[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
                name         TEXT NOT NULL,
                activated_at INTEGER,
                activated_by TEXT,
                suspended_at INTEGER
            ) WITHOUT ROWID;
            CREATE TABLE geographic_entity (
                eg_id        TEXT PRIMARY KEY CHECK (eg_id GLOB '1[0-9AB][0-9AB][0-9AB][0-9AB][0-9AB][0-9AB][0-9AB][0-9AB][0-9AB]'
                                                  OR eg_id GLOB '3[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
                ej_id        TEXT NOT NULL REFERENCES legal_entity (ej_id),
                name         TEXT NOT NULL,
                activated_at INTEGER,
                activated_by TEXT,
                deactivated_at INTEGER
            ) WITHOUT ROWID;
            CREATE INDEX geographic_entity_by_ej ON geographic_entity (ej_id);
            CREATE TABLE client (
                client_id   TEXT PRIMARY KEY,
                name        TEXT NOT NULL,
                role        TEXT NOT NULL CHECK (role IN ('dui', 'dpi', 'mdph', 'operator')),
                environment TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
                scopes      TEXT NOT NULL,
                disabled_at INTEGER,
                created_at  INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE client_secret (
                client_id  TEXT    NOT NULL REFERENCES client (client_id) ON DELETE CASCADE,
                seq        INTEGER NOT NULL,
                algorithm  TEXT    NOT NULL,
                iterations INTEGER NOT NULL,
                salt       BLOB    NOT NULL,
                hash       BLOB    NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER,
                PRIMARY KEY (client_id, seq)
            ) WITHOUT ROWID;
            CREATE TABLE client_legal_entity (
                client_id  TEXT NOT NULL REFERENCES client (client_id) ON DELETE CASCADE,
                ej_id      TEXT NOT NULL REFERENCES legal_entity (ej_id),
                pinned_x5t TEXT,
                PRIMARY KEY (client_id, ej_id)
            ) WITHOUT ROWID;
            CREATE TABLE token (
                token_hash BLOB    PRIMARY KEY,
                client_id  TEXT    NOT NULL REFERENCES client (client_id) ON DELETE CASCADE,
                ej_id      TEXT    NOT NULL,
                x5t_s256   TEXT    NOT NULL,
                scopes     TEXT    NOT NULL,
                issued_at  INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                revoked_at INTEGER
            ) WITHOUT ROWID;
            CREATE INDEX token_by_expiry ON token (expires_at);
            CREATE INDEX token_by_client ON token (client_id, ej_id);
            """),
        Migration(version: 3, summary: "audit records, hash-chained", sql: """
            CREATE TABLE audit (
                seq           INTEGER PRIMARY KEY AUTOINCREMENT,
                recorded_at   INTEGER NOT NULL,
                request_id    TEXT,
                tenant        TEXT,
                client_id     TEXT,
                ej_id         TEXT,
                eg_id         TEXT,
                interaction   TEXT NOT NULL,
                resource_type TEXT,
                resource_ids  TEXT NOT NULL,
                status        INTEGER NOT NULL,
                outcome       TEXT,
                prev_hash     BLOB NOT NULL,
                hash          BLOB NOT NULL
            );
            CREATE INDEX audit_by_time ON audit (recorded_at);
            """),
        Migration(version: 4, summary: "authentication lockout state (the rate limiter itself is in memory)", sql: """
            CREATE TABLE auth_lockout (
                subject      TEXT    PRIMARY KEY,
                failures     INTEGER NOT NULL,
                first_failure_at INTEGER NOT NULL,
                locked_until INTEGER
            ) WITHOUT ROWID;
            """),
        // One entry per migration, in version order; each lives next to the store code that uses it.
        rorUnitMirror,
        auditByClient,
        rorSync,
        handicapFlows,
        resourceRowidTables,
        decisionRowidTable,
        searchKeyTime,
        eventKeyTimeIndex,
    ]
}
