import Foundation
import FHIRModels
import Validation
import Mappers
import Gateway
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Fills a sandbox database with a national-scale module Handicap history before the server starts
// (scripts/bench-gateway: flow-1 and flow-5 polling with 100,000 decisions and 10,000 ESMS).
// Everything goes through the gateway's own request chain in process (`GatewayService.handle`:
// authorisation, validation, the CDA intake, flow 4 with its flow-5 fan-out, audit), so the rows are
// the ones real traffic leaves: decisions and their notifications (a DocumentReference per targeted
// EG), evaluations, consents with their evaluation copies, status events fanned out to the other
// ESMS following the same person, finished notifications (masks), MDPH cancellations.
//
//   bench-seed --sandbox DIR [--decisions N] [--establishments M] [--mdphs K] [--focus EG:PERMILLE]…
//              [--threads T] [--out DIR]
//
// --focus: an existing EG of the sandbox (a demo DUI's) targeted by PERMILLE ‰ of the decisions, in
// addition to their random targets; the seeded ESMS post statuses, the focus EGs only receive them.
// --out: writes summary.json and, for the first focus EG, flow-4 request templates for
// bench-gateway --requests-file (one Task per live notification, with a mirrored ROR unit when the EG
// has one): flow4-tasks.txt and flow4/task-N.json.
// Deterministic: decision i draws from its own generator seeded by i, whatever the thread.

struct Options {
    var sandbox = ""
    var decisions = 100_000
    var establishments = 10_000
    var mdphs = 20
    var focus: [(eg: String, perMille: Int)] = []
    var threads = 2
    var out: String?
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bench-seed: \(message)\n".utf8))
    exit(2)
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    func value(_ name: String) -> String {
        guard let v = args.popFirst() else { fail("\(name) needs a value") }
        return v
    }
    func number(_ name: String) -> Int {
        guard let n = Int(value(name)), n > 0 else { fail("\(name) needs a positive number") }
        return n
    }
    while let a = args.popFirst() {
        switch a {
        case "--sandbox": o.sandbox = value(a)
        case "--decisions": o.decisions = number(a)
        case "--establishments": o.establishments = number(a)
        case "--mdphs": o.mdphs = number(a)
        case "--threads": o.threads = number(a)
        case "--out": o.out = value(a)
        case "--focus":
            let parts = value(a).split(separator: ":")
            guard parts.count == 2, let perMille = Int(parts[1]), (0...1000).contains(perMille) else { fail("--focus EG:PERMILLE") }
            o.focus.append((String(parts[0]), perMille))
        default: fail("unknown argument \(a)")
        }
    }
    guard !o.sandbox.isEmpty else { fail("--sandbox DIR is required (a directory written by fhir-gateway sandbox init)") }
    guard o.establishments >= 4 else { fail("--establishments must be at least 4") }
    return o
}

/// SplitMix64: a small deterministic generator (one per decision).
struct Generator {
    var state: UInt64
    init(_ seed: Int) { state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 &+ 0x2545_F491_4F6C_DD1D }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// True with probability `perMille` ‰.
    mutating func chance(_ perMille: Int) -> Bool { below(1000) < perMille }
}

/// `1` + a FINESS number: two-digit prefix, six-digit counter, Luhn key (flow 4 checks it).
func structureId(_ prefix: String, _ n: Int) -> String {
    let digits = prefix + String(format: "%06d", n)
    for key in 0...9 where FINESS.isValid(digits + String(key)) { return "1" + digits + String(key) }
    fail("no FINESS key for \(digits)")
}

/// A valid INS-NIR (13 characters + key 97 − n mod 97) for person `n`.
func ins(_ n: Int) -> String {
    let sex = 1 + n % 2, year = 40 + n % 60, month = 1 + n % 12, department = 1 + (n / 12) % 95
    let commune = 1 + (n / 1140) % 989, order = 1 + (n / 7) % 999
    let body = "\(sex)" + String(format: "%02d%02d%02d%03d%03d", year, month, department, commune, order)
    guard let key = INS.key(of: body) else { fail("bad INS body \(body)") }
    return body + String(format: "%02d", key)
}

let options = parseOptions()
Log.setLevel(.warning)
let configuration: GatewayConfiguration = {
    do {
        var c = try GatewayConfiguration.load(path: options.sandbox + "/gateway.json")
        c.rateLimitPerSecond = 1_000_000
        c.rateLimitBurst = 1_000_000
        return c
    } catch { fail("\(options.sandbox)/gateway.json: \(error)") }
}()
let store: SQLiteStore = {
    do { return try SQLiteStore(path: configuration.databasePath) } catch { fail("\(configuration.databasePath): \(error)") }
}()
let service: GatewayService = {
    do { return GatewayService(configuration: configuration, store: store, validation: try GatewayService.loadValidationEngine()) } catch {
        fail("validation data: \(error)")
    }
}()

