import Testing
import Foundation
import Synchronization
import FHIRModels
import Mappers
@testable import Gateway

/// A ROR FHIR server for the tests: the project's own HTTPServer with mutual TLS (test PKI), serving
/// pages chosen by a handler the test sets, and recording every request target.
final class RorFixtureServer: Sendable {
    final class Shared: Sendable {
        let requests = Mutex<[String]>([])
        let handler = Mutex<@Sendable (String) -> HTTPResponse>({ _ in HTTPResponse(status: 404) })
    }
    let server: HTTPServer
    let shared = Shared()

    init() throws {
        // Writing to a client that gave up (the timeout case) must not kill the test process.
        signal(SIGPIPE, SIG_IGN)
        let tls = try TLSServerContext(.init(certificateFile: TestSupport.pkiFile("server-chain.crt"), privateKeyFile: TestSupport.pkiFile("server.key"),
                                             trustFile: TestSupport.pkiFile("trust.pem"), crlFiles: [TestSupport.pkiFile("crls.pem")]))
        var config = HTTPServer.Configuration()
        config.port = 0
        let shared = self.shared
        server = try HTTPServer(configuration: config, tls: tls) { request, context in
            // Only the gateway's certificate is served (a real ROR checks its client too).
            guard context.peer?.organizationalUnits == ["1990000011"] else { return HTTPResponse(status: 403) }
            shared.requests.withLock { $0.append(request.target) }
            return shared.handler.withLock { $0 }(request.target)
        }
        server.start()
    }

    var base: String { "https://127.0.0.1:\(server.port)/fhir" }
    func respond(_ h: @escaping @Sendable (String) -> HTTPResponse) { shared.handler.withLock { $0 = h } }
    func decodedRequests() -> [String] { shared.requests.withLock { $0 }.map { (try? QueryParameters.decode(Substring($0))) ?? $0 } }
    func clearRequests() { shared.requests.withLock { $0 = [] } }
    deinit { server.stop(grace: 1) }

    static func fhir(_ json: JSONValue, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/fhir+json")], body: json.serialized())
    }
}

/// The libcurl pull against a real local HTTPS server with mTLS: paging, incremental sync,
/// reconciliation, and failures that must leave the mirror untouched.
@Suite(.serialized) struct RorPullTests {
    typealias F = RorFixtures
    let dir = StoreTempDir()
    let clock = TestClock("2026-06-15T10:00:00Z")

    func refresher(_ server: RorFixtureServer, ca: String = "ca.crt", cert: String? = "dui-a", timeout: Double = 5) throws -> (SQLiteStore, RorRefresher) {
        let store = try SQLiteStore(path: dir.file("g.db"))
        let clock = self.clock
        let sync = RorSynchronizer(store: store, terminology: F.terminology, clock: { clock.now })
        let client = RorHTTPClient(configuration: RorClientConfiguration(
            baseURL: server.base + "/", certificateFile: cert.map { TestSupport.pkiFile("\($0).crt") }, privateKeyFile: cert.map { TestSupport.pkiFile("\($0).key") },
            caFile: TestSupport.pkiFile(ca), timeoutSeconds: timeout))
        return (store, RorRefresher(synchronizer: sync, client: client, overlapSeconds: 3600))
    }

    /// The establishment in two pages: offers 101–103 with their organisations, then 104–105.
    static func twoPages(_ bundle: JSONValue, base: String) -> (JSONValue, JSONValue) {
        let all = F.resources(bundle)
        let orgs = all.filter { $0["resourceType"]?.string == "Organization" }
        let offers = all.filter { $0["resourceType"]?.string == "HealthcareService" }
        return (F.searchset(Array(offers.prefix(3)) + orgs, next: base + "/HealthcareService?_getpages=p2&_getpagesoffset=3"),
                F.searchset(Array(offers.dropFirst(3)) + orgs))
    }

    static func establishmentServer(_ server: RorFixtureServer, _ bundle: @escaping @Sendable () -> JSONValue,
                                    unit: @escaping @Sendable (String) -> JSONValue = { _ in F.searchset([]) }) {
        let base = server.base
        server.respond { target in
            let t = (try? QueryParameters.decode(Substring(target))) ?? target
            let (p1, p2) = twoPages(bundle(), base: base)
            if t.contains("_getpages=p2") { return RorFixtureServer.fhir(p2) }
            if t.contains("organization:above.identifier=https://finess.esante.gouv.fr|990000101") { return RorFixtureServer.fhir(p1) }
            if let r = t.range(of: "identifier=") { return RorFixtureServer.fhir(unit(String(t[r.upperBound...].prefix { $0 != "&" }))) }
            return HTTPResponse(status: 400)
        }
    }

