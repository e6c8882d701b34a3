/// `GatewayStore` on one SQLite file (see `SQLiteDatabase` for connections and durability).
public final class SQLiteStore: GatewayStore {
    public let database: SQLiteDatabase

    public init(path: String, options: SQLiteDatabase.Options = .init()) throws {
        do { database = try SQLiteDatabase(path: path, options: options) } catch let e as SQLiteError { throw StoreError.backend(e) }
    }

    @discardableResult
    public func write<T: Sendable>(_ body: (any StoreWriteTransaction) throws -> T) throws -> T {
        do {
            return try database.write { c in try body(SQLiteStoreTransaction(c, writable: true)) }
        } catch let e as SQLiteError { throw StoreError.backend(e) }
    }

    @discardableResult
    public func read<T: Sendable>(_ body: (any StoreReadTransaction) throws -> T) throws -> T {
        do {
            return try database.read { c in try body(SQLiteStoreTransaction(c, writable: false)) }
        } catch let e as SQLiteError { throw StoreError.backend(e) }
    }

    public func backup(to path: String) throws {
        do { try database.backup(to: path) } catch let e as SQLiteError { throw StoreError.backend(e) }
    }

    public func restore(from path: String) throws {
        do { try database.restore(from: path) } catch let e as SQLiteError { throw StoreError.backend(e) }
    }
}

extension GatewayStore {
    /// Recomputes the audit hash chain; returns the sequence of the first broken record, nil if intact.
    public func verifyAuditChain() throws -> Int64? {
        try read { tx in
            var previous = AuditChain.genesis
            var after: Int64 = 0
            while true {
                let batch = try tx.auditRecords(after: after, limit: 500)
                if batch.isEmpty { return nil }
                for r in batch {
                    guard r.previousHash == previous,
                          r.hash == AuditChain.hash(previous: previous, sequence: r.sequence, at: r.recordedAt, r.entry)
                    else { return r.sequence }
                    previous = r.hash
                    after = r.sequence
                }
            }
        }
    }
}

enum AuditChain {
    static let genesis = [UInt8](repeating: 0, count: 32)

    /// SHA-256 over the previous hash and every field, each length-prefixed (no ambiguity between fields).
    static func hash(previous: [UInt8], sequence: Int64, at: Timestamp, _ e: AuditEntry) -> [UInt8] {
        var bytes = previous
        func field(_ s: String?) {
            guard let s else { bytes += [0xff, 0xff, 0xff, 0xff]; return }
            let u = Array(s.utf8)
            let n = UInt32(u.count)
            bytes += [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + u
        }
        field(String(sequence)); field(String(at.milliseconds))
        field(e.requestId); field(e.tenant); field(e.clientId); field(e.legalEntityId); field(e.geographicEntityId)
        field(e.interaction); field(e.resourceType); field(e.resourceIds.joined(separator: " ")); field(String(e.status)); field(e.outcome)
        return SecretHasher.sha256(bytes)
    }
}

/// A transaction over one connection, valid only inside the `read`/`write` closure that made it.
final class SQLiteStoreTransaction: StoreWriteTransaction {
    let c: SQLiteConnection
    let writable: Bool
    /// lastUpdated shared by every resource version written in this transaction.
    private var transactionTime: Timestamp?

    init(_ connection: SQLiteConnection, writable: Bool) {
        self.c = connection
        self.writable = writable
    }

    private func requireWritable() throws {
        guard writable else { throw StoreError.invalidArgument("write in a read transaction") }
    }

    // MARK: resources

    private static let resourceColumns = "type, id, version, last_updated, body"

    private func resource(tenant: String, _ s: SQLiteStatement) -> StoredResource {
        StoredResource(tenant: tenant,
                       meta: ResourceMeta(type: s.text(0) ?? "", id: s.text(1) ?? "", versionId: s.int(2),
                                          lastUpdated: Timestamp(milliseconds: s.int64(3))),
                       body: s.blob(4) ?? [])
    }

    func read(tenant: String, type: String, id: String) throws -> StoredResource? {
        try c.queryOne("SELECT \(Self.resourceColumns) FROM resource WHERE tenant = ?1 AND type = ?2 AND id = ?3",
                       [.text(tenant), .text(type), .text(id)]) { s in resource(tenant: tenant, s) }
    }

