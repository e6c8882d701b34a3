import Testing
@testable import Gateway

@Suite struct StoreAuditTests {
    let dir = StoreTempDir()
    struct RequestFailed: Error {}

    func auditCount(_ store: SQLiteStore) throws -> Int {
        try store.read { tx in try tx.auditRecords(after: 0, limit: 10_000).count }
    }

    @Test func auditIsWrittenWithTheChangeItDescribes() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        let created = try store.write { tx in
            let r = try tx.create(tenant: StoreFixtures.egA, type: "Consent", keys: []) { StoreFixtures.body($0) }
            try tx.audit(AuditEntry(requestId: "req-1", tenant: StoreFixtures.egA, clientId: "vt-ed-1", legalEntityId: "1990000003",
                                    geographicEntityId: StoreFixtures.egA, interaction: "create", resourceType: "Consent",
                                    resourceIds: [r.id], status: 201))
            return r
        }
        let records = try store.read { tx in try tx.auditRecords(after: 0, limit: 10) }
        #expect(records.count == 1)
        #expect(records[0].entry.resourceIds == [created.id])
        #expect(records[0].entry.clientId == "vt-ed-1" && records[0].entry.geographicEntityId == StoreFixtures.egA)
        #expect(records[0].entry.status == 201 && records[0].entry.interaction == "create")
        #expect(records[0].previousHash == AuditChain.genesis)
    }

    @Test func rolledBackTransactionLeavesNoAuditAndNoData() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        var createdId = ""
        #expect(throws: RequestFailed.self) {
            try store.write { tx in
                let r = try tx.create(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("type", "x")]) { StoreFixtures.body($0) }
                createdId = r.id
                try tx.audit(AuditEntry(interaction: "create", resourceType: "Task", resourceIds: [r.id], status: 201))
                throw RequestFailed()
            }
        }
        #expect(!createdId.isEmpty)
        #expect(try auditCount(store) == 0)
        let id = createdId
        try store.read { tx throws in
            #expect(try tx.read(tenant: StoreFixtures.egA, type: "Task", id: id) == nil)
            #expect(try tx.history(tenant: StoreFixtures.egA, type: "Task", id: id).isEmpty)
            #expect(try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("type", "x")])).resources.isEmpty)
        }
        // A failure inside the store (constraint) rolls back the audit written before it too.
        #expect(throws: StoreError.self) {
            try store.write { tx in
                try tx.audit(AuditEntry(interaction: "activate", status: 200))
                try tx.upsertGeographicEntity(GeographicEntity(id: StoreFixtures.egA, legalEntityId: "1990000098", name: "orphan"))
            }
        }
        #expect(try auditCount(store) == 0)
    }

    @Test func auditChainDetectsTampering() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        for i in 0..<5 {
            try store.write { tx in try tx.audit(AuditEntry(requestId: "r\(i)", clientId: "c", interaction: "search", resourceType: "Task", status: 200)) }
        }
        let records = try store.read { tx in try tx.auditRecords(after: 0, limit: 100) }
        #expect(records.map(\.sequence) == [1, 2, 3, 4, 5])
        for i in 1..<records.count { #expect(records[i].previousHash == records[i - 1].hash) }
        #expect(try store.verifyAuditChain() == nil)
        #expect(try store.read { tx in try tx.auditRecords(after: 3, limit: 100).map(\.sequence) } == [4, 5])
        try store.database.write { c in try c.run("UPDATE audit SET status = 404 WHERE seq = 3") }
        #expect(try store.verifyAuditChain() == 3)
    }

    /// The operator's search: time bounds, client, resource id, paging by sequence.
    @Test func auditSearchFiltersAndPages() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        for i in 0..<30 {
            try store.write { tx in
                try tx.audit(AuditEntry(clientId: i % 3 == 0 ? "vt-a" : "vt-b", interaction: "read", resourceType: "Task",
                                        resourceIds: i == 7 ? ["t-7", "t-77"] : ["t-\(i)"], status: 200))
            }
        }
        let all = try store.read { tx in try tx.auditRecords(matching: AuditQuery(count: 100)) }
        #expect(all.map(\.sequence) == Array(1...30))
        #expect(try store.read { tx in try tx.auditCount() } == 30)
        let a = try store.read { tx in try tx.auditRecords(matching: AuditQuery(clientId: "vt-a", count: 100)) }
        #expect(a.count == 10 && a.allSatisfy { $0.entry.clientId == "vt-a" })
        // Whole ids only: t-7 matches the record holding t-7 and t-77, not t-70… (none) nor t-17.
        let seven = try store.read { tx in try tx.auditRecords(matching: AuditQuery(resourceId: "t-7", count: 100)) }
        #expect(seven.map(\.sequence) == [8])
        #expect(try store.read { tx in try tx.auditRecords(matching: AuditQuery(resourceId: "t-77", count: 100)) }.map(\.sequence) == [8])
        // Time bounds: [from, before).
        let from = all[10].recordedAt, before = all[20].recordedAt
        let window = try store.read { tx in try tx.auditRecords(matching: AuditQuery(recordedFrom: from, recordedBefore: before, count: 100)) }
        #expect(window.allSatisfy { $0.recordedAt >= from && $0.recordedAt < before })
        #expect(window.count == all.filter { $0.recordedAt >= from && $0.recordedAt < before }.count && !window.isEmpty)
        // Pages of 4 in sequence order, resuming after the last one seen, never repeating.
        var seen: [Int64] = []
        var after: Int64 = 0
        while true {
            let page = try store.read { tx in try tx.auditRecords(matching: AuditQuery(clientId: "vt-b", after: after, count: 4)) }
            if page.isEmpty { break }
            seen += page.map(\.sequence)
            after = page.last!.sequence
        }
        #expect(seen == all.filter { $0.entry.clientId == "vt-b" }.map(\.sequence))
        #expect(try store.read { tx in try tx.auditRecord(sequence: 12) }?.entry.resourceIds == ["t-11"])
        #expect(try store.read { tx in try tx.auditRecord(sequence: 31) } == nil)
    }
}
