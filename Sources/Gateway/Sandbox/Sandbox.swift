import Foundation
import FHIRModels
import Validation

/// `fhir-gateway sandbox init DIR`: a ready-to-run sandbox. DIR receives a test PKI
/// (`scripts/make-test-pki`: one client certificate per role plus the bad certificates, issued for
/// the first DUI's EJ), `gateway.json` (sandbox mode, SQLite file in DIR), a demo registry (EJ and EG
/// activated, clients enrolled, one EG left inactive for tests), the module Handicap's seed (the test
/// MDPH, persons, ROR units, decisions and events: `SandboxSeed`), and `sandbox.json`, which describes
/// all of it for editors and tests. `fhir-gateway sandbox reset DIR` puts the seed back (`reset`).
public enum Sandbox {
    public struct Client: Sendable {
        var name: String
        var role: ClientRole
        var legalEntity: String
        var establishments: [(id: String, active: Bool)]
        var scopes: [String]
    }

    /// The demo structures: two DUI of different EJs (the first owns an EG left inactive), a DPI,
    /// the MDPH, and the operator (no EG: it uses the admin API, not the FHIR API). EG numbers are
    /// FINESS with a valid key (flow 4 checks idNat_Struct as a FINESS).
    static let clients: [Client] = [
        Client(name: "dui-a", role: .dui, legalEntity: "1990000011", establishments: [("1990000101", true), ("1990000119", false)],
               scopes: ["system/DocumentReference.rs", "system/Consent.c", "system/Task.crus", "system/HealthcareService.rs"]),
        Client(name: "dui-b", role: .dui, legalEntity: "1990000029", establishments: [("1990000200", true)],
               scopes: ["system/DocumentReference.rs", "system/Consent.c", "system/Task.crus", "system/HealthcareService.rs"]),
        Client(name: "dpi", role: .dpi, legalEntity: "1990000037", establishments: [("1990000309", true)],
               scopes: ["system/Patient.cu", "system/DocumentReference.c", "system/Bundle.c"]),
        Client(name: "mdph", role: .mdph, legalEntity: "1990000045", establishments: [("1990000408", true)],
               scopes: ["system/DocumentReference.crs", "system/Task.crs"]),
        Client(name: "operator", role: .operator, legalEntity: "1990000052", establishments: [], scopes: ["system/Task.rs"]),
    ]

    /// The sandbox MDPH: the EG its client acts for and its OID (outside the 118 real MDPH OIDs).
    static let mdphEstablishment = "1990000408"
    static let mdphOID = "1.2.250.1.213.7.999"

    public enum Failure: Error, CustomStringConvertible {
        case pkiScriptNotFound([String])
        case pki(String)
        case io(String)
        public var description: String {
            switch self {
            case .pkiScriptNotFound(let tried): "scripts/make-test-pki not found (tried \(tried.joined(separator: ", "))); set FHIR_GATEWAY_PKI_SCRIPT"
            case .pki(let m): "test PKI generation failed: \(m)"
            case .io(let m): "sandbox: \(m)"
            }
        }
    }

    static let testCertificatePolicy = "1.2.250.1.213.1.7.2.1.1.1.1"

