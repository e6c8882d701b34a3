import Foundation

/// `fhir-gateway admin (--db FILE | --config FILE) …`: the registry operations of the platform operator
/// (and of the structure referent for EG activation), each audited in the same transaction as the
/// change, and the database's backup and restore. `--config` takes the database of a gateway
/// configuration file (with its `FHIR_GATEWAY_*` overrides), so it names the file `serve` uses.
///
///     client add NAME ROLE "SCOPES" [sandbox|production]   → prints client_id and the secret (shown once)
///     client disable CLIENT_ID
///     client rotate-secret CLIENT_ID [now]                → new secret (shown once); the previous one stays valid
///                                                          until the next rotation, or is removed (and its tokens revoked) with `now`
///     ej add EJ NAME | ej activate EJ | ej suspend EJ
///     eg add EG EJ NAME | eg activate EG | eg deactivate EG
///     enrol CLIENT_ID EJ [THUMBPRINT]
///     audit [AFTER]
///     audit verify                                        → recomputes the hash chain; exit 1 when broken
///     backup OUT.sqlite                                   → online copy (the server may keep running), integrity-checked
///     restore IN.sqlite                                   → refuses a file that is not a sound gateway database
///     mdph add EG OID NAME | recovery IDNAT [--establishment EG] [--status CODE] | decision IDNAT
///     aptitude --client CLIENT_ID [--json]             (module Handicap: HandicapAdminRoutes)
///
/// Without `--db`/`--config`, the database is the configured one (`FHIR_GATEWAY_DATABASE_PATH`, default gateway.sqlite).
public enum AdminCommand {
    public enum Failure: Error, CustomStringConvertible {
        case usage(String)
        case failed(String)
        public var description: String {
            switch self {
            case .usage(let m): "usage: \(m)"
            case .failed(let m): m
            }
        }
    }

    static let usageText = """
        fhir-gateway admin [--db FILE | --config FILE] (client add NAME ROLE SCOPES [sandbox|production] | client disable ID | client rotate-secret ID [now] | ej add EJ NAME | \
        ej activate EJ | ej suspend EJ | eg add EG EJ NAME | eg activate EG | eg deactivate EG | enrol CLIENT_ID EJ [THUMBPRINT] | audit [AFTER] | audit verify | backup OUT.sqlite | restore IN.sqlite | \
        \(HandicapAdminRoutes.usageText))
        """

