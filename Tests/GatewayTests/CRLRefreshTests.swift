import Testing
import Foundation
import Synchronization
@testable import Gateway
#if canImport(Glibc)
import Glibc
#endif

/// A private test PKI per test (CRLs are regenerated and revocations added), with helpers to make
/// CRLs in every shape the cache must accept or refuse.
final class CRLTestPKI {
    let tmp = StoreTempDir()
    var dir: String { tmp.path + "/pki" }
    init() throws {
        let r = try TestSupport.run(TestSupport.repoRoot.appendingPathComponent("scripts/make-test-pki").path, [tmp.path + "/pki", "dui-a:1990000011:dui-a.test"])
        guard r.status == 0 else { throw Failed(message: r.stderr) }
    }
    struct Failed: Error { var message: String }

    @discardableResult
    func openssl(_ args: [String]) throws -> TestSupport.ProcessResult {
        let r = try TestSupport.run("/usr/bin/openssl", args)
        guard r.status == 0 else { throw Failed(message: "openssl \(args.first ?? ""): \(r.stderr)") }
        return r
    }
    func bytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

    /// A fresh CRL of a CA (`org`, `root`, `foreign`), PEM or DER.
    func crl(_ ca: String = "org", der: Bool = false) throws -> [UInt8] {
        let pem = tmp.file("\(ca)-\(UUID().uuidString).crl")
        try openssl(["ca", "-batch", "-config", "\(dir)/\(ca)/ca.cnf", "-gencrl", "-out", pem])
        guard der else { return bytes(pem) }
        try openssl(["crl", "-in", pem, "-outform", "DER", "-out", pem + ".der"])
        return bytes(pem + ".der")
    }

    /// A client certificate of the ORGANISATIONS CA for `ou`, then its revocation in the CA database.
    func issue(ou: String) throws -> (cert: String, key: String) {
        let key = tmp.file("c-\(UUID().uuidString).key"), csr = key + ".csr", crt = key + ".crt"
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key])
        try openssl(["req", "-new", "-key", key, "-subj", "/C=FR/O=T/OU=\(ou)/CN=t.test", "-out", csr])
        try openssl(["ca", "-batch", "-config", "\(dir)/org/ca.cnf", "-extensions", "client_ext", "-preserveDN", "-in", csr, "-out", crt, "-notext"])
        return (crt, key)
    }
    func revoke(_ cert: String) throws { try openssl(["ca", "-batch", "-config", "\(dir)/org/ca.cnf", "-revoke", cert, "-crl_reason", "keyCompromise"]) }

    /// A CRL of a CA the trust file does not hold (another name). (The PKI's `foreign` CA has the
    /// ORGANISATIONS CA's name with another key: a rogue CA of the same name.)
    func unknownCACRL() throws -> [UInt8] {
        let other = tmp.path + "/other"
        try FileManager.default.createDirectory(atPath: other + "/issued", withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: other + "/index.txt"))
        try Data("1000\n".utf8).write(to: URL(fileURLWithPath: other + "/crlnumber"))
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", other + "/ca.key"])
        try openssl(["req", "-new", "-x509", "-key", other + "/ca.key", "-subj", "/C=FR/O=OTHER/CN=OTHER CA", "-days", "30", "-out", other + "/ca.crt"])
        let cnf = try String(contentsOfFile: "\(dir)/org/ca.cnf", encoding: .utf8).replacingOccurrences(of: "\(dir)/org", with: other)
        try cnf.write(toFile: other + "/ca.cnf", atomically: true, encoding: .utf8)
        let out = other + "/ca.crl"
        try openssl(["ca", "-batch", "-config", other + "/ca.cnf", "-gencrl", "-out", out])
        return bytes(out)
    }
}

