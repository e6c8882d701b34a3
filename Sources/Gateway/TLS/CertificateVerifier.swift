import COpenSSL
import Foundation

/// Certificates that did not arrive through our own TLS handshake: a PEM file (the sandbox computes
/// the operator's thumbprint) or a reverse proxy's header. A proxied certificate is verified with
/// `X509_verify_cert` against the same store as the TLS layer (trust anchors, CRLs, strict mode,
/// client purpose), so the proxy is trusted to forward, never to vouch.
public enum CertificateVerifier {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case unreadable(String)
        case rejected(String)
        public var description: String {
            switch self {
            case .unreadable(let m): "certificate unreadable: \(m)"
            case .rejected(let m): "certificate rejected: \(m)"
            }
        }
    }

    /// The first certificate of a PEM text.
    static func parse(pem: [UInt8]) throws(Failure) -> OpaquePointer {
        let cert: OpaquePointer? = pem.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_X509(bio, nil, nil, nil)
        }
        guard let cert else { throw .unreadable(TLSServerContext.lastError()) }
        return cert
    }

    /// Identity of the first certificate in a PEM file, not verified.
    public static func describe(pemFile path: String) throws(Failure) -> PeerCertificate {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable("cannot read \(path)") }
        let cert = try parse(pem: [UInt8](data))
        defer { X509_free(cert) }
        return TLSStream.describe(cert)
    }

    /// Verifies a PEM certificate as the TLS layer would verify a client certificate.
    public static func verify(pem: [UInt8], with context: TLSServerContext) throws(Failure) -> PeerCertificate {
        let cert = try parse(pem: pem)
        defer { X509_free(cert) }
        guard let ctx = X509_STORE_CTX_new() else { throw .rejected("X509_STORE_CTX_new") }
        defer { X509_STORE_CTX_free(ctx) }
        guard X509_STORE_CTX_init(ctx, SSL_CTX_get_cert_store(context.ctx), cert, nil) == 1 else {
            throw .rejected(TLSServerContext.lastError())
        }
        _ = X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT)
        guard X509_verify_cert(ctx) == 1 else {
            throw .rejected(String(cString: X509_verify_cert_error_string(Int(X509_STORE_CTX_get_error(ctx)))))
        }
        if let refusal = context.clientPolicy.refusal(leaf: cert, chain: X509_STORE_CTX_get0_chain(ctx)) { throw .rejected(refusal.reason) }
        return TLSStream.describe(cert)
    }
}
