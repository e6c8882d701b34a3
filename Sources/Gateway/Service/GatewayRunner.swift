import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `fhir-gateway serve`: opens the store, builds the TLS context, listens, and stops gracefully on
/// SIGTERM or SIGINT (in-flight requests are answered, then the process exits 0). SIGHUP reloads the
/// trust anchors and CRLs: a new context is built and swapped in whole (OpenSSL cannot remove a CRL
/// from a live store); if the new files do not load, the current context stays and the error is logged.
/// With `crlURLs`, the CRLs are also downloaded (once before the first context, then on a schedule by
/// `CRLRefresher`) and the context is rebuilt the same way after each change.
///
/// Signals: `blockTerminationSignals()` must run first thing in `main`, before any thread exists,
/// so that every thread inherits the mask and only the `sigwait` in `run` ever sees them.
public enum GatewayRunner {
    public static func blockTerminationSignals() {
        var set = terminationSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
        // A peer that closes while a TLS response is written must cost a write error, not the process.
        signal(SIGPIPE, SIG_IGN)
    }

    static func terminationSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGHUP)
        return set
    }

    public enum Failure: Error, CustomStringConvertible {
        case startup(String)
        public var description: String { switch self { case .startup(let m): "cannot start: \(m)" } }
    }

    /// Serves until a termination signal; returns after the graceful stop.
    public static func run(_ configuration: GatewayConfiguration) throws {
        Log.setLevel(configuration.logLevel == "debug" ? .debug : configuration.logLevel == "warning" ? .warning : .info)
        // Downloaded CRLs (crlURLs) come on top of the configured files, from their cache directory.
        let crls = CRLCache(directory: configuration.crlDownloadDirectory, urls: configuration.crlURLs, trustFile: configuration.trustFile)
        @Sendable func makeTLS() throws -> TLSServerContext {
            try TLSServerContext(.init(certificateFile: configuration.certificateFile, privateKeyFile: configuration.privateKeyFile,
                                       trustFile: configuration.trustFile, crlFiles: configuration.crlFiles + crls.files,
                                       requireCRL: configuration.requireCRL, allowedIntermediates: configuration.allowedIntermediateFingerprints,
                                       clientCertificatePolicies: configuration.clientCertificatePolicies))
        }
        let store = try SQLiteStore(path: configuration.databasePath)
        let metrics = Metrics()
        let refresher = CRLRefresher(cache: crls, interval: configuration.crlRefreshSeconds, metrics: metrics, store: store)
        // A first download before the first context (bounded by the fetch timeout per URL): a fresh
        // install starts with current revocations; a failure keeps whatever is cached.
        if !crls.urls.isEmpty { refresher.refresh { (try? makeTLS()) != nil } }
        // Production names its ORGANISATIONS intermediates (security.md §2.5); deriving them from the trust
        // file is for sandboxes, where the generated PKI is the whole trust file.
        guard configuration.sandbox || !configuration.allowedIntermediates.isEmpty else {
            throw Failure.startup("allowedIntermediates (env FHIR_GATEWAY_ALLOWED_INTERMEDIATES) must list the SHA-256 fingerprints "
                                  + "of the intermediates that issue client certificates (IGC-Santé ACI-EL-ORG) outside sandbox mode")
        }
        let tls = try makeTLS()
        /// What the new context enforces (logged at start and at every rebuild) and its CRLs' nextUpdate (/metrics).
        @Sendable func published(_ context: TLSServerContext) {
            Log.info("tls.client-certificates", [("allowedIntermediates", context.clientPolicy.described.joined(separator: "; ")),
                                                 ("requiredPolicies", configuration.clientCertificatePolicies.joined(separator: ","))])
            metrics.setCRLNextUpdates(context.crlNextUpdates)
        }
        published(tls)
        // Reverse-proxy mode: a plain listener (meant for loopback behind the proxy); the TLS context's
        // trust store then only verifies the certificates the proxy forwards.
        let proxied = configuration.reverseProxy
        let service = GatewayService(configuration: configuration, store: store, validation: try GatewayService.loadValidationEngine(),
                                     metrics: metrics, proxyVerifier: proxied ? tls : nil)
        var http = HTTPServer.Configuration()
        http.host = configuration.host
        http.port = configuration.port
        http.maxConnections = configuration.maxConnections
        http.readTimeout = configuration.readTimeoutSeconds
        http.idleTimeout = configuration.idleTimeoutSeconds
        http.limits.maxBodyBytes = configuration.maxBodyBytes
        let server = try HTTPServer(configuration: http, tls: proxied ? nil : tls, onTLSFailure: { service.tlsRefused($0) },
                                    onRefusal: { service.httpRefused(status: $0, reason: $1) }, handler: { service.handle($0, $1) })
        // One rebuild at a time (SIGHUP and the CRL refresher): the whole context is swapped in.
        let reloading = Mutex(())
        @Sendable func reload(_ cause: String) -> Bool {
            reloading.withLock { _ in
                do {
                    let fresh = try makeTLS()
                    server.replaceTLS(fresh)
                    service.replaceProxyVerifier(fresh)
                    published(fresh)
                    AuditTrail.record(store, AuditEntry(interaction: "tls-reload", status: 200, outcome: "reloaded (\(cause))"))
                    Log.info("tls.reloaded", [("cause", cause), ("crlFiles", String(configuration.crlFiles.count + crls.files.count))])
                    return true
                } catch {
                    AuditTrail.record(store, AuditEntry(interaction: "tls-reload", status: 500, outcome: "failed (\(cause))"))
                    Log.error("tls.reload.failed", [("cause", cause), ("error", "\(error)")])
                    return false
                }
            }
        }
        server.start()
        if !crls.urls.isEmpty { refresher.start { reload("crl-download") } }
        // The daily ROR refresh runs inside the gateway when a ROR server is configured.
        let rorDaily = service.ror.refresher.map { RorScheduler(refresher: $0, hour: configuration.rorDailyRefresh.hour, minute: configuration.rorDailyRefresh.minute) }
        rorDaily?.start()
        Log.info("listening", [("host", configuration.host), ("port", String(server.port)), ("tls", proxied ? "no (reverse proxy)" : "mTLS"),
                               ("sandbox", String(configuration.sandbox))])
        var set = terminationSet()
        var signal: Int32 = 0
        while true {
            sigwait(&set, &signal)
            guard signal == SIGHUP else { break }
            _ = reload("SIGHUP")
        }
        Log.info("stopping", [("signal", signal == SIGTERM ? "SIGTERM" : "SIGINT")])
        refresher.stop()
        rorDaily?.stop()
        server.stop(grace: 20)
        Log.info("stopped", [])
    }
}
