import Testing
import Foundation
import CSQLite
@testable import Gateway

@Suite struct StoreSQLiteTests {
    @Test func connectionPragmasAreDurableAndStrict() throws {
        let dir = StoreTempDir()
        let db = try SQLiteDatabase(path: dir.file("g.db"))
        let (mode, sync, fk, timeout) = try db.read { c in
            (try c.pragmaText("journal_mode"), try c.pragmaText("synchronous"), try c.pragmaText("foreign_keys"), try c.pragmaText("busy_timeout"))
        }
        #expect(mode == "wal")
        #expect(sync == "2")  // FULL
        #expect(fk == "1")
        #expect(timeout == "10000")
        let writerSync = try db.withWriter { c in try c.pragmaText("synchronous") }
        #expect(writerSync == "2")
    }

    @Test func readerConnectionsAreQueryOnly() throws {
        let dir = StoreTempDir()
        let db = try SQLiteDatabase(path: dir.file("g.db"))
        do {
            try db.read { c in try c.run("INSERT INTO store_clock (id, last_updated) VALUES (2, 0)") }
            Issue.record("a reader wrote")
        } catch let e as SQLiteError {
            #expect(e.code == SQLITE_READONLY)
        }
    }

    /// The hot queries must use indexes, never a scan of the resource table.
    @Test func searchAndLookupsUseIndexes() throws {
        let dir = StoreTempDir()
        let db = try SQLiteDatabase(path: dir.file("g.db"))
        let store = try SQLiteStore(path: dir.file("g.db"))
        _ = store
        let t = Timestamp(milliseconds: 1000)
        let cursor = SearchCursor(lastUpdated: 1000, id: "x").token
        let searches: [String: SearchQuery] = [
            "poll by type": SearchQuery(tenant: "a", type: "DocumentReference", keys: [SearchKey("type", "57830-2")],
                                        lastUpdated: [LastUpdatedBound(.gt, t)], cursor: cursor),
            "poll all": SearchQuery(tenant: "a", type: "Task", lastUpdated: [LastUpdatedBound(.ge, t), LastUpdatedBound(.lt, t)]),
            "poll events": SearchQuery(tenant: "a", type: "Task", keys: [SearchKey("origin", "event"), SearchKey("decision", "D1")],
                                       lastUpdated: [LastUpdatedBound(.gt, t)], cursor: cursor, applyMasks: true),
            "search by identifier": SearchQuery(tenant: "a", type: "DocumentReference",
                                                keys: [SearchKey("identifier", "s|v"), SearchKey("type", "51848-0")]),
        ]
        var plans: [String: String] = [
            "token": "SELECT client_id FROM token WHERE token_hash = ?",
            "purge": "DELETE FROM token WHERE expires_at <= ?",
            "history": "SELECT body FROM resource_version WHERE tenant = ? AND type = ? AND id = ? ORDER BY version DESC",
        ]
        for (name, q) in searches { plans[name] = try SQLiteStoreTransaction.searchStatement(q).0 }
        for (name, sql) in plans {
            let plan = try db.read { c in try c.query("EXPLAIN QUERY PLAN " + sql) { $0.text(3) ?? "" } }
            #expect(!plan.isEmpty)
            for step in plan {
                #expect(!(step.hasPrefix("SCAN") && !step.contains("INDEX")), "\(name): \(plan)")
                // Only the identifier search may sort (its few matching rows); polling walks the index in order.
                if name != "search by identifier" { #expect(!step.contains("TEMP B-TREE"), "\(name) sorts: \(plan)") }
            }
            if name == "search by identifier" { #expect(plan.first?.hasPrefix("SEARCH k0 USING") == true, "\(plan)") }
            // Flow 5's poll walks the event keys in time order (migration 12's partial index), not every Task.
            if name == "poll events" { #expect(plan.first?.hasPrefix("SEARCH k0 USING") == true && plan.first?.contains("search_key_event_time") == true, "\(plan)") }
            if name == "poll by type" { #expect(plan.first?.contains("resource_by_last_updated") == true, "\(plan)") }
        }
    }

    @Test func typedBindsAndColumnsRoundTrip() throws {
        let dir = StoreTempDir()
        let c = try SQLiteConnection(path: dir.file("t.db"))
        try c.execute("CREATE TABLE t (a, b, c, d, e)")
        let blob: [UInt8] = [0, 1, 255, 0]
        try c.run("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [.integer(Int64.min), .real(1.5), .text("é\u{0}x"), .blob(blob), .null])
        try c.run("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [.integer(0), .real(0), .text(""), .blob([]), .null])
        let rows = try c.query("SELECT a, b, c, d, e FROM t ORDER BY rowid") { s in (s.int64(0), s.double(1), s.text(2), s.blob(3), s.isNull(4)) }
        #expect(rows.count == 2)
        #expect(rows[0].0 == Int64.min && rows[0].1 == 1.5 && rows[0].2 == "é\u{0}x" && rows[0].3 == blob && rows[0].4)
        #expect(rows[1].2 == "" && rows[1].3 == [])  // empty text and blob are not NULL
    }

    @Test func errorsCarrySQLiteMessageAndCode() throws {
        let dir = StoreTempDir()
        let c = try SQLiteConnection(path: dir.file("t.db"))
        do {
            _ = try c.prepare("SELECT * FROM missing_table")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == SQLITE_ERROR)
            #expect(error.message.contains("no such table: missing_table"))
            #expect(error.sql == "SELECT * FROM missing_table")
        }
        try c.execute("CREATE TABLE u (x PRIMARY KEY)")
        try c.run("INSERT INTO u VALUES (1)")
        do {
            try c.run("INSERT INTO u VALUES (1)")
            Issue.record("expected a constraint error")
        } catch {
            #expect(error.isConstraint)
            #expect(error.extendedCode == SQLITE_CONSTRAINT | (6 << 8))  // SQLITE_CONSTRAINT_PRIMARYKEY
        }
    }

    @Test func transactionRollsBackOnThrowAndCommitsOtherwise() throws {
        struct Boom: Error {}
        let dir = StoreTempDir()
        let c = try SQLiteConnection(path: dir.file("t.db"))
        try c.execute("CREATE TABLE t (x)")
        #expect(throws: Boom.self) {
            try c.transaction { try c.run("INSERT INTO t VALUES (1)"); throw Boom() }
        }
        #expect(c.isAutocommit)
        try c.transaction { try c.run("INSERT INTO t VALUES (2)") }
        #expect(try c.query("SELECT x FROM t") { $0.int(0) } == [2])
    }

    @Test func statementCacheReusesPreparedStatements() throws {
        let dir = StoreTempDir()
        let c = try SQLiteConnection(path: dir.file("t.db"))
        let a = try c.prepare("SELECT 1")
        let b = try c.prepare("SELECT 1")
        #expect(a === b)
        // A statement left mid-iteration is reset when taken from the cache again.
        #expect(try a.step())
        #expect(try c.queryOne("SELECT 1") { $0.int(0) } == 1)
    }

    // MARK: migrations

    @Test func freshDatabaseIsAtLatestVersionAndReopeningIsANoOp() throws {
        let dir = StoreTempDir()
        let path = dir.file("g.db")
        _ = try SQLiteDatabase(path: path)
        let c = try SQLiteConnection(path: path)
        #expect(try c.queryOne("PRAGMA user_version") { $0.int(0) } == Migration.all.count)
        let result = try Migrator(Migration.all).migrate(c)
        #expect(result.from == Migration.all.count && result.to == Migration.all.count)
        let tables = try c.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") { $0.text(0) ?? "" }
        for t in ["audit", "client", "client_legal_entity", "client_secret", "geographic_entity", "legal_entity",
                  "resource", "resource_version", "search_key", "store_clock", "token", "auth_lockout"] {
            #expect(tables.contains(t), "missing table \(t)")
        }
    }

    @Test func oldVersionDatabaseIsMigratedKeepingItsData() throws {
        let dir = StoreTempDir()
        let path = dir.file("old.db")
        // A version-1 database, as an older gateway left it, with a resource in it.
        do {
            let c = try SQLiteConnection(path: path)
            try Migrator(Array(Migration.all.prefix(1))).migrate(c)
            try c.run("INSERT INTO resource VALUES ('1990000011', 'Task', 'old-1', 1, 1000, X'7B7D')")
            try c.run("INSERT INTO resource_version VALUES ('1990000011', 'Task', 'old-1', 1, 1000, X'7B7D')")
            #expect(try c.queryOne("PRAGMA user_version") { $0.int(0) } == 1)
            #expect(try c.queryOne("SELECT count(*) FROM sqlite_master WHERE name = 'audit'") { $0.int(0) } == 0)
        }
        let store = try SQLiteStore(path: path)
        let old = try store.read { tx in try tx.read(tenant: "1990000011", type: "Task", id: "old-1") }
        #expect(old?.body == Array("{}".utf8))
        // Tables of migrations 2 and 3 exist and work.
        try store.write { tx in
            try tx.upsertLegalEntity(LegalEntity(id: "1990000003", name: "EJ"))
            try tx.audit(AuditEntry(interaction: "migrate-test", status: 200))
        }
        let version = try store.database.withWriter { c in try c.queryOne("PRAGMA user_version") { $0.int(0) } }
        #expect(version == Migration.all.count)
    }

    @Test func failingMigrationLeavesTheDatabaseUntouched() throws {
        let dir = StoreTempDir()
        let path = dir.file("g.db")
        let broken = Migration.all + [Migration(version: Migration.all.count + 1, summary: "broken",
                                                sql: "CREATE TABLE extra (x); INSERT INTO no_such_table VALUES (1);")]
        var options = SQLiteDatabase.Options()
        options.migrations = broken
        #expect(throws: SQLiteError.self) { _ = try SQLiteDatabase(path: path, options: options) }
        let c = try SQLiteConnection(path: path)
        #expect(try c.queryOne("PRAGMA user_version") { $0.int(0) } == 0)
        #expect(try c.queryOne("SELECT count(*) FROM sqlite_master") { $0.int(0) } == 0)
    }

    @Test func newerDatabaseIsRefused() throws {
        let dir = StoreTempDir()
        let path = dir.file("g.db")
        do {
            let c = try SQLiteConnection(path: path)
            try c.execute("PRAGMA user_version = 99")
        }
        #expect(throws: StoreError.schemaTooNew(found: 99, supported: Migration.all.count)) {
            _ = try SQLiteStore(path: path)
        }
        do {
            _ = try SQLiteDatabase(path: path)
            Issue.record("expected refusal")
        } catch let e as StoreError {
            #expect(e == .schemaTooNew(found: 99, supported: Migration.all.count))
        }
    }
}

@Suite struct StoreStatementCacheTests {
    /// More distinct statements than the cache holds, while one evicted statement is still being
    /// iterated: it stays valid (eviction drops it from the cache, it is finalized when released).
    @Test func evictionDoesNotInvalidateAStatementInUse() throws {
        let dir = StoreTempDir()
        let c = try SQLiteConnection(path: dir.file("t.db"))
        try c.execute("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);")
        let outer = try c.prepare("SELECT x FROM t ORDER BY x")
        #expect(try outer.step())
        #expect(outer.int(0) == 1)
        for i in 0..<200 { #expect(try c.queryOne("SELECT \(i)") { $0.int(0) } == i) }
        #expect(try outer.step())
        #expect(outer.int(0) == 2)
        #expect(try c.queryOne("SELECT count(*) FROM t") { $0.int(0) } == 3)
    }
}

extension StoreStatementCacheTests {
    /// Dropping a store closes its files (no reference cycle between connections and statements).
    @Test func droppingAStoreClosesItsFiles() throws {
        let dir = StoreTempDir()
        func openFiles() -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [])
                .compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0) }
                .filter { $0.hasPrefix(dir.path) }.count
        }
        for _ in 0..<5 {
            let store = try SQLiteStore(path: dir.file("g.db"))
            _ = try StoreFixtures.create(store, tenant: StoreFixtures.egA, keys: [SearchKey("k", "v")])
            _ = try store.read { tx in try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("k", "v")])) }
            #expect(openFiles() > 0)
        }
        #expect(openFiles() == 0)
    }
}
