import Testing
import Mappers
@testable import Gateway

@Suite struct StoreRorUnitTests {
    let dir = StoreTempDir()

    func unit(_ eg: String, _ id: String, name: String = "Unité", open: Bool = true) -> RorUnit {
        RorUnit(establishment: eg, rorId: id, name: name, organisationCategory: "01", receptionTemporality: "02", sequentialReception: true,
                rorCareMode: "47", careMode: "47", isOpen: open, rorLastUpdated: "2026-01-02T03:04:05Z")
    }

    @Test func unitsAreMirroredPerEstablishmentAndReplacedByKey() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        try store.write { tx in
            try tx.upsertRorUnit(unit(StoreFixtures.egA, "06/0000002"), at: .now())
            try tx.upsertRorUnit(unit(StoreFixtures.egA, "06/0000001"), at: .now())
            try tx.upsertRorUnit(unit(StoreFixtures.egB, "06/0000001", name: "Autre"), at: .now())
        }
        try store.write { tx in try tx.upsertRorUnit(unit(StoreFixtures.egA, "06/0000001", name: "Renommée", open: false), at: .now()) }
        let (a, one, foreign) = try store.read { tx in
            (try tx.rorUnits(establishment: StoreFixtures.egA), try tx.rorUnit(establishment: StoreFixtures.egA, rorId: "06/0000001"),
             try tx.rorUnit(establishment: StoreFixtures.egA, rorId: "06/0000009"))
        }
        #expect(a.map(\.rorId) == ["06/0000001", "06/0000002"])
        #expect(one?.name == "Renommée" && one?.isOpen == false && one?.careMode == "47" && one?.sequentialReception == true)
        #expect(foreign == nil)
        #expect(try store.read { tx in try tx.rorUnit(establishment: StoreFixtures.egB, rorId: "06/0000001")?.name } == "Autre")
        #expect(try store.write { tx in try tx.deleteRorUnit(establishment: StoreFixtures.egA, rorId: "06/0000002") })
        #expect(try store.write { tx in try tx.deleteRorUnit(establishment: StoreFixtures.egA, rorId: "06/0000002") } == false)
        #expect(try store.read { tx in try tx.rorUnits(establishment: StoreFixtures.egA).count } == 1)
    }

    @Test func aReadTransactionCannotWriteUnits() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        #expect(throws: StoreError.self) {
            try store.read { tx in try (tx as! any StoreWriteTransaction).upsertRorUnit(unit(StoreFixtures.egA, "x"), at: .now()) }
        }
    }
}
