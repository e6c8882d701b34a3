import Foundation
import Validation
#if canImport(Glibc)
import Glibc
#endif

/// `fhir-gateway serve`: opens the store, builds the TLS context, listens, and stops gracefully on
/// SIGTERM or SIGINT (in-flight requests are answered, then the process exits 0). SIGHUP reloads the
/// trust anchors and CRLs: a new context is built and swapped in whole (OpenSSL cannot remove a CRL
/// from a live store); if the new files do not load, the current context stays and the error is logged.
///
/// Signals: `blockTerminationSignals()` must run first thing in `main`, before any thread exists,
/// so that every thread inherits the mask and only the `sigwait` in `run` ever sees them.
public enum GatewayRunner {
    public static func blockTerminationSignals() {
        var set = terminationSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
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
        func makeTLS() throws -> TLSServerContext {
            try TLSServerContext(.init(certificateFile: configuration.certificateFile, privateKeyFile: configuration.privateKeyFile,
                                       trustFile: configuration.trustFile, crlFiles: configuration.crlFiles,
                                       requireCRL: configuration.requireCRL))
        }
        let tls = try makeTLS()
        let store = try SQLiteStore(path: configuration.databasePath)
        // Reverse-proxy mode: a plain listener (meant for loopback behind the proxy); the TLS context's
        // trust store then only verifies the certificates the proxy forwards.
        let proxied = configuration.reverseProxy
        // The validator's definitions and terminologies (flows 2 and 4 validate against the SDO profiles).
        let validation: ValidationEngine
        do { validation = try ValidationEngine.load() } catch { throw Failure.startup("\(error)") }
        let service = GatewayService(configuration: configuration, store: store, validation: validation, proxyVerifier: proxied ? tls : nil)
        var http = HTTPServer.Configuration()
        http.host = configuration.host
        http.port = configuration.port
        http.maxConnections = configuration.maxConnections
        http.readTimeout = configuration.readTimeoutSeconds
        http.idleTimeout = configuration.idleTimeoutSeconds
        http.limits.maxBodyBytes = configuration.maxBodyBytes
        let server = try HTTPServer(configuration: http, tls: proxied ? nil : tls, onTLSFailure: { service.tlsRefused($0) },
                                    onRefusal: { service.httpRefused(status: $0, reason: $1) }, handler: { service.handle($0, $1) })
        server.start()
        Log.info("listening", [("host", configuration.host), ("port", String(server.port)), ("tls", proxied ? "no (reverse proxy)" : "mTLS"),
                               ("sandbox", String(configuration.sandbox))])
        var set = terminationSet()
        var signal: Int32 = 0
        while true {
            sigwait(&set, &signal)
            guard signal == SIGHUP else { break }
            do {
                let fresh = try makeTLS()
                server.replaceTLS(fresh)
                service.replaceProxyVerifier(fresh)
                AuditTrail.record(store, AuditEntry(interaction: "tls-reload", status: 200, outcome: "reloaded"))
                Log.info("tls.reloaded", [("crlFiles", String(configuration.crlFiles.count))])
            } catch {
                AuditTrail.record(store, AuditEntry(interaction: "tls-reload", status: 500, outcome: "failed"))
                Log.error("tls.reload.failed", [("error", "\(error)")])
            }
        }
        Log.info("stopping", [("signal", signal == SIGTERM ? "SIGTERM" : "SIGINT")])
        server.stop(grace: 20)
        Log.info("stopped", [])
    }
}
