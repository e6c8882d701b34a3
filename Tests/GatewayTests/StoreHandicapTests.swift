import Testing
import Foundation
@testable import Gateway

/// The module Handicap's tables (migration 7) and the search masks.
@Suite struct StoreHandicapTests {
    let dir = StoreTempDir()

    func decision(_ idNat: String, _ idDecision: String, person: String = "ins:1", at: Timestamp = .now()) -> DecisionRecord {
        DecisionRecord(idNat: idNat, mdphOID: "1.2.250.1.213.7.1", idDecision: idDecision, mdphEstablishment: "1990000408", personKey: person,
                       kind: .attribution, state: .active, version: 1, documentId: "1.2.3^\(idDecision)", cda: [1, 2, 3], createdAt: at, updatedAt: at)
    }

    @Test func sequenceIsStrictlyIncreasingAndNeverReusedAfterARollback() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        let first = try store.write { tx in try tx.nextDecisionSequence() }
        struct Abort: Error {}
        #expect(throws: Abort.self) { try store.write { tx in _ = try tx.nextDecisionSequence(); throw Abort() } }
        let second = try store.write { tx in (try tx.nextDecisionSequence(), try tx.nextDecisionSequence()) }
        #expect(first == 1 && second.0 == 2 && second.1 == 3)
        #expect(throws: StoreError.self) { try store.read { tx in try (tx as! any StoreWriteTransaction).nextDecisionSequence() } }
    }

    @Test func idNatDecisionFormatCarriesAKey() {
        let id = HandicapFlows.idNat(prefix: "D", sequence: 42)
        #expect(id == "D0000000042" + HandicapFlows.key(42) && id.count == 13)
        #expect(HandicapFlows.key(42) == "55")  // 97 − 42
        #expect(HandicapFlows.isIdNat(id))
        #expect(!HandicapFlows.isIdNat("D000000004256"), "wrong key")
        #expect(!HandicapFlows.isIdNat("D00000000042"), "too short")
        #expect(HandicapFlows.idNat(prefix: "S", sequence: 97).hasSuffix("97"), "a multiple of 97 has key 97")
    }

    @Test func decisionsAreUniqueByIdNatAndByMDPHDecision() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        try store.write { tx in try tx.insertDecision(decision("D1", "DO-1")) }
        #expect(throws: StoreError.alreadyExists("decision D1")) { try store.write { tx in try tx.insertDecision(decision("D1", "DO-2")) } }
        #expect(throws: StoreError.alreadyExists("decision 1.2.250.1.213.7.1|DO-1")) {
            try store.write { tx in try tx.insertDecision(decision("D2", "DO-1")) }
        }
        var d = try #require(try store.read { tx in try tx.decision(mdphOID: "1.2.250.1.213.7.1", idDecision: "DO-1") })
        #expect(d.idNat == "D1" && d.cda == [1, 2, 3] && d.evaluationCDA == nil && d.state == .active)
        d.state = .cancelled; d.version = 2; d.evaluationCDA = [9]
        try store.write { tx in try tx.updateDecision(d) }
        #expect(try store.read { tx in try tx.decision(idNat: "D1") } == d)
        #expect(throws: StoreError.notFound(type: "Decision", id: "D9")) { try store.write { tx in try tx.updateDecision(decision("D9", "DO-9")) } }
    }

    @Test func notificationsAndLivePersonLookup() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        let t = Timestamp(milliseconds: 1_000)
        try store.write { tx in
            try tx.insertDecision(decision("D1", "DO-1", person: "ins:A", at: t))
            try tx.insertDecision(decision("D2", "DO-2", person: "ins:A", at: Timestamp(milliseconds: 2_000)))
            try tx.insertDecision(decision("D3", "DO-3", person: "ins:B", at: t))
            try tx.insertNotification(NotificationRecord(idNat: "D1", establishment: "1990000101", documentId: "doc-1", categories: ["R244:44"], createdAt: t))
            try tx.insertNotification(NotificationRecord(idNat: "D2", establishment: "1990000101", documentId: "doc-2", createdAt: t))
            try tx.insertNotification(NotificationRecord(idNat: "D2", establishment: "1990000200", documentId: "doc-3", createdAt: t))
            try tx.insertNotification(NotificationRecord(idNat: "D3", establishment: "1990000200", documentId: "doc-4", createdAt: t))
        }
        #expect(throws: StoreError.self) {
            try store.write { tx in try tx.insertNotification(NotificationRecord(idNat: "D1", establishment: "1990000101", documentId: "x", createdAt: t)) }
        }
        let live = try store.read { tx in try tx.liveNotifications(personKey: "ins:A") }
        #expect(live.map { "\($0.idNat)@\($0.establishment)" } == ["D2@1990000101", "D1@1990000101", "D2@1990000200"], "per EG, newest decision first")
        var n = try #require(try store.read { tx in try tx.notification(idNat: "D1", establishment: "1990000101") })
        #expect(n.categories == ["R244:44"])
        n.finishedAt = Timestamp(milliseconds: 5_000); n.finishedReason = "48"; n.platformStatus = "48"
        try store.write { tx in try tx.updateNotification(n) }
        #expect(try store.read { tx in try tx.liveNotifications(personKey: "ins:A") }.count == 2)
        var d2 = try #require(try store.read { tx in try tx.decision(idNat: "D2") })
        d2.state = .cancelled
        try store.write { tx in try tx.updateDecision(d2) }
        #expect(try store.read { tx in try tx.liveNotifications(personKey: "ins:A") }.isEmpty, "cancelled decisions are not followed")
        #expect(try store.read { tx in try tx.notifications(establishment: "1990000200", recoveryOnly: false) }.map(\.idNat) == ["D2", "D3"])
        #expect(try store.read { tx in try tx.notifications(establishment: "1990000200", recoveryOnly: true) }.isEmpty)
    }

    @Test func statusEventsAreLoggedInOrder() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        let t = Timestamp.now()
        let (s1, s2) = try store.write { tx in
            (try tx.appendStatusEvent(StatusEventRecord(idNat: "D1", establishment: "1990000101", taskId: "t1", clientId: "c", origin: .esms,
                                                        statusESMS: "39", recordedAt: t)),
             try tx.appendStatusEvent(StatusEventRecord(idNat: "D1", establishment: "1990000101", taskId: "t2", clientId: "c", origin: .esms,
                                                        statusESMS: nil, statusUnit: "184", unitId: "u1", unitDate: "2026-03-01",
                                                        recovery: true, forced: true, recordedAt: t)))
        }
        #expect(s2 > s1)
        let events = try store.read { tx in try tx.statusEvents(idNat: "D1", establishment: "1990000101") }
        #expect(events.map(\.taskId) == ["t1", "t2"] && events[1].forced && events[1].recovery && events[1].unitId == "u1")
        #expect(try store.read { tx in try tx.statusEvents(clientId: "c") }.count == 2)
        #expect(try store.read { tx in try tx.statusEvents(clientId: "other") }.isEmpty)
    }

    /// A mask hides the resources of a tenant carrying the key, except the version written at the kept instant.
    @Test func masksHideFinishedNotificationsFromMaskedSearchesOnly() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        let tenant = "1990000101"
        let before = try StoreFixtures.create(store, tenant: tenant, keys: [SearchKey("decision", "D1")])
        let other = try StoreFixtures.create(store, tenant: tenant, keys: [SearchKey("decision", "D2")])
        let finishing = try StoreFixtures.create(store, tenant: tenant, keys: [SearchKey("decision", "D1")])
        try store.write { tx in try tx.mask(tenant: tenant, key: SearchKey("decision", "D1"), keeping: finishing.lastUpdated) }
        let after = try StoreFixtures.create(store, tenant: tenant, keys: [SearchKey("decision", "D1")])
        func ids(masked: Bool, tenant: String = tenant) throws -> [String] {
            try store.read { tx in try tx.search(SearchQuery(tenant: tenant, type: "Task", lastUpdated: [.init(.ge, Timestamp(milliseconds: 0))],
                                                             applyMasks: masked)).resources.map(\.id) }
        }
        #expect(try ids(masked: false) == [before.id, other.id, finishing.id, after.id])
        #expect(try ids(masked: true) == [other.id, finishing.id])
        // Another tenant is not masked by this tenant's mask.
        let foreign = try StoreFixtures.create(store, tenant: "1990000200", keys: [SearchKey("decision", "D1")])
        #expect(try ids(masked: true, tenant: "1990000200") == [foreign.id])
        try store.write { tx in try tx.unmask(tenant: tenant, key: SearchKey("decision", "D1")) }
        #expect(try ids(masked: true).count == 4)
        #expect(try store.read { tx in try tx.searchKeys(tenant: tenant, type: "Task", id: before.id) } == [SearchKey("decision", "D1")])
    }

    @Test func mdphRegistryChecksTheOID() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        try store.write { tx in try tx.upsertMDPH(MDPHRecord(establishment: "1990000408", oid: "1.2.250.1.213.7.80", name: "MDPH 75")) }
        #expect(try store.read { tx in try tx.mdph(establishment: "1990000408") }?.oid == "1.2.250.1.213.7.80")
        for bad in ["1.2.250.1.213.7.", "1.2.250.1.213.8.1", "1.2.250.1.213.7.8x", "1.2.250.1.213.7.0"] {
            #expect(throws: StoreError.self, "\(bad)") {
                try store.write { tx in try tx.upsertMDPH(MDPHRecord(establishment: "1990000416", oid: bad, name: "x")) }
            }
        }
    }
}
