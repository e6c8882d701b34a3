import CCurl
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where and how the gateway reaches the ROR FHIR API: HTTPS only, the server certificate verified
/// against `caFile` (host name included), the gateway's client certificate for mutual TLS.
public struct RorClientConfiguration: Sendable, Equatable {
    public var baseURL: String
    public var certificateFile: String?
    public var privateKeyFile: String?
    public var caFile: String?
    public var timeoutSeconds: Double
    public var maxResponseBytes: Int

    public init(baseURL: String, certificateFile: String?, privateKeyFile: String?, caFile: String?, timeoutSeconds: Double = 30,
                maxResponseBytes: Int = 32 * 1024 * 1024) {
        self.baseURL = baseURL; self.certificateFile = certificateFile; self.privateKeyFile = privateKeyFile; self.caFile = caFile
        self.timeoutSeconds = timeoutSeconds; self.maxResponseBytes = maxResponseBytes
    }
}

public struct RorHTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
}

/// A failed exchange with the ROR server, before any HTTP status (TLS refused, timeout, connection…).
public struct RorTransportError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public var isTimeout: Bool { code == Int32(CURLE_OPERATION_TIMEDOUT.rawValue) }
    public var description: String { "libcurl \(code): \(message)" }
}

/// GET requests to the ROR over libcurl (one easy handle per request: requests are rare, a daily pull).
public final class RorHTTPClient: Sendable {
    public let configuration: RorClientConfiguration

    /// `curl_global_init` once per process, before any handle (libcurl ≥ 7.84 makes it thread-safe).
    /// With `CURLOPT_NOSIGNAL` (required in a threaded process) libcurl leaves SIGPIPE to the
    /// application, and OpenSSL writes on a socket the peer closed would raise it: ignored process-wide.
    private static let globalInit: CURLcode = {
        signal(SIGPIPE, SIG_IGN)
        return curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()

    public init(configuration: RorClientConfiguration) { self.configuration = configuration }

    private final class Sink {
        var bytes: [UInt8] = []
        let limit: Int
        var overflow = false
        init(limit: Int) { self.limit = limit }
    }

    public func get(_ url: String) throws(RorTransportError) -> RorHTTPResponse {
        guard Self.globalInit == CURLE_OK else { throw RorTransportError(code: Int32(Self.globalInit.rawValue), message: "curl_global_init failed") }
        guard let handle = curl_easy_init() else { throw RorTransportError(code: -1, message: "curl_easy_init failed") }
        defer { curl_easy_cleanup(handle) }
        let sink = Sink(limit: configuration.maxResponseBytes)
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var headers: UnsafeMutablePointer<curl_slist>?
        headers = curl_slist_append(headers, "Accept: application/fhir+json")
        defer { curl_slist_free_all(headers) }
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorBytes in
            var rc = CURLE_OK
            func set(_ r: CURLcode) { if rc == CURLE_OK && r != CURLE_OK { rc = r } }
            set(shim_curl_setopt_str(handle, CURLOPT_URL, url))
            set(shim_curl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBytes.baseAddress))
            // HTTPS only, no redirects: a `next` link is followed by the caller after checking its origin.
            set(shim_curl_setopt_str(handle, CURLOPT_PROTOCOLS_STR, "https"))
            set(shim_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
            set(shim_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
            set(shim_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1))
            set(shim_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2))
            set(shim_curl_setopt_long(handle, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2))
            if let ca = configuration.caFile { set(shim_curl_setopt_str(handle, CURLOPT_CAINFO, ca)) }
            if let cert = configuration.certificateFile { set(shim_curl_setopt_str(handle, CURLOPT_SSLCERT, cert)) }
            if let key = configuration.privateKeyFile { set(shim_curl_setopt_str(handle, CURLOPT_SSLKEY, key)) }
            let ms = max(1, Int((configuration.timeoutSeconds * 1000).rounded()))
            set(shim_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, ms))
            set(shim_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, ms))
            set(shim_curl_setopt_str(handle, CURLOPT_USERAGENT, "fhir-gateway ror-sync"))
            set(shim_curl_setopt_ptr(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headers)))
            set(shim_curl_setopt_writefn(handle) { data, size, count, user in
                guard let data, let user else { return 0 }
                let sink = Unmanaged<Sink>.fromOpaque(user).takeUnretainedValue()
                let n = size * count
                if sink.bytes.count + n > sink.limit { sink.overflow = true; return 0 }
                data.withMemoryRebound(to: UInt8.self, capacity: n) { sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) }
                return n
            })
            set(shim_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, sinkPointer))
            guard rc == CURLE_OK else { return rc }
            return curl_easy_perform(handle)
        }
        withExtendedLifetime(sink) {}
        guard code == CURLE_OK else {
            if sink.overflow {
                throw RorTransportError(code: Int32(code.rawValue), message: "réponse du ROR au-delà de \(configuration.maxResponseBytes) octets")
            }
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let text = String(cString: curl_easy_strerror(code))
            throw RorTransportError(code: Int32(code.rawValue), message: detail.isEmpty ? text : "\(text): \(detail)")
        }
        var status = 0
        _ = shim_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return RorHTTPResponse(status: status, body: sink.bytes)
    }
}
