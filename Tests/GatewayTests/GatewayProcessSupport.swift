import Foundation
import FHIRModels
import Gateway
#if canImport(Glibc)
import Glibc
#endif

/// The real binary (`.build/debug/fhir-gateway`, built before the tests) on a sandbox made once per
/// test process with `sandbox init`, each test starting its own `serve --sandbox` on a free port
/// (rate limits live in the process; the SQLite file is shared, which WAL allows).
enum GatewayProcess {
    static let binary = TestSupport.repoRoot.appendingPathComponent(".build/debug/fhir-gateway").path

    struct SandboxClient: Sendable {
        var name, role, clientId, clientSecret, cert, key, ej: String
        var egs: [String]
        var inactiveEgs: [String]
        var scopes: String
    }

    struct Sandbox: Sendable {
        var dir: String
        var topLevelKeys: Set<String>
        var badCerts: [String: [String: String]]
        var clients: [SandboxClient]
        var caFile: String
        /// The module Handicap's seed as `sandbox init` described it (`seed` of sandbox.json).
        var seed: JSONValue
        /// A backup of the database taken right after `sandbox init`, before any test wrote to it.
        var pristineDatabase: String { dir + "/pristine.sqlite" }
        func client(_ name: String) -> SandboxClient { clients.first { $0.name == name }! }
        func badCert(_ name: String) -> (cert: String, key: String) {
            let pair = badCerts[name]!
            return (pair["cert"]!, pair["key"]!)
        }
    }

    static let sandbox: Sandbox = {
        let dir = TestSupport.perProcessDirectory("gw-sandbox-").path
        let r = try! TestSupport.run(binary, ["sandbox", "init", dir, "--port", "0"], timeout: 60)
        precondition(r.status == 0, "sandbox init failed: \(r.stderr)")
        try! SQLiteStore(path: dir + "/gateway.sqlite").backup(to: dir + "/pristine.sqlite")
        let data = FileManager.default.contents(atPath: dir + "/sandbox.json")!
        let json = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
        let clients = (json["clients"] as! [[String: Any]]).map { c in
            SandboxClient(name: c["name"] as! String, role: c["role"] as! String, clientId: c["clientId"] as! String,
                          clientSecret: c["clientSecret"] as! String, cert: c["cert"] as! String, key: c["key"] as! String,
                          ej: c["ej"] as! String, egs: c["egs"] as! [String], inactiveEgs: c["inactiveEgs"] as! [String],
                          scopes: c["scopes"] as! String)
        }
        return Sandbox(dir: dir, topLevelKeys: Set(json.keys), badCerts: json["badCerts"] as! [String: [String: String]],
                       clients: clients, caFile: json["caFile"] as! String, seed: (try! JSONValue.parse([UInt8](data)))["seed"] ?? .null)
    }()

    /// Sandbox mode off, on the sandbox's files: production must name the intermediates that issue
    /// client certificates (here the sandbox's ORGANISATIONS one).
    static var productionEnvironment: [String: String] {
        let org = try! CertificateVerifier.describe(pemFile: sandbox.dir + "/pki/org/ca.crt")
        return ["FHIR_GATEWAY_SANDBOX": "false",
                "FHIR_GATEWAY_ALLOWED_INTERMEDIATES": org.sha256.map { String(format: "%02X", $0) }.joined(separator: ":")]
    }

    /// A running `serve --sandbox` process.
    final class Server {
        let process: Process
        let port: UInt16
        let logPath: String
        var base: String { "https://127.0.0.1:\(port)" }

        init(environment extra: [String: String] = [:], arguments: [String]? = nil) throws {
            let sb = GatewayProcess.sandbox
            logPath = sb.dir + "/serve-\(UUID().uuidString).log"
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            let log = FileHandle(forWritingAtPath: logPath)!
            process = Process()
            process.executableURL = URL(fileURLWithPath: GatewayProcess.binary)
            process.arguments = arguments ?? ["serve", "--sandbox", sb.dir]
            var env = ProcessInfo.processInfo.environment
            env["FHIR_GATEWAY_PORT"] = "0"
            for (k, v) in extra { env[k] = v }
            process.environment = env
            process.standardError = log
            process.standardOutput = log
            try process.run()
            // The actual port is in the "listening" log line.
            var found: UInt16?
            let deadline = Date().addingTimeInterval(15)
            while found == nil && Date() < deadline && process.isRunning {
                let text = String(decoding: FileManager.default.contents(atPath: logPath) ?? Data(), as: UTF8.self)
                if let line = text.split(separator: "\n").first(where: { $0.contains("\"event\":\"listening\"") }),
                   let range = line.range(of: "\"port\":\"") {
                    found = UInt16(line[range.upperBound...].prefix { $0.isNumber })
                } else { usleep(20_000) }
            }
            guard let found else {
                if process.isRunning { process.terminate() }
                throw ServerError.didNotStart(String(decoding: FileManager.default.contents(atPath: logPath) ?? Data(), as: UTF8.self))
            }
            port = found
        }

        enum ServerError: Error { case didNotStart(String) }

        /// SIGTERM and wait (bounded); returns the exit status.
        @discardableResult
        func stop() -> Int32 {
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            let deadline = Date().addingTimeInterval(25)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
            return process.terminationStatus
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    }

