import Foundation
import FHIRModels
import Validation
import Mappers
@testable import Gateway

/// An in-process gateway for the module Handicap: a fresh SQLite store, three DUI editors (each one
/// EJ with one activated EG), an MDPH, tokens bound to fake certificates, and the real request chain
/// (`GatewayService.handle`: auth, routing, handlers, audit). Decisions are registered through the
/// registry API (`register`), as the MDPH intake does after reading the CDA.
final class HandicapHarness: @unchecked Sendable {
    static let engine: ValidationEngine = {
        do { return try ValidationEngine.load(dataDirectory: TestSupport.repoRoot.path) } catch { preconditionFailure("\(error)") }
    }()

    struct Caller {
        var name: String
        var clientId: String
        var role: ClientRole
        var ej: String
        var eg: String
        var token: String
        var peer: PeerCertificate
    }

    struct Reply {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
        /// Rules and expressions of an OperationOutcome.
        var rules: [String] { (json["issue"]?.array ?? []).compactMap { $0["details"]?["coding"]?.array?.first?["code"]?.string } }
        var expressions: [String] { (json["issue"]?.array ?? []).compactMap { $0["expression"]?.array?.first?.string } }
        func has(_ rule: String, at expression: String? = nil) -> Bool {
            (json["issue"]?.array ?? []).contains { i in
                i["details"]?["coding"]?.array?.first?["code"]?.string == rule && (expression == nil || i["expression"]?.array?.first?.string == expression)
            }
        }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    static let mdphOID = "1.2.250.1.213.7.999"
    static let duiScopes = ["system/DocumentReference.rs", "system/Consent.c", "system/Task.crs"]

    let dir = StoreTempDir()
    let store: SQLiteStore
    let service: GatewayService
    let flows: HandicapFlows
    let a: Caller, b: Caller, c: Caller, mdph: Caller

    init(sandbox: Bool = false) throws {
        store = try SQLiteStore(path: dir.file("gateway.sqlite"))
        var configuration = GatewayConfiguration()
        configuration.rateLimitPerSecond = 100_000
        configuration.rateLimitBurst = 100_000
        configuration.sandbox = sandbox
        configuration.operatorThumbprints = [Self.operatorPeer.thumbprint]
        service = GatewayService(configuration: configuration, store: store, validation: Self.engine)
        flows = HandicapFlows(store: store, validation: Self.engine, sandbox: sandbox)
        a = try Self.enrol(store, "dui-a", .dui, ej: "1990000011", eg: "1990000101", scopes: Self.duiScopes, seed: 1)
        b = try Self.enrol(store, "dui-b", .dui, ej: "1990000029", eg: "1990000200", scopes: Self.duiScopes, seed: 2)
        c = try Self.enrol(store, "dui-c", .dui, ej: "1990000037", eg: "1990000309", scopes: Self.duiScopes, seed: 3)
        mdph = try Self.enrol(store, "mdph", .mdph, ej: "1990000045", eg: "1990000408",
                         scopes: ["system/DocumentReference.crs", "system/Task.crs"], seed: 4)
        try store.write { tx in try tx.upsertMDPH(MDPHRecord(establishment: "1990000408", oid: Self.mdphOID, name: "MDPH de test")) }
    }

    private static func enrol(_ store: SQLiteStore, _ name: String, _ role: ClientRole, ej: String, eg: String, scopes: [String], seed: UInt8) throws -> Caller {
        let now = Timestamp.now()
        let peer = PeerCertificate(subject: [("C", "FR"), ("OU", ej), ("CN", name)], issuer: [], sha256: [UInt8](repeating: seed, count: 32),
                                   serialHex: "0\(seed)", notAfter: nil)
        let token = "vtat_" + String(repeating: String(seed), count: 40)
        try store.write { tx in
            try tx.upsertClient(ClientRecord(clientId: "client-\(name)", name: "Éditeur \(name)", role: role, environment: .production,
                                             allowedScopes: scopes, createdAt: now))
            try tx.upsertLegalEntity(LegalEntity(id: ej, name: "EJ \(name)"))
            try tx.activateLegalEntity(id: ej, by: "test", at: now)
            try tx.upsertGeographicEntity(GeographicEntity(id: eg, legalEntityId: ej, name: "ESMS \(name)"))
            try tx.activateGeographicEntity(id: eg, by: "test", at: now)
            try tx.enrol(ClientEnrolment(clientId: "client-\(name)", legalEntityId: ej))
            try tx.storeToken(token, clientId: "client-\(name)", legalEntityId: ej, thumbprint: peer.thumbprint, scopes: scopes,
                              issuedAt: now, expiresAt: now.adding(seconds: 3600))
        }
        return Caller(name: name, clientId: "client-\(name)", role: role, ej: ej, eg: eg, token: token, peer: peer)
    }