/// An HTTP server of the test process that publishes one CRL (or whatever body and status the test sets).
/// With `etag`, it answers as a static file server does: an ETag derived from the body, and 304 to an
/// `If-None-Match` naming it; `requests` counts what it was asked, by status.
final class CRLPublisher: Sendable {
    private final class Slot: Sendable {
        let value: Mutex<(status: Int, body: [UInt8])>
        let answered = Mutex<[Int: Int]>([:])
        init(_ b: [UInt8]) { value = Mutex((200, b)) }
    }
    private let served: Slot
    private let http: HTTPServer
    var url: String { "http://127.0.0.1:\(http.port)/org.crl" }
    var requests: [Int: Int] { served.answered.withLock { $0 } }

    init(_ body: [UInt8], etag: Bool = false) throws {
        let served = Slot(body)
        self.served = served
        var config = HTTPServer.Configuration()
        config.port = 0
        http = try HTTPServer(configuration: config, tls: nil) { request, _ in
            let (status, body) = served.value.withLock { $0 }
            var headers = [("Content-Type", "application/pkix-crl")]
            var answer = status
            if etag && status == 200 {
                let tag = "\"" + SecretHasher.sha256(body).prefix(8).map { String(format: "%02x", $0) }.joined() + "\""
                headers.append(("ETag", tag))
                if request.header("If-None-Match") == tag { answer = 304 }
            }
            served.answered.withLock { $0[answer, default: 0] += 1 }
            return HTTPResponse(status: answer, headers: headers, body: answer == 304 ? [] : body)
        }
        http.start()
    }
    func publish(_ body: [UInt8], status: Int = 200) { served.value.withLock { $0 = (status, body) } }
    func stop() { http.stop(grace: 1) }
}

@Suite struct CRLCacheTests {
    func cache(_ pki: CRLTestPKI, urls: [String] = ["http://crl.test/org.crl"]) -> CRLCache {
        CRLCache(directory: pki.tmp.path + "/cache", urls: urls, trustFile: pki.dir + "/trust.pem")
    }

    @Test func installsVerifiedCRLsOnceAndRefusesRollbacks() throws {
        let pki = try CRLTestPKI()
        let c = cache(pki)
        let url = c.urls[0]
        #expect(c.files.isEmpty)
        let first = try pki.crl(der: true)
        #expect(try c.install(first, for: url) == .updated(previous: nil))
        #expect(c.files == [c.file(for: url)])
        let installed = pki.bytes(c.file(for: url))
        #expect(String(decoding: installed, as: UTF8.self).hasPrefix("-----BEGIN X509 CRL-----\n"))
        #expect(try c.install(first, for: url) == .unchanged, "same lastUpdate: nothing written")
        // lastUpdate has a one-second resolution.
        usleep(1_100_000)
        let newer = try pki.crl()
        #expect(try c.install(newer, for: url) == .updated(previous: installed))
        #expect(throws: CRLCache.Failure.self) { try c.install(first, for: url) }
        do { _ = try c.install(first, for: url) } catch { guard case .older = error else { Issue.record("\(error)"); return } }
        // What was installed is a CRL OpenSSL reads (the TLS context loads it).
        let check = try pki.openssl(["crl", "-in", c.file(for: url), "-noout", "-issuer"])
        #expect(check.stdout.contains("ORGANISATIONS") || check.stdout.contains("issuer="), "\(check.stdout)")
        // Rollback puts the former file back, or removes a first install.
        c.rollback(url: url, previous: installed)
        #expect(pki.bytes(c.file(for: url)) == installed)
        c.rollback(url: url, previous: nil)
        #expect(c.files.isEmpty)
    }

