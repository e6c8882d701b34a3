import COpenSSL
import Foundation

/// What a client certificate must be beyond a chain OpenSSL verified (security.md §2.5–2.6): an
/// authentication certificate (KU digitalSignature, EKU clientAuth), issued directly by one of the
/// allowed ORGANISATIONS intermediates (the IGC-Santé root also signs the PERSONNES CAs, whose chains
/// verify just as well), and, when configured, carrying one of the certificate policy OIDs.
/// One check for both ways a certificate arrives: inside our TLS handshake (OpenSSL's certificate
/// verification callback, so that a refusal is a TLS alert like any other verification failure) and
/// for a trusted proxy's header. A class: the handshake callback reaches it through an opaque pointer.
///
/// `@unchecked Sendable`: immutable after `init`; the OID objects are only read (`OBJ_cmp`).
final class ClientCertificatePolicy: @unchecked Sendable {
    /// SHA-256 of the DER of each allowed issuing intermediate.
    let allowedIntermediates: Set<[UInt8]>
    /// Subject and fingerprint of each, for the start-up log.
    let described: [String]
    /// Dotted OIDs of which the leaf must carry one; empty: no policy check.
    let requiredPolicies: [String]
    /// The same OIDs as OpenSSL objects, compared with `OBJ_cmp` (owned, freed in deinit).
    private let policyObjects: [OpaquePointer]

    /// Why a verified chain is still refused, carried through OpenSSL as a verification error code.
    enum Refusal: CaseIterable {
        case usage, intermediate, policy

        var verifyError: Int32 {
            switch self {
            case .usage: X509_V_ERR_INVALID_PURPOSE
            case .intermediate: X509_V_ERR_APPLICATION_VERIFICATION
            case .policy: X509_V_ERR_NO_EXPLICIT_POLICY
            }
        }

        /// For `Metrics.tlsFailureBucket` and logs, never a response.
        var reason: String {
            switch self {
            case .usage: "client certificate key usage or extended key usage is not digitalSignature + clientAuth"
            case .intermediate: "client certificate not issued by an allowed intermediate"
            case .policy: "client certificate carries none of the required certificate policies"
            }
        }

        init?(verifyError: Int) {
            guard let r = Refusal.allCases.first(where: { Int($0.verifyError) == verifyError }) else { return nil }
            self = r
        }
    }

    enum Setup: Error, CustomStringConvertible {
        case invalid(String)
        var description: String { switch self { case .invalid(let m): m } }
    }

    /// `allowed` nil: the CA certificates of the trust file that are not self-issued, so that a client can
    /// only be issued by an intermediate the operator placed there.
    init(allowed: [[UInt8]]?, trustFile: String, requiredPolicies: [String]) throws(Setup) {
        guard let data = FileManager.default.contents(atPath: trustFile) else { throw .invalid("cannot read the trust file \(trustFile)") }
        let certs = CRLCache.certificates(inPEM: [UInt8](data))
        defer { certs.forEach { X509_free($0) } }
        if let allowed {
            allowedIntermediates = Set(allowed)
        } else {
            // CA certificates that are not self-issued (EXFLAG_SI: same subject and issuer, whatever the key usage).
            allowedIntermediates = Set(certs.filter { X509_check_ca($0) > 0 && (X509_get_extension_flags($0) & shim_EXFLAG_SI) == 0 }
                .map(Self.fingerprint))
        }
        guard !allowedIntermediates.isEmpty else {
            throw .invalid("no allowed intermediate: list them in allowedIntermediates or put the ORGANISATIONS intermediate in \(trustFile)")
        }
        let known = Dictionary(certs.map { (Self.fingerprint($0), $0) }, uniquingKeysWith: { a, _ in a })
        described = allowedIntermediates.map { print in
            let hex = print.map { String(format: "%02X", $0) }.joined(separator: ":")
            let subject = known[print].map { cert in TLSStream.names(X509_get_subject_name(cert)).last { $0.0 == "CN" }?.1 ?? "?" } ?? "not in the trust file"
            return "\(subject) [\(hex)]"
        }.sorted()
        var objects: [OpaquePointer] = []
        for oid in requiredPolicies {
            guard let object = OBJ_txt2obj(oid, 1) else {
                objects.forEach { ASN1_OBJECT_free($0) }
                throw .invalid("certificate policy \(oid) is not a dotted OID")
            }
            objects.append(object)
        }
        self.requiredPolicies = requiredPolicies
        self.policyObjects = objects
    }

    deinit { policyObjects.forEach { ASN1_OBJECT_free($0) } }

    static func fingerprint(_ cert: OpaquePointer) -> [UInt8] {
        var md = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        _ = X509_digest(cert, EVP_sha256(), &md, &len)
        return Array(md.prefix(Int(len)))
    }

    /// Why `leaf`, verified with `chain` (leaf first, as OpenSSL builds it), is refused; nil when accepted.
    func refusal(leaf: OpaquePointer, chain: OpaquePointer?) -> Refusal? {
        let ku = X509_get_key_usage(leaf)
        let xku = X509_get_extended_key_usage(leaf)
        if (ku != UInt32.max && (ku & UInt32(X509v3_KU_DIGITAL_SIGNATURE)) == 0) || (xku != UInt32.max && (xku & UInt32(XKU_SSL_CLIENT)) == 0) {
            return .usage
        }
        guard let chain, shim_sk_X509_num(chain) >= 2, let parent = shim_sk_X509_value(chain, 1),
              allowedIntermediates.contains(Self.fingerprint(parent)) else {
            return .intermediate
        }
        if !policyObjects.isEmpty && !policyObjects.contains(where: { shim_X509_has_policy(leaf, $0) == 1 }) {
            return .policy
        }
        return nil
    }

    /// OpenSSL's chain verification, then the rules above, for `SSL_CTX_set_cert_verify_callback`
    /// (`arg`: this policy, unretained; every TLSStream keeps its context's policy alive).
    static let verifyCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32 = { store, arg in
        guard let store, let arg else { return 0 }
        guard X509_verify_cert(store) == 1 else { return 0 }
        let policy = Unmanaged<ClientCertificatePolicy>.fromOpaque(arg).takeUnretainedValue()
        guard let leaf = X509_STORE_CTX_get0_cert(store) else { return 0 }
        if let refusal = policy.refusal(leaf: leaf, chain: X509_STORE_CTX_get0_chain(store)) {
            X509_STORE_CTX_set_error(store, refusal.verifyError)
            return 0
        }
        return 1
    }

    /// `AB:CD:…` or `abcd…` (64 hex digits) as bytes; nil otherwise.
    static func parseFingerprint(_ text: String) -> [UInt8]? {
        let hex = Array(text.utf8.filter { $0 != UInt8(ascii: ":") })
        guard hex.count == 64 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var i = 0
        while i < 64 {
            guard let h = QueryParameters.hex(hex[i]), let l = QueryParameters.hex(hex[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }

    /// A dotted OID: numbers separated by single dots, at least two arcs.
    static func isOID(_ text: String) -> Bool {
        let arcs = text.split(separator: ".", omittingEmptySubsequences: false)
        return arcs.count >= 2 && arcs.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
    }
}