    @Test func fullThenIncrementalThenReconciliation() throws {
        let server = try RorFixtureServer()
        let current = Mutex(F.bundleA)
        Self.establishmentServer(server, { current.withLock { $0 } })
        let (store, refresher) = try refresher(server)
        let sync = refresher.synchronizer

        // First pull: full, two pages followed through `next`.
        let first = try refresher.refresh(establishment: F.egA)
        #expect(first.status == .succeeded && first.trigger == .initial && first.pages == 2 && first.applied == 5, "\(first)")
        let sent = server.decodedRequests()
        #expect(sent.count == 2)
        #expect(sent[0].hasPrefix("/fhir/HealthcareService?organization:above.identifier=https://finess.esante.gouv.fr|990000101"))
        #expect(sent[0].contains("_include:iterate=HealthcareService:organization") && !sent[0].contains("_lastUpdated"))
        #expect(sent[1] == "/fhir/HealthcareService?_getpages=p2&_getpagesoffset=3")
        #expect(first.requests.count == 2 && first.requests[1] == server.base + "/HealthcareService?_getpages=p2&_getpagesoffset=3")
        let est = try #require(try store.read { tx in try tx.rorEstablishment(F.egA) })
        #expect(est.watermark == Timestamp(fhirInstant: "2026-06-15T10:00:00Z") && est.lastFullSyncAt == est.watermark)
        #expect(try store.read { tx in try tx.rorRun(id: first.id) }?.status == .succeeded)

        try sync.pair(establishment: F.egA, platformUnit: "U1", rorId: "99/0000101", by: "t")
        try sync.pair(establishment: F.egA, platformUnit: "U2", rorId: "99/0000102", by: "t")
        try sync.transition(establishment: F.egA, .validateStructure, by: "t")
        try sync.transition(establishment: F.egA, .activateUpdates, by: "t")

        // Next day, incremental: `_lastUpdated=ge{watermark − overlap}`; the renamed unit is applied.
        clock.advance(days: 1)
        current.withLock { $0 = F.editOffer($0, "99/0000101") { $0["name"] = .string("Accueil de jour (renommé)") } }
        server.clearRequests()
        let daily = try refresher.refresh(establishment: F.egA, trigger: .daily)
        #expect(daily.status == .succeeded && daily.trigger == .daily && daily.unitsUpdated == 1, "\(daily)")
        #expect(daily.watermarkFrom == Timestamp(fhirInstant: "2026-06-15T09:00:00Z"))
        #expect(server.decodedRequests().first?.contains("_lastUpdated=ge2026-06-15T09:00:00.000Z") == true, "\(server.decodedRequests())")
        #expect(try store.read { tx in try tx.rorUnit(establishment: F.egA, rorId: "99/0000101") }?.name == "Accueil de jour (renommé)")

        // 102 disappears from the ROR: an incremental pull cannot tell; the reconciliation (full) does,
        // after looking the paired unit up alone.
        current.withLock { $0 = F.removeOffer($0, "99/0000102") }
        clock.advance(days: 1)
        #expect(try refresher.refresh(establishment: F.egA, trigger: .daily).alertsRaised == 0)
        server.clearRequests()
        clock.advance(days: 7)
        let runs = refresher.daily()
        #expect(runs.map(\.trigger) == [.reconcile], "a full pull is due after seven days")
        #expect(server.decodedRequests().contains("/fhir/HealthcareService?identifier=99/0000102&_include:iterate=HealthcareService:organization"))
        let gone = try #require(try store.read { tx in try tx.rorAlerts(establishment: F.egA, pendingOnly: true) }.first { $0.kind == .gone })
        #expect(gone.rorId == "99/0000102" && gone.severity == .impactante)
        #expect(try store.read { tx in try tx.rorUnit(establishment: F.egA, rorId: "99/0000102") } != nil, "not a silent delete")
        #expect(try store.read { tx in try tx.rorSourceOffer(establishment: F.egA, rorId: "99/0000102") }?.goneAt != nil)
        #expect(try store.read { tx in try tx.rorEstablishment(F.egA)?.state } == .miseAJourOffreSuspendue)

        // Unit-level refresh of 101 (one request, no watermark change).
        server.clearRequests()
        let before = try store.read { tx in try tx.rorEstablishment(F.egA)?.watermark }
        let unitRun = try refresher.refresh(establishment: F.egA, unit: "99/0000101")
        #expect(unitRun.trigger == .manualUnit && unitRun.scope == "unit 99/0000101" && unitRun.status == .succeeded)
        #expect(server.decodedRequests() == ["/fhir/HealthcareService?identifier=99/0000101&_include:iterate=HealthcareService:organization"])
        #expect(try store.read { tx in try tx.rorEstablishment(F.egA)?.watermark } == before)
    }