    public static func run(_ args: [String], operatorName: String = ProcessInfo.processInfo.environment["USER"] ?? "operator") throws -> String {
        let explicit = args.first == "--db" || args.first == "--config"
        guard explicit ? args.count >= 3 : !args.isEmpty else { throw Failure.usage(usageText) }
        let path = args[0] == "--db" ? args[1] : try GatewayConfiguration.load(path: explicit ? args[1] : nil).databasePath
        let store = try SQLiteStore(path: path)
        let cmd = Array(args.dropFirst(explicit ? 2 : 0))
        let now = Timestamp.now()
        func audited(_ interaction: String, client: String? = nil, ej: String? = nil, eg: String? = nil,
                     _ change: (any StoreWriteTransaction) throws -> Void) throws {
            try store.write { tx in
                try change(tx)
                try tx.audit(AuditEntry(clientId: client, legalEntityId: ej, geographicEntityId: eg, interaction: interaction,
                                        status: 200, outcome: "by \(operatorName)"))
            }
        }
        func structureId(_ s: String) throws -> String {
            guard StructureId(s) != nil else { throw Failure.usage("'\(s)' is not a Struct_IdNat (1 + FINESS or 3 + SIRET)") }
            return s
        }
        switch (cmd.first, cmd.count > 1 ? cmd[1] : nil) {
        case ("client", "add") where cmd.count >= 5:
            guard let role = ClientRole(rawValue: cmd[3]) else { throw Failure.usage("role is one of dui, dpi, mdph, operator") }
            guard let scopes = ScopeSet(parsing: cmd[4]), !scopes.scopes.isEmpty else { throw Failure.usage("scopes are SMART v2 system scopes, e.g. 'system/Task.rs'") }
            let env = cmd.count > 5 ? ClientEnvironment(rawValue: cmd[5]) : .production
            guard let env else { throw Failure.usage("environment is sandbox or production") }
            let id = "vt-ed-" + SecretHasher.base64url(try SecretHasher.randomBytes(9))
            let secret = try SecretHasher.newClientSecret()
            let hash = try SecretHasher.hash(secret, now: now)
            try audited("client-add", client: id) { tx in
                try tx.upsertClient(ClientRecord(clientId: id, name: cmd[2], role: role, environment: env, allowedScopes: scopes.strings, createdAt: now))
                try tx.addSecret(clientId: id, hash)
            }
            return "client_id=\(id)\nclient_secret=\(secret)\n"
        case ("client", "disable") where cmd.count == 3:
            try audited("client-disable", client: cmd[2]) { tx in
                try tx.setClientDisabled(clientId: cmd[2], at: now)
                _ = try tx.revokeTokens(clientId: cmd[2], legalEntityId: nil, at: now)
            }
        case ("client", "rotate-secret") where cmd.count == 3 || (cmd.count == 4 && cmd[3] == "now"):
            let id = cmd[2]
            guard let client = try store.read({ tx in try tx.client(id: id) }) else { throw StoreError.notFound(type: "Client", id: id) }
            let secret = try SecretHasher.newClientSecret()
            let hash = try SecretHasher.hash(secret, iterations: client.environment == .sandbox ? SecretHasher.minimumIterations : SecretHasher.defaultIterations,
                                             now: now)
            try audited("client-rotate-secret", client: id) { tx in
                if cmd.count == 4 {
                    try tx.removeSecrets(clientId: id, createdBefore: now.adding(seconds: 1))
                    _ = try tx.revokeTokens(clientId: id, legalEntityId: nil, at: now)
                }
                try tx.addSecret(clientId: id, hash)
            }
            return "client_id=\(id)\nclient_secret=\(secret)\n"
        case ("ej", "add") where cmd.count == 4:
            let ej = try structureId(cmd[2])
            try audited("ej-add", ej: ej) { tx in try tx.upsertLegalEntity(LegalEntity(id: ej, name: cmd[3])) }
        case ("ej", "activate") where cmd.count == 3:
            try audited("ej-activate", ej: cmd[2]) { tx in try tx.activateLegalEntity(id: cmd[2], by: operatorName, at: now) }
        case ("ej", "suspend") where cmd.count == 3:
            try audited("ej-suspend", ej: cmd[2]) { tx in try tx.suspendLegalEntity(id: cmd[2], at: now) }
        case ("eg", "add") where cmd.count == 5:
            let eg = try structureId(cmd[2]), ej = try structureId(cmd[3])
            try audited("eg-add", ej: ej, eg: eg) { tx in try tx.upsertGeographicEntity(GeographicEntity(id: eg, legalEntityId: ej, name: cmd[4])) }
        case ("eg", "activate") where cmd.count == 3:
            try audited("eg-activate", eg: cmd[2]) { tx in try tx.activateGeographicEntity(id: cmd[2], by: operatorName, at: now) }
        case ("eg", "deactivate") where cmd.count == 3:
            try audited("eg-deactivate", eg: cmd[2]) { tx in try tx.deactivateGeographicEntity(id: cmd[2], at: now) }
        case ("enrol", _) where cmd.count == 3 || cmd.count == 4:
            let ej = try structureId(cmd[2])
            try audited("enrol", client: cmd[1], ej: ej) { tx in
                try tx.enrol(ClientEnrolment(clientId: cmd[1], legalEntityId: ej, pinnedThumbprint: cmd.count == 4 ? cmd[3] : nil))
            }
        case ("audit", "verify") where cmd.count == 2:
            let count = try store.read { tx in try tx.auditCount() }
            if let broken = try store.verifyAuditChain() {
                throw Failure.failed("audit chain BROKEN at record \(broken) (\(count) records)")
            }
            return "audit chain intact (\(count) records)\n"
        case ("backup", let out?) where cmd.count == 2:
            guard !FileManager.default.fileExists(atPath: out) else { throw Failure.failed("\(out) exists: choose a new file") }
            try store.backup(to: out)
            let copy = try SQLiteStore(path: out)
            guard try copy.database.integrityCheck() == ["ok"] else { throw Failure.failed("the copy \(out) fails its integrity check") }
            let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
            try audited("backup") { _ in }
            return "backup written to \(out) (\(size) bytes, integrity ok)\n"
        case ("restore", let source?) where cmd.count == 2:
            guard FileManager.default.isReadableFile(atPath: source) else { throw Failure.failed("cannot read \(source)") }
            try store.restore(from: source)
            try audited("restore") { _ in }
            return "restored from \(source)\n"
        case ("audit", _) where cmd.count <= 2:
            let after = cmd.count == 2 ? Int64(cmd[1]) ?? 0 : 0
            let records = try store.read { tx in try tx.auditRecords(after: after, limit: 10_000) }
            return records.map { r in
                let e = r.entry
                return [String(r.sequence), r.recordedAt.fhirInstant, e.interaction, String(e.status), e.outcome ?? "-", e.clientId ?? "-",
                        e.legalEntityId ?? "-", e.geographicEntityId ?? "-", e.resourceType ?? "-"].joined(separator: "\t")
            }.joined(separator: "\n") + (records.isEmpty ? "" : "\n")
        default:
            guard let out = try HandicapAdminRoutes.command(store: store, cmd, operatorName: operatorName) else { throw Failure.usage(usageText) }
            return out
        }
        return "ok\n"
    }
}