    /// The PKI script: `$FHIR_GATEWAY_PKI_SCRIPT`, else `scripts/make-test-pki` above the executable
    /// (`.build/<config>/fhir-gateway` in a checkout) or the current directory.
    static func pkiScript() throws(Failure) -> String {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["FHIR_GATEWAY_PKI_SCRIPT"] { candidates.append(env) }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent("scripts/make-test-pki").path)
            dir = dir.deletingLastPathComponent()
        }
        candidates.append(FileManager.default.currentDirectoryPath + "/scripts/make-test-pki")
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { throw .pkiScriptNotFound(candidates) }
        return found
    }

    /// Creates the sandbox in `directory` (its `pki/`, database and descriptors are replaced).
    /// Returns the descriptor written to `sandbox.json`.
    @discardableResult
    public static func initialize(directory: String, host: String = "127.0.0.1", port: UInt16 = 8443) throws -> JSONValue {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dir = URL(fileURLWithPath: directory).standardizedFileURL.path
        let pki = dir + "/pki"
        // PKI: one certificate per client (OU = its EJ); bad certificates for the first client's EJ.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try pkiScript())
        p.arguments = [pki] + clients.map { "\($0.name):\($0.legalEntity):\($0.name).sandbox.test" }
        var env = ProcessInfo.processInfo.environment
        env["PKI_TAG"] = env["PKI_TAG"] ?? "SANDBOX"
        p.environment = env
        let errPipe = Pipe()
        p.standardError = errPipe
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let errData = errPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Failure.pki(String(decoding: errData, as: UTF8.self)) }

        let operatorThumbprint = try CertificateVerifier.describe(pemFile: "\(pki)/operator.crt").thumbprint
        let configuration: JSONValue = .object([
            ("host", .string(host)), ("port", .number(String(port))),
            ("certificateFile", .string("pki/server-chain.crt")), ("privateKeyFile", .string("pki/server.key")),
            ("trustFile", .string("pki/trust.pem")), ("crlFiles", .array([.string("pki/crls.pem")])),
            ("databasePath", .string("gateway.sqlite")), ("sandbox", .bool(true)),
            // The IGC-Santé TEST policy OID, which scripts/make-test-pki puts in client certificates.
            ("clientCertificatePolicies", .array([.string(Self.testCertificatePolicy)])),
            ("operatorThumbprints", .array([.string(operatorThumbprint)])),
        ])
        try write(configuration, to: dir + "/gateway.json")

        // Registry: a fresh database.
        for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: dir + "/gateway.sqlite" + suffix) }
        let store = try SQLiteStore(path: dir + "/gateway.sqlite")
        let now = Timestamp.now()
        var described: [JSONValue] = []
        for c in clients {
            let clientId = "vt-sbx-\(c.name)-" + SecretHasher.base64url(try SecretHasher.randomBytes(6))
            let secret = try SecretHasher.newClientSecret()
            // Sandbox secrets are 256 random bits: the minimum iteration count keeps the token endpoint quick.
            let hash = try SecretHasher.hash(secret, iterations: SecretHasher.minimumIterations, now: now)
            try store.write { tx in
                try tx.upsertClient(ClientRecord(clientId: clientId, name: "Éditeur sandbox \(c.name)", role: c.role,
                                                 environment: .sandbox, allowedScopes: c.scopes, createdAt: now))
                try tx.addSecret(clientId: clientId, hash)
                try tx.upsertLegalEntity(LegalEntity(id: c.legalEntity, name: "STRUCTURE \(c.name)"))
                try tx.activateLegalEntity(id: c.legalEntity, by: "sandbox", at: now)
                for eg in c.establishments {
                    try tx.upsertGeographicEntity(GeographicEntity(id: eg.id, legalEntityId: c.legalEntity, name: "ÉTABLISSEMENT \(eg.id)"))
                    if eg.active { try tx.activateGeographicEntity(id: eg.id, by: "sandbox", at: now) }
                }
                try tx.enrol(ClientEnrolment(clientId: clientId, legalEntityId: c.legalEntity,
                                             pinnedThumbprint: c.role == .operator ? operatorThumbprint : nil))
                try tx.audit(AuditEntry(clientId: clientId, legalEntityId: c.legalEntity, interaction: "sandbox-enrol", status: 200))
            }
            described.append(.object([
                ("name", .string(c.name)), ("role", .string(c.role.rawValue)), ("clientId", .string(clientId)),
                ("clientSecret", .string(secret)), ("cert", .string("\(pki)/\(c.name).crt")), ("key", .string("\(pki)/\(c.name).key")),
                ("ej", .string(c.legalEntity)), ("egs", .array(c.establishments.filter(\.active).map { .string($0.id) })),
                ("inactiveEgs", .array(c.establishments.filter { !$0.active }.map { .string($0.id) })),
                ("scopes", .string(c.scopes.joined(separator: " "))),
            ]))
        }
        // The module Handicap's seed: the sandbox MDPH (its EG and OID), persons, ROR units, decisions, events.
        let seed = try plantSeed(store)
        func pair(_ name: String) -> JSONValue { .object([("cert", .string("\(pki)/\(name).crt")), ("key", .string("\(pki)/\(name).key"))]) }
        let base = "https://\(host):\(port)"
        let descriptor: JSONValue = .object([
            ("fhirBase", .string(base + "/fhir")), ("tokenURL", .string(base + "/oauth/token")), ("healthURL", .string(base + "/health")),
            ("caFile", .string("\(pki)/ca.crt")), ("configFile", .string(dir + "/gateway.json")), ("database", .string(dir + "/gateway.sqlite")),
            ("clients", .array(described)),
            ("mdph", .object([("establishment", .string(mdphEstablishment)), ("oid", .string(mdphOID)), ("number", .string(SandboxSeed.mdphNumber))])),
            ("badCerts", .object([("revoked", pair("bad-revoked")), ("expired", pair("bad-expired")), ("notYetValid", pair("bad-notyetvalid")),
                                  ("wrongEku", pair("bad-wrongeku")), ("foreignCa", pair("bad-foreignca")),
                                  ("otherIntermediate", pair("bad-otherintermediate")), ("noPolicy", pair("bad-nopolicy"))])),
            ("seed", seed),
        ])
        try write(descriptor, to: dir + "/sandbox.json")
        return descriptor
    }

    /// Plants the seed in one transaction of `store` (the validation engine serves the CDA reader and the
    /// Task checks, its terminology the ROR projection). Returns the seed's description.
    static func plantSeed(_ store: any GatewayStore, engine given: ValidationEngine? = nil, before: (any StoreWriteTransaction) throws -> Void = { _ in },
                          after: (any StoreWriteTransaction) throws -> Void = { _ in }) throws -> JSONValue {
        let engine = try given ?? ValidationEngine.load(dataDirectory: DataDirectory.locate())
        let flows = HandicapFlows(store: store, validation: engine, sandbox: true)
        let ror = RorSynchronizer(store: store, terminology: engine.terminology)
        return try store.write { tx in
            try before(tx)
            let seed = try SandboxSeed.plant(tx, flows: flows, ror: ror)
            try after(tx)
            return seed
        }
    }

    /// `fhir-gateway sandbox reset DIR`: puts the seed back as at init, in one transaction. Removed: every
    /// FHIR resource (all tenants: the editors' DocumentReferences, Consents, Tasks), the decisions and
    /// their notifications, status events and masks, the ROR mirror with its sources, pairings, alerts
    /// and runs. Kept: the registry (EJ, EG, clients, secrets, enrolments), tokens, lockouts, registered
    /// MDPHs, the audit trail (the reset is audited as `sandbox-reset`). The seed gets the idNat_Decision
    /// numbers it had at init; the counter then goes back above every number handed out, so a number an
    /// editor saw is never given to another decision. The seed member of `DIR/sandbox.json` is rewritten
    /// (new resource ids and polling bound). Safe while `serve --sandbox DIR` runs: readers see the old
    /// data or the new, never a mix; writers wait for the transaction (SQLite lock, busy timeout 10 s).
    @discardableResult
    public static func reset(directory: String, by operatorName: String = ProcessInfo.processInfo.environment["USER"] ?? "operator") throws -> JSONValue {
        let dir = URL(fileURLWithPath: directory).standardizedFileURL.path
        let configuration = try GatewayConfiguration.load(path: dir + "/gateway.json")
        guard configuration.sandbox else { throw Failure.io("\(dir)/gateway.json is not a sandbox configuration: refusing to reset its database") }
        let seed = try reset(store: try SQLiteStore(path: configuration.databasePath), by: operatorName)
        try rewriteSeed(seed, directory: dir)
        return seed
    }

    /// Puts a new seed description into `DIR/sandbox.json` (after a reset, by the CLI or the admin route).
    static func rewriteSeed(_ seed: JSONValue, directory dir: String) throws {
        let path = dir + "/sandbox.json"
        if let data = FileManager.default.contents(atPath: path), var descriptor = try? JSONValue.parse([UInt8](data)) {
            descriptor["seed"] = seed
            try write(descriptor, to: path)
        }
    }

    /// The reset itself, on an open store (the CLI above, and `POST /admin/sandbox/reset` of a running
    /// sandbox gateway, which passes its loaded validation engine). Returns the new seed description.
    static func reset(store: any GatewayStore, engine: ValidationEngine? = nil, by operatorName: String) throws -> JSONValue {
        var issued: Int64 = 0
        var removed: [(table: String, rows: Int)] = []
        return try plantSeed(store, engine: engine, before: { tx in
            issued = try tx.decisionSequence()
            removed = try tx.purgeSandboxData()
            try tx.setDecisionSequence(0)
        }, after: { tx in
            try tx.setDecisionSequence(max(issued, try tx.decisionSequence()))
            try tx.audit(AuditEntry(interaction: "sandbox-reset", status: 200,
                                    outcome: "by \(operatorName): " + removed.map { "\($0.table) \($0.rows)" }.joined(separator: ", ")))
        })
    }

    static func write(_ json: JSONValue, to path: String) throws {
        var bytes = json.serialized(pretty: true)
        bytes.append(0x0A)
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            throw Failure.io("cannot write \(path)")
        }
    }
}