    @Test func refusesWhatIsNotACurrentCRLOfAConfiguredCA() throws {
        let pki = try CRLTestPKI()
        let c = cache(pki)
        let url = c.urls[0]
        func failure(_ bytes: [UInt8], now: Date = Date()) -> CRLCache.Failure? {
            do { _ = try c.install(bytes, for: url, now: now); return nil } catch { return error }
        }
        if case .unreadable = failure(Array("<html>not found</html>".utf8)) {} else { Issue.record("garbage") }
        if case .unreadable = failure([]) {} else { Issue.record("empty") }
        if case .unreadable = failure(try pki.crl(der: true) + [0]) {} else { Issue.record("trailing byte") }
        let unknown = failure(try pki.unknownCACRL())
        if case .unknownIssuer = unknown {} else { Issue.record("CA not in the trust file: \(String(describing: unknown))") }
        let rogue = failure(try pki.crl("foreign"))
        if case .badSignature = rogue {} else { Issue.record("rogue CA with the same name: \(String(describing: rogue))") }
        let good = try pki.crl()
        if case .notCurrent = failure(good, now: Date().addingTimeInterval(31 * 86400)) {} else { Issue.record("nextUpdate passed") }
        let early = failure(good, now: Date().addingTimeInterval(-86400))
        if case .notCurrent = early {} else { Issue.record("lastUpdate in the future: \(String(describing: early))") }
        #expect(c.files.isEmpty, "nothing was installed")
        #expect(try c.install(try pki.crl("root"), for: url) == .updated(previous: nil), "the root CA's CRL is a configured CA's too")
    }
}

/// The refresher against the project's own HTTP server, in process.
@Suite struct CRLRefresherTests {
    @Test func downloadsInstallsReloadsAndKeepsThePreviousOnFailure() throws {
        let pki = try CRLTestPKI()
        let publisher = try CRLPublisher(try pki.crl(der: true))
        defer { publisher.stop() }
        let url = publisher.url
        let store = try SQLiteStore(path: pki.tmp.file("audit.sqlite"))
        let metrics = Metrics()
        let cache = CRLCache(directory: pki.tmp.path + "/cache", urls: [url], trustFile: pki.dir + "/trust.pem")
        let refresher = CRLRefresher(cache: cache, interval: 3600, metrics: metrics, store: store, fetchTimeout: 5)
        var reloads = 0
        #expect(refresher.refresh { reloads += 1; return true } == CRLRefresher.Pass(updated: 1, unchanged: 0, failed: 0))
        #expect(reloads == 1)
        let first = pki.bytes(cache.file(for: url))
        #expect(refresher.refresh { reloads += 1; return true } == CRLRefresher.Pass(updated: 0, unchanged: 1, failed: 0))
        #expect(reloads == 1, "nothing changed: no rebuild")
        // Failures keep the installed CRL: an HTTP error, a body that is not a CRL.
        publisher.publish(Array("missing".utf8), status: 404)
        #expect(refresher.refresh { reloads += 1; return true }.failed == 1)
        publisher.publish(Array("garbage".utf8))
        #expect(refresher.refresh { reloads += 1; return true }.failed == 1)
        #expect(pki.bytes(cache.file(for: url)) == first)
        // A newer CRL whose context does not build is rolled back.
        usleep(1_100_000)
        let newer = try pki.crl()
        publisher.publish(newer)
        #expect(refresher.refresh { false }.failed == 1)
        #expect(pki.bytes(cache.file(for: url)) == first)
        #expect(refresher.refresh { true }.updated == 1)
        #expect(pki.bytes(cache.file(for: url)) != first)
        let text = metrics.render()
        #expect(text.contains("gateway_crl_downloads_total{outcome=\"failed\"} 3"), "\(text)")
        #expect(text.contains("gateway_crl_downloads_total{outcome=\"updated\"} 2") && text.contains("gateway_crl_downloads_total{outcome=\"unchanged\"} 1"))
        let audit = try store.read { tx in try tx.auditRecords(after: 0, limit: 100) }
        #expect(audit.map(\.entry.interaction) == Array(repeating: "crl-refresh", count: 5))
        #expect(audit.map(\.entry.status) == [200, 502, 502, 502, 200])
        // The background thread: a pass every interval until stop(), none after.
        func unchanged() -> Int {
            let line = metrics.render().split(separator: "\n").first { $0.hasPrefix("gateway_crl_downloads_total{outcome=\"unchanged\"}") }
            return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        }
        let timed = CRLRefresher(cache: cache, interval: 1, metrics: metrics, store: store, fetchTimeout: 5)
        timed.start { true }
        usleep(3_500_000)
        timed.stop()
        let afterStop = unchanged()
        #expect((3...5).contains(afterStop), "1 before, then a pass about every second: \(afterStop)")
        usleep(1_500_000)
        #expect(unchanged() == afterStop)
    }
}