// MARK: registry

/// A caller of the in-process chain: a token bound to a certificate that only this process presents.
struct Caller: Sendable {
    var clientId: String
    var eg: String
    var token: String
    var peer: PeerCertificate
}

let egs = (0..<options.establishments).map { structureId("98", $0) }
let egsPerEJ = 100
let duiScopes = ["system/DocumentReference.rs", "system/Consent.c", "system/Task.crus"]
let mdphScopes = ["system/DocumentReference.crs", "system/Task.crs"]
struct MDPH: Sendable { var caller: Caller; var oid: String }

func enrol(_ tx: any StoreWriteTransaction, name: String, role: ClientRole, ej: String, egs: [String], scopes: [String], serial: Int,
           now: Timestamp) throws -> Caller {
    let clientId = "bench-\(name)"
    let peer = PeerCertificate(subject: [("C", "FR"), ("OU", ej), ("CN", "\(name).bench.test")], issuer: [],
                               sha256: SecretHasher.sha256(Array("bench-seed \(name)".utf8)), serialHex: String(serial, radix: 16), notAfter: nil)
    try tx.upsertClient(ClientRecord(clientId: clientId, name: "Banc d'essai \(name)", role: role, environment: .sandbox, allowedScopes: scopes,
                                     createdAt: now))
    try tx.upsertLegalEntity(LegalEntity(id: ej, name: "EJ \(name)"))
    try tx.activateLegalEntity(id: ej, by: "bench-seed", at: now)
    for eg in egs {
        try tx.upsertGeographicEntity(GeographicEntity(id: eg, legalEntityId: ej, name: "ESMS \(eg.suffix(6))"))
        try tx.activateGeographicEntity(id: eg, by: "bench-seed", at: now)
    }
    try tx.enrol(ClientEnrolment(clientId: clientId, legalEntityId: ej))
    let token = "bench_" + SecretHasher.base64url(try SecretHasher.randomBytes(24))
    try tx.storeToken(token, clientId: clientId, legalEntityId: ej, thumbprint: peer.thumbprint, scopes: scopes, issuedAt: now,
                      expiresAt: now.adding(seconds: 7 * 86_400))
    return Caller(clientId: clientId, eg: egs.first ?? "", token: token, peer: peer)
}

let started = Date()
/// One DUI client per EJ (EG j belongs to EJ j / egsPerEJ), and the MDPHs.
let (duis, mdphs): ([Caller], [MDPH]) = {
    let now = Timestamp.now()
    do {
        return try store.write { tx in
            var duis: [Caller] = [], mdphs: [MDPH] = []
            for k in 0..<(egs.count + egsPerEJ - 1) / egsPerEJ {
                let mine = Array(egs[(k * egsPerEJ)..<min(egs.count, (k + 1) * egsPerEJ)])
                duis.append(try enrol(tx, name: "dui-\(k)", role: .dui, ej: structureId("97", k), egs: mine, scopes: duiScopes, serial: k, now: now))
            }
            for m in 0..<options.mdphs {
                let eg = structureId("96", m), oid = "1.2.250.1.213.7.\(9000 + m)"
                let caller = try enrol(tx, name: "mdph-\(m)", role: .mdph, ej: structureId("95", m), egs: [eg], scopes: mdphScopes, serial: 100_000 + m, now: now)
                try tx.upsertMDPH(MDPHRecord(establishment: eg, oid: oid, name: "MDPH de banc d'essai \(m)"))
                mdphs.append(MDPH(caller: caller, oid: oid))
            }
            return (duis, mdphs)
        }
    } catch { fail("registry: \(error)") }
}()
let registryDone = Date()

// MARK: requests

struct Tally: Sendable {
    var requests = 0
    var byKind: [String: Int] = [:]
    var failures: [String] = []
}
let tally = Mutex(Tally())

/// POSTs `body` as `who` through the whole chain; the reply's JSON when it is a 2xx, else nil (tallied).
func post(_ who: Caller, _ type: String, _ body: [UInt8], kind: String) -> JSONValue? {
    let headers: [(name: String, value: String)] = [("Host", "bench.test"), ("Authorization", "Bearer \(who.token)"), ("struct_idnat", who.eg),
                                                    ("Content-Type", "application/fhir+json")]
    let r = service.handle(HTTPRequest(method: "POST", target: "/fhir/\(type)", version: .http11, headers: headers, body: body),
                           ConnectionContext(remoteAddress: "127.0.0.1", peer: who.peer, tlsVersion: "TLSv1.3"))
    let ok = (200..<300).contains(r.status)
    tally.withLock { t in
        t.requests += 1
        if ok { t.byKind[kind, default: 0] += 1 } else if t.failures.count < 10 { t.failures.append("\(kind) \(r.status) \(String(decoding: r.body.prefix(600), as: UTF8.self))") }
    }
    return ok ? (try? JSONValue.parse(r.body)) : nil
}

