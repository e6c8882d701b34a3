import CCurl
import Foundation

/// One small, blocking HTTP GET on libcurl, for the gateway's outgoing calls (scheduled CRL
/// downloads, the ROR pull client). Call it from a background thread, never from a request
/// handler: it blocks for at most `timeoutSeconds`.
///
/// What it guarantees, whatever the server sends:
/// - only the schemes of `schemes` (default `http,https`; never `file:`, `ftp:`, …), for redirects too;
/// - redirects are not followed unless `maxRedirects > 0`;
/// - TLS ≥ 1.2, peer and host name verified (against `caFile` when given, else the system store);
///   a client certificate (`clientCertificateFile` + `clientKeyFile`, PEM) when the server wants mTLS;
/// - the body is bounded (`maxBodyBytes`: the transfer is aborted past it, `Failure.tooLarge`);
/// - total and connect timeouts; no signals (safe in threads).
///
/// ```swift
/// var request = HTTPFetch.Request(url: "https://ror.example/fhir/HealthcareService?_count=100")
/// request.headers = [("Accept", "application/fhir+json")]
/// request.schemes = "https"
/// let response = try HTTPFetch.get(request)   // throws HTTPFetch.Failure
/// guard response.status == 200 else { … }      // any HTTP status is a response, not a failure
/// let etag = response.header("ETag")
/// ```
public enum HTTPFetch {
    public struct Request: Sendable {
        public var url: String
        /// Extra request headers (no CR/LF in names or values).
        public var headers: [(name: String, value: String)] = []
        public var timeoutSeconds: Double = 30
        public var connectTimeoutSeconds: Double = 10
        public var maxBodyBytes = 16 * 1024 * 1024
        /// Comma-separated list for libcurl's `CURLOPT_PROTOCOLS_STR`.
        public var schemes = "http,https"
        public var maxRedirects = 0
        /// PEM trust anchors for the server certificate (default: the system store).
        public var caFile: String?
        /// PEM client certificate and key for mutual TLS.
        public var clientCertificateFile: String?
        public var clientKeyFile: String?

        public init(url: String) { self.url = url }
    }

    public struct Response: Sendable {
        public var status: Int
        /// Headers of the final response, in order (names as sent).
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { $0.name.caseInsensitiveEquals(name) }?.value
        }
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// The request itself is unusable (URL, header with CR/LF).
        case invalidRequest(String)
        /// Connection, TLS, timeout, protocol: libcurl's code and message.
        case transport(code: Int, message: String)
        /// The body went past `maxBodyBytes`; the transfer was aborted.
        case tooLarge(limit: Int)