@Suite struct CRLConditionalDownloadTests {
    /// An unchanged CRL is not downloaded again (304 to the ETag of the installed one); a new one is;
    /// validators are not sent for a CRL that is no longer installed.
    @Test func unchangedCRLIsNotDownloadedAgain() throws {
        let pki = try CRLTestPKI()
        let publisher = try CRLPublisher(try pki.crl(der: true), etag: true)
        defer { publisher.stop() }
        let store = try SQLiteStore(path: pki.tmp.file("audit.sqlite"))
        let cache = CRLCache(directory: pki.tmp.path + "/cache", urls: [publisher.url], trustFile: pki.dir + "/trust.pem")
        let refresher = CRLRefresher(cache: cache, interval: 3600, metrics: Metrics(), store: store, fetchTimeout: 5)
        #expect(refresher.refresh { true } == CRLRefresher.Pass(updated: 1, unchanged: 0, failed: 0))
        #expect(refresher.refresh { true } == CRLRefresher.Pass(updated: 0, unchanged: 1, failed: 0))
        #expect(refresher.refresh { true } == CRLRefresher.Pass(updated: 0, unchanged: 1, failed: 0))
        #expect(publisher.requests == [200: 1, 304: 2], "\(publisher.requests)")
        usleep(1_100_000)
        publisher.publish(try pki.crl())
        #expect(refresher.refresh { true } == CRLRefresher.Pass(updated: 1, unchanged: 0, failed: 0))
        #expect(publisher.requests == [200: 2, 304: 2])
        // The installed file gone (a cleaned cache directory): a full download, not a 304.
        unlink(cache.file(for: publisher.url))
        #expect(refresher.refresh { true } == CRLRefresher.Pass(updated: 1, unchanged: 0, failed: 0))
        #expect(publisher.requests == [200: 3, 304: 2])
    }

    @Test func theContextReportsTheNextUpdateOfEveryCRLItLoaded() throws {
        let pki = try CRLTestPKI()
        let both = pki.tmp.file("both.pem")
        try Data(try pki.crl("root") + (try pki.crl("org"))).write(to: URL(fileURLWithPath: both))
        let context = try TLSServerContext(.init(certificateFile: pki.dir + "/server-chain.crt", privateKeyFile: pki.dir + "/server.key",
                                                 trustFile: pki.dir + "/trust.pem", crlFiles: [both]))
        let dates = context.crlNextUpdates
        #expect(dates.count == 2 && dates.allSatisfy { $0.nextUpdate > Date().addingTimeInterval(20 * 86_400) }, "\(dates)")
        #expect(Set(dates.map(\.issuer)).count == 2 && dates.contains { $0.issuer.hasSuffix("ORGANISATIONS") })
        let metrics = Metrics()
        // An old configured CRL next to a fresh download of the same CA: OpenSSL uses the fresh one, so does the gauge.
        metrics.setCRLNextUpdates(dates + [(issuer: dates[0].issuer, nextUpdate: Date(timeIntervalSince1970: 1_000))])
        let line = metrics.render().split(separator: "\n").first { $0.hasPrefix("gateway_crl_next_update_timestamp_seconds{issuer=\"\(dates[0].issuer)\"}") }
        #expect(line?.hasSuffix(" \(Int64(dates[0].nextUpdate.timeIntervalSince1970))") == true, "the latest wins: \(String(describing: line))")
    }
}

