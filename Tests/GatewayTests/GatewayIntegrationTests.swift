import Testing
import Foundation
@testable import Gateway
#if canImport(Glibc)
import Glibc
#endif

/// End-to-end: the real binary, `sandbox init` then `serve --sandbox`, driven by curl over real
/// mutual TLS. Each refusal is checked for its status, its headers and its audit record.
@Suite(.serialized, .timeLimit(.minutes(2))) struct GatewayIntegrationTests {
    typealias G = GatewayProcess
    var sb: G.Sandbox { G.sandbox }

    /// The audit record of one request (by X-Request-ID), or nil.
    func audited(_ server: G.Server, _ reply: G.Reply) throws -> [String: Any]? {
        guard let id = reply.requestId else { return nil }
        return try G.audit(server).first { $0["requestId"] as? String == id }
    }

    @Test func sandboxDescriptorHasTheDocumentedShape() throws {
        for key in ["fhirBase", "tokenURL", "caFile", "clients", "badCerts"] { #expect(sb.topLevelKeys.contains(key), "\(key)") }
        let duis = sb.clients.filter { $0.role == "dui" }
        #expect(duis.count >= 2)
        #expect(Set(duis.map(\.ej)).count == duis.count, "DUI clients of different EJs")
        #expect(Set(sb.clients.map(\.role)) == ["dui", "dpi", "mdph", "operator"])
        for c in sb.clients {
            #expect(FileManager.default.fileExists(atPath: c.cert) && FileManager.default.fileExists(atPath: c.key))
            #expect(c.clientSecret.hasPrefix("vtcs_"))
        }
        for bad in ["revoked", "expired", "wrongEku", "foreignCa"] {
            #expect(FileManager.default.fileExists(atPath: sb.badCert(bad).cert), "\(bad)")
        }
    }

    @Test func successPathWithBothClientAuthenticationMethods() throws {
        let server = try G.Server()
        defer { server.stop() }
        let a = sb.client("dui-a")
        let health = try G.curl(server.base + "/health", cert: G.pair(a))
        #expect(health.status == 200 && health.body.contains("ok"))

        // client_secret_basic
        let basic = try G.curl(server.base + "/oauth/token", cert: G.pair(a),
                               ["-u", "\(a.clientId):\(a.clientSecret)", "-d", "grant_type=client_credentials"])
        #expect(basic.status == 200, "\(basic.body)")
        #expect(basic.header("Cache-Control") == "no-store")
        let json = try #require(basic.json)
        #expect(json["token_type"] as? String == "Bearer")
        #expect(json["expires_in"] as? Int == 3600)
        #expect(json["scope"] as? String == a.scopes)
        let token = try #require(json["access_token"] as? String)
        #expect(token.count >= 43)
        let issued = try #require(try audited(server, basic))
        #expect(issued["interaction"] as? String == "token" && issued["status"] as? Int == 200 && issued["clientId"] as? String == a.clientId)
        // client_secret_post, with a narrower scope
        let post = try G.curl(server.base + "/oauth/token", cert: G.pair(a),
                              ["-d", "grant_type=client_credentials", "-d", "client_id=\(a.clientId)", "--data-urlencode", "client_secret=\(a.clientSecret)",
                               "--data-urlencode", "scope=system/Task.rs"])
        #expect(post.status == 200, "\(post.body)")
        #expect(post.json?["scope"] as? String == "system/Task.rs")

        let metadata = try G.curl(server.base + "/fhir/metadata", cert: G.pair(a))
        #expect(metadata.status == 200)
        let cs = try #require(metadata.json)
        #expect(cs["resourceType"] as? String == "CapabilityStatement")
        #expect(metadata.body.contains("\(server.base)/oauth/token"))
        let smart = try G.curl(server.base + "/fhir/.well-known/smart-configuration", cert: G.pair(a))
        #expect(smart.json?["token_endpoint"] as? String == server.base + "/oauth/token")
        #expect(smart.json?["scopes_supported"] as? [String] == ["system/DocumentReference.crs", "system/Consent.c", "system/Task.crs", "system/HealthcareService.rs"])
        #expect(smart.json?["tls_client_certificate_bound_access_tokens"] as? Bool == true)
        #expect(try G.curl(server.base + "/fhir/metadata", cert: G.pair(a), ["-H", "Accept: text/html"]).status == 406)
        #expect(try G.curl(server.base + "/health", cert: G.pair(a), ["-H", "Accept: text/plain"]).status == 200, "not a FHIR route: no negotiation")
        let xml = try G.curl(server.base + "/fhir/metadata", cert: G.pair(a), ["-H", "Accept: application/fhir+xml"])
        #expect(xml.status == 200 && xml.body.contains("<CapabilityStatement xmlns=\"http://hl7.org/fhir\">"))

        let eg = a.egs[0]
        let search = try G.curl(server.base + "/fhir/Task?_count=10", cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(eg)"])
        #expect(search.status == 200, "\(search.body)")
        let bundle = try #require(search.json)
        #expect(bundle["type"] as? String == "searchset")
        let entries = try #require(bundle["entry"] as? [[String: Any]])
        let task = try #require(entries.first?["resource"] as? [String: Any])
        let id = try #require(task["id"] as? String)
        let read = try G.curl(server.base + "/fhir/Task/\(id)", cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(eg)"])
        #expect(read.status == 200 && read.json?["id"] as? String == id)
        let record = try #require(try audited(server, search))
        #expect(record["interaction"] as? String == "search" && record["status"] as? Int == 200)
        #expect(record["clientId"] as? String == a.clientId && record["geographicEntityId"] as? String == eg)
        // The other DUI's EG is another tenant: the same id is not found there (404, not 403).
        let b = sb.client("dui-b")
        let tokenB = try G.token(server, b)
        let foreign = try G.curl(server.base + "/fhir/Task/\(id)", cert: G.pair(b), ["-H", "Authorization: Bearer \(tokenB)", "-H", "struct_idnat: \(b.egs[0])"])
        #expect(foreign.status == 404 && foreign.rule == "NOT-FOUND")
    }

    /// Handshake refusals: no HTTP at all (curl 35/55/56), and an audit record with the reason.
    @Test(arguments: [("none", "no_certificate"), ("foreignCa", "unknown_ca"), ("expired", "expired"), ("notYetValid", "not_yet_valid"),
                      ("revoked", "revoked"), ("wrongEku", "wrong_usage"), ("otherIntermediate", "intermediate_not_allowed"),
                      ("noPolicy", "policy")])
    func refusedHandshakes(_ cert: String, _ bucket: String) throws {
        let server = try G.Server()
        defer { server.stop() }
        let before = try G.lastAuditSequence(server)
        let r = try G.curl(server.base + "/health", cert: cert == "none" ? nil : sb.badCert(cert))
        #expect([35, 55, 56].contains(r.curlStatus), "\(cert): curl \(r.curlStatus) \(r.body)")
        #expect(r.status == 0)
        #expect(try G.awaitAudit(server, after: before) { $0["interaction"] as? String == "tls-handshake" && $0["outcome"] as? String == bucket },
                "\(cert): no tls-handshake audit record with \(bucket)")
    }

    /// security.md §2.6.3: a leaf key under RSA 2048 is refused by the TLS security level (Debian: 2).
    @Test func weakClientKeyIsRefused() throws {
        let server = try G.Server()
        defer { server.stop() }
        let (crt, key) = try G.issueClientCertificate(ou: sb.client("dui-a").ej, rsaBits: 1024)
        let before = try G.lastAuditSequence(server)
        // The client lowers its own security level so that it really offers the weak certificate; TLS 1.2
        // so that the refusal is an alert inside the handshake (with 1.3 it may arrive after s_client quits).
        let r = try TestSupport.run("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_2", "-cipher", "DEFAULT@SECLEVEL=0",
                                                          "-cert", crt, "-key", key, "-CAfile", sb.caFile], timeout: 10)
        #expect(r.stderr.contains("alert bad certificate") || r.stderr.contains("alert"), "\(r.stderr)")
        #expect(try G.awaitAudit(server, after: before) { $0["interaction"] as? String == "tls-handshake" && $0["outcome"] as? String == "weak_key" })
    }

    /// A request the HTTP parser refuses (here Content-Length with Transfer-Encoding) is audited too.
    @Test func malformedRequestIsRefusedAndAudited() throws {
        let server = try G.Server()
        defer { server.stop() }
        let before = try G.lastAuditSequence(server)
        let r = try G.curl(server.base + "/oauth/token", cert: G.pair(sb.client("dui-a")),
                           ["-H", "Transfer-Encoding: chunked", "-H", "Content-Length: 3", "-d", "abc"])
        #expect(r.status == 400, "\(r.status) \(r.body)")
        #expect(try G.awaitAudit(server, after: before) { $0["interaction"] as? String == "http-parse" && $0["status"] as? Int == 400 })
    }

    /// SIGHUP reloads the CRLs into a new TLS context: a certificate revoked after start is refused
    /// from then on; the others still work.
    @Test func sighupReloadsRevocations() throws {
        let server = try G.Server()
        defer { server.stop() }
        let fresh = try G.issueClientCertificate(ou: sb.client("dui-a").ej)
        #expect(try G.curl(server.base + "/health", cert: fresh).status == 200)
        try G.revoke(fresh.cert)
        #expect(try G.curl(server.base + "/health", cert: fresh).status == 200, "the running context has the old CRL until SIGHUP")
        let before = try G.lastAuditSequence(server)
        kill(server.process.processIdentifier, SIGHUP)
        #expect(try G.awaitAudit(server, after: before) { $0["interaction"] as? String == "tls-reload" && $0["status"] as? Int == 200 })
        let refused = try G.curl(server.base + "/health", cert: fresh)
        #expect([35, 55, 56].contains(refused.curlStatus), "curl \(refused.curlStatus)")
        #expect(try G.curl(server.base + "/health", cert: G.pair(sb.client("dui-a"))).status == 200)
        #expect(server.process.isRunning)
    }

    @Test func tls11IsRefused() throws {
        let server = try G.Server()
        defer { server.stop() }
        let a = sb.client("dui-a")
        let before = try G.lastAuditSequence(server)
        let r = try TestSupport.run("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
                                                          "-cert", a.cert, "-key", a.key], timeout: 10)
        #expect(r.status != 0)
        #expect(r.stderr.contains("protocol version"), "\(r.stderr)")
        #expect(try G.awaitAudit(server, after: before) { $0["interaction"] as? String == "tls-handshake" && $0["outcome"] as? String == "protocol" })
    }

    @Test func tokenEndpointRefusals() throws {
        let server = try G.Server()
        defer { server.stop() }
        let a = sb.client("dui-a"), b = sb.client("dui-b")
        func ask(_ cert: (cert: String, key: String), _ extra: [String]) throws -> G.Reply {
            try G.curl(server.base + "/oauth/token", cert: cert, extra)
        }
        let basicA = ["-u", "\(a.clientId):\(a.clientSecret)"]
        let cases: [(String, G.Reply, Int, String)] = [
            ("certificate EJ not owned by the client", try ask(G.pair(b), basicA + ["-d", "grant_type=client_credentials"]), 401, "invalid_client"),
            ("wrong secret", try ask(G.pair(a), ["-u", "\(a.clientId):vtcs_wrong", "-d", "grant_type=client_credentials"]), 401, "invalid_client"),
            ("unknown client", try ask(G.pair(a), ["-u", "nobody:secret", "-d", "grant_type=client_credentials"]), 401, "invalid_client"),
            ("unknown grant type", try ask(G.pair(a), basicA + ["-d", "grant_type=password"]), 400, "unsupported_grant_type"),
            ("scope not allowed", try ask(G.pair(a), basicA + ["-d", "grant_type=client_credentials", "--data-urlencode", "scope=system/Patient.c"]), 400, "invalid_scope"),
            ("malformed scope", try ask(G.pair(a), basicA + ["-d", "grant_type=client_credentials", "-d", "scope=openid"]), 400, "invalid_scope"),
            ("two authentication methods", try ask(G.pair(a), basicA + ["-d", "grant_type=client_credentials", "-d", "client_secret=x"]), 400, "invalid_request"),
            ("repeated parameter", try ask(G.pair(a), basicA + ["-d", "grant_type=client_credentials", "-d", "grant_type=client_credentials"]), 400, "invalid_request"),
            ("not a form", try ask(G.pair(a), basicA + ["-H", "Content-Type: application/json", "-d", "{}"]), 400, "invalid_request"),
            ("operator EJ has no activated EG", try ask(G.pair(sb.client("operator")), ["-u", "\(sb.client("operator").clientId):\(sb.client("operator").clientSecret)",
                                                                                       "-d", "grant_type=client_credentials"]), 400, "unauthorized_client"),
        ]
        for (name, reply, status, error) in cases {
            #expect(reply.status == status, "\(name): \(reply.status) \(reply.body)")
            #expect(reply.json?["error"] as? String == error, "\(name): \(reply.body)")
            #expect(reply.header("Cache-Control") == "no-store", "\(name)")
            if status == 401 { #expect(reply.header("WWW-Authenticate")?.hasPrefix("Basic realm=") == true, "\(name)") }
            let record = try audited(server, reply)
            #expect(record?["interaction"] as? String == "token" && record?["status"] as? Int == status && record?["outcome"] as? String == error,
                    "\(name): \(String(describing: record))")
        }
    }

    /// The operator's CLI on a fresh database: every change is audited, usage errors exit 1.
    @Test func adminCommandLine() throws {
        let dir = StoreTempDir()
        let db = dir.file("admin.sqlite")
        func admin(_ args: String...) throws -> TestSupport.ProcessResult { try TestSupport.run(G.binary, ["admin", "--db", db] + args) }
        let added = try admin("client", "add", "Editeur X", "dui", "system/Task.rs system/DocumentReference.rs", "sandbox")
        #expect(added.status == 0, "\(added.stderr)")
        let id = try #require(added.stdout.split(separator: "\n").first { $0.hasPrefix("client_id=") }?.dropFirst(10))
        #expect(added.stdout.contains("client_secret=vtcs_"))
        for args in [["ej", "add", "1990000011", "EJ X"], ["ej", "activate", "1990000011"], ["eg", "add", "1990000102", "1990000011", "EG X"],
                     ["eg", "activate", "1990000102"], ["enrol", String(id), "1990000011"], ["eg", "deactivate", "1990000102"]] {
            let r = try TestSupport.run(G.binary, ["admin", "--db", db] + args)
            #expect(r.status == 0 && r.stdout == "ok\n", "\(args): \(r.stderr)")
        }
        // Rotation: two live secrets, then "now" keeps only the newest.
        func secret(_ r: TestSupport.ProcessResult) -> String {
            String(r.stdout.split(separator: "\n").first { $0.hasPrefix("client_secret=") }?.dropFirst(14) ?? "")
        }
        let first = secret(added)
        let second = secret(try admin("client", "rotate-secret", String(id)))
        let store = try SQLiteStore(path: db)
        #expect(try store.authenticateClient(id: String(id), secret: first) != nil)
        #expect(try store.authenticateClient(id: String(id), secret: second) != nil)
        let third = secret(try admin("client", "rotate-secret", String(id), "now"))
        #expect(try store.authenticateClient(id: String(id), secret: first) == nil)
        #expect(try store.authenticateClient(id: String(id), secret: second) == nil)
        #expect(try store.authenticateClient(id: String(id), secret: third) != nil)
        let audit = try admin("audit")
        let interactions = audit.stdout.split(separator: "\n").map { $0.split(separator: "\t")[2] }
        #expect(interactions == ["client-add", "ej-add", "ej-activate", "eg-add", "eg-activate", "enrol", "eg-deactivate",
                                 "client-rotate-secret", "client-rotate-secret"], "\(audit.stdout)")
        #expect(try admin("ej", "add", "2990000011", "bad prefix").status == 1)
        #expect(try admin("client", "add", "Y", "dui", "openid").status == 1)
        #expect(try admin("eg", "activate", "1999999999").status == 1, "unknown EG")
    }

    /// Activation is live: deactivating an EG or suspending an EJ through the admin API refuses the
    /// next call of a token issued before; reactivating serves again.
    @Test func egActivationIsCheckedOnEveryCall() throws {
        let server = try G.Server()
        defer { server.stop() }
        let b = sb.client("dui-b"), op = G.pair(sb.client("operator"))
        let token = try G.token(server, b)
        func call() throws -> G.Reply {
            try G.curl(server.base + "/fhir/Task", cert: G.pair(b), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(b.egs[0])"])
        }
        #expect(try call().status == 200)
        #expect(try G.curl(server.base + "/admin/eg/\(b.egs[0])/deactivate", cert: op, ["-X", "POST"]).status == 204)
        defer { _ = try? G.curl(server.base + "/admin/eg/\(b.egs[0])/activate", cert: op, ["-X", "POST"]) }
        let refused = try call()
        #expect(refused.status == 403 && refused.rule == "AUTH-EG-INACTIVE")
        #expect(try G.curl(server.base + "/admin/eg/\(b.egs[0])/activate", cert: op, ["-X", "POST"]).status == 204)
        #expect(try call().status == 200)
        // Suspending the EJ invalidates its tokens at once (401 invalid_token), reactivating restores them.
        #expect(try G.curl(server.base + "/admin/ej/\(b.ej)/suspend", cert: op, ["-X", "POST"]).status == 204)
        defer { _ = try? G.curl(server.base + "/admin/ej/\(b.ej)/activate", cert: op, ["-X", "POST"]) }
        let suspended = try call()
        #expect(suspended.status == 401 && suspended.rule == "AUTH-CLIENT-INACTIVE")
        #expect(suspended.header("WWW-Authenticate")?.contains("error=\"invalid_token\"") == true)
        #expect(try G.curl(server.base + "/admin/ej/\(b.ej)/activate", cert: op, ["-X", "POST"]).status == 204)
        #expect(try call().status == 200)
        #expect(try G.curl(server.base + "/admin/eg/\(b.egs[0])/deactivate", cert: G.pair(b), ["-X", "POST"]).status == 403, "operator only")
        #expect(try G.curl(server.base + "/admin/eg/1999999999/activate", cert: op, ["-X", "POST"]).status == 404)
    }

    /// Outside sandbox mode the gateway does not start without its list of allowed intermediates
    /// (deriving them from the trust file is a sandbox convenience; security.md §2.5).
    @Test func productionNeedsItsAllowedIntermediates() throws {
        do {
            let server = try G.Server(environment: ["FHIR_GATEWAY_SANDBOX": "false"], arguments: ["serve", "--config", sb.dir + "/gateway.json"])
            server.stop()
            Issue.record("a production gateway started without allowedIntermediates")
        } catch G.Server.ServerError.didNotStart(let log) {
            #expect(log.contains("allowedIntermediates"), "\(log)")
        }
    }

    /// `serve --config` on the sandbox's file with sandbox mode off: sandbox clients are refused.
    @Test func productionGatewayRefusesSandboxClients() throws {
        let server = try G.Server(environment: G.productionEnvironment, arguments: ["serve", "--config", sb.dir + "/gateway.json"])
        defer { server.stop() }
        let a = sb.client("dui-a")
        let r = try G.curl(server.base + "/oauth/token", cert: G.pair(a), ["-u", "\(a.clientId):\(a.clientSecret)", "-d", "grant_type=client_credentials"])
        #expect(r.status == 401 && r.json?["error"] as? String == "invalid_client", "\(r.body)")
        #expect(try audited(server, r)?["clientId"] as? String == a.clientId)
    }

    /// Ten failed authentications lock the client id (persisted), even against the right secret.
    @Test func repeatedFailuresLockTheClientOut() throws {
        let server = try G.Server()
        defer { server.stop() }
        let m = sb.client("mdph")  // used by no other test: its lockout cannot disturb them
        for i in 0..<10 {
            let r = try G.curl(server.base + "/oauth/token", cert: G.pair(m), ["-u", "\(m.clientId):vtcs_wrong\(i)", "-d", "grant_type=client_credentials"])
            #expect(r.status == 401, "attempt \(i): \(r.status)")
        }
        let locked = try G.curl(server.base + "/oauth/token", cert: G.pair(m), ["-u", "\(m.clientId):\(m.clientSecret)", "-d", "grant_type=client_credentials"])
        #expect(locked.status == 429 && locked.json?["error"] as? String == "slow_down", "\(locked.body)")
        #expect(Int(locked.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(try audited(server, locked)?["outcome"] as? String == "slow_down")
    }

    @Test func fhirRefusals() throws {
        let server = try G.Server()
        defer { server.stop() }
        let a = sb.client("dui-a"), b = sb.client("dui-b")
        let token = try G.token(server, a)
        let narrow = try G.token(server, a, scope: "system/DocumentReference.rs")
        let url = server.base + "/fhir/Task"
        let eg = a.egs[0]
        let cases: [(String, G.Reply, Int, String, String?)] = [
            ("no Authorization", try G.curl(url, cert: G.pair(a), ["-H", "struct_idnat: \(eg)"]), 401, "AUTH-TOKEN-MISSING", "Bearer realm=\"fhir-gateway\""),
            ("unknown token", try G.curl(url, cert: G.pair(a), ["-H", "Authorization: Bearer vtat_nope", "-H", "struct_idnat: \(eg)"]), 401,
             "AUTH-TOKEN-UNKNOWN", "error=\"invalid_token\""),
            ("token presented over another certificate", try G.curl(url, cert: G.pair(b), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(eg)"]),
             401, "AUTH-TOKEN-BINDING", "error=\"invalid_token\""),
            ("scope missing", try G.curl(url, cert: G.pair(a), ["-H", "Authorization: Bearer \(narrow)", "-H", "struct_idnat: \(eg)"]), 403, "AUTH-SCOPE",
             "error=\"insufficient_scope\""),
            ("struct_idnat missing", try G.curl(url, cert: G.pair(a), ["-H", "Authorization: Bearer \(token)"]), 400, "AUTH-STRUCT-IDNAT", nil),
            ("struct_idnat malformed", try G.curl(url, cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: 3123"]), 400, "AUTH-STRUCT-IDNAT", nil),
            ("struct_idnat of another EJ", try G.curl(url, cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(b.egs[0])"]),
             403, "AUTH-EG-FOREIGN", nil),
            ("EG not activated", try G.curl(url, cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(a.inactiveEgs[0])"]),
             403, "AUTH-EG-INACTIVE", nil),
            ("token in the query", try G.curl(url + "?access_token=\(token)", cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(eg)"]),
             400, "AUTH-TOKEN-IN-QUERY", "error=\"invalid_request\""),
            ("search parameter not supported", try G.curl(url + "?_has:Consent:source:_id=x", cert: G.pair(a),
                                                          ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(eg)"]), 400, "SEARCH-PARAMETER", nil),
            ("route that does not exist", try G.curl(server.base + "/fhir/Patient", cert: G.pair(a), ["-H", "Authorization: Bearer \(token)"]),
             404, "HTTP-ROUTE", nil),
        ]
        for (name, reply, status, rule, challenge) in cases {
            #expect(reply.status == status, "\(name): \(reply.status) \(reply.body)")
            #expect(reply.json?["resourceType"] as? String == "OperationOutcome", "\(name)")
            #expect(reply.rule == rule, "\(name): \(reply.body)")
            if let challenge { #expect(reply.header("WWW-Authenticate")?.contains(challenge) == true, "\(name): \(String(describing: reply.header("WWW-Authenticate")))") }
            let record = try audited(server, reply)
            #expect(record?["status"] as? Int == status && record?["outcome"] as? String == rule, "\(name): \(String(describing: record))")
        }
        // /metrics is the operator's only.
        let metrics = try G.curl(server.base + "/metrics", cert: G.pair(sb.client("operator")))
        #expect(metrics.status == 200 && metrics.body.contains("gateway_http_requests_total{route=\"/fhir/Task\",status=\"403\"}"))
        // The CRLs in use, by issuer, with their nextUpdate (the sandbox's are 30 days long).
        let crlDates = metrics.body.split(separator: "\n").filter { $0.hasPrefix("gateway_crl_next_update_timestamp_seconds{") }
        #expect(crlDates.contains { $0.contains("AC IGC-SANTE ELEMENTAIRE ORGANISATIONS\"}") } && crlDates.contains { $0.contains("AC RACINE IGC-SANTE ELEMENTAIRE\"}") },
                "\(crlDates)")
        for line in crlDates {
            let seconds = Double(line.split(separator: " ").last ?? "") ?? 0
            #expect(seconds > Date().timeIntervalSince1970 + 25 * 86_400 && seconds < Date().timeIntervalSince1970 + 31 * 86_400, "\(line)")
        }
        let notOperator = try G.curl(server.base + "/metrics", cert: G.pair(a))
        #expect(notOperator.status == 403 && notOperator.rule == "AUTH-OPERATOR")
    }

    @Test func expiredTokenIsRefused() throws {
        let server = try G.Server(environment: ["FHIR_GATEWAY_TOKEN_LIFETIME_SECONDS": "1"])
        defer { server.stop() }
        let a = sb.client("dui-a")
        let token = try G.token(server, a)
        usleep(1_100_000)
        let r = try G.curl(server.base + "/fhir/Task", cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(a.egs[0])"])
        #expect(r.status == 401 && r.rule == "AUTH-TOKEN-EXPIRED", "\(r.body)")
        #expect(r.header("WWW-Authenticate")?.contains("error=\"invalid_token\"") == true)
        #expect(try audited(server, r)?["outcome"] as? String == "AUTH-TOKEN-EXPIRED")
    }

    @Test func rateLimitAnswers429WithRetryAfter() throws {
        let server = try G.Server(environment: ["FHIR_GATEWAY_RATE_LIMIT_BURST": "3", "FHIR_GATEWAY_RATE_LIMIT_PER_SECOND": "0.1"])
        defer { server.stop() }
        let a = sb.client("dui-a")
        let token = try G.token(server, a)
        let url = server.base + "/fhir/Task"
        // Four requests on one keep-alive connection; the fourth exceeds the burst.
        let r = try G.curl(url, cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(a.egs[0])", url, url, url])
        #expect(r.status == 429, "\(r.body)")
        #expect(r.rule == "AUTH-RATE-LIMIT")
        #expect(Int(r.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(try audited(server, r)?["status"] as? Int == 429)
    }

    /// SIGTERM while a request is being received: the request is answered, then the process exits 0.
    @Test func sigtermFinishesTheInFlightRequest() throws {
        let server = try G.Server()
        let a = sb.client("dui-a")
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-sS", "-i", "--max-time", "15", "--cacert", sb.caFile, "--cert", a.cert, "--key", a.key,
                          "-u", "\(a.clientId):\(a.clientSecret)", "-X", "POST", "-H", "Content-Type: application/x-www-form-urlencoded",
                          "-T", "-", server.base + "/oauth/token"]
        let input = Pipe(), output = Pipe()
        curl.standardInput = input
        curl.standardOutput = output
        curl.standardError = FileHandle.nullDevice
        try curl.run()
        input.fileHandleForWriting.write(Data("grant_type=client_".utf8))
        usleep(400_000)  // the handshake is done and the first chunk received
        kill(server.process.processIdentifier, SIGTERM)
        usleep(300_000)
        #expect(server.process.isRunning, "the server waits for the request in flight")
        input.fileHandleForWriting.write(Data("credentials".utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        let reply = G.parse(TestSupport.ProcessResult(status: curl.terminationStatus, stdout: String(decoding: data, as: UTF8.self), stderr: ""))
        #expect(reply.status == 200, "\(reply.body)")
        #expect(reply.json?["access_token"] != nil)
        #expect(reply.header("Connection") == "close")
        #expect(server.stop() == 0)
        #expect(server.process.terminationReason == .exit)
    }

    /// Reverse-proxy mode: a plain listener; the certificate forwarded by a trusted proxy is verified
    /// against the same trust store and CRLs before the usual chain runs.
    @Test func reverseProxyModeVerifiesTheForwardedCertificate() throws {
        func pem(_ path: String) -> String {
            let text = String(decoding: FileManager.default.contents(atPath: path)!, as: UTF8.self)
            return text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        }
        let a = sb.client("dui-a")
        let proxied = try G.Server(environment: ["FHIR_GATEWAY_REVERSE_PROXY": "true", "FHIR_GATEWAY_TRUSTED_PROXIES": "127.0.0.1"])
        defer { proxied.stop() }
        let plain = "http://127.0.0.1:\(proxied.port)"
        let header = "X-SSL-Client-Cert: \(pem(a.cert))"
        #expect(try G.curl(plain + "/health", cert: nil, ["-H", header]).status == 200)
        let token = try G.curl(plain + "/oauth/token", cert: nil, ["-H", header, "-u", "\(a.clientId):\(a.clientSecret)", "-d", "grant_type=client_credentials"])
        let access = try #require(token.json?["access_token"] as? String, "\(token.body)")
        let search = try G.curl(plain + "/fhir/Task", cert: nil, ["-H", header, "-H", "Authorization: Bearer \(access)", "-H", "struct_idnat: \(a.egs[0])"])
        #expect(search.status == 200, "\(search.body)")
        let revoked = try G.curl(plain + "/health", cert: nil, ["-H", "X-SSL-Client-Cert: \(pem(sb.badCert("revoked").cert))"])
        #expect(revoked.status == 401 && revoked.rule == "AUTH-PROXY-CERTIFICATE")
        let foreign = try G.curl(plain + "/health", cert: nil, ["-H", "X-SSL-Client-Cert: \(pem(sb.badCert("foreignCa").cert))"])
        #expect(foreign.status == 401 && foreign.rule == "AUTH-PROXY-CERTIFICATE")
        // The sandbox requires the TEST policy OID: the proxy path applies the same client-certificate rules.
        let noPolicy = try G.curl(plain + "/health", cert: nil, ["-H", "X-SSL-Client-Cert: \(pem(sb.badCert("noPolicy").cert))"])
        #expect(noPolicy.status == 401 && noPolicy.rule == "AUTH-PROXY-CERTIFICATE")
        let missing = try G.curl(plain + "/health", cert: nil)
        #expect(missing.status == 401 && missing.rule == "AUTH-PROXY-CERTIFICATE")
        let operatorHeader = "X-SSL-Client-Cert: \(pem(sb.client("operator").cert))"
        let audit = try G.curl(plain + "/admin/audit?after=0&limit=5000", cert: nil, ["-H", operatorHeader])
        let records = (audit.json?["records"] as? [[String: Any]]) ?? []
        #expect(records.contains { $0["requestId"] as? String == revoked.requestId && $0["outcome"] as? String == "AUTH-PROXY-CERTIFICATE" })

        // A peer that is not a trusted proxy gets nothing, whatever it forwards.
        let untrusted = try G.Server(environment: ["FHIR_GATEWAY_REVERSE_PROXY": "true", "FHIR_GATEWAY_TRUSTED_PROXIES": "10.9.8.7"])
        defer { untrusted.stop() }
        let refused = try G.curl("http://127.0.0.1:\(untrusted.port)/health", cert: nil, ["-H", header])
        #expect(refused.status == 403 && refused.rule == "AUTH-PROXY-UNTRUSTED")

        // On the TLS listener the header is an attack, refused even with a valid certificate.
        let tls = try G.Server()
        defer { tls.stop() }
        let smuggled = try G.curl(tls.base + "/health", cert: G.pair(sb.client("dui-b")), ["-H", header])
        #expect(smuggled.status == 400 && smuggled.rule == "AUTH-PROXY-HEADER")
    }
}