    struct Reply {
        var curlStatus: Int32
        var status: Int
        var headers: [(String, String)]
        var body: String
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] }
        /// The gateway rule code of an OperationOutcome reply.
        var rule: String? {
            guard let issues = json?["issue"] as? [[String: Any]], let details = issues.first?["details"] as? [String: Any],
                  let coding = details["coding"] as? [[String: Any]] else { return nil }
            return coding.first?["code"] as? String
        }
        var requestId: String? { header("X-Request-ID") }
    }

    /// curl over mTLS with a (cert, key) pair, or none; `-i` so that status and headers are parsed.
    static func curl(_ url: String, cert: (cert: String, key: String)?, _ extra: [String] = []) throws -> Reply {
        var args = ["-sS", "-i", "--max-time", "15", "--cacert", sandbox.caFile]
        if let cert { args += ["--cert", cert.cert, "--key", cert.key] }
        let r = try TestSupport.run("/usr/bin/curl", args + extra + [url], timeout: 20)
        return parse(r)
    }

    static func parse(_ r: TestSupport.ProcessResult) -> Reply {
        // With several responses (one curl, several URLs), the last one is reported.
        guard let start = r.stdout.range(of: "HTTP/1.1 ", options: .backwards) else {
            return Reply(curlStatus: r.status, status: 0, headers: [], body: r.stderr)
        }
        let text = String(r.stdout[start.lowerBound...])
        let parts = text.components(separatedBy: "\r\n\r\n")
        let headLines = parts[0].components(separatedBy: "\r\n")
        let status = Int(headLines[0].split(separator: " ")[1]) ?? 0
        let headers = headLines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return Reply(curlStatus: r.status, status: status, headers: headers, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    static func pair(_ c: SandboxClient) -> (cert: String, key: String) { (c.cert, c.key) }

    /// A token for `client` over its own certificate (or `cert`), client_secret_basic.
    static func token(_ server: Server, _ client: SandboxClient, scope: String? = nil, cert: (cert: String, key: String)? = nil) throws -> String {
        var extra = ["-u", "\(client.clientId):\(client.clientSecret)", "-d", "grant_type=client_credentials"]
        if let scope { extra += ["--data-urlencode", "scope=\(scope)"] }
        let r = try curl(server.base + "/oauth/token", cert: cert ?? pair(client), extra)
        guard r.status == 200, let token = r.json?["access_token"] as? String else {
            throw TokenError.refused("\(r.status) \(r.body)")
        }
        return token
    }
    enum TokenError: Error { case refused(String) }

    /// Audit records after `after`, through the operator's admin API.
    static func audit(_ server: Server, after: Int = 0) throws -> [[String: Any]] {
        let r = try curl(server.base + "/admin/audit?after=\(after)&limit=5000", cert: pair(sandbox.client("operator")))
        return (r.json?["records"] as? [[String: Any]]) ?? []
    }

    /// Polls (≤ 3 s) for an audit record after `after` matching `predicate`: handshake refusals are
    /// audited by the server thread while the client is already reporting its failure.
    static func awaitAudit(_ server: Server, after: Int, _ predicate: ([String: Any]) -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(3)
        repeat {
            if try audit(server, after: after).contains(where: predicate) { return true }
            usleep(50_000)
        } while Date() < deadline
        return false
    }

    static var pkiDir: String { URL(fileURLWithPath: sandbox.caFile).deletingLastPathComponent().path }

    /// A new client certificate from the sandbox's ORGANISATIONS CA (EC P-256, or RSA of `rsaBits`).
    static func issueClientCertificate(ou: String, rsaBits: Int? = nil) throws -> (cert: String, key: String) {
        let key = pkiDir + "/extra-\(UUID().uuidString).key", csr = key + ".csr", crt = key + ".crt"
        let keyArgs = rsaBits.map { ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:\($0)"] } ?? ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        let steps: [[String]] = [
            ["genpkey"] + keyArgs + ["-out", key],
            ["req", "-new", "-key", key, "-subj", "/C=FR/O=EXTRA/OU=\(ou)/CN=extra.test", "-out", csr],
            ["ca", "-batch", "-config", pkiDir + "/org/ca.cnf", "-extensions", "client_ext", "-preserveDN", "-in", csr, "-out", crt, "-notext"],
        ]
        for step in steps {
            let r = try TestSupport.run("/usr/bin/openssl", step)
            guard r.status == 0 else { throw PKIError.failed("\(step.first!): \(r.stderr)") }
        }
        return (crt, key)
    }

    /// Revokes a certificate of the ORGANISATIONS CA and rewrites `crls.pem` (both CAs' CRLs).
    static func revoke(_ cert: String) throws {
        let cnf = pkiDir + "/org/ca.cnf"
        for step in [["ca", "-batch", "-config", cnf, "-revoke", cert, "-crl_reason", "keyCompromise"],
                     ["ca", "-batch", "-config", cnf, "-gencrl", "-out", pkiDir + "/org/ca.crl"]] {
            let r = try TestSupport.run("/usr/bin/openssl", step)
            guard r.status == 0 else { throw PKIError.failed("\(step[3]): \(r.stderr)") }
        }
        let crls = try String(contentsOfFile: pkiDir + "/root/ca.crl", encoding: .utf8) + String(contentsOfFile: pkiDir + "/org/ca.crl", encoding: .utf8)
        try crls.write(toFile: pkiDir + "/crls.pem.new", atomically: false, encoding: .utf8)
        _ = rename(pkiDir + "/crls.pem.new", pkiDir + "/crls.pem")
    }
    enum PKIError: Error { case failed(String) }

    static func lastAuditSequence(_ server: Server) throws -> Int {
        try audit(server).compactMap { $0["sequence"] as? Int }.max() ?? 0
    }
}
