/// What the sandbox reset (`fhir-gateway sandbox reset DIR`) may do to a store that no other
/// deployment does: empty the data the editors write (FHIR resources of every tenant, the module
/// Handicap's decisions and their follow-up, the ROR mirror and its sources) while the registry
/// (EJ, EG, clients, secrets, enrolments), tokens, lockouts, the registered MDPHs and the audit
/// trail stay; and rewind the idNat_Decision counter so that the replayed seed gets the numbers it
/// had at init (docs/gateway-auth.md, Sandbox).
public protocol SandboxWrites {
    /// Deletes the rows listed above; returns the number of rows removed per table.
    @discardableResult
    func purgeSandboxData() throws -> [(table: String, rows: Int)]
    /// The last idNat_Decision sequence number handed out (0 when none).
    func decisionSequence() throws -> Int64
    /// Sets the idNat_Decision counter (the next number is `value + 1`). Only the sandbox reset uses it,
    /// to replay its seed with the seed's own numbers before putting the counter back above every
    /// number handed out since.
    func setDecisionSequence(_ value: Int64) throws
    /// The high-water mark of lastUpdated (ms since the epoch): every later write is later than it.
    func storeClock() throws -> Int64
}

extension SQLiteStoreTransaction: SandboxWrites {
    /// Children before parents (hdc_notification references hdc_decision; search keys cascade from resource).
    static let sandboxDataTables = ["resource_version", "resource", "search_mask", "hdc_status_event", "hdc_notification", "hdc_decision",
                                    "ror_unit", "ror_pairing", "ror_alert", "ror_offer", "ror_node", "ror_sync_run", "ror_establishment"]

    func purgeSandboxData() throws -> [(table: String, rows: Int)] {
        guard writable else { throw StoreError.invalidArgument("write in a read transaction") }
        return try Self.sandboxDataTables.map { table in (table, try c.run("DELETE FROM \(table)")) }
    }

    func decisionSequence() throws -> Int64 {
        guard let v = try c.queryOne("SELECT value FROM hdc_sequence WHERE name = 'idnat_decision'", [], { s in s.int64(0) }) else {
            throw StoreError.integrityCheckFailed("idNat_Decision sequence row missing")
        }
        return v
    }

    func storeClock() throws -> Int64 {
        try c.queryOne("SELECT last_updated FROM store_clock WHERE id = 1") { s in s.int64(0) } ?? 0
    }

    func setDecisionSequence(_ value: Int64) throws {
        guard writable else { throw StoreError.invalidArgument("write in a read transaction") }
        guard value >= 0 else { throw StoreError.invalidArgument("negative idNat_Decision sequence") }
        try c.run("UPDATE hdc_sequence SET value = ?1 WHERE name = 'idnat_decision'", [.integer(value)])
    }
}