func coding(_ system: String, _ code: String) -> JSONValue {
    .object([("coding", .array([.object([("system", .string(system)), ("code", .string(code))])]))])
}

/// The DocumentReference an MDPH posts (57830-2 decision or 51848-0 evaluation), the CDA in base64.
func mdphDocument(_ cda: [UInt8], type: String) -> [UInt8] {
    JSONValue.object([
        ("resourceType", .string("DocumentReference")), ("status", .string("current")),
        ("type", coding("http://loinc.org", type)),
        ("content", .array([.object([("attachment", .object([("contentType", .string("text/xml")), ("data", .string(Data(cda).base64EncodedString()))]))])])),
    ]).serialized()
}

/// A status Task as a client sends it: the platform's builder, without the server's id and meta.
func statusTask(_ s: PersonStatus) -> [UInt8] {
    guard var json = try? JSONValue.parse(FHIRJSONWriter.write(PersonStatusTask.build(s, id: "x", versionId: 1, lastUpdated: "2026-01-01T00:00:00Z"))) else {
        fail("Task builder output unreadable")
    }
    json["id"] = nil
    json["meta"] = .object([("profile", .array([.string(SDOCodeSystems.taskProfile)]))])
    return json.serialized()
}

func consent(eg: String, idNat: String) -> [UInt8] {
    JSONValue.object([
        ("resourceType", .string("Consent")),
        ("meta", .object([("source", .string(eg)), ("profile", .array([.string(SDOCodeSystems.consentProfile)]))])),
        ("status", .string("active")),
        ("scope", coding("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy")),
        ("category", .array([coding("http://loinc.org", "59284-0")])),
        ("dateTime", .string("2026-02-10")),
        ("policyRule", coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN")),
        ("provision", .object([("data", .array([.object([("meaning", .string("related")),
                                                        ("reference", .object([("identifier", .object([("use", .string("official")), ("value", .string(idNat))]))]))])]))])),
    ]).serialized()
}

func person(_ n: Int) -> OrientedPerson {
    OrientedPerson(ins: (.nir, ins(n)), mdphIndividualId: nil, birthName: "PERSONNE\(n % 1000)", usedName: nil, givenNames: ["Prénom"],
                   gender: n % 2 == 0 ? "M" : "F", birthDate: "20\(String(format: "%02d", n % 20))0115")
}

/// What decision `i` is: its MDPH, person, targets, kind; a renewal takes over decision i − 1000 (same MDPH when K divides 1000).
struct Plan {
    var mdph: Int
    var personNumber: Int
    var targets: [String]
    var renews: Int?
}

func plan(_ i: Int) -> Plan {
    var g = Generator(i)
    let mdph = i % options.mdphs
    if i >= 1000, g.chance(50), (i - 1000) % options.mdphs == mdph {
        let old = plan(i - 1000)
        return Plan(mdph: mdph, personNumber: old.personNumber, targets: old.targets, renews: i - 1000)
    }
    let count = [1, 1, 1, 1, 2, 2, 2, 3, 3, 4][g.below(10)]
    var targets: [String] = []
    while targets.count < count {
        let eg = egs[g.below(egs.count)]
        if !targets.contains(eg) { targets.append(eg) }
    }
    for f in options.focus where g.chance(f.perMille) { targets.append(f.eg) }
    return Plan(mdph: mdph, personNumber: i, targets: targets, renews: nil)
}

func idDecision(_ i: Int) -> String { "BENCH-\(i)" }

/// Decision `i` and what follows it: evaluation, statuses of the seeded ESMS (fanned out), consents, a cancellation.
func seed(_ i: Int) {
    let p = plan(i)
    var g = Generator(i &+ 7_777_777)
    let m = mdphs[p.mdph]
    let d = OrientationDecision(
        documentId: InstanceIdentifier(root: m.oid + ".1", extension: "\(idDecision(i))-v1"), setId: InstanceIdentifier(root: m.oid + ".2", extension: "SET-\(i)"),
        versionNumber: 1, replacesDocumentId: nil, effectiveTime: "20260110120000+0100", person: person(p.personNumber), mdphOID: m.oid,
        idDecision: idDecision(i), decisionType: p.renews == nil ? .attribution : .renewal, decisionDate: "20260110", closureEffectiveDate: nil,
        relatedDecisionIds: p.renews.map { [idDecision($0)] } ?? [],
        rights: [RightOrBenefit(typeCode: "13.2", openingDate: "20260201", expiryDate: "20310131", targetedStructures: p.targets,
                                receptionTemporality: "02", sequentialReception: false, careMode: "47", organisationCategory: "48",
                                establishmentCategory: "183", nature: p.renews == nil ? "1" : "2", qualification: "1", globalSupportPlan: false)],
        motivations: ["364"], responsibleMDPH: InstanceIdentifier(root: m.oid, extension: "BENCH"))
    guard let created = post(m.caller, "DocumentReference", mdphDocument(DecisionDocumentWriter.write(d), type: "57830-2"), kind: "decision"),
          let idNat = created["identifier"]?.array?.first(where: { $0["use"]?.string == "official" })?["value"]?.string else { return }
    let evaluated = g.chance(200)
    if evaluated {
        let e = EvaluationDocument(documentId: InstanceIdentifier(root: m.oid + ".3", extension: "EVAL-\(i)"), setId: InstanceIdentifier(root: m.oid + ".2", extension: idNat),
                                   versionNumber: 1, replacesDocumentId: nil, effectiveTime: "20260110", person: d.person,
                                   responsibleMDPH: InstanceIdentifier(root: m.oid, extension: "BENCH"), evaluationDate: "20260108")
        _ = post(m.caller, "DocumentReference", mdphDocument(DecisionDocumentWriter.write(e), type: "51848-0"), kind: "evaluation")
    }
    let focus = Set(options.focus.map(\.eg))
    for eg in p.targets where !focus.contains(eg) {
        guard let index = egs.firstIndex(of: eg) else { continue }
        var who = duis[index / egsPerEJ]
        who.eg = eg
        func status(_ code: String, reason: String? = nil, kind: String) {
            let s = PersonStatus(idNatStruct: eg, nomESMS: "ESMS \(eg.suffix(6))", idDecision: idDecision(i), idDecisionSystem: "urn:oid:\(m.oid)",
                                 idNatDecision: idNat, statusESMS: code, reasonESMS: reason, dateESMS: "2026-02-15")
            _ = post(who, "Task", statusTask(s), kind: kind)
        }
        // A consent comes before the person leaves (a finished notification takes none).
        if g.chance(50) { _ = post(who, "Consent", consent(eg: eg, idNat: idNat), kind: "consent") }
        if g.chance(300) {
            status("39", kind: "status 39")
            if g.chance(150) { status("41", reason: "148", kind: "status 41") }
            if g.chance(50) { status("48", reason: "109", kind: "status 48 (finished)") }
        }
    }
    if g.chance(10) {
        let s = PersonStatus(idNatStruct: m.caller.eg, nomESMS: "MDPH", idDecision: idDecision(i), idDecisionSystem: "urn:oid:\(m.oid)", idNatDecision: idNat,
                             statusESMS: "37", dateESMS: "2026-02-20", description: "Décision annulée par la CDAPH")
        _ = post(m.caller, "Task", statusTask(s), kind: "mdph cancellation 37")
    }
}

let group = DispatchGroup()
let progress = Mutex(0)
for t in 0..<options.threads {
    group.enter()
    let thread = Thread {
        var i = t
        while i < options.decisions {
            seed(i)
            i += options.threads
            progress.withLock { n in
                n += 1
                if n % 10_000 == 0 { FileHandle.standardError.write(Data("bench-seed: \(n) decisions, \(Int(Date().timeIntervalSince(registryDone))) s\n".utf8)) }
            }
        }
        group.leave()
    }
    thread.stackSize = 8 << 20
    thread.start()
}
group.wait()
let seeded = Date()
do { try store.database.withWriter { c in try c.execute("PRAGMA wal_checkpoint(TRUNCATE)") } } catch { fail("checkpoint: \(error)") }

// MARK: summary

func count(_ sql: String, _ values: [SQLiteValue] = []) -> Int {
    (try? store.database.read { c in try c.queryOne(sql, values) { $0.int(0) } ?? 0 }) ?? -1
}
let final = tally.withLock { $0 }
var summary: [(String, JSONValue)] = [
    ("decisions", .number(String(count("SELECT count(*) FROM hdc_decision")))),
    ("establishmentsSeeded", .number(String(egs.count))),
    ("establishmentsNotified", .number(String(count("SELECT count(DISTINCT eg_id) FROM hdc_notification")))),
    ("notifications", .number(String(count("SELECT count(*) FROM hdc_notification")))),
    ("notificationsFinished", .number(String(count("SELECT count(*) FROM hdc_notification WHERE finished_at IS NOT NULL")))),
    ("statusEvents", .number(String(count("SELECT count(*) FROM hdc_status_event")))),
    ("resources", .number(String(count("SELECT count(*) FROM resource")))),
    ("resourceVersions", .number(String(count("SELECT count(*) FROM resource_version")))),
    ("auditRecords", .number(String(count("SELECT count(*) FROM audit")))),
    ("requests", .number(String(final.requests))),
    ("requestsByKind", .object(final.byKind.keys.sorted().map { ($0, .number(String(final.byKind[$0]!))) })),
    ("failures", .array(final.failures.map { .string($0) })),
    ("registrySeconds", .number(String(format: "%.1f", registryDone.timeIntervalSince(started)))),
    ("seedingSeconds", .number(String(format: "%.1f", seeded.timeIntervalSince(registryDone)))),
    ("requestsPerSecond", .number(String(Int(Double(final.requests) / seeded.timeIntervalSince(registryDone))))),
    ("databaseBytes", .number(String(((try? FileManager.default.attributesOfItem(atPath: configuration.databasePath))?[.size] as? Int) ?? 0))),
]
var focusSummary: [JSONValue] = []
for f in options.focus {
    focusSummary.append(.object([
        ("establishment", .string(f.eg)),
        ("notifications", .number(String(count("SELECT count(*) FROM hdc_notification WHERE eg_id = ?1", [.text(f.eg)])))),
        ("liveNotifications", .number(String(count("SELECT count(*) FROM hdc_notification n JOIN hdc_decision d ON d.id_nat = n.id_nat "
                                                   + "WHERE n.eg_id = ?1 AND n.finished_at IS NULL AND d.state = 'active'", [.text(f.eg)])))),
        ("eventTasks", .number(String(count("SELECT count(*) FROM search_key WHERE tenant = ?1 AND type = 'Task' AND name = 'origin' AND value = 'event'",
                                            [.text(f.eg)])))),
    ]))
}
summary.append(("focus", .array(focusSummary)))
let summaryJSON = JSONValue.object(summary).serialized(pretty: true)
print(String(decoding: summaryJSON, as: UTF8.self))

// MARK: flow-4 templates for the first focus EG

if let out = options.out, let focus = options.focus.first?.eg {
    let fm = FileManager.default
    do {
        try fm.createDirectory(atPath: out + "/flow4", withIntermediateDirectories: true)
        try Data(summaryJSON).write(to: URL(fileURLWithPath: out + "/summary.json"))
        let (live, unit): ([(String, String, String)], RorUnit?) = try store.read { tx in
            let live = try (tx.notifications(establishment: focus, recoveryOnly: false)).filter { !$0.isFinished }.prefix(1000).compactMap { n -> (String, String, String)? in
                guard let d = try tx.decision(idNat: n.idNat), d.state == .active else { return nil }
                return (d.idNat, d.idDecision, d.mdphOID)
            }
            return (live, try tx.rorUnits(establishment: focus).first { $0.isOpen && $0.organisationCategory != nil && $0.careMode != nil })
        }
        var lines = "# flow 4: POST Task by \(focus), one per live notification (bench-seed)\n"
        for (n, (idNat, idDecision, oid)) in live.enumerated() {
            var s = PersonStatus(idNatStruct: focus, nomESMS: "ESMS \(focus)", idDecision: idDecision, idDecisionSystem: "urn:oid:\(oid)",
                                 idNatDecision: idNat, statusESMS: "71", dateESMS: "2026-03-01")
            if let unit {
                s.unitId = unit.rorId; s.unitName = unit.name; s.unitCategory = unit.organisationCategory; s.unitCareMode = unit.careMode
                s.statusUnit = "184"; s.dateUnit = "2026-03-01"
            }
            try Data(statusTask(s)).write(to: URL(fileURLWithPath: out + "/flow4/task-\(n).json"))
            lines += "POST /fhir/Task flow4/task-\(n).json\n"
        }
        try lines.write(toFile: out + "/flow4-tasks.txt", atomically: true, encoding: .utf8)
        FileHandle.standardError.write(Data("bench-seed: \(live.count) flow-4 templates for \(focus)\(unit.map { " (unit \($0.rorId))" } ?? " (no mirrored unit)") in \(out)\n".utf8))
    } catch { fail("--out: \(error)") }
}
exit(final.failures.isEmpty ? 0 : 1)