    // MARK: requests

    func request(_ who: Caller, _ method: String, _ target: String, body: [UInt8] = [], contentType: String? = "application/fhir+json",
                 headers: [(name: String, value: String)] = [], eg: String? = nil) -> Reply {
        var h: [(name: String, value: String)] = [("Host", "gw.test"), ("Authorization", "Bearer \(who.token)"), ("struct_idnat", eg ?? who.eg)]
        if method == "POST", let contentType { h.append(("Content-Type", contentType)) }
        h += headers
        let r = service.handle(HTTPRequest(method: method, target: target, version: .http11, headers: h, body: body),
                               ConnectionContext(remoteAddress: "127.0.0.1", peer: who.peer, tlsVersion: "TLSv1.3"))
        return Reply(status: r.status, headers: r.headers, body: r.body)
    }

    func get(_ who: Caller, _ target: String) -> Reply { request(who, "GET", target) }

    static let operatorPeer = PeerCertificate(subject: [("C", "FR"), ("OU", "1990000052"), ("CN", "operator")], issuer: [],
                                              sha256: [UInt8](repeating: 9, count: 32), serialHex: "09", notAfter: nil)

    /// A call of the operator's admin API (operator certificate, no token).
    func admin(_ method: String, _ target: String, peer: PeerCertificate = HandicapHarness.operatorPeer) -> Reply {
        let r = service.handle(HTTPRequest(method: method, target: target, version: .http11, headers: [("Host", "gw.test")], body: []),
                               ConnectionContext(remoteAddress: "127.0.0.1", peer: peer, tlsVersion: "TLSv1.3"))
        return Reply(status: r.status, headers: r.headers, body: r.body)
    }
    func post(_ who: Caller, _ type: String, _ json: JSONValue, headers: [(name: String, value: String)] = []) -> Reply {
        request(who, "POST", "/fhir/\(type)", body: json.serialized(), headers: headers)
    }

    /// `_lastUpdated=gt` an hour ago (a valid polling bound), with `%2B` as the SDO guide writes it.
    static var recentBound: String {
        let t = Timestamp(milliseconds: Timestamp.now().milliseconds - 3_600_000).fhirInstant
        return "gt" + t.replacingOccurrences(of: "Z", with: "%2B00:00")
    }

    /// Ids of the entries of a searchset reply.
    static func ids(_ r: Reply) -> [String] { (r.json["entry"]?.array ?? []).compactMap { $0["resource"]?["id"]?.string } }
    static func resources(_ r: Reply) -> [JSONValue] { (r.json["entry"]?.array ?? []).compactMap { $0["resource"] } }
    /// The status a Task (JSON) carries.
    static func status(_ task: JSONValue?) throws -> PersonStatus {
        let tree = try FHIRJSONReader.read((task ?? .null).serialized())
        guard let view = TaskView(tree) else { throw StoreError.invalidArgument("not a Task") }
        return PersonStatus(task: view)
    }
    /// The statuses of the Tasks of a searchset.
    static func statuses(_ r: Reply) throws -> [PersonStatus] { try resources(r).map { try status($0) } }

    // MARK: decisions

    /// A valid INS-NIR (13 digits + key) numbered `n`.
    static func ins(_ n: Int) -> String {
        let body = "1801275132" + String(format: "%03d", n)
        return body + String(format: "%02d", 97 - Int(Int64(body)! % 97))
    }

    static func person(ins: String = ins(7), given: String = "Jeanne") -> OrientedPerson {
        OrientedPerson(ins: (.nir, ins), mdphIndividualId: InstanceIdentifier(root: mdphOID, extension: "IND-\(ins.suffix(5))"),
                       birthName: "MARTIN", usedName: nil, givenNames: [given], gender: "F", birthDate: "20080127")
    }

