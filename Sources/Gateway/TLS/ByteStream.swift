import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A connected byte stream: TLS over a socket, or a plain socket (reverse-proxy mode and tests).
public protocol ByteStream: AnyObject {
    /// Reads up to `buffer.count` bytes; 0 at end of stream. Throws `StreamError.timeout` when the
    /// socket's receive timeout elapses.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(StreamError) -> Int
    func write(_ bytes: [UInt8]) throws(StreamError)
    /// Sets the receive timeout for the next reads.
    func setReadTimeout(_ seconds: Double)
    /// Stops further reads (used to wake an idle connection at shutdown).
    func shutdownRead()
    func close()
}

public enum StreamError: Error, Sendable, Equatable {
    case timeout
    case closed
    case failed(String)
}

enum Socket {
    static func setTimeout(_ fd: Int32, _ option: Int32, _ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        _ = setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}

/// Plain TCP stream.
public final class PlainStream: ByteStream, @unchecked Sendable {
    let fd: Int32
    private var closed = false
    public init(fd: Int32) { self.fd = fd }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(StreamError) -> Int {
        let n = recv(fd, buffer.baseAddress, buffer.count, 0)
        if n >= 0 { return n }
        if errno == EAGAIN || errno == EWOULDBLOCK { throw .timeout }
        if errno == EINTR { return try read(into: buffer) }
        throw .failed(String(cString: strerror(errno)))
    }
    public func write(_ bytes: [UInt8]) throws(StreamError) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { throw .timeout }
                throw .closed
            }
            off += n
        }
    }
    public func setReadTimeout(_ seconds: Double) { Socket.setTimeout(fd, SO_RCVTIMEO, seconds) }
    public func shutdownRead() { _ = Glibc.shutdown(fd, Int32(SHUT_RD)) }
    public func close() {
        if !closed { closed = true; _ = Glibc.close(fd) }
    }
}

/// What the TLS handshake established about the client.
public struct PeerCertificate: Sendable, Equatable {
    /// Subject attributes in certificate order, e.g. [("C","FR"), ("O","…"), ("OU","1990000011"), ("CN","…")].
    public var subject: [(String, String)]
    public var issuer: [(String, String)]
    /// SHA-256 of the DER certificate.
    public var sha256: [UInt8]
    public var serialHex: String
    public var notAfter: Date?

    public init(subject: [(String, String)], issuer: [(String, String)], sha256: [UInt8], serialHex: String, notAfter: Date?) {
        self.subject = subject; self.issuer = issuer; self.sha256 = sha256; self.serialHex = serialHex; self.notAfter = notAfter
    }

    public static func == (a: PeerCertificate, b: PeerCertificate) -> Bool { a.sha256 == b.sha256 }

    /// RFC 8705 `x5t#S256` thumbprint: base64url of the SHA-256, no padding.
    public var thumbprint: String {
        Data(sha256).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
    public var organizationalUnits: [String] { subject.filter { $0.0 == "OU" }.map(\.1) }
    public var commonName: String? { subject.first { $0.0 == "CN" }?.1 }
    public var subjectLine: String { subject.map { "\($0.0)=\($0.1)" }.joined(separator: ", ") }
}

/// TLS stream over an accepted socket, with the server context's mutual-TLS policy.
public final class TLSStream: ByteStream, @unchecked Sendable {
    let fd: Int32
    let ssl: OpaquePointer
    private var closed = false
    public private(set) var peer: PeerCertificate?
    public private(set) var protocolVersion = ""

    /// Why a handshake failed, for metrics and logs (never sent to the client).
    public struct HandshakeFailure: Error, Sendable {
        public var reason: String
        public var verifyCode: Int
    }

    /// Keeps the policy the handshake callback points to alive as long as this connection.
    private let policy: ClientCertificatePolicy

    public init(fd: Int32, context: TLSServerContext) throws(StreamError) {
        self.fd = fd
        self.policy = context.clientPolicy
        guard let ssl = SSL_new(context.ctx) else { throw .failed("SSL_new") }
        self.ssl = ssl
        SSL_set_fd(ssl, fd)
    }

