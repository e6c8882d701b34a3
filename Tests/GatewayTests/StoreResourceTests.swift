import Testing
@testable import Gateway

@Suite struct StoreResourceTests {
    let dir = StoreTempDir()
    var store: SQLiteStore { get throws { try SQLiteStore(path: dir.file("g.db")) } }

    @Test func instantFormatAndParse() throws {
        #expect(Timestamp(milliseconds: 0).fhirInstant == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(milliseconds: 1_767_225_600_123).fhirInstant == "2026-01-01T00:00:00.123Z")
        #expect(Timestamp(milliseconds: -1).fhirInstant == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp(fhirInstant: "2026-01-01T00:00:00.123Z")?.milliseconds == 1_767_225_600_123)
        #expect(Timestamp(fhirInstant: "2026-01-01T01:00:00+01:00")?.milliseconds == 1_767_225_600_000)
        let negativeOffset = Timestamp(fhirInstant: "2026-01-01T00:00:00.1234567-00:30")
        #expect(negativeOffset == Timestamp(milliseconds: 1_767_227_400_123))
        #expect(Timestamp(fhirInstant: "2024-02-29T12:00:00Z") != nil)
        for bad in ["2026-01-01T00:00:00", "2026-01-01", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+0100"] {
            #expect(Timestamp(fhirInstant: bad) == nil, "\(bad)")
        }
        let now = Timestamp.now()
        #expect(Timestamp(fhirInstant: now.fhirInstant) == now)
    }

    @Test func createReadUpdateAndHistory() throws {
        let store = try store
        let created = try store.write { tx in
            try tx.create(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("identifier", "urn:x|1")]) { meta in
                StoreFixtures.body(meta, ",\"status\":\"requested\"")
            }
        }
        #expect(created.versionId == 1)
        #expect(created.id.utf8.count == 36)
        #expect(String(decoding: created.body, as: UTF8.self).contains("\"versionId\":\"1\""))
        #expect(String(decoding: created.body, as: UTF8.self).contains(created.lastUpdated.fhirInstant))

        let read = try store.read { tx in try tx.read(tenant: StoreFixtures.egA, type: "Task", id: created.id) }
        #expect(read == created)

        let v2 = try store.write { tx in
            try tx.update(tenant: StoreFixtures.egA, type: "Task", id: created.id, ifMatch: 1, keys: [SearchKey("identifier", "urn:x|2")]) { meta in
                StoreFixtures.body(meta, ",\"status\":\"completed\"")
            }
        }
        #expect(v2.versionId == 2)
        #expect(v2.lastUpdated > created.lastUpdated)

