import Mappers

/// The per-ESMS ROR unit mirror, as the flows read it (flow 4 checks that `idUnite` is a mirrored
/// unit of the caller's EG; the DUI lists its units) and as the ROR sync writes it.
public protocol RorUnitMirrorReads {
    func rorUnit(establishment: String, rorId: String) throws -> RorUnit?
    /// Every mirrored unit of one EG, ordered by rorId.
    func rorUnits(establishment: String) throws -> [RorUnit]
}

public protocol RorUnitMirrorWrites: RorUnitMirrorReads {
    /// Inserts or replaces the unit (keyed by establishment + rorId).
    func upsertRorUnit(_ unit: RorUnit, at: Timestamp) throws
    /// Returns false when there was no such unit.
    @discardableResult
    func deleteRorUnit(establishment: String, rorId: String) throws -> Bool
}

extension Migration {
    static let rorUnitMirror = Migration(version: 5, summary: "ROR unit mirror per ESMS", sql: """
        CREATE TABLE ror_unit (
            eg_id              TEXT    NOT NULL,
            ror_id             TEXT    NOT NULL,
            name               TEXT    NOT NULL,
            category_code      TEXT,
            temporality_code   TEXT,
            sequential         INTEGER NOT NULL CHECK (sequential IN (0, 1)),
            ror_care_mode      TEXT,
            care_mode          TEXT,
            is_open            INTEGER NOT NULL CHECK (is_open IN (0, 1)),
            ror_last_updated   TEXT,
            mirrored_at        INTEGER NOT NULL,
            PRIMARY KEY (eg_id, ror_id)
        ) WITHOUT ROWID;
        """)
}

extension SQLiteStoreTransaction: RorUnitMirrorWrites {
    private static let rorUnitColumns = "eg_id, ror_id, name, category_code, temporality_code, sequential, ror_care_mode, care_mode, is_open, ror_last_updated"

    private func rorUnit(_ s: SQLiteStatement) -> RorUnit {
        RorUnit(establishment: s.text(0) ?? "", rorId: s.text(1) ?? "", name: s.text(2) ?? "", organisationCategory: s.text(3),
                receptionTemporality: s.text(4), sequentialReception: s.int(5) == 1, rorCareMode: s.text(6), careMode: s.text(7),
                isOpen: s.int(8) == 1, rorLastUpdated: s.text(9))
    }

    func rorUnit(establishment: String, rorId: String) throws -> RorUnit? {
        try c.queryOne("SELECT \(Self.rorUnitColumns) FROM ror_unit WHERE eg_id = ?1 AND ror_id = ?2",
                       [.text(establishment), .text(rorId)]) { s in rorUnit(s) }
    }

    func rorUnits(establishment: String) throws -> [RorUnit] {
        try c.query("SELECT \(Self.rorUnitColumns) FROM ror_unit WHERE eg_id = ?1 ORDER BY ror_id", [.text(establishment)]) { s in rorUnit(s) }
    }

    func upsertRorUnit(_ u: RorUnit, at: Timestamp) throws {
        guard writable else { throw StoreError.invalidArgument("write in a read transaction") }
        guard !u.establishment.isEmpty, !u.rorId.isEmpty else { throw StoreError.invalidArgument("ROR unit without establishment or id") }
        try c.run("""
            INSERT OR REPLACE INTO ror_unit (\(Self.rorUnitColumns), mirrored_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            """, [.text(u.establishment), .text(u.rorId), .text(u.name), u.organisationCategory.sql, u.receptionTemporality.sql,
                  .integer(u.sequentialReception ? 1 : 0), u.rorCareMode.sql, u.careMode.sql, .integer(u.isOpen ? 1 : 0),
                  u.rorLastUpdated.sql, .integer(at.milliseconds)])
    }

    func deleteRorUnit(establishment: String, rorId: String) throws -> Bool {
        guard writable else { throw StoreError.invalidArgument("write in a read transaction") }
        return try c.run("DELETE FROM ror_unit WHERE eg_id = ?1 AND ror_id = ?2", [.text(establishment), .text(rorId)]) > 0
    }
}