    func read(tenant: String, type: String, id: String, version: Int) throws -> StoredResource? {
        try c.queryOne("SELECT \(Self.resourceColumns) FROM resource_version WHERE tenant = ?1 AND type = ?2 AND id = ?3 AND version = ?4",
                       [.text(tenant), .text(type), .text(id), .integer(Int64(version))]) { s in resource(tenant: tenant, s) }
    }

    func history(tenant: String, type: String, id: String) throws -> [StoredResource] {
        try c.query("SELECT \(Self.resourceColumns) FROM resource_version WHERE tenant = ?1 AND type = ?2 AND id = ?3 ORDER BY version DESC",
                    [.text(tenant), .text(type), .text(id)]) { s in resource(tenant: tenant, s) }
    }

    func search(_ q: SearchQuery) throws -> SearchPage {
        guard (1...SearchQuery.maxCount).contains(q.count) else {
            throw StoreError.invalidArgument("_count must be 1…\(SearchQuery.maxCount)")
        }
        let (sql, values) = try Self.searchStatement(q)
        var rows = try c.query(sql, values) { s in resource(tenant: q.tenant, s) }
        var next: String?
        if rows.count > q.count {
            rows.removeLast()
            if let last = rows.last { next = SearchCursor(lastUpdated: last.lastUpdated.milliseconds, id: last.id).token }
        }
        return SearchPage(resources: rows, next: next)
    }

    /// The SQL and bindings for a search (tests check its query plan).
    static func searchStatement(_ q: SearchQuery) throws -> (String, [SQLiteValue]) {
        let columns = "r.type, r.id, r.version, r.last_updated, r.body"
        // Which index drives the query; CROSS JOIN makes SQLite keep the join order given.
        // - Polling (a lower _lastUpdated bound) whose first key is the time-indexed one (flow 5's
        //   origin=event): walk that key's entries (tenant, type, last_updated, id) from the bound, in
        //   result order, through the partial index of migration 12; the resource row per entry.
        // - Other polling (flow 1): walk (tenant, type, last_updated, id) of `resource` from the bound,
        //   in result order, checking keys per row.
        // - No lower bound but keys (flow 3: identifier=…): the first key's entries (few rows), sorted.
        let hasLowerBound = q.lastUpdated.contains { $0.comparator == .gt || $0.comparator == .ge }
        var sql: String
        var values: [SQLiteValue]
        var keys = q.keys[...]
        // The columns that order the walk and carry the bounds and the cursor.
        var time = "r.last_updated", id = "r.id"
        if hasLowerBound, keys.first == Self.timeIndexedKey {
            keys.removeFirst()
            let k = Self.timeIndexedKey
            sql = "SELECT \(columns) FROM search_key k0 CROSS JOIN resource r ON r.tenant = k0.tenant AND r.type = k0.type AND r.id = k0.id"
                + " WHERE k0.tenant = ? AND k0.type = ? AND k0.name = '\(k.name)' AND k0.value = '\(k.value)'"
            values = [.text(q.tenant), .text(q.type)]
            time = "k0.last_updated"; id = "k0.id"
        } else if !hasLowerBound, let first = keys.popFirst() {
            sql = "SELECT \(columns) FROM search_key k0 CROSS JOIN resource r ON r.tenant = k0.tenant AND r.type = k0.type AND r.id = k0.id"
                + " WHERE k0.tenant = ? AND k0.type = ? AND k0.name = ? AND k0.value = ?"
            values = [.text(q.tenant), .text(q.type), .text(first.name), .text(first.value)]
        } else {
            sql = "SELECT \(columns) FROM resource r WHERE r.tenant = ? AND r.type = ?"
            values = [.text(q.tenant), .text(q.type)]
        }
        for bound in q.lastUpdated {
            let op: String
            switch bound.comparator { case .gt: op = ">"; case .ge: op = ">="; case .lt: op = "<"; case .le: op = "<=" }
            sql += " AND \(time) \(op) ?"
            values.append(.integer(bound.instant.milliseconds))
        }
        if let token = q.cursor {
            guard let cursor = SearchCursor(token: token) else { throw StoreError.invalidCursor }
            sql += " AND (\(time), \(id)) > (?, ?)"
            values += [.integer(cursor.lastUpdated), .text(cursor.id)]
        }
        for key in keys {
            sql += " AND EXISTS (SELECT 1 FROM search_key k WHERE k.tenant = r.tenant AND k.type = r.type AND k.name = ? AND k.value = ? AND k.id = r.id)"
            values += [.text(key.name), .text(key.value)]
        }
        if q.applyMasks {
            sql += " AND NOT EXISTS (SELECT 1 FROM search_key km JOIN search_mask m ON m.tenant = km.tenant AND m.name = km.name AND m.value = km.value"
                + " WHERE km.tenant = r.tenant AND km.type = r.type AND km.id = r.id AND m.kept_last_updated <> r.last_updated)"
        }
        sql += " ORDER BY \(time), \(id) LIMIT ?"
        values.append(.integer(Int64(q.count + 1)))
        return (sql, values)
    }

