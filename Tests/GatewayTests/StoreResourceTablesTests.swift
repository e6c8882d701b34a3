import Testing
import Foundation
@testable import Gateway

/// Migration 9 (`resource`, `resource_version` as rowid tables): a store written at version 8 reads the
/// same after the upgrade (resources, versions, search keys, paging), the tables are rowid tables with
/// their unique keys, and `search_key` still cascades from `resource`.
@Suite struct StoreResourceTablesTests {
    @Test func aVersion8StoreUpgradesKeepingEverything() throws {
        let dir = StoreTempDir()
        let path = dir.file("g.db")
        var old = SQLiteDatabase.Options()
        old.migrations = Array(Migration.all.prefix(8))
        let large = ",\"data\":\"" + String(repeating: "QUJD", count: 1500) + "\""
        func snapshot(_ store: SQLiteStore) throws -> [String] {
            try store.read { tx in
                var lines: [String] = []
                for tenant in [StoreFixtures.egA, StoreFixtures.egB] {
                    var cursor: String?
                    repeat {
                        let page = try tx.search(SearchQuery(tenant: tenant, type: "DocumentReference", keys: [SearchKey("type", "57830-2")],
                                                             lastUpdated: [LastUpdatedBound(.gt, Timestamp(milliseconds: 0))], count: 7, cursor: cursor))
                        lines += page.resources.map { "\(tenant) \($0.id) v\($0.versionId) \($0.lastUpdated.milliseconds) \($0.body.count)" }
                        cursor = page.next
                    } while cursor != nil
                    let tasks = try tx.search(SearchQuery(tenant: tenant, type: "Task", count: 100)).resources
                    for t in tasks {
                        let history = try tx.history(tenant: tenant, type: "Task", id: t.id).map { "v\($0.versionId):\($0.body.count)" }
                        let keys = try tx.searchKeys(tenant: tenant, type: "Task", id: t.id).map { "\($0.name)=\($0.value)" }
                        lines.append("\(tenant) Task \(t.id) \(history) \(keys)")
                    }
                }
                return lines
            }
        }
        let before: [String]
        do {
            let store = try SQLiteStore(path: path, options: old)
            for n in 0..<40 {
                let tenant = n % 3 == 0 ? StoreFixtures.egB : StoreFixtures.egA
                try store.write { tx in
                    _ = try tx.create(tenant: tenant, type: "DocumentReference", keys: [SearchKey("type", "57830-2"), SearchKey("decision", "D\(n)")]) {
                        StoreFixtures.body($0, large)
                    }
                    let task = try tx.create(tenant: tenant, type: "Task", keys: [SearchKey("origin", "own")]) { StoreFixtures.body($0) }
                    if n % 4 == 0 {
                        _ = try tx.update(tenant: tenant, type: "Task", id: task.id, ifMatch: 1, keys: [SearchKey("origin", "own"), SearchKey("decision", "D\(n)")]) {
                            StoreFixtures.body($0, ",\"status\":\"completed\"")
                        }
                    }
                }
            }
            before = try snapshot(store)
            #expect(before.count == 40 + 40)
        }

        let store = try SQLiteStore(path: path)
        #expect(try snapshot(store) == before)
        try store.database.withWriter { c in
            #expect(try c.queryOne("PRAGMA user_version") { $0.int(0) } == Migration.all.count)
            for table in ["resource", "resource_version"] {
                let sql = try c.queryOne("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1", [.text(table)]) { $0.text(0) ?? "" } ?? ""
                #expect(!sql.contains("WITHOUT ROWID") && sql.contains("UNIQUE"), "\(table): \(sql)")
            }
            let parents = try c.query("PRAGMA foreign_key_list(search_key)") { ($0.text(2) ?? "", $0.text(6) ?? "") }
            #expect(parents.count == 3 && parents.allSatisfy { $0.0 == "resource" && $0.1 == "CASCADE" }, "\(parents)")
            #expect(try c.query("PRAGMA foreign_key_check") { $0.text(0) ?? "" }.isEmpty)
            #expect(try c.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('resource', 'search_key') AND sql IS NOT NULL ORDER BY name") {
                $0.text(0) ?? ""
            } == ["resource_by_last_updated", "search_key_by_resource"])
            // The unique keys hold: a second row for the same (tenant, type, id) is refused.
            #expect(throws: SQLiteError.self) {
                try c.run("INSERT INTO resource (tenant, type, id, version, last_updated, body) SELECT tenant, type, id, 9, 1, X'00' FROM resource LIMIT 1")
            }
        }
        #expect(try store.database.integrityCheck() == ["ok"])
        // Search keys still cascade when resources go (the sandbox purge).
        let purged = try store.write { tx in try tx.purgeTenant(StoreFixtures.egB) }
        #expect(purged == 14 + 14)
        #expect(try store.database.read { c in
            try c.queryOne("SELECT count(*) FROM search_key WHERE tenant = ?1", [.text(StoreFixtures.egB)]) { $0.int(0) }
        } == 0)
        // And the store keeps working on the new tables.
        let created = try StoreFixtures.create(store, tenant: StoreFixtures.egA, keys: [SearchKey("origin", "own")])
        #expect(try store.read { tx in try tx.read(tenant: StoreFixtures.egA, type: "Task", id: created.id) }?.versionId == 1)
    }
}