/// `POST /admin/sandbox/reset` (operator certificate): the reset of a running sandbox gateway, for a
/// hosted sandbox whose editors have no shell on it. Answers 200 with the new seed description, also
/// written into `DIR/sandbox.json` when serving `--sandbox DIR`; on a production gateway the route
/// answers 403 and touches nothing.
enum SandboxRoutes {
    static func register(in r: inout Router, store: any GatewayStore, engine: ValidationEngine, sandbox: Bool, directory: String?) {
        r.add("POST", "/admin/sandbox/reset", .operator) { ctx throws(FHIRError) in
            guard sandbox else {
                throw FHIRError(status: 403, code: .forbidden, rule: "ADMIN-NOT-SANDBOX",
                                "cette passerelle n'est pas en mode bac à sable : ses données ne sont jamais réinitialisées")
            }
            let seed: JSONValue
            do {
                seed = try Sandbox.reset(store: store, engine: engine, by: ctx.peer?.commonName ?? "operator")
                if let directory { try Sandbox.rewriteSeed(seed, directory: directory) }
            } catch {
                Log.error("sandbox.reset.failed", [("requestId", ctx.requestId), ("error", "\(error)")])
                throw FHIRError(status: 500, code: .exception, rule: "ADMIN-STORE", "réinitialisation du bac à sable impossible ; rien n'a changé")
            }
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                                body: JSONValue.object([("seed", seed)]).serialized())
        }
    }
}