    /// Each failure: the run is recorded as failed with an OperationOutcome, the mirror and the
    /// source copy are exactly as before.
    @Test func failuresLeaveTheMirrorUnchanged() throws {
        let server = try RorFixtureServer()
        Self.establishmentServer(server, { F.bundleA })
        let (store, good) = try refresher(server)
        try good.refresh(establishment: F.egA)
        try good.synchronizer.pair(establishment: F.egA, platformUnit: "U1", rorId: "99/0000101", by: "t")
        func snapshot() throws -> [String] {
            try store.read { tx in
                try tx.rorUnits(establishment: F.egA).map { "\($0)" } + tx.rorSourceOffers(establishment: F.egA).map { "\($0.offer) \($0.goneAt.map { "\($0)" } ?? "")" }
            }
        }
        let before = try snapshot()
        // What the server answers now would change the mirror if it were applied.
        let renamed = F.editOffer(F.bundleA, "99/0000101") { $0["name"] = .string("NE DOIT PAS APPARAITRE") }
        func expectFailed(_ run: RorSyncRun, _ rule: String, _ note: Comment) throws {
            #expect(run.status == .failed, note)
            let stored = try #require(try store.read { tx in try tx.rorRun(id: run.id) })
            #expect(stored.status == .failed && stored.endedAt != nil, note)
            let outcome = try #require(stored.outcome.flatMap { try? JSONValue.parse(Array($0.utf8)) })
            #expect(outcome["issue"]?.array?.first?["details"]?["coding"]?.array?.first?["code"]?.string == rule, "\(note): \(stored.outcome ?? "")")
            #expect(try snapshot() == before, note)
        }

        // The server's certificate is not trusted (another CA).
        Self.establishmentServer(server, { renamed })
        let (_, foreignCA) = try refresher(server, ca: "foreign/ca.crt")
        try expectFailed(try foreignCA.refresh(establishment: F.egA), "ROR-TRANSPORT", "server certificate refused")
        // No client certificate: the server refuses the handshake.
        let (_, anonymous) = try refresher(server, cert: nil)
        try expectFailed(try anonymous.refresh(establishment: F.egA), "ROR-TRANSPORT", "no client certificate")
        // HTTP 500.
        server.respond { _ in RorFixtureServer.fhir(.object([("resourceType", .string("OperationOutcome"))]), status: 500) }
        try expectFailed(try good.refresh(establishment: F.egA), "ROR-HTTP-STATUS", "500")
        // The second page fails after the first succeeded: nothing of the first is applied.
        let base = server.base
        server.respond { t in
            t.contains("_getpages") ? HTTPResponse(status: 503) : RorFixtureServer.fhir(Self.twoPages(renamed, base: base).0)
        }
        try expectFailed(try good.refresh(establishment: F.egA), "ROR-HTTP-STATUS", "second page 503")
        // Timeout.
        server.respond { _ in usleep(2_500_000); return RorFixtureServer.fhir(renamed) }
        let (_, impatient) = try refresher(server, timeout: 1)
        let slow = try impatient.refresh(establishment: F.egA)
        try expectFailed(slow, "ROR-TRANSPORT", "timeout")
        #expect(slow.requests.count == 1)
        let outcome = try #require(try store.read { tx in try tx.rorRun(id: slow.id) }?.outcome)
        #expect(outcome.contains("\"code\":\"timeout\""), "\(outcome)")
        // A next link to another server is not followed (the client certificate stays home).
        server.respond { _ in RorFixtureServer.fhir(F.searchset(F.resources(renamed), next: "https://ror.example.org/fhir/HealthcareService?_getpages=x")) }
        try expectFailed(try good.refresh(establishment: F.egA), "ROR-NEXT-ORIGIN", "foreign next link")
        // Not a FHIR response.
        server.respond { _ in HTTPResponse(status: 200, headers: [("Content-Type", "text/html")], body: Array("<html>".utf8)) }
        try expectFailed(try good.refresh(establishment: F.egA), "ROR-RESPONSE", "not JSON")
        // Failed runs are audited too.
        let audit = try store.read { tx in try tx.auditRecords(after: 0, limit: 1000) }
        #expect(audit.filter { $0.entry.interaction == "ror-sync" && $0.entry.status == 502 }.count == 7)
    }

    /// One pull per establishment at a time in a process (daily job and admin API together).
    @Test func concurrentRefreshOfOneEstablishmentIsRefused() throws {
        let server = try RorFixtureServer()
        let a = F.searchset(F.resources(F.bundleA))
        server.respond { _ in usleep(800_000); return RorFixtureServer.fhir(a) }
        let (store, refresher) = try refresher(server)
        let first = Thread { _ = try? refresher.refresh(establishment: F.egA) }
        first.start()
        usleep(300_000)
        do {
            try refresher.refresh(establishment: F.egA)
            Issue.record("a second refresh of the same EG must be refused while the first runs")
        } catch let e as RorActionError {
            #expect(e.rule == "ROR-BUSY")
        }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, try store.read({ tx in try tx.rorRuns(establishment: F.egA, limit: 5) }).first?.status != .succeeded { usleep(50_000) }
        #expect(try store.read { tx in try tx.rorRuns(establishment: F.egA, limit: 5) }.map(\.status) == [.succeeded])
        #expect(try refresher.refresh(establishment: F.egA).status == .succeeded, "free again once the first is done")
    }

    @Test func dailyScheduleTime() throws {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "Europe/Paris")!
        let t = Date(timeIntervalSince1970: 1_781_517_600)  // 2026-06-15T10:00:00Z = 12:00 in Paris
        let next = RorScheduler.nextRun(after: t, hour: 3, minute: 0, calendar: cal)
        #expect(next.timeIntervalSince1970 == 1_781_571_600, "next day 03:00 Paris = 01:00Z")
        #expect(RorScheduler.nextRun(after: t, hour: 13, minute: 30, calendar: cal).timeIntervalSince1970 == 1_781_523_000)
    }
}