    /// The lastUpdated of this transaction: max(now, high-water mark + 1 ms), taken once.
    private func writeTime() throws -> Timestamp {
        if let t = transactionTime { return t }
        let mark = try c.queryOne("SELECT last_updated FROM store_clock WHERE id = 1") { s in s.int64(0) } ?? 0
        let t = Timestamp(milliseconds: max(Timestamp.now().milliseconds, mark + 1))
        try c.run("UPDATE store_clock SET last_updated = ?1 WHERE id = 1", [.integer(t.milliseconds)])
        transactionTime = t
        return t
    }

    func nextWriteInstant() { transactionTime = nil }

    private func validate(tenant: String, type: String, keys: [SearchKey]) throws {
        guard !tenant.isEmpty else { throw StoreError.invalidArgument("empty tenant") }
        guard !type.isEmpty, type.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }) else {
            throw StoreError.invalidArgument("resource type \"\(type)\"")
        }
        for k in keys where k.name.isEmpty { throw StoreError.invalidArgument("empty search key name") }
    }

    private func writeVersion(tenant: String, meta: ResourceMeta, keys: [SearchKey], body: [UInt8], isNew: Bool) throws -> StoredResource {
        let values: [SQLiteValue] = [.text(tenant), .text(meta.type), .text(meta.id), .integer(Int64(meta.versionId)),
                                     .integer(meta.lastUpdated.milliseconds), .blob(body)]
        if isNew {
            try c.run("INSERT INTO resource (tenant, type, id, version, last_updated, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", values)
        } else {
            try c.run("UPDATE resource SET version = ?4, last_updated = ?5, body = ?6 WHERE tenant = ?1 AND type = ?2 AND id = ?3", values)
            try c.run("DELETE FROM search_key WHERE tenant = ?1 AND type = ?2 AND id = ?3", [.text(tenant), .text(meta.type), .text(meta.id)])
        }
        try c.run("INSERT INTO resource_version (tenant, type, id, version, last_updated, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", values)
        for key in Set(keys) {
            try c.run("INSERT INTO search_key (tenant, type, name, value, id, last_updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                      [.text(tenant), .text(meta.type), .text(key.name), .text(key.value), .text(meta.id), .integer(meta.lastUpdated.milliseconds)])
        }
        return StoredResource(tenant: tenant, meta: meta, body: body)
    }

    func create(tenant: String, type: String, keys: [SearchKey], body: (ResourceMeta) throws -> [UInt8]) throws -> StoredResource {
        try requireWritable()
        try validate(tenant: tenant, type: type, keys: keys)
        let meta = ResourceMeta(type: type, id: try Self.newId(), versionId: 1, lastUpdated: try writeTime())
        return try writeVersion(tenant: tenant, meta: meta, keys: keys, body: try body(meta), isNew: true)
    }

    func update(tenant: String, type: String, id: String, ifMatch: Int?, keys: [SearchKey],
                body: (ResourceMeta) throws -> [UInt8]) throws -> StoredResource {
        try requireWritable()
        try validate(tenant: tenant, type: type, keys: keys)
        guard let current = try c.queryOne("SELECT version FROM resource WHERE tenant = ?1 AND type = ?2 AND id = ?3",
                                           [.text(tenant), .text(type), .text(id)], { s in s.int(0) }) else {
            throw StoreError.notFound(type: type, id: id)
        }
        if let ifMatch, ifMatch != current { throw StoreError.versionConflict(expected: ifMatch, current: current) }
        let meta = ResourceMeta(type: type, id: id, versionId: current + 1, lastUpdated: try writeTime())
        return try writeVersion(tenant: tenant, meta: meta, keys: keys, body: try body(meta), isNew: false)
    }

    /// A random UUID (version 4), lowercase: a valid FHIR id that reveals nothing.
    static func newId() throws -> String {
        var b = try SecretHasher.randomBytes(16)
        b[6] = (b[6] & 0x0f) | 0x40
        b[8] = (b[8] & 0x3f) | 0x80
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for (i, byte) in b.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(45) }
            out.append(hex[Int(byte >> 4)]); out.append(hex[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: audit

    func audit(_ e: AuditEntry) throws {
        try requireWritable()
        let previous = try c.queryOne("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1") { s in (s.int64(0), s.blob(1) ?? []) }
        // AUTOINCREMENT never reuses a sequence, so the next one is known before the insert.
        let sequence = try c.queryOne("SELECT seq FROM sqlite_sequence WHERE name = 'audit'") { s in s.int64(0) }.map { $0 + 1 } ?? 1
        let at = Timestamp.now()
        let prevHash = previous?.1 ?? AuditChain.genesis
        let hash = AuditChain.hash(previous: prevHash, sequence: sequence, at: at, e)
        try c.run("""
            INSERT INTO audit (seq, recorded_at, request_id, tenant, client_id, ej_id, eg_id, interaction, resource_type,
                               resource_ids, status, outcome, prev_hash, hash)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
            """, [.integer(sequence), .integer(at.milliseconds), e.requestId.sql, e.tenant.sql, e.clientId.sql, e.legalEntityId.sql,
                  e.geographicEntityId.sql, .text(e.interaction), e.resourceType.sql, .text(e.resourceIds.joined(separator: " ")),
                  .integer(Int64(e.status)), e.outcome.sql, .blob(prevHash), .blob(hash)])
    }

    func auditRecords(after sequence: Int64, limit: Int) throws -> [AuditRecord] {
        try auditRows(where: "seq > ?1", [.integer(sequence)], limit: limit)
    }

    /// Audit rows matching `condition` (placeholders ?1…?n bound to `values`), in sequence order.
    func auditRows(where condition: String, _ values: [SQLiteValue], limit: Int) throws -> [AuditRecord] {
        try c.query("""
            SELECT seq, recorded_at, request_id, tenant, client_id, ej_id, eg_id, interaction, resource_type, resource_ids,
                   status, outcome, prev_hash, hash
            FROM audit WHERE \(condition) ORDER BY seq LIMIT ?\(values.count + 1)
            """, values + [.integer(Int64(max(0, limit)))]) { s in
            let ids = s.text(9) ?? ""
            return AuditRecord(sequence: s.int64(0), recordedAt: Timestamp(milliseconds: s.int64(1)),
                               entry: AuditEntry(requestId: s.text(2), tenant: s.text(3), clientId: s.text(4), legalEntityId: s.text(5),
                                                 geographicEntityId: s.text(6), interaction: s.text(7) ?? "", resourceType: s.text(8),
                                                 resourceIds: ids.isEmpty ? [] : ids.split(separator: " ").map(String.init),
                                                 status: s.int(10), outcome: s.text(11)),
                               previousHash: s.blob(12) ?? [], hash: s.blob(13) ?? [])
        }
    }

    // MARK: registry

    private func requireChanged(_ changes: Int, _ type: String, _ id: String) throws {
        if changes == 0 { throw StoreError.notFound(type: type, id: id) }
    }

    func client(id: String) throws -> ClientRecord? {
        try c.queryOne("SELECT client_id, name, role, environment, scopes, created_at, disabled_at FROM client WHERE client_id = ?1",
                       [.text(id)]) { s in
            ClientRecord(clientId: s.text(0) ?? "", name: s.text(1) ?? "", role: ClientRole(rawValue: s.text(2) ?? "") ?? .dui,
                         environment: ClientEnvironment(rawValue: s.text(3) ?? "") ?? .sandbox,
                         allowedScopes: (s.text(4) ?? "").split(separator: " ").map(String.init),
                         createdAt: Timestamp(milliseconds: s.int64(5)), disabledAt: s.optionalInt64(6).map(Timestamp.init))
        }
    }

    func upsertClient(_ r: ClientRecord) throws {
        try requireWritable()
        try c.run("""
            INSERT INTO client (client_id, name, role, environment, scopes, created_at, disabled_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, role = excluded.role, environment = excluded.environment,
                scopes = excluded.scopes, disabled_at = excluded.disabled_at
            """, [.text(r.clientId), .text(r.name), .text(r.role.rawValue), .text(r.environment.rawValue),
                  .text(r.allowedScopes.joined(separator: " ")), .integer(r.createdAt.milliseconds), r.disabledAt.sql])
    }

    func setClientDisabled(clientId: String, at: Timestamp?) throws {
        try requireWritable()
        try requireChanged(try c.run("UPDATE client SET disabled_at = ?2 WHERE client_id = ?1", [.text(clientId), at.sql]), "Client", clientId)
    }

    func secretHashes(clientId: String) throws -> [SecretHash] {
        try c.query("SELECT iterations, salt, hash, created_at, expires_at FROM client_secret WHERE client_id = ?1 AND algorithm = ?2 ORDER BY seq DESC",
                    [.text(clientId), .text(SecretHash.algorithm)]) { s in
            SecretHash(iterations: s.int(0), salt: s.blob(1) ?? [], hash: s.blob(2) ?? [],
                       createdAt: Timestamp(milliseconds: s.int64(3)), expiresAt: s.optionalInt64(4).map(Timestamp.init))
        }
    }

    func addSecret(clientId: String, _ h: SecretHash) throws {
        try requireWritable()
        guard h.iterations >= SecretHasher.minimumIterations, h.salt.count >= 16, h.hash.count == 32 else {
            throw StoreError.invalidArgument("weak or malformed secret hash")
        }
        guard try client(id: clientId) != nil else { throw StoreError.notFound(type: "Client", id: clientId) }
        try c.run("""
            INSERT INTO client_secret (client_id, seq, algorithm, iterations, salt, hash, created_at, expires_at)
            VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM client_secret WHERE client_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7)
            """, [.text(clientId), .text(SecretHash.algorithm), .integer(Int64(h.iterations)), .blob(h.salt), .blob(h.hash),
                  .integer(h.createdAt.milliseconds), h.expiresAt.sql])
        try c.run("""
            DELETE FROM client_secret WHERE client_id = ?1
              AND seq NOT IN (SELECT seq FROM client_secret WHERE client_id = ?1 ORDER BY seq DESC LIMIT 2)
            """, [.text(clientId)])
    }

    func removeSecrets(clientId: String, createdBefore: Timestamp) throws {
        try requireWritable()
        try c.run("DELETE FROM client_secret WHERE client_id = ?1 AND created_at < ?2", [.text(clientId), .integer(createdBefore.milliseconds)])
    }

    func legalEntity(id: String) throws -> LegalEntity? {
        try c.queryOne("SELECT ej_id, name, activated_at, activated_by, suspended_at FROM legal_entity WHERE ej_id = ?1", [.text(id)]) { s in
            LegalEntity(id: s.text(0) ?? "", name: s.text(1) ?? "", activatedAt: s.optionalInt64(2).map(Timestamp.init),
                        activatedBy: s.text(3), suspendedAt: s.optionalInt64(4).map(Timestamp.init))
        }
    }

    func upsertLegalEntity(_ e: LegalEntity) throws {
        try requireWritable()
        try c.run("""
            INSERT INTO legal_entity (ej_id, name, activated_at, activated_by, suspended_at) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (ej_id) DO UPDATE SET name = excluded.name, activated_at = excluded.activated_at,
                activated_by = excluded.activated_by, suspended_at = excluded.suspended_at
            """, [.text(e.id), .text(e.name), e.activatedAt.sql, e.activatedBy.sql, e.suspendedAt.sql])
    }

    func activateLegalEntity(id: String, by: String, at: Timestamp) throws {
        try requireWritable()
        try requireChanged(try c.run("UPDATE legal_entity SET activated_at = ?2, activated_by = ?3, suspended_at = NULL WHERE ej_id = ?1",
                                     [.text(id), .integer(at.milliseconds), .text(by)]), "LegalEntity", id)
    }

    func suspendLegalEntity(id: String, at: Timestamp) throws {
        try requireWritable()
        try requireChanged(try c.run("UPDATE legal_entity SET suspended_at = ?2 WHERE ej_id = ?1", [.text(id), .integer(at.milliseconds)]),
                           "LegalEntity", id)
    }

    private static let egColumns = "eg_id, ej_id, name, activated_at, activated_by, deactivated_at"
    private func geographicEntity(_ s: SQLiteStatement) -> GeographicEntity {
        GeographicEntity(id: s.text(0) ?? "", legalEntityId: s.text(1) ?? "", name: s.text(2) ?? "",
                         activatedAt: s.optionalInt64(3).map(Timestamp.init), activatedBy: s.text(4),
                         deactivatedAt: s.optionalInt64(5).map(Timestamp.init))
    }

    func geographicEntity(id: String) throws -> GeographicEntity? {
        try c.queryOne("SELECT \(Self.egColumns) FROM geographic_entity WHERE eg_id = ?1", [.text(id)]) { s in geographicEntity(s) }
    }

    func geographicEntities(legalEntityId: String) throws -> [GeographicEntity] {
        try c.query("SELECT \(Self.egColumns) FROM geographic_entity WHERE ej_id = ?1 ORDER BY eg_id", [.text(legalEntityId)]) { s in geographicEntity(s) }
    }

    func upsertGeographicEntity(_ e: GeographicEntity) throws {
        try requireWritable()
        try c.run("""
            INSERT INTO geographic_entity (eg_id, ej_id, name, activated_at, activated_by, deactivated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            ON CONFLICT (eg_id) DO UPDATE SET ej_id = excluded.ej_id, name = excluded.name, activated_at = excluded.activated_at,
                activated_by = excluded.activated_by, deactivated_at = excluded.deactivated_at
            """, [.text(e.id), .text(e.legalEntityId), .text(e.name), e.activatedAt.sql, e.activatedBy.sql, e.deactivatedAt.sql])
    }

    func activateGeographicEntity(id: String, by: String, at: Timestamp) throws {
        try requireWritable()
        try requireChanged(try c.run("UPDATE geographic_entity SET activated_at = ?2, activated_by = ?3, deactivated_at = NULL WHERE eg_id = ?1",
                                     [.text(id), .integer(at.milliseconds), .text(by)]), "GeographicEntity", id)
    }

    func deactivateGeographicEntity(id: String, at: Timestamp) throws {
        try requireWritable()
        try requireChanged(try c.run("UPDATE geographic_entity SET deactivated_at = ?2 WHERE eg_id = ?1", [.text(id), .integer(at.milliseconds)]),
                           "GeographicEntity", id)
    }

    func enrolment(clientId: String, legalEntityId: String) throws -> ClientEnrolment? {
        try c.queryOne("SELECT client_id, ej_id, pinned_x5t FROM client_legal_entity WHERE client_id = ?1 AND ej_id = ?2",
                       [.text(clientId), .text(legalEntityId)]) { s in
            ClientEnrolment(clientId: s.text(0) ?? "", legalEntityId: s.text(1) ?? "", pinnedThumbprint: s.text(2))
        }
    }

    func enrolments(clientId: String) throws -> [ClientEnrolment] {
        try c.query("SELECT client_id, ej_id, pinned_x5t FROM client_legal_entity WHERE client_id = ?1 ORDER BY ej_id", [.text(clientId)]) { s in
            ClientEnrolment(clientId: s.text(0) ?? "", legalEntityId: s.text(1) ?? "", pinnedThumbprint: s.text(2))
        }
    }

    func enrol(_ e: ClientEnrolment) throws {
        try requireWritable()
        try c.run("""
            INSERT INTO client_legal_entity (client_id, ej_id, pinned_x5t) VALUES (?1, ?2, ?3)
            ON CONFLICT (client_id, ej_id) DO UPDATE SET pinned_x5t = excluded.pinned_x5t
            """, [.text(e.clientId), .text(e.legalEntityId), e.pinnedThumbprint.sql])
    }

    func unenrol(clientId: String, legalEntityId: String) throws {
        try requireWritable()
        try c.run("DELETE FROM client_legal_entity WHERE client_id = ?1 AND ej_id = ?2", [.text(clientId), .text(legalEntityId)])
    }

    // MARK: tokens

    func storeToken(_ token: String, clientId: String, legalEntityId: String, thumbprint: String,
                    scopes: [String], issuedAt: Timestamp, expiresAt: Timestamp) throws -> TokenRecord {
        try requireWritable()
        guard expiresAt > issuedAt, !thumbprint.isEmpty, token.utf8.count >= 32 else {
            throw StoreError.invalidArgument("token must be long, bound to a thumbprint and expire after issue")
        }
        let record = TokenRecord(tokenHash: SecretHasher.tokenHash(token), clientId: clientId, legalEntityId: legalEntityId,
                                 thumbprint: thumbprint, scopes: scopes, issuedAt: issuedAt, expiresAt: expiresAt, revokedAt: nil)
        try c.run("""
            INSERT INTO token (token_hash, client_id, ej_id, x5t_s256, scopes, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            """, [.blob(record.tokenHash), .text(clientId), .text(legalEntityId), .text(thumbprint), .text(scopes.joined(separator: " ")),
                  .integer(issuedAt.milliseconds), .integer(expiresAt.milliseconds)])
        return record
    }

    func lookupToken(_ token: String, now: Timestamp) throws -> TokenLookup {
        let hash = SecretHasher.tokenHash(token)
        let found = try c.queryOne("""
            SELECT token_hash, client_id, ej_id, x5t_s256, scopes, issued_at, expires_at, revoked_at FROM token WHERE token_hash = ?1
            """, [.blob(hash)]) { s in
            TokenRecord(tokenHash: s.blob(0) ?? [], clientId: s.text(1) ?? "", legalEntityId: s.text(2) ?? "", thumbprint: s.text(3) ?? "",
                        scopes: (s.text(4) ?? "").split(separator: " ").map(String.init), issuedAt: Timestamp(milliseconds: s.int64(5)),
                        expiresAt: Timestamp(milliseconds: s.int64(6)), revokedAt: s.optionalInt64(7).map(Timestamp.init))
        }
        guard let record = found else { return .unknown }
        if record.revokedAt != nil { return .revoked(record) }
        if now >= record.expiresAt { return .expired(record) }
        return .valid(record)
    }

    func revokeToken(_ token: String, at: Timestamp) throws -> Bool {
        try requireWritable()
        return try c.run("UPDATE token SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
                         [.blob(SecretHasher.tokenHash(token)), .integer(at.milliseconds)]) > 0
    }

    func revokeTokens(clientId: String, legalEntityId: String?, at: Timestamp) throws -> Int {
        try requireWritable()
        return try c.run("UPDATE token SET revoked_at = ?3 WHERE client_id = ?1 AND (?2 IS NULL OR ej_id = ?2) AND revoked_at IS NULL",
                         [.text(clientId), legalEntityId.sql, .integer(at.milliseconds)])
    }

    func purgeExpiredTokens(now: Timestamp) throws -> Int {
        try requireWritable()
        return try c.run("DELETE FROM token WHERE expires_at <= ?1", [.integer(now.milliseconds)])
    }

    // MARK: tenants and lockout

    func purgeTenant(_ tenant: String) throws -> Int {
        try requireWritable()
        guard !tenant.isEmpty else { throw StoreError.invalidArgument("empty tenant") }
        let removed = try c.run("DELETE FROM resource WHERE tenant = ?1", [.text(tenant)])  // search keys cascade
        try c.run("DELETE FROM resource_version WHERE tenant = ?1", [.text(tenant)])
        return removed
    }

    func lockout(subject: String) throws -> LockoutState? {
        try c.queryOne("SELECT subject, failures, first_failure_at, locked_until FROM auth_lockout WHERE subject = ?1", [.text(subject)]) { s in
            LockoutState(subject: s.text(0) ?? "", failures: s.int(1), firstFailureAt: Timestamp(milliseconds: s.int64(2)),
                         lockedUntil: s.optionalInt64(3).map(Timestamp.init))
        }
    }

    func setLockout(_ l: LockoutState) throws {
        try requireWritable()
        try c.run("""
            INSERT INTO auth_lockout (subject, failures, first_failure_at, locked_until) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT (subject) DO UPDATE SET failures = excluded.failures, first_failure_at = excluded.first_failure_at,
                locked_until = excluded.locked_until
            """, [.text(l.subject), .integer(Int64(l.failures)), .integer(l.firstFailureAt.milliseconds), l.lockedUntil.sql])
    }

    func clearLockout(subject: String) throws {
        try requireWritable()
        try c.run("DELETE FROM auth_lockout WHERE subject = ?1", [.text(subject)])
    }
}

extension Optional where Wrapped == String {
    var sql: SQLiteValue { map { .text($0) } ?? .null }
}

extension Optional where Wrapped == Timestamp {
    var sql: SQLiteValue { map { .integer($0.milliseconds) } ?? .null }
}

