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
}
