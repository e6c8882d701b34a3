import COpenSSL
import Foundation

/// OpenSSL server configuration for mutual TLS: TLS 1.2 and 1.3 only, a client certificate is
/// required and verified against the configured trust anchors with CRLs (leaf and chain), and the
/// key usage / extended key usage of the client certificate are checked. Session resumption is
/// off, so every connection goes through a full handshake and a fresh revocation check.
public final class TLSServerContext: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// PEM server certificate (chain) and key.
        public var certificateFile: String
        public var privateKeyFile: String
        /// PEM trust anchors and intermediates used to verify client certificates.
        public var trustFile: String
        /// PEM CRL files; with `requireCRL`, every CA in the chain must have one.
        public var crlFiles: [String]
        public var requireCRL: Bool
        /// SHA-256 fingerprints of the intermediates allowed to issue client certificates; nil: the
        /// intermediates (CA certificates not self-issued) of `trustFile`.
        public var allowedIntermediates: [[UInt8]]?
        /// Certificate policy OIDs of which a client certificate must carry one; empty: not checked.
        public var clientCertificatePolicies: [String]
        public init(certificateFile: String, privateKeyFile: String, trustFile: String, crlFiles: [String], requireCRL: Bool = true,
                    allowedIntermediates: [[UInt8]]? = nil, clientCertificatePolicies: [String] = []) {
            self.certificateFile = certificateFile; self.privateKeyFile = privateKeyFile
            self.trustFile = trustFile; self.crlFiles = crlFiles; self.requireCRL = requireCRL
            self.allowedIntermediates = allowedIntermediates; self.clientCertificatePolicies = clientCertificatePolicies
        }
    }

    public enum SetupError: Error, CustomStringConvertible {
        case openssl(String)
        public var description: String { switch self { case .openssl(let m): return "TLS setup: \(m)" } }
    }

    let ctx: OpaquePointer
    let clientPolicy: ClientCertificatePolicy
    /// The `nextUpdate` of every CRL this context checks with, by issuer name (two CAs may share a CN),
    /// read from its store once built, for the `gateway_crl_next_update_timestamp_seconds` gauge:
    /// handshakes fail once a CRL in use is past it (OpenSSL refuses expired CRLs).
    public let crlNextUpdates: [(issuer: String, nextUpdate: Date)]

    public init(_ config: Configuration) throws {
        do { clientPolicy = try ClientCertificatePolicy(allowed: config.allowedIntermediates, trustFile: config.trustFile,
                                                        requiredPolicies: config.clientCertificatePolicies) }
        catch { throw SetupError.openssl("client certificate policy: \(error)") }
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw SetupError.openssl(TLSServerContext.lastError()) }
        self.ctx = ctx
        _ = shim_SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)
        _ = shim_SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)
        _ = SSL_CTX_set_options(ctx, shim_SSL_OP_NO_COMPRESSION | shim_SSL_OP_NO_RENEGOTIATION | shim_SSL_OP_NO_TICKET
                                    | shim_SSL_OP_CIPHER_SERVER_PREFERENCE)
        // No resumption: a resumed session would skip the certificate (and CRL) check.
        _ = shim_SSL_CTX_set_session_cache_mode(ctx, shim_SSL_SESS_CACHE_OFF)
        _ = SSL_CTX_set_num_tickets(ctx, 0)
        guard SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!eNULL:!MD5:!RC4:!3DES") == 1 else {
            throw SetupError.openssl("cipher list: \(TLSServerContext.lastError())")
        }
        guard SSL_CTX_use_certificate_chain_file(ctx, config.certificateFile) == 1 else {
            throw SetupError.openssl("server certificate \(config.certificateFile): \(TLSServerContext.lastError())")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, config.privateKeyFile, SSL_FILETYPE_PEM) == 1,
              SSL_CTX_check_private_key(ctx) == 1 else {
            throw SetupError.openssl("server key \(config.privateKeyFile): \(TLSServerContext.lastError())")
        }
        guard SSL_CTX_load_verify_locations(ctx, config.trustFile, nil) == 1 else {
            throw SetupError.openssl("trust anchors \(config.trustFile): \(TLSServerContext.lastError())")
        }
        if let names = SSL_load_client_CA_file(config.trustFile) { SSL_CTX_set_client_CA_list(ctx, names) }
        let store = SSL_CTX_get_cert_store(ctx)
        for crl in config.crlFiles {
            guard let lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file()),
                  X509_load_crl_file(lookup, crl, X509_FILETYPE_PEM) > 0 else {
                throw SetupError.openssl("CRL \(crl): \(TLSServerContext.lastError())")
            }
        }
        if config.requireCRL {
            X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL | X509_V_FLAG_X509_STRICT))
        } else {
            X509_STORE_set_flags(store, UInt(X509_V_FLAG_X509_STRICT))
        }
        // The client purpose makes OpenSSL require EKU clientAuth when present.
        X509_STORE_set_purpose(store, X509_PURPOSE_SSL_CLIENT)
        // The same depth limit for certificates forwarded by a proxy (verified on this store, not in a handshake).
        X509_STORE_set_depth(store, 2)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        SSL_CTX_set_cert_verify_callback(ctx, ClientCertificatePolicy.verifyCallback, Unmanaged.passUnretained(clientPolicy).toOpaque())
        // Leaf, at most two CAs, anchor (security.md §2.6.2); ClientCertificatePolicy then wants exactly one intermediate.
        SSL_CTX_set_verify_depth(ctx, 2)
        var crls: [(issuer: String, nextUpdate: Date)] = []
        if let objects = X509_STORE_get0_objects(store) {
            for i in 0..<shim_sk_X509_OBJECT_num(objects) {
                guard let object = shim_sk_X509_OBJECT_value(objects, i), X509_OBJECT_get_type(object) == X509_LU_CRL,
                      let crl = X509_OBJECT_get0_X509_CRL(object), let next = TLSStream.date(X509_CRL_get0_nextUpdate(crl)) else { continue }
                crls.append((TLSStream.names(X509_CRL_get_issuer(crl)).map { "\($0.0)=\($0.1)" }.joined(separator: ", "), next))
            }
        }
        crlNextUpdates = crls
        let sid: [UInt8] = Array("fhir-gateway".utf8)
        _ = SSL_CTX_set_session_id_context(ctx, sid, UInt32(sid.count))
    }

    deinit { SSL_CTX_free(ctx) }

    static func lastError() -> String {
        var parts: [String] = []
        while true {
            let e = ERR_get_error()
            if e == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(e, &buf, buf.count)
            parts.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return parts.isEmpty ? "unknown OpenSSL error" : parts.joined(separator: "; ")
    }
}
