import Testing
import Foundation
@testable import Gateway

/// Migrations 9 and 10 (tables whose rows carry documents become rowid tables): a store written at the
/// previous version reads the same after the upgrade, the tables are rowid tables with their unique keys,
/// and the foreign keys that pointed at them (`search_key`, `hdc_notification`) follow. Migration 11:
/// search keys get their resource's lastUpdated, and polls by key return what the other plans return.
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
                        // No lower bound: the plan that reads no column added after version 8.
                        let page = try tx.search(SearchQuery(tenant: tenant, type: "DocumentReference", keys: [SearchKey("type", "57830-2")],
                                                             count: 7, cursor: cursor))
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
            try StoreFixtures.writeAtOldVersion(store) {
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
            } == ["resource_by_last_updated", "search_key_by_resource", "search_key_event_time"])
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

    @Test func aVersion9StoreUpgradesItsDecisionsKeepingEverything() throws {
        let dir = StoreTempDir()
        let path = dir.file("g.db")
        var old = SQLiteDatabase.Options()
        old.migrations = Array(Migration.all.prefix(9))
        let cda = [UInt8]("<ClinicalDocument/>".utf8) + [UInt8](repeating: 0x41, count: 4000)
        func snapshot(_ store: SQLiteStore) throws -> [String] {
            try store.read { tx in
                try (0..<30).flatMap { n -> [String] in
                    let d = try tx.decision(idNat: "D\(n)")
                    let byMDPH = try tx.decision(mdphOID: "1.2.250.1.213.7.1", idDecision: "DO-\(n)")
                    let notifications = try tx.notifications(idNat: "D\(n)").map { "\($0.establishment) \($0.platformStatus ?? "-") \($0.finishedAt?.milliseconds ?? 0)" }
                    return ["\(d?.idNat ?? "?") \(d?.state.rawValue ?? "?") \(d?.cda.count ?? 0) \(d?.evaluationCDA?.count ?? 0) \(byMDPH?.idNat ?? "?")"] + notifications
                } + (try tx.liveNotifications(personKey: "ins:3")).map { "live \($0.idNat) \($0.establishment)" }
            }
        }
        let before: [String]
        do {
            let store = try SQLiteStore(path: path, options: old)
            try store.write { tx in
                for n in 0..<30 {
                    let at = Timestamp(milliseconds: 1_000 + Int64(n))
                    try tx.insertDecision(DecisionRecord(idNat: "D\(n)", mdphOID: "1.2.250.1.213.7.1", idDecision: "DO-\(n)", mdphEstablishment: "1990000408",
                                                         personKey: "ins:\(n % 5)", kind: .attribution, state: n % 7 == 0 ? .cancelled : .active, version: 1,
                                                         documentId: "1.2.3^DO-\(n)", cda: cda, evaluationCDA: n % 2 == 0 ? cda : nil, createdAt: at, updatedAt: at))
                    for eg in ["1990000101", "1990000200"].prefix(1 + n % 2) {
                        try tx.insertNotification(NotificationRecord(idNat: "D\(n)", establishment: eg, documentId: "doc-\(n)-\(eg)", categories: ["R244:48"],
                                                                     platformStatus: n % 3 == 0 ? "39" : nil, finishedAt: n % 4 == 0 ? at : nil, createdAt: at))
                    }
                }
            }
            before = try snapshot(store)
        }

        let store = try SQLiteStore(path: path)
        #expect(try snapshot(store) == before)
        try store.database.withWriter { c in
            let sql = try c.queryOne("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'hdc_decision'") { $0.text(0) ?? "" } ?? ""
            #expect(!sql.contains("WITHOUT ROWID") && sql.contains("UNIQUE"), "\(sql)")
            #expect(try c.query("PRAGMA foreign_key_list(hdc_notification)") { $0.text(2) ?? "" } == ["hdc_decision"])
            #expect(try c.query("PRAGMA foreign_key_check") { $0.text(0) ?? "" }.isEmpty)
            #expect(try c.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('hdc_decision', 'hdc_notification') AND sql IS NOT NULL ORDER BY name") {
                $0.text(0) ?? ""
            } == ["hdc_decision_by_person", "hdc_notification_by_eg"])
            // The notification's decision must exist.
            #expect(throws: SQLiteError.self) {
                try c.run("INSERT INTO hdc_notification (id_nat, eg_id, document_id, categories, created_at) VALUES ('D-none', '1990000101', 'x', '', 1)")
            }
        }
        #expect(try store.database.integrityCheck() == ["ok"])
        #expect(throws: StoreError.alreadyExists("decision D1")) {
            try store.write { tx in
                try tx.insertDecision(DecisionRecord(idNat: "D1", mdphOID: "1.2.250.1.213.7.1", idDecision: "DO-new", mdphEstablishment: "1990000408",
                                                     personKey: "ins:1", kind: .attribution, state: .active, version: 1, documentId: "x", cda: cda,
                                                     createdAt: .now(), updatedAt: .now()))
            }
        }
    }

    @Test func aVersion10StoreGivesItsSearchKeysTheirTime() throws {
        let dir = StoreTempDir()
        let path = dir.file("g.db")
        var old = SQLiteDatabase.Options()
        old.migrations = Array(Migration.all.prefix(10))
        do {
            let store = try SQLiteStore(path: path, options: old)
            try StoreFixtures.writeAtOldVersion(store) {
            for n in 0..<60 {
                try store.write { tx in
                    let origin = n % 5 == 0 ? "event" : "own"
                    let task = try tx.create(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("origin", origin), SearchKey("decision", "D\(n % 7)")]) {
                        StoreFixtures.body($0)
                    }
                    if n % 6 == 0 {
                        tx.nextWriteInstant()
                        _ = try tx.update(tenant: StoreFixtures.egA, type: "Task", id: task.id, ifMatch: 1, keys: [SearchKey("origin", origin)]) {
                            StoreFixtures.body($0, ",\"status\":\"completed\"")
                        }
                    }
                }
            }
            }
        }
        let store = try SQLiteStore(path: path)
        let stale = try store.database.read { c in
            try c.queryOne("SELECT count(*) FROM search_key k JOIN resource r ON r.tenant = k.tenant AND r.type = k.type AND r.id = k.id"
                           + " WHERE k.name = 'origin' AND k.value = 'event' AND k.last_updated <> r.last_updated") { $0.int(0) }
        }
        #expect(stale == 0, "every event key carries its resource's lastUpdated")
        // After the upgrade and after new writes, a poll (walking the event keys, or the Tasks) pages exactly
        // like the same search without a bound (the key's entries, sorted).
        for n in 0..<12 {
            try store.write { tx in
                _ = try tx.create(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("origin", n % 3 == 0 ? "event" : "own")]) { StoreFixtures.body($0) }
            }
        }
        for origin in ["event", "own"] {
            func all(bound: Bool) throws -> [String] {
                var ids: [String] = [], cursor: String?
                repeat {
                    let page = try store.read { tx in
                        try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("origin", origin)],
                                                  lastUpdated: bound ? [LastUpdatedBound(.gt, Timestamp(milliseconds: 0))] : [], count: 4, cursor: cursor))
                    }
                    ids += page.resources.map { "\($0.id) \($0.lastUpdated.milliseconds)" }
                    cursor = page.next
                } while cursor != nil
                return ids
            }
            let polled = try all(bound: true)
            #expect(polled == (try all(bound: false)) && !polled.isEmpty, "\(origin)")
            #expect(polled.count == (origin == "event" ? 12 + 4 : 48 + 8), "\(origin): \(polled.count)")
        }
    }

    /// Migration 11 first shipped with a full (name, value, last_updated) index; a store that ran that
    /// form ends at migration 12 like any other (the full index dropped, the partial one built).
    @Test func theFirstFormOfMigration11ConvergesAt12() throws {
        let dir = StoreTempDir()
        let path = dir.file("g.db")
        var old = SQLiteDatabase.Options()
        old.migrations = Array(Migration.all.prefix(11))
        do {
            let store = try SQLiteStore(path: path, options: old)
            try store.database.withWriter { c in
                try c.execute("CREATE INDEX search_key_by_value_time ON search_key (tenant, type, name, value, last_updated, id)")
            }
            try store.write { tx in
                _ = try tx.create(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("origin", "event")]) { StoreFixtures.body($0) }
            }
        }
        let store = try SQLiteStore(path: path)
        let indexes = try store.database.read { c in
            try c.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'search_key' AND sql IS NOT NULL ORDER BY name") { $0.text(0) ?? "" }
        }
        #expect(indexes == ["search_key_by_resource", "search_key_event_time"])
        let page = try store.read { tx in
            try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("origin", "event")],
                                      lastUpdated: [LastUpdatedBound(.gt, Timestamp(milliseconds: 0))]))
        }
        #expect(page.resources.count == 1)
    }
}