    static func decision(_ idDecision: String, targets: [String], type: DecisionType = .attribution, version: Int = 1, replaces: String? = nil,
                         related: [String] = [], person: OrientedPerson = person(), organisationCategory: String = "48",
                         establishmentCategory: String? = nil, closureDate: String? = nil) -> OrientationDecision {
        let nature = switch type { case .renewal: "2"; case .revision: "3"; default: "1" }
        return OrientationDecision(
            documentId: InstanceIdentifier(root: mdphOID + ".1", extension: "\(idDecision)-v\(version)"),
            setId: InstanceIdentifier(root: mdphOID + ".2", extension: "SET-\(idDecision)"), versionNumber: version,
            replacesDocumentId: replaces.map { InstanceIdentifier(root: mdphOID + ".1", extension: $0) }, effectiveTime: "20260110120000+0100",
            person: person, mdphOID: mdphOID, idDecision: idDecision, decisionType: type, decisionDate: "20260110",
            closureEffectiveDate: type == .closure ? (closureDate ?? "20260630") : nil, relatedDecisionIds: related,
            rights: [RightOrBenefit(typeCode: "13.2", openingDate: "20260201", expiryDate: "20310131", targetedStructures: targets,
                                    receptionTemporality: "02", sequentialReception: false, careMode: "47",
                                    organisationCategory: organisationCategory, establishmentCategory: establishmentCategory ?? "183",
                                    nature: nature, qualification: "1", globalSupportPlan: false)],
            motivations: ["364"], responsibleMDPH: InstanceIdentifier(root: mdphOID, extension: "999-TEST"))
    }

    /// The CDA "Individu et Décision" of `d`, as an MDPH sends it (the project's writer; the reader accepts it).
    static func document(_ d: OrientationDecision) -> [UInt8] { DecisionDocumentWriter.write(d) }

    static func evaluationDocument(idNat: String, person: OrientedPerson = person()) -> [UInt8] {
        DecisionDocumentWriter.write(EvaluationDocument(
            documentId: InstanceIdentifier(root: mdphOID + ".3", extension: "EVAL-\(idNat)"), setId: InstanceIdentifier(root: mdphOID + ".2", extension: idNat),
            versionNumber: 1, replacesDocumentId: nil, effectiveTime: "20260110", person: person,
            responsibleMDPH: InstanceIdentifier(root: mdphOID, extension: "999-TEST"), evaluationDate: "20260108"))
    }

    /// The DocumentReference an MDPH posts: `type` 57830-2 or 51848-0, the CDA in base64.
    static func mdphDocumentReference(_ cda: [UInt8], type: String = "57830-2") -> JSONValue {
        .object([
            ("resourceType", .string("DocumentReference")), ("status", .string("current")),
            ("type", .object([("coding", .array([.object([("system", .string("http://loinc.org")), ("code", .string(type))])]))])),
            ("content", .array([.object([("attachment", .object([("contentType", .string("text/xml")),
                                                                 ("data", .string(Data(cda).base64EncodedString()))]))])])),
        ])
    }

    /// Registers `d` through the registry (what the intake does once the CDA is read).
    @discardableResult
    func register(_ d: OrientationDecision) throws -> HandicapFlows.Registration {
        let cda = Self.document(d)
        return try store.write { tx in
            try flows.register(tx, mdph: MDPHRecord(establishment: "1990000408", oid: Self.mdphOID, name: "MDPH de test"),
                               .init(decision: d, cda: cda, stamp: { try DecisionDocumentWriter.stampingIdNatDecision(cda, idNatDecision: $0) }),
                               clientId: "client-mdph")
        }
    }

    func notification(_ idNat: String, _ eg: String) throws -> NotificationRecord? {
        try store.read { tx in try tx.notification(idNat: idNat, establishment: eg) }
    }

    // MARK: resources

    static func input(_ code: String, _ value: (String, JSONValue)) -> JSONValue {
        .object([("type", .object([("coding", .array([.object([("system", .string(SDOCodeSystems.input)), ("code", .string(code))])]))])), value])
    }