        public var description: String {
            switch self {
            case .invalidRequest(let m): "invalid request: \(m)"
            case .transport(let code, let m): "transfer failed (curl \(code)): \(m)"
            case .tooLarge(let limit): "response body larger than \(limit) bytes"
            }
        }
    }

    /// `curl_global_init` is not thread-safe: run it once, before any handle exists.
    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    /// Collects the transfer (owned by `get`, passed to the C callbacks as user data).
    private final class Sink {
        var body: [UInt8] = []
        var headers: [(name: String, value: String)] = []
        let limit: Int
        var overflow = false
        init(limit: Int) { self.limit = limit }
    }

    public static func get(_ request: Request) throws(Failure) -> Response {
        guard globalInit == CURLE_OK else { throw .transport(code: Int(globalInit.rawValue), message: "curl_global_init failed") }
        for (name, value) in request.headers {
            let bad = { (s: String) in s.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 } }
            guard !name.isEmpty, !bad(name), !bad(value), !name.contains(":") else { throw .invalidRequest("header \(name) is malformed") }
        }
        guard !request.url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else { throw .invalidRequest("URL contains spaces or control characters") }
        guard let handle = curl_easy_init() else { throw .transport(code: -1, message: "curl_easy_init failed") }
        defer { curl_easy_cleanup(handle) }
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        for (name, value) in request.headers { list = curl_slist_append(list, "\(name): \(value)") }

        let sink = Sink(limit: request.maxBodyBytes)
        let user = Unmanaged.passUnretained(sink).toOpaque()
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errors in
            var rc = CURLE_OK
            func set(_ option: CURLoption, _ value: Int) { if rc == CURLE_OK { rc = shim_curl_setopt_long(handle, option, value) } }
            func set(_ option: CURLoption, _ value: String) { if rc == CURLE_OK { rc = shim_curl_setopt_str(handle, option, value) } }
            func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) { if rc == CURLE_OK { rc = shim_curl_setopt_ptr(handle, option, pointer) } }
            set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errors.baseAddress))
            set(CURLOPT_URL, request.url)
            set(CURLOPT_PROTOCOLS_STR, request.schemes)
            set(CURLOPT_REDIR_PROTOCOLS_STR, request.schemes)
            set(CURLOPT_FOLLOWLOCATION, request.maxRedirects > 0 ? 1 : 0)
            set(CURLOPT_MAXREDIRS, max(0, request.maxRedirects))
            set(CURLOPT_NOSIGNAL, 1)
            set(CURLOPT_TIMEOUT_MS, Int(request.timeoutSeconds * 1000))
            set(CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeoutSeconds * 1000))
            set(CURLOPT_MAXFILESIZE, request.maxBodyBytes)
            set(CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2))
            set(CURLOPT_SSL_VERIFYPEER, 1)
            set(CURLOPT_SSL_VERIFYHOST, 2)
            set(CURLOPT_USERAGENT, "fhir-gateway")
            if let ca = request.caFile { set(CURLOPT_CAINFO, ca) }
            if let cert = request.clientCertificateFile { set(CURLOPT_SSLCERT, cert) }
            if let key = request.clientKeyFile { set(CURLOPT_SSLKEY, key) }
            if list != nil { set(CURLOPT_HTTPHEADER, pointer: UnsafeMutableRawPointer(list)) }
            set(CURLOPT_WRITEDATA, pointer: user)
            set(CURLOPT_HEADERDATA, pointer: user)
            if rc == CURLE_OK { rc = shim_curl_setopt_writefn(handle, HTTPFetch.receiveBody) }
            if rc == CURLE_OK { rc = shim_curl_setopt_headerfn(handle, HTTPFetch.receiveHeader) }
            guard rc == CURLE_OK else { return rc }
            return curl_easy_perform(handle)
        }
        if sink.overflow || code == CURLE_FILESIZE_EXCEEDED { throw .tooLarge(limit: request.maxBodyBytes) }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .transport(code: Int(code.rawValue), message: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        }
        var status = 0
        _ = shim_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return Response(status: status, headers: sink.headers, body: sink.body)
    }

    private static let receiveBody: shim_curl_write_fn = { data, size, count, user in
        guard let user else { return 0 }
        let sink = Unmanaged<Sink>.fromOpaque(user).takeUnretainedValue()
        let n = size * count
        guard sink.body.count + n <= sink.limit else { sink.overflow = true; return 0 }
        if n > 0, let data { sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n)) }
        return n
    }

    /// One header line per call; a status line starts a new response (redirects, 100 Continue).
    private static let receiveHeader: shim_curl_write_fn = { data, size, count, user in
        guard let user else { return 0 }
        let sink = Unmanaged<Sink>.fromOpaque(user).takeUnretainedValue()
        let n = size * count
        guard n > 0, let data else { return n }
        var bytes = UnsafeRawBufferPointer(start: data, count: n)[...]
        while let last = bytes.last, last == 0x0D || last == 0x0A { bytes = bytes.dropLast() }
        let line = Substring(String(decoding: bytes, as: UTF8.self))
        if line.hasPrefix("HTTP/") {
            sink.headers = []
        } else if let colon = line.firstIndex(of: ":") {
            sink.headers.append((String(line[..<colon]), String(line[line.index(after: colon)...].trimmingWhitespace())))
        }
        return n
    }
}
