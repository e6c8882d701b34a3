import Foundation
import FHIRModels

/// The gateway's settings: a JSON file, then `FHIR_GATEWAY_*` environment variables on top
/// (e.g. `FHIR_GATEWAY_PORT=9443`). Relative paths are resolved against the file's directory.
public struct GatewayConfiguration: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port: UInt16 = 8443
    public var certificateFile = "pki/server-chain.crt"
    public var privateKeyFile = "pki/server.key"
    public var trustFile = "pki/trust.pem"
    public var crlFiles: [String] = ["pki/crls.pem"]
    public var requireCRL = true
    /// SHA-256 fingerprints (hex, colons allowed) of the intermediates allowed to issue client
    /// certificates (production: ACI-EL-ORG); empty: the intermediates found in `trustFile`.
    public var allowedIntermediates: [String] = []
    /// Certificate policy OIDs of which a client certificate must carry one; empty: not checked
    /// (the production OID is to be read from the IGC-Santé PC before pinning it).
    public var clientCertificatePolicies: [String] = []
    /// CRLs downloaded on a schedule (HTTP or HTTPS; DER or PEM), verified against the trust file's CAs,
    /// cached in `crlDownloadDirectory` and used on top of `crlFiles`.
    public var crlURLs: [String] = []
    public var crlRefreshSeconds = 3600.0
    public var crlDownloadDirectory = "crl-cache"
    public var databasePath = "gateway.sqlite"
    public var tokenLifetimeSeconds = 3600
    public var maxConnections = 256
    public var maxBodyBytes = 16 * 1024 * 1024
    public var readTimeoutSeconds = 10.0
    public var idleTimeoutSeconds = 30.0
    public var rateLimitPerSecond = 50.0
    public var rateLimitBurst = 100
    /// Sandbox mode: editors test against seeded demo data; never mixed with production data.
    public var sandbox = false
    /// The sandbox directory when started with `serve --sandbox DIR` (not a file key): the admin reset
    /// rewrites `DIR/sandbox.json` as the CLI does.
    public var sandboxDirectory: String?
    /// Off by default. When on, plain HTTP from `trustedProxies` may carry the verified client
    /// certificate (URL-encoded PEM) in `proxyCertificateHeader`; nobody else may.
    public var reverseProxy = false
    public var trustedProxies: [String] = []
    public var proxyCertificateHeader = "X-SSL-Client-Cert"
    public var logLevel = "info"
    /// RFC 8705 thumbprints (`x5t#S256`) of the operator certificates: the admin API and `/metrics`
    /// answer only to these (over the same mTLS listener).
    public var operatorThumbprints: [String] = []
    /// Failed client authentications from one address (10 min window) that lock it at the token
    /// endpoint (60 s, doubling, ≤ 1 h; persisted); 0 turns the lockout per address off.
    public var ipLockoutThreshold = TokenEndpoint.defaultAddressLockoutThreshold
    /// ROR FHIR API for the unit mirror (`https://…`); empty: no pull, imports only.
    public var rorBaseURL = ""
    /// The gateway's client certificate and key for mutual TLS with the ROR, and the CA file that
    /// verifies the ROR server (empty: libcurl's default CA store).
    public var rorCertificateFile = ""
    public var rorPrivateKeyFile = ""
    public var rorCAFile = ""
    /// Daily refresh time, `HH:MM` in the host's local time.
    public var rorDailyRefreshTime = "03:00"
    public var rorTimeoutSeconds = 30.0
    /// Incremental pulls ask `_lastUpdated=ge{watermark − overlap}`.
    public var rorOverlapSeconds = 86_400

    public init() {}

    /// The ROR client settings, nil when no ROR base URL is configured.
    public var rorClient: RorClientConfiguration? {
        rorBaseURL.isEmpty ? nil : RorClientConfiguration(baseURL: rorBaseURL, certificateFile: rorCertificateFile.isEmpty ? nil : rorCertificateFile,
                                                          privateKeyFile: rorPrivateKeyFile.isEmpty ? nil : rorPrivateKeyFile,
                                                          caFile: rorCAFile.isEmpty ? nil : rorCAFile, timeoutSeconds: rorTimeoutSeconds)
    }

    /// `allowedIntermediates` as bytes, nil when empty (then derived from the trust file).
    public var allowedIntermediateFingerprints: [[UInt8]]? {
        allowedIntermediates.isEmpty ? nil : allowedIntermediates.compactMap(ClientCertificatePolicy.parseFingerprint)
    }

    /// `rorDailyRefreshTime` as hour and minute (validated when set).
    public var rorDailyRefresh: (hour: Int, minute: Int) { Self.clockTime(rorDailyRefreshTime) ?? (3, 0) }

    static func clockTime(_ s: String) -> (hour: Int, minute: Int)? {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let h = Int(parts[0]), let m = Int(parts[1]), (0..<24).contains(h), (0..<60).contains(m)
        else { return nil }
        return (h, m)
    }

    public enum LoadError: Error, CustomStringConvertible, Equatable {
        case unreadable(String), invalid(String)
        public var description: String {
            switch self {
            case .unreadable(let m): "configuration file: \(m)"
            case .invalid(let m): "configuration: \(m)"
            }
        }
    }

    static let keys: [(json: String, env: String)] = [
        ("host", "HOST"), ("port", "PORT"), ("certificateFile", "CERTIFICATE_FILE"), ("privateKeyFile", "PRIVATE_KEY_FILE"),
        ("trustFile", "TRUST_FILE"), ("crlFiles", "CRL_FILES"), ("requireCRL", "REQUIRE_CRL"), ("databasePath", "DATABASE_PATH"),
        ("allowedIntermediates", "ALLOWED_INTERMEDIATES"), ("clientCertificatePolicies", "CLIENT_CERTIFICATE_POLICIES"),
        ("tokenLifetimeSeconds", "TOKEN_LIFETIME_SECONDS"), ("maxConnections", "MAX_CONNECTIONS"), ("maxBodyBytes", "MAX_BODY_BYTES"),
        ("readTimeoutSeconds", "READ_TIMEOUT_SECONDS"), ("idleTimeoutSeconds", "IDLE_TIMEOUT_SECONDS"),
        ("rateLimitPerSecond", "RATE_LIMIT_PER_SECOND"), ("rateLimitBurst", "RATE_LIMIT_BURST"), ("sandbox", "SANDBOX"),
        ("reverseProxy", "REVERSE_PROXY"), ("trustedProxies", "TRUSTED_PROXIES"), ("proxyCertificateHeader", "PROXY_CERTIFICATE_HEADER"),
        ("logLevel", "LOG_LEVEL"), ("operatorThumbprints", "OPERATOR_THUMBPRINTS"),
        ("ipLockoutThreshold", "IP_LOCKOUT_THRESHOLD"),
        ("crlURLs", "CRL_URLS"), ("crlRefreshSeconds", "CRL_REFRESH_SECONDS"), ("crlDownloadDirectory", "CRL_DOWNLOAD_DIRECTORY"),
        ("rorBaseURL", "ROR_BASE_URL"), ("rorCertificateFile", "ROR_CERTIFICATE_FILE"), ("rorPrivateKeyFile", "ROR_PRIVATE_KEY_FILE"),
        ("rorCAFile", "ROR_CA_FILE"), ("rorDailyRefreshTime", "ROR_DAILY_REFRESH_TIME"), ("rorTimeoutSeconds", "ROR_TIMEOUT_SECONDS"),
        ("rorOverlapSeconds", "ROR_OVERLAP_SECONDS"),
    ]

    /// Loads `path` (if given) and applies the environment. Unknown keys are refused, so a typo
    /// never silently falls back to a default.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(LoadError) -> GatewayConfiguration {
        var c = GatewayConfiguration()
        var base = FileManager.default.currentDirectoryPath
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable("cannot read \(path)") }
            base = URL(fileURLWithPath: path).deletingLastPathComponent().path
            let json: JSONValue
            do { json = try JSONValue.parse([UInt8](data)) } catch { throw .invalid("\(path): \(error)") }
            guard let members = json.members else { throw .invalid("\(path) must hold a JSON object") }
            for (k, v) in members {
                guard keys.contains(where: { $0.json == k }) else { throw .invalid("unknown key '\(k)' in \(path)") }
                let text: String
                switch v {
                case .string(let s): text = s
                case .number(let n): text = n
                case .bool(let b): text = b ? "true" : "false"
                case .array(let a): text = a.compactMap(\.string).joined(separator: ",")
                default: throw .invalid("key '\(k)' has an unsupported value")
                }
                try c.set(k, text)
            }
        }
        for (json, env) in keys {
            if let v = environment["FHIR_GATEWAY_" + env] { try c.set(json, v) }
        }
        c.resolvePaths(relativeTo: base)
        return c
    }

    mutating func set(_ key: String, _ v: String) throws(LoadError) {
        func int() throws(LoadError) -> Int { guard let i = Int(v) else { throw .invalid("\(key) must be a whole number, got '\(v)'") }; return i }
        func double() throws(LoadError) -> Double { guard let d = Double(v) else { throw .invalid("\(key) must be a number, got '\(v)'") }; return d }
        func bool() throws(LoadError) -> Bool {
            switch v.lowercased() { case "true", "1", "yes": return true; case "false", "0", "no": return false
            default: throw .invalid("\(key) must be true or false, got '\(v)'") }
        }
        func list() -> [String] { v.split(separator: ",").map { String($0.trimmingWhitespace()) }.filter { !$0.isEmpty } }
        switch key {
        case "host": host = v
        case "port": let p = try int(); guard (0...65535).contains(p) else { throw .invalid("port out of range") }; port = UInt16(p)
        case "certificateFile": certificateFile = v
        case "privateKeyFile": privateKeyFile = v
        case "trustFile": trustFile = v
        case "crlFiles": crlFiles = list()
        case "requireCRL": requireCRL = try bool()
        case "allowedIntermediates":
            let prints = list()
            if let bad = prints.first(where: { ClientCertificatePolicy.parseFingerprint($0) == nil }) {
                throw .invalid("allowedIntermediates holds SHA-256 fingerprints (64 hex digits, colons allowed), got '\(bad)'")
            }
            allowedIntermediates = prints
        case "clientCertificatePolicies":
            let oids = list()
            if let bad = oids.first(where: { !ClientCertificatePolicy.isOID($0) }) {
                throw .invalid("clientCertificatePolicies holds dotted OIDs (e.g. 1.2.250.1.213.1.7.2.1.1.1.1), got '\(bad)'")
            }
            clientCertificatePolicies = oids
        case "databasePath": databasePath = v
        case "tokenLifetimeSeconds": tokenLifetimeSeconds = try int()
        case "maxConnections": maxConnections = try int()
        case "maxBodyBytes": maxBodyBytes = try int()
        case "readTimeoutSeconds": readTimeoutSeconds = try double()
        case "idleTimeoutSeconds": idleTimeoutSeconds = try double()
        case "rateLimitPerSecond": rateLimitPerSecond = try double()
        case "rateLimitBurst": rateLimitBurst = try int()
        case "sandbox": sandbox = try bool()
        case "reverseProxy": reverseProxy = try bool()
        case "trustedProxies": trustedProxies = list()
        case "proxyCertificateHeader": proxyCertificateHeader = v
        case "logLevel": logLevel = v
        case "operatorThumbprints": operatorThumbprints = list()
        case "crlURLs": crlURLs = list()
        case "crlRefreshSeconds": let d = try double(); guard d >= 1 else { throw .invalid("crlRefreshSeconds must be at least 1") }; crlRefreshSeconds = d
        case "crlDownloadDirectory": crlDownloadDirectory = v
        case "ipLockoutThreshold": let n = try int(); guard n >= 0 else { throw .invalid("ipLockoutThreshold must be 0 or more") }; ipLockoutThreshold = n
        case "rorBaseURL":
            guard v.isEmpty || v.lowercased().hasPrefix("https://") else { throw .invalid("rorBaseURL must be an https:// URL, got '\(v)'") }
            rorBaseURL = v
        case "rorCertificateFile": rorCertificateFile = v
        case "rorPrivateKeyFile": rorPrivateKeyFile = v
        case "rorCAFile": rorCAFile = v
        case "rorDailyRefreshTime":
            guard Self.clockTime(v) != nil else { throw .invalid("rorDailyRefreshTime must be HH:MM (00:00…23:59), got '\(v)'") }
            rorDailyRefreshTime = v
        case "rorTimeoutSeconds":
            let t = try double(); guard t > 0 else { throw .invalid("rorTimeoutSeconds must be positive") }; rorTimeoutSeconds = t
        case "rorOverlapSeconds":
            let o = try int(); guard o >= 0 else { throw .invalid("rorOverlapSeconds must be ≥ 0") }; rorOverlapSeconds = o
        default: throw .invalid("unknown key '\(key)'")
        }
    }

    mutating func resolvePaths(relativeTo base: String) {
        func abs(_ p: String) -> String { p.hasPrefix("/") ? p : base + "/" + p }
        certificateFile = abs(certificateFile); privateKeyFile = abs(privateKeyFile); trustFile = abs(trustFile)
        crlFiles = crlFiles.map(abs); databasePath = abs(databasePath); crlDownloadDirectory = abs(crlDownloadDirectory)
        func absIfSet(_ p: String) -> String { p.isEmpty ? p : abs(p) }
        rorCertificateFile = absIfSet(rorCertificateFile); rorPrivateKeyFile = absIfSet(rorPrivateKeyFile); rorCAFile = absIfSet(rorCAFile)
    }
}