/// The real binary with `crlURLs` pointing at an HTTP server of the test process: a revocation
/// published there reaches the handshakes without SIGHUP; a bad download changes nothing.
@Suite(.serialized, .timeLimit(.minutes(2))) struct CRLDownloadProcessTests {
    typealias G = GatewayProcess

    func refused(_ r: G.Reply) -> Bool { [35, 55, 56].contains(r.curlStatus) }

    @Test func aDownloadedRevocationRefusesTheHandshake() throws {
        let pki = G.pkiDir
        let tmp = StoreTempDir()
        func openssl(_ args: [String]) throws {
            let r = try TestSupport.run("/usr/bin/openssl", args)
            guard r.status == 0 else { throw CRLTestPKI.Failed(message: "openssl \(args[0]): \(r.stderr)") }
        }
        /// The ORGANISATIONS CA's current CRL, in DER as distribution points serve it.
        func currentCRL() throws -> [UInt8] {
            let pem = tmp.file("org-\(UUID().uuidString).crl")
            try openssl(["ca", "-batch", "-config", pki + "/org/ca.cnf", "-gencrl", "-out", pem])
            try openssl(["crl", "-in", pem, "-outform", "DER", "-out", pem + ".der"])
            return [UInt8](FileManager.default.contents(atPath: pem + ".der") ?? Data())
        }
        let publisher = try CRLPublisher(try currentCRL())
        defer { publisher.stop() }

        let fresh = try G.issueClientCertificate(ou: G.sandbox.client("dui-a").ej)
        let server = try G.Server(environment: ["FHIR_GATEWAY_CRL_URLS": publisher.url,
                                                "FHIR_GATEWAY_CRL_REFRESH_SECONDS": "1",
                                                "FHIR_GATEWAY_CRL_DOWNLOAD_DIRECTORY": tmp.file("crl-cache")])
        defer { server.stop() }
        let operatorCert = G.pair(G.sandbox.client("operator"))
        #expect(try G.curl(server.base + "/health", cert: fresh).status == 200)
        let cached = try FileManager.default.contentsOfDirectory(atPath: tmp.file("crl-cache"))
        #expect(cached.count == 1 && cached[0].hasPrefix("crl-") && cached[0].hasSuffix(".pem"), "the first download happens at start: \(cached)")

        // Revoke it in the CA and publish the new CRL (lastUpdate has a one-second resolution).
        usleep(1_100_000)
        let before = try G.lastAuditSequence(server)
        try openssl(["ca", "-batch", "-config", pki + "/org/ca.cnf", "-revoke", fresh.cert, "-crl_reason", "keyCompromise"])
        let revoking = try currentCRL()
        publisher.publish(revoking)
        var refusedNow = false
        let deadline = Date().addingTimeInterval(8)
        while !refusedNow && Date() < deadline {
            refusedNow = refused(try G.curl(server.base + "/health", cert: fresh))
            if !refusedNow { usleep(200_000) }
        }
        #expect(refusedNow, "the downloaded CRL refuses the revoked certificate")
        #expect(try G.curl(server.base + "/health", cert: G.pair(G.sandbox.client("dui-a"))).status == 200)
        #expect(try G.awaitAudit(server, after: before) { $0["interaction"] as? String == "crl-refresh" && $0["status"] as? Int == 200 })
        #expect(try G.awaitAudit(server, after: before) { $0["interaction"] as? String == "tls-reload" && ($0["outcome"] as? String)?.contains("crl-download") == true })

        // A failed download (not a CRL, then a 404) is counted and keeps the installed CRL.
        publisher.publish(Array("<html>maintenance</html>".utf8))
        usleep(2_500_000)
        publisher.publish([], status: 404)
        usleep(1_500_000)
        let metrics = try G.curl(server.base + "/metrics", cert: operatorCert)
        let failed = metrics.body.split(separator: "\n").first { $0.hasPrefix("gateway_crl_downloads_total{outcome=\"failed\"}") }
        #expect((failed.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0) >= 2, "\(metrics.body)")
        #expect(refused(try G.curl(server.base + "/health", cert: fresh)))
        #expect(try G.curl(server.base + "/health", cert: G.pair(G.sandbox.client("dui-a"))).status == 200)
        #expect(try G.awaitAudit(server, after: before) { $0["interaction"] as? String == "crl-refresh" && $0["status"] as? Int == 502 })
    }
}