    deinit { SSL_free(ssl) }

    /// Runs the server handshake; the client certificate is verified inside it (chain, CRLs, then
    /// `ClientCertificatePolicy` through the context's verification callback).
    public func handshake() throws(HandshakeFailure) {
        ERR_clear_error()
        let r = SSL_accept(ssl)
        if r != 1 {
            let verify = SSL_get_verify_result(ssl)
            var reason = TLSServerContext.lastError()
            if let refusal = ClientCertificatePolicy.Refusal(verifyError: verify) {
                reason = refusal.reason
            } else if verify != X509_V_OK {
                reason = "certificate verify error \(verify): " + String(cString: X509_verify_cert_error_string(verify))
            } else if errno == EAGAIN {
                reason = "handshake timeout"
            }
            throw HandshakeFailure(reason: reason, verifyCode: Int(verify))
        }
        protocolVersion = String(cString: shim_SSL_get_version(ssl))
        guard let cert = SSL_get1_peer_certificate(ssl) else {
            throw HandshakeFailure(reason: "no client certificate", verifyCode: -1)
        }
        defer { X509_free(cert) }
        peer = Self.describe(cert)
    }

    static func names(_ name: OpaquePointer?) -> [(String, String)] {
        guard let name else { return [] }
        var out: [(String, String)] = []
        for i in 0..<X509_NAME_entry_count(name) {
            guard let entry = X509_NAME_get_entry(name, i) else { continue }
            let nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry))
            let key = OBJ_nid2sn(nid).map { String(cString: $0) } ?? "\(nid)"
            var utf8: UnsafeMutablePointer<UInt8>?
            let n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry))
            if n >= 0, let p = utf8 {
                out.append((key, String(decoding: UnsafeBufferPointer(start: p, count: Int(n)), as: UTF8.self)))
                shim_OPENSSL_free(p)
            }
        }
        return out
    }

    static func describe(_ cert: OpaquePointer) -> PeerCertificate {
        var serial = ""
        if let bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nil) {
            if let hex = BN_bn2hex(bn) { serial = String(cString: hex); shim_OPENSSL_free(hex) }
            BN_free(bn)
        }
        return PeerCertificate(subject: names(X509_get_subject_name(cert)), issuer: names(X509_get_issuer_name(cert)),
                               sha256: ClientCertificatePolicy.fingerprint(cert), serialHex: serial, notAfter: date(X509_get0_notAfter(cert)))
    }

    /// An ASN.1 time (certificate or CRL) as a Date; nil when absent or unreadable.
    static func date(_ t: UnsafePointer<ASN1_TIME>?) -> Date? {
        guard let t else { return nil }
        var tm = tm()
        guard ASN1_TIME_to_tm(t, &tm) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&tm)))
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(StreamError) -> Int {
        ERR_clear_error()
        let n = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
        if n > 0 { return Int(n) }
        let e = SSL_get_error(ssl, n)
        if e == SSL_ERROR_ZERO_RETURN { return 0 }
        if e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK) { throw .timeout }
        if e == SSL_ERROR_WANT_READ { throw .timeout }
        if e == SSL_ERROR_SYSCALL && n == 0 { return 0 }
        throw .closed
    }

    public func write(_ bytes: [UInt8]) throws(StreamError) {
        var off = 0
        while off < bytes.count {
            ERR_clear_error()
            let n = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + off, Int32(bytes.count - off)) }
            if n <= 0 { throw .closed }
            off += Int(n)
        }
    }

    public func setReadTimeout(_ seconds: Double) { Socket.setTimeout(fd, SO_RCVTIMEO, seconds) }
    public func shutdownRead() { _ = Glibc.shutdown(fd, Int32(SHUT_RD)) }

    public func close() {
        guard !closed else { return }
        closed = true
        _ = SSL_shutdown(ssl)
        _ = Glibc.close(fd)
    }
}
