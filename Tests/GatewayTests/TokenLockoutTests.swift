import Testing
import Foundation
import FHIRModels
@testable import Gateway
#if canImport(Glibc)
import Glibc
#endif

/// Lockout at the token endpoint per client id and per source address, on a real store.
@Suite struct TokenLockoutTests {
    let dir = StoreTempDir()
    static let ej = "1990000011", eg = "1990000102"
    let peer = PeerCertificate(subject: [("C", "FR"), ("OU", TokenLockoutTests.ej), ("CN", "x")], issuer: [], sha256: [7, 7, 7],
                               serialHex: "01", notAfter: nil)

    /// A store with one activated, enrolled sandbox client; returns (store, client id, secret).
    func registry() throws -> (SQLiteStore, String, String) {
        let store = try SQLiteStore(path: dir.file("t.sqlite"))
        let secret = try SecretHasher.newClientSecret()
        let hash = try SecretHasher.hash(secret, iterations: SecretHasher.minimumIterations)
        try store.write { tx in
            try tx.upsertClient(ClientRecord(clientId: "vt-1", name: "E", role: .dui, environment: .sandbox, allowedScopes: ["system/Task.rs"], createdAt: .now()))
            try tx.addSecret(clientId: "vt-1", hash)
            try tx.upsertLegalEntity(LegalEntity(id: Self.ej, name: "EJ"))
            try tx.activateLegalEntity(id: Self.ej, by: "t", at: .now())
            try tx.upsertGeographicEntity(GeographicEntity(id: Self.eg, legalEntityId: Self.ej, name: "EG"))
            try tx.activateGeographicEntity(id: Self.eg, by: "t", at: .now())
            try tx.enrol(ClientEnrolment(clientId: "vt-1", legalEntityId: Self.ej))
        }
        return (store, "vt-1", secret)
    }

    func endpoint(_ store: SQLiteStore, threshold: Int) -> TokenEndpoint {
        TokenEndpoint(store: store, lifetimeSeconds: 60, limiter: RateLimiter(perSecond: 100, burst: 1000), metrics: Metrics(),
                      environment: .sandbox, addressLockoutThreshold: threshold)
    }

    func ask(_ t: TokenEndpoint, _ id: String, _ secret: String, from address: String?) -> HTTPResponse {
        let body = Array("grant_type=client_credentials&client_id=\(id)&client_secret=\(secret)".utf8)
        let request = HTTPRequest(method: "POST", target: "/oauth/token", version: .http11,
                                  headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body)
        return t.handle(request, peer: peer, address: address, requestId: "r")
    }

    func error(_ r: HTTPResponse) -> String? { (try? JSONValue.parse(r.body))?["error"]?.string }