        // If-Match on a stale version fails and writes nothing.
        #expect(throws: StoreError.versionConflict(expected: 1, current: 2)) {
            try store.write { tx in
                try tx.update(tenant: StoreFixtures.egA, type: "Task", id: created.id, ifMatch: 1, keys: []) { StoreFixtures.body($0) }
            }
        }
        #expect(throws: StoreError.notFound(type: "Task", id: "nope")) {
            try store.write { tx in try tx.update(tenant: StoreFixtures.egA, type: "Task", id: "nope", ifMatch: nil, keys: []) { StoreFixtures.body($0) } }
        }

        try store.read { tx throws in
            let current = try tx.read(tenant: StoreFixtures.egA, type: "Task", id: created.id)
            #expect(current == v2)
            #expect(try tx.read(tenant: StoreFixtures.egA, type: "Task", id: created.id, version: 1) == created)
            #expect(try tx.read(tenant: StoreFixtures.egA, type: "Task", id: created.id, version: 2) == v2)
            #expect(try tx.read(tenant: StoreFixtures.egA, type: "Task", id: created.id, version: 3) == nil)
            #expect(try tx.history(tenant: StoreFixtures.egA, type: "Task", id: created.id).map(\.versionId) == [2, 1])
            // Search keys follow the current version only.
            #expect(try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("identifier", "urn:x|1")])).resources.isEmpty)
            #expect(try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("identifier", "urn:x|2")])).resources.map(\.id) == [created.id])
        }
    }

    @Test func writesInOneTransactionShareLastUpdatedAndLaterTransactionsAreStrictlyLater() throws {
        let store = try store
        let (a, b) = try store.write { tx in
            (try tx.create(tenant: StoreFixtures.egA, type: "Task", keys: []) { StoreFixtures.body($0) },
             try tx.create(tenant: StoreFixtures.egA, type: "Consent", keys: []) { StoreFixtures.body($0) })
        }
        #expect(a.lastUpdated == b.lastUpdated)
        var previous = a.lastUpdated
        for _ in 0..<20 {
            let r = try StoreFixtures.create(store, tenant: StoreFixtures.egA)
            #expect(r.lastUpdated > previous)
            previous = r.lastUpdated
        }
    }

    @Test func tenantIsolation() throws {
        let store = try store
        let key = SearchKey("identifier", "urn:oid:1.2.250.1.213.7.1|DO-42")
        let a = try StoreFixtures.create(store, tenant: StoreFixtures.egA, type: "DocumentReference", keys: [key])
        let b = try StoreFixtures.create(store, tenant: StoreFixtures.egB, type: "DocumentReference", keys: [key])
        try store.read { tx throws in
            // Reads by id across tenants find nothing.
            #expect(try tx.read(tenant: StoreFixtures.egA, type: "DocumentReference", id: b.id) == nil)
            #expect(try tx.read(tenant: StoreFixtures.egB, type: "DocumentReference", id: a.id) == nil)
            #expect(try tx.read(tenant: StoreFixtures.egA, type: "DocumentReference", id: b.id, version: 1) == nil)
            #expect(try tx.history(tenant: StoreFixtures.egA, type: "DocumentReference", id: b.id).isEmpty)
            // Searches with the same key and no key return only the tenant's own.
            for keys in [[key], []] {
                let pa = try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "DocumentReference", keys: keys))
                let pb = try tx.search(SearchQuery(tenant: StoreFixtures.egB, type: "DocumentReference", keys: keys))
                #expect(pa.resources.map(\.id) == [a.id] && pa.resources.allSatisfy { $0.tenant == StoreFixtures.egA })
                #expect(pb.resources.map(\.id) == [b.id] && pb.resources.allSatisfy { $0.tenant == StoreFixtures.egB })
            }
            // A cursor from tenant A's search does not reveal B's rows.
            let cursor = SearchCursor(lastUpdated: 0, id: "0").token
            let pa = try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "DocumentReference", cursor: cursor))
            #expect(pa.resources.map(\.id) == [a.id])
        }
        // Updating B's resource through tenant A is "not found", and B's data is unchanged.
        #expect(throws: StoreError.notFound(type: "DocumentReference", id: b.id)) {
            try store.write { tx in try tx.update(tenant: StoreFixtures.egA, type: "DocumentReference", id: b.id, ifMatch: nil, keys: []) { StoreFixtures.body($0) } }
        }
        #expect(try store.read { tx in try tx.read(tenant: StoreFixtures.egB, type: "DocumentReference", id: b.id) } == b)
    }

    @Test func purgeTenantResetsOneSandboxOnly() throws {
        let store = try store
        let a = try StoreFixtures.create(store, tenant: "sandbox:ed-1", keys: [SearchKey("k", "v")])
        try store.write { tx in _ = try tx.update(tenant: "sandbox:ed-1", type: "Task", id: a.id, ifMatch: 1, keys: [SearchKey("k", "v")]) { StoreFixtures.body($0) } }
        _ = try StoreFixtures.create(store, tenant: "sandbox:ed-1", type: "Consent")
        let b = try StoreFixtures.create(store, tenant: "sandbox:ed-2", keys: [SearchKey("k", "v")])
        #expect(try store.write { tx in try tx.purgeTenant("sandbox:ed-1") } == 2)
        try store.read { tx throws in
            #expect(try tx.read(tenant: "sandbox:ed-1", type: "Task", id: a.id) == nil)
            #expect(try tx.history(tenant: "sandbox:ed-1", type: "Task", id: a.id).isEmpty)
            #expect(try tx.search(SearchQuery(tenant: "sandbox:ed-1", type: "Task", keys: [SearchKey("k", "v")])).resources.isEmpty)
            #expect(try tx.search(SearchQuery(tenant: "sandbox:ed-2", type: "Task", keys: [SearchKey("k", "v")])).resources == [b])
        }
        let leftoverKeys = try store.database.read { c in try c.queryOne("SELECT count(*) FROM search_key WHERE tenant = 'sandbox:ed-1'") { $0.int(0) } }
        #expect(leftoverKeys == 0)
    }

    @Test func searchByKeysAndLastUpdatedBounds() throws {
        let store = try store
        var made: [StoredResource] = []
        for i in 0..<6 {
            let keys = [SearchKey("type", i % 2 == 0 ? "57830-2" : "51848-0"), SearchKey("identifier", "urn:x|\(i / 2)")]
            made.append(try StoreFixtures.create(store, tenant: StoreFixtures.egA, type: "DocumentReference", keys: keys))
        }
        _ = try StoreFixtures.create(store, tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("type", "57830-2")])
        let t = made.map(\.lastUpdated)
        func ids(_ keys: [SearchKey] = [], _ bounds: [LastUpdatedBound] = []) throws -> [String] {
            try store.read { tx in try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "DocumentReference", keys: keys, lastUpdated: bounds)).resources.map(\.id) }
        }
        #expect(try ids() == made.map(\.id))
        #expect(try ids([SearchKey("type", "57830-2")]) == [made[0].id, made[2].id, made[4].id])
        #expect(try ids([SearchKey("type", "51848-0"), SearchKey("identifier", "urn:x|1")]) == [made[3].id])
        #expect(try ids([SearchKey("type", "51848-0"), SearchKey("identifier", "urn:x|9")]) == [])
        #expect(try ids([], [LastUpdatedBound(.gt, t[2])]) == made[3...].map(\.id))
        #expect(try ids([], [LastUpdatedBound(.ge, t[2])]) == made[2...].map(\.id))
        #expect(try ids([], [LastUpdatedBound(.lt, t[2])]) == made[..<2].map(\.id))
        #expect(try ids([], [LastUpdatedBound(.le, t[2])]) == made[...2].map(\.id))
        #expect(try ids([], [LastUpdatedBound(.gt, t[1]), LastUpdatedBound(.lt, t[4])]) == [made[2].id, made[3].id])
        #expect(try ids([SearchKey("type", "57830-2")], [LastUpdatedBound(.ge, t[1])]) == [made[2].id, made[4].id])
        #expect(throws: StoreError.self) {
            try store.read { tx in try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", count: 0)) }
        }
    }

    @Test func pagingIsStableUnderConcurrentWrites() throws {
        let store = try store
        // Several resources share one lastUpdated (one transaction), so the id tie-break is exercised.
        var expected: [String] = try store.write { tx in
            try (0..<5).map { _ in try tx.create(tenant: StoreFixtures.egA, type: "Task", keys: []) { StoreFixtures.body($0) }.id }.sorted()
        }
        for _ in 0..<7 { expected.append(try StoreFixtures.create(store, tenant: StoreFixtures.egA).id) }

        var seen: [String] = []
        var cursor: String?
        var pages = 0
        var late: [String] = []
        repeat {
            let page = try store.read { tx in try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", count: 5, cursor: cursor)) }
            #expect(page.resources.count <= 5)
            seen += page.resources.map(\.id)
            cursor = page.next
            pages += 1
            // A write between pages, and an update of an already-seen resource: neither disturbs the pages already walked.
            if pages == 1 {
                late.append(try StoreFixtures.create(store, tenant: StoreFixtures.egA).id)
                let first = seen[0]
                try store.write { tx in _ = try tx.update(tenant: StoreFixtures.egA, type: "Task", id: first, ifMatch: nil, keys: []) { StoreFixtures.body($0) } }
                late.append(first)
            }
        } while cursor != nil && pages < 10
        // Every original row exactly once in order, then the late writes in commit order; the
        // updated row reappears at its new position (polling must see the change).
        #expect(seen == expected + late)
        #expect(pages == 3)
        #expect(throws: StoreError.invalidCursor) {
            try store.read { tx in try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", cursor: "garbage")) }
        }
        #expect(throws: StoreError.invalidCursor) {
            try store.read { tx in try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", cursor: "1.x' OR 1=1 --")) }
        }
    }

    @Test func rejectsBadArgumentsAndWritesInReadTransactions() throws {
        let store = try store
        #expect(throws: StoreError.self) { try StoreFixtures.create(store, tenant: "", type: "Task") }
        #expect(throws: StoreError.self) { try StoreFixtures.create(store, tenant: StoreFixtures.egA, type: "Task; DROP") }
        #expect(throws: StoreError.invalidArgument("write in a read transaction")) {
            try store.read { tx throws in
                guard let w = tx as? any StoreWriteTransaction else { return }
                _ = try w.create(tenant: StoreFixtures.egA, type: "Task", keys: []) { StoreFixtures.body($0) }
            }
        }
    }
}
