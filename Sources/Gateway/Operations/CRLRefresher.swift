import Foundation
import Synchronization

/// The scheduled CRL download (configuration `crlURLs`, every `crlRefreshSeconds`): each URL is
/// fetched with `HTTPFetch`, verified and installed by `CRLCache`, then the TLS context is rebuilt
/// once (`reload`) so that new handshakes check the new revocations. A download that fails (network,
/// HTTP status, not a CRL, wrong signer, stale, older than the installed one) keeps the previous CRL;
/// a rebuild that fails puts the previous files back. Every failure is logged and counted
/// (`gateway_crl_downloads_total{outcome="failed"}`); every pass that changed or failed something
/// is audited as `crl-refresh`. Downloads are conditional (`If-None-Match` / `If-Modified-Since`
/// with the validators of the last CRL accepted from that URL): a 304 counts as unchanged, so an
/// hourly pass does not move megabytes of CRL that did not change.
public final class CRLRefresher: Sendable {
    public let cache: CRLCache
    let interval: Double
    let metrics: Metrics
    let store: any GatewayStore
    let fetchTimeout: Double
    /// Signalled by `stop()` to end the wait between passes.
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    /// ETag and Last-Modified of the last CRL installed (or found unchanged) per URL; kept in memory,
    /// so the first pass after a start downloads everything once.
    private let validators = Mutex<[String: [(name: String, value: String)]]>([:])

    public struct Pass: Sendable, Equatable {
        public var updated = 0
        public var unchanged = 0
        public var failed = 0
    }

    public init(cache: CRLCache, interval: Double, metrics: Metrics, store: any GatewayStore, fetchTimeout: Double = 30) {
        self.cache = cache; self.interval = max(1, interval); self.metrics = metrics; self.store = store; self.fetchTimeout = fetchTimeout
    }

    /// One pass over every URL. `reload` rebuilds the TLS context from the installed files and
    /// says whether it worked; it runs only when at least one CRL changed.
    @discardableResult
    public func refresh(reload: () -> Bool) -> Pass {
        var pass = Pass()
        var installed: [(url: String, previous: [UInt8]?)] = []
        for url in cache.urls {
            do {
                var request = HTTPFetch.Request(url: url)
                request.timeoutSeconds = fetchTimeout
                request.maxBodyBytes = 64 * 1024 * 1024
                request.maxRedirects = 3
                // Conditional only while the CRL it describes is still installed.
                if FileManager.default.fileExists(atPath: cache.file(for: url)) {
                    request.headers = validators.withLock { $0[url] } ?? []
                }
                let response = try HTTPFetch.get(request)
                if response.status == 304 && !request.headers.isEmpty {
                    pass.unchanged += 1
                    metrics.recordCRLDownload(outcome: "unchanged")
                    continue
                }
                guard response.status == 200 else { throw HTTPFetch.Failure.transport(code: 0, message: "HTTP \(response.status)") }
                let outcome = try cache.install(response.body, for: url)
                let sent = [("If-None-Match", response.header("ETag")), ("If-Modified-Since", response.header("Last-Modified"))]
                    .compactMap { name, value in value.map { (name: name, value: $0) } }
                validators.withLock { $0[url] = sent }
                switch outcome {
                case .updated(let previous):
                    installed.append((url, previous))
                case .unchanged:
                    pass.unchanged += 1
                    metrics.recordCRLDownload(outcome: "unchanged")
                }
            } catch {
                pass.failed += 1
                metrics.recordCRLDownload(outcome: "failed")
                Log.warning("crl.download.failed", [("url", url), ("error", "\(error)")])
            }
        }
        if !installed.isEmpty {
            if reload() {
                pass.updated = installed.count
                for (url, _) in installed {
                    metrics.recordCRLDownload(outcome: "updated")
                    Log.info("crl.installed", [("url", url), ("file", cache.file(for: url))])
                }
            } else {
                for (url, previous) in installed {
                    cache.rollback(url: url, previous: previous)
                    _ = validators.withLock { $0.removeValue(forKey: url) }
                    metrics.recordCRLDownload(outcome: "failed")
                    Log.error("crl.rolled.back", [("url", url)])
                }
                pass.failed += installed.count
            }
        }
        if pass.updated > 0 || pass.failed > 0 {
            AuditTrail.record(store, AuditEntry(interaction: "crl-refresh", status: pass.failed == 0 ? 200 : 502,
                                                outcome: "updated \(pass.updated), unchanged \(pass.unchanged), failed \(pass.failed)"))
        }
        return pass
    }

    /// Passes every `interval` seconds on a background thread until `stop()` (the first one after
    /// one interval: `serve` runs one pass itself before building its first TLS context).
    public func start(reload: @escaping @Sendable () -> Bool) {
        let t = Thread { [self] in
            while !stopped.load(ordering: .acquiring) {
                if wake.wait(timeout: .now() + interval) == .success { continue }
                refresh(reload: reload)
            }
        }
        t.name = "crl-refresh"
        t.start()
    }

    public func stop() {
        stopped.store(true, ordering: .releasing)
        wake.signal()
    }
}