    @Test func anAddressIsLockedAfterFailuresWhateverTheClientId() throws {
        let (store, id, secret) = try registry()
        let t = endpoint(store, threshold: 4)
        // Four guesses, each on another (unknown) client id: no client reaches its own threshold.
        for i in 0..<4 { #expect(ask(t, "guess-\(i)", "x", from: "10.0.0.9").status == 401) }
        let locked = ask(t, id, secret, from: "10.0.0.9")
        #expect(locked.status == 429 && error(locked) == "slow_down")
        #expect(Int(locked.header("Retry-After") ?? "") == 60)
        // Another address, and a connection whose address is not the client's (reverse proxy): served.
        #expect(ask(t, id, secret, from: "10.0.0.10").status == 200)
        #expect(ask(t, id, secret, from: nil).status == 200)
        // Persisted: a new endpoint (a restarted server) on the same database keeps the lock.
        #expect(ask(endpoint(store, threshold: 4), id, secret, from: "10.0.0.9").status == 429)
        let state = try #require(try store.read { tx in try tx.lockout(subject: "ip:10.0.0.9") })
        #expect(state.failures == 4 && state.lockedUntil != nil)
        // The audit says why, without the client id of a refusal before authentication.
        let last = try #require(try store.read { tx in try tx.auditRecords(after: 0, limit: 100) }.last)
        #expect(last.entry.interaction == "token" && last.entry.status == 429 && last.entry.outcome == "slow_down" && last.entry.clientId == nil)
    }

    @Test func backOffDoublesAndASuccessDoesNotResetTheAddress() throws {
        let (store, id, secret) = try registry()
        let t = endpoint(store, threshold: 3)
        for i in 0..<2 { #expect(ask(t, "g\(i)", "x", from: "10.0.0.1").status == 401) }
        // A valid client from the same address: served, but the address count stays.
        #expect(ask(t, id, secret, from: "10.0.0.1").status == 200)
        #expect(try store.read { tx in try tx.lockout(subject: "ip:10.0.0.1") }?.failures == 2)
        #expect(ask(t, "g2", "x", from: "10.0.0.1").status == 401)
        #expect(ask(t, id, secret, from: "10.0.0.1").status == 429)
        // Past the lock, the next failure locks again for twice as long.
        try store.write { tx in
            var s = try #require(try tx.lockout(subject: "ip:10.0.0.1"))
            s.lockedUntil = Timestamp.now().adding(seconds: -1)
            try tx.setLockout(s)
        }
        #expect(ask(t, "g3", "x", from: "10.0.0.1").status == 401)
        let again = ask(t, id, secret, from: "10.0.0.1")
        #expect(again.status == 429 && Int(again.header("Retry-After") ?? "") == 120)
    }

    @Test func oldFailuresLeaveTheWindowAndZeroTurnsItOff() throws {
        let (store, id, secret) = try registry()
        // Failures that started more than 10 minutes ago and never locked: the count starts again.
        try store.write { tx in try tx.setLockout(LockoutState(subject: "ip:10.0.0.2", failures: 2, firstFailureAt: Timestamp.now().adding(seconds: -601))) }
        let t = endpoint(store, threshold: 3)
        #expect(ask(t, "g", "x", from: "10.0.0.2").status == 401)
        #expect(try store.read { tx in try tx.lockout(subject: "ip:10.0.0.2") }?.failures == 1)
        #expect(ask(t, id, secret, from: "10.0.0.2").status == 200)
        // Threshold 0: no lockout per address, no state written.
        let off = endpoint(store, threshold: 0)
        for i in 0..<5 { #expect(ask(off, "h\(i)", "x", from: "10.0.0.3").status == 401) }
        #expect(ask(off, id, secret, from: "10.0.0.3").status == 200)
        #expect(try store.read { tx in try tx.lockout(subject: "ip:10.0.0.3") } == nil)
    }
}

/// The lockout per address with the real binary and curl, on a copy of the sandbox database (a
/// locked 127.0.0.1 must not disturb the other tests), across a restart.
@Suite(.serialized, .timeLimit(.minutes(2))) struct TokenAddressLockoutProcessTests {
    typealias G = GatewayProcess

    @Test func fiveFailuresLockTheAddressAcrossARestart() throws {
        let dir = StoreTempDir()
        let db = dir.file("copy.sqlite")
        let copy = try TestSupport.run(G.binary, ["admin", "--config", G.sandbox.dir + "/gateway.json", "backup", db])
        #expect(copy.status == 0, "\(copy.stderr)")
        let env = ["FHIR_GATEWAY_DATABASE_PATH": db, "FHIR_GATEWAY_IP_LOCKOUT_THRESHOLD": "5"]
        let a = G.sandbox.client("dui-a")
        func token(_ server: G.Server, id: String, secret: String, from source: String = "127.0.0.1") throws -> G.Reply {
            try G.curl(server.base + "/oauth/token", cert: G.pair(a), ["--interface", source, "-u", "\(id):\(secret)", "-d", "grant_type=client_credentials"])
        }
        var server = try G.Server(environment: env)
        for i in 0..<5 { #expect(try token(server, id: "guess-\(i)", secret: "vtcs_x").status == 401, "attempt \(i)") }
        let locked = try token(server, id: a.clientId, secret: a.clientSecret)
        #expect(locked.status == 429 && locked.json?["error"] as? String == "slow_down", "\(locked.body)")
        #expect((Int(locked.header("Retry-After") ?? "") ?? 0) >= 55)
        // Another source address is not locked.
        #expect(try token(server, id: a.clientId, secret: a.clientSecret, from: "127.0.0.2").status == 200)
        server.stop()
        server = try G.Server(environment: env)
        defer { server.stop() }
        #expect(try token(server, id: a.clientId, secret: a.clientSecret).status == 429, "persisted across the restart")
        #expect(try token(server, id: a.clientId, secret: a.clientSecret, from: "127.0.0.2").status == 200)
    }
}
