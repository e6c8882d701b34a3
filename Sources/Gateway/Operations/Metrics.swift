import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Prometheus-format metrics: requests by route and status, a latency histogram, TLS handshake
/// failures by reason, token issues. Thread-safe; rendered by `GET /metrics`.
public final class Metrics: Sendable {
    static let bucketBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    /// Request counters, one set per shard: every connection thread records each request, and a single
    /// lock (a priority-inheritance futex on Linux) was 12 % of the server's CPU at 16 connections.
    struct RequestCounts: ~Copyable {
        var requests: [String: UInt64] = [:]      // "route|status"
        var buckets = [UInt64](repeating: 0, count: Metrics.bucketBounds.count + 1)
        var latencySum = 0.0
        var latencyCount: UInt64 = 0
    }

    final class Shard: Sendable {
        let counts = Mutex(RequestCounts())
    }

    private let shards: [Shard] = (0..<16).map { _ in Shard() }

    /// The calling thread's shard (threads live as long as their connection, so the spread follows them).
    private var shard: Shard {
        let id = UInt64(pthread_self())
        return shards[Int((id &* 0x9E37_79B9_7F4A_7C15) >> 60)]
    }

    struct State: ~Copyable {
        var tlsFailures: [String: UInt64] = [:]
        var tokens: [String: UInt64] = [:]        // "issued" / "refused"
        var crlDownloads: [String: UInt64] = [:]  // "updated" / "unchanged" / "failed"
        var crlNextUpdates: [String: Double] = [:]  // issuer CN → nextUpdate (seconds since the epoch)
    }

    private let state = Mutex(State())

    public init() {}

    /// `route` is a template (`/fhir/Task`, `/fhir/Task/{id}`), never a raw path with ids.
    public func recordRequest(route: String, status: Int, seconds: Double) {
        // Key and bucket computed before the lock: every connection thread passes here once per request.
        let key = "\(route)|\(status)"
        let i = Metrics.bucketBounds.firstIndex { seconds <= $0 } ?? Metrics.bucketBounds.count
        shard.counts.withLock { s in
            s.requests[key, default: 0] += 1
            s.buckets[i] += 1
            s.latencySum += seconds
            s.latencyCount += 1
        }
    }

    public func recordTLSFailure(reason: String) {
        let bucket = Metrics.tlsFailureBucket(reason)
        state.withLock { $0.tlsFailures[bucket, default: 0] += 1 }
    }

    /// A Prometheus label value: backslash, double quote and line feed escaped.
    static func labelValue(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Reasons are bucketed so that certificate contents never become label values or audit text.
    public static func tlsFailureBucket(_ reason: String) -> String {
        switch reason {
        case let r where r.contains("revoked"): "revoked"
        case let r where r.contains("expired"): "expired"
        case let r where r.contains("not yet valid"): "not_yet_valid"
        case let r where r.contains("too weak") || r.contains("too small"): "weak_key"
        case let r where r.contains("allowed intermediate"): "intermediate_not_allowed"
        case let r where r.contains("certificate policies"): "policy"
        case let r where r.contains("purpose") || r.contains("key usage"): "wrong_usage"
        case let r where r.contains("issuer") || r.contains("self-signed") || r.contains("unknown ca"): "unknown_ca"
        case let r where r.contains("no client certificate") || r.contains("did not return a certificate"): "no_certificate"
        case let r where r.contains("protocol") || r.contains("version"): "protocol"
        case let r where r.contains("timeout"): "timeout"
        default: "other"
        }
    }

    public func recordToken(issued: Bool) {
        state.withLock { $0.tokens[issued ? "issued" : "refused", default: 0] += 1 }
    }

    /// Scheduled CRL downloads, one per URL and pass: updated, unchanged or failed.
    public func recordCRLDownload(outcome: String) {
        state.withLock { $0.crlDownloads[outcome, default: 0] += 1 }
    }

    /// The CRLs the TLS context was built with (replaced at every build: start, SIGHUP, downloads).
    /// Two CRLs of one issuer (a configured file and a download): the latest nextUpdate, since OpenSSL
    /// uses a CRL still in date, the newest, when it has several.
    public func setCRLNextUpdates(_ crls: [(issuer: String, nextUpdate: Date)]) {
        var next: [String: Double] = [:]
        for c in crls { next[c.issuer] = max(next[c.issuer] ?? -.infinity, c.nextUpdate.timeIntervalSince1970) }
        state.withLock { $0.crlNextUpdates = next }
    }

    public func render() -> String {
        var requests: [String: UInt64] = [:]
        var buckets = [UInt64](repeating: 0, count: Metrics.bucketBounds.count + 1)
        var latencySum = 0.0
        var latencyCount: UInt64 = 0
        for shard in shards {
            shard.counts.withLock { c in
                for (k, v) in c.requests { requests[k, default: 0] += v }
                for i in buckets.indices { buckets[i] += c.buckets[i] }
                latencySum += c.latencySum
                latencyCount += c.latencyCount
            }
        }
        return state.withLock { s in
            var out = "# HELP gateway_http_requests_total HTTP requests by route template and status.\n# TYPE gateway_http_requests_total counter\n"
            for (k, v) in requests.sorted(by: { $0.key < $1.key }) {
                let p = k.split(separator: "|", maxSplits: 1)
                out += "gateway_http_requests_total{route=\"\(p[0])\",status=\"\(p[1])\"} \(v)\n"
            }
            out += "# HELP gateway_http_request_duration_seconds Request handling time.\n# TYPE gateway_http_request_duration_seconds histogram\n"
            var cumulative: UInt64 = 0
            for (i, b) in Metrics.bucketBounds.enumerated() {
                cumulative += buckets[i]
                out += "gateway_http_request_duration_seconds_bucket{le=\"\(b)\"} \(cumulative)\n"
            }
            cumulative += buckets[Metrics.bucketBounds.count]
            out += "gateway_http_request_duration_seconds_bucket{le=\"+Inf\"} \(cumulative)\n"
            out += "gateway_http_request_duration_seconds_sum \(latencySum)\ngateway_http_request_duration_seconds_count \(latencyCount)\n"
            out += "# HELP gateway_tls_handshake_failures_total Refused TLS handshakes by reason.\n# TYPE gateway_tls_handshake_failures_total counter\n"
            for (k, v) in s.tlsFailures.sorted(by: { $0.key < $1.key }) { out += "gateway_tls_handshake_failures_total{reason=\"\(k)\"} \(v)\n" }
            out += "# HELP gateway_tokens_total Token endpoint outcomes.\n# TYPE gateway_tokens_total counter\n"
            for (k, v) in s.tokens.sorted(by: { $0.key < $1.key }) { out += "gateway_tokens_total{outcome=\"\(k)\"} \(v)\n" }
            out += "# HELP gateway_crl_downloads_total Scheduled CRL downloads by outcome.\n# TYPE gateway_crl_downloads_total counter\n"
            for (k, v) in s.crlDownloads.sorted(by: { $0.key < $1.key }) { out += "gateway_crl_downloads_total{outcome=\"\(k)\"} \(v)\n" }
            out += "# HELP gateway_crl_next_update_timestamp_seconds nextUpdate of each CRL in use, by issuer name (handshakes fail past it).\n"
                + "# TYPE gateway_crl_next_update_timestamp_seconds gauge\n"
            for (k, v) in s.crlNextUpdates.sorted(by: { $0.key < $1.key }) {
                out += "gateway_crl_next_update_timestamp_seconds{issuer=\"\(Metrics.labelValue(k))\"} \(Int64(v))\n"
            }
            return out
        }
    }
}