    static func coded(_ system: String, _ code: String) -> (String, JSONValue) {
        ("valueCodeableConcept", .object([("coding", .array([.object([("system", .string(system)), ("code", .string(code))])]))]))
    }

    static func identifier(_ value: String, system: String? = nil) -> (String, JSONValue) {
        ("valueIdentifier", .object((system.map { [("system", JSONValue.string($0))] } ?? []) + [("value", .string(value))]))
    }

    /// A unit block for `statutUnite` in unit `unit` (category/care mode as given).
    struct Unit {
        var id = "06/0000001"
        var name = "IME Les Tilleuls - internat"
        var category = "48"
        var careMode = "46"
        var status = "184"
        var reason: String?
        var date = "2026-03-01"
    }

    /// An esms-task Task as a DUI sends it.
    static func task(eg: String, name: String = "ESMS", idNat: String, idDecision: String, status: String?, reason: String? = nil,
                     unit: Unit? = nil, description: String? = nil, tags: [JSONValue] = [], idDecisionSystem: String? = nil) -> JSONValue {
        var inputs: [JSONValue] = [input("idNat_Struct", identifier(eg)), input("nomESMS", ("valueString", .string(name))),
                                   input("idDecision", identifier(idDecision, system: idDecisionSystem)), input("idNat_Decision", identifier(idNat))]
        if let status {
            inputs.append(input("statutESMS", coded(SDOCodeSystems.status, status)))
            inputs.append(input("dateStatutESMS", ("valueDate", .string("2026-02-15"))))
        }
        if let reason { inputs.append(input("motifESMS", coded(SDOCodeSystems.reason, reason))) }
        if let u = unit {
            inputs += [input("idUnite", identifier(u.id)), input("nomUnite", ("valueString", .string(u.name))),
                       input("categorieOrganisation", coded(SDOCodeSystems.organisationCategory, u.category)),
                       input("modePriseCharge", coded(SDOCodeSystems.careMode, u.careMode)),
                       input("statutUnite", coded(SDOCodeSystems.status, u.status)), input("dateStatutUnite", ("valueDate", .string(u.date)))]
            if let r = u.reason { inputs.append(input("motifUnite", coded(SDOCodeSystems.reason, r))) }
        }
        var meta: [(String, JSONValue)] = [("profile", .array([.string(SDOCodeSystems.taskProfile)]))]
        if !tags.isEmpty { meta.append(("tag", .array(tags))) }
        var members: [(String, JSONValue)] = [("resourceType", .string("Task")), ("meta", .object(meta)), ("status", .string("completed")),
                                              ("intent", .string("plan"))]
        if let description { members.append(("description", .string(description))) }
        members.append(("input", .array(inputs)))
        return .object(members)
    }

    static func consent(source: String, idNat: String) -> JSONValue {
        .object([
            ("resourceType", .string("Consent")),
            ("meta", .object([("source", .string(source)), ("profile", .array([.string(SDOCodeSystems.consentProfile)]))])),
            ("status", .string("active")),
            ("scope", .object([("coding", .array([.object([("system", .string("http://terminology.hl7.org/CodeSystem/consentscope")),
                                                             ("code", .string("patient-privacy"))])]))])),
            ("category", .array([.object([("coding", .array([.object([("system", .string("http://loinc.org")), ("code", .string("59284-0"))])]))])])),
            ("dateTime", .string("2026-02-10")),
            ("policyRule", .object([("coding", .array([.object([("system", .string("http://terminology.hl7.org/CodeSystem/v3-ActCode")),
                                                                  ("code", .string("OPTIN"))])]))])),
            ("provision", .object([("data", .array([.object([("meaning", .string("related")),
                                                             ("reference", .object([("identifier", .object([("use", .string("official")),
                                                                                                            ("value", .string(idNat))]))]))])]))])),
        ])
    }

    /// Rows of the generic store and the module's tables, to prove that a refusal wrote nothing.
    func footprint() throws -> [Int] {
        try store.database.read { c in
            try ["resource", "resource_version", "search_key", "hdc_decision", "hdc_notification", "hdc_status_event", "search_mask"].map { t in
                try c.queryOne("SELECT count(*) FROM \(t)") { s in s.int(0) } ?? -1
            }
        }
    }
}
