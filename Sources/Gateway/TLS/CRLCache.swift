import COpenSSL
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Downloaded CRLs on disk, one PEM file per configured URL (`crl-<hash of the URL>.pem` in the
/// download directory). A CRL is installed only when it parses (DER or PEM), is signed by a CA of
/// the trust file (same subject as its issuer, signature verified with that CA's key), is current
/// (`lastUpdate` not in the future, `nextUpdate` not past) and is not older than the installed one
/// (no rollback to a CRL that revoked less). Files are replaced atomically (temporary file, fsync,
/// rename, fsync of the directory); `files` lists those present, for the TLS context.
public final class CRLCache: Sendable {
    public let directory: String
    public let urls: [String]
    let trustFile: String
    /// Installs run one at a time (the refresher and a test may race).
    private let lock = Mutex(())

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case unreadable(String)
        case unknownIssuer(String)
        case badSignature(String)
        case notCurrent(String)
        case older(String)
        case io(String)
        public var description: String {
            switch self {
            case .unreadable(let m): "not a CRL: \(m)"
            case .unknownIssuer(let m): "CRL issuer is not a configured CA: \(m)"
            case .badSignature(let m): "CRL signature does not verify with its CA: \(m)"
            case .notCurrent(let m): "CRL not current: \(m)"
            case .older(let m): "CRL older than the installed one: \(m)"
            case .io(let m): "CRL file: \(m)"
            }
        }
    }

    public enum Outcome: Sendable, Equatable {
        /// A new CRL was written; `previous` holds the former file (nil if none) for `rollback`.
        case updated(previous: [UInt8]?)
        /// Same `lastUpdate` as the installed CRL: nothing written.
        case unchanged
    }

    public init(directory: String, urls: [String], trustFile: String) {
        self.directory = directory; self.urls = urls; self.trustFile = trustFile
    }

    public func file(for url: String) -> String {
        let digest = SecretHasher.sha256(Array(url.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        return directory + "/crl-" + digest + ".pem"
    }

    /// Installed CRL files (configured URLs whose CRL has been downloaded at least once).
    public var files: [String] { urls.map(file(for:)).filter { FileManager.default.fileExists(atPath: $0) } }

    /// Verifies `bytes` as a CRL for `url` and installs it.
    public func install(_ bytes: [UInt8], for url: String, now: Date = Date()) throws(Failure) -> Outcome {
        let crl = try Self.parse(bytes)
        defer { X509_CRL_free(crl) }
        try verify(crl, now: now)
        let path = file(for: url)
        return try lock.withLock { _ throws(Failure) -> Outcome in
            let previous = FileManager.default.contents(atPath: path).map { [UInt8]($0) }
            if let previous, let installed = try? Self.parse(previous) {
                defer { X509_CRL_free(installed) }
                let order = ASN1_TIME_compare(X509_CRL_get0_lastUpdate(crl), X509_CRL_get0_lastUpdate(installed))
                if order == 0 { return .unchanged }
                if order < 0 {
                    throw .older("lastUpdate \(Self.text(X509_CRL_get0_lastUpdate(crl))) < \(Self.text(X509_CRL_get0_lastUpdate(installed)))")
                }
            }
            try Self.writeAtomically(try Self.pem(crl), to: path)
            return .updated(previous: previous)
        }
    }

    /// Puts back what `install` replaced (the new CRL made the TLS context fail to build).
    public func rollback(url: String, previous: [UInt8]?) {
        let path = file(for: url)
        lock.withLock { _ in
            if let previous { try? Self.writeAtomically(previous, to: path) } else { unlink(path) }
        }
    }

    // MARK: checks

    static func parse(_ bytes: [UInt8]) throws(Failure) -> OpaquePointer {
        let isPEM = bytes.starts(with: Array("-----BEGIN".utf8)) || String(decoding: bytes.prefix(64), as: UTF8.self).contains("-----BEGIN X509 CRL")
        let crl: OpaquePointer? = bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress, buf.count > 0 else { return nil }
            if isPEM {
                guard let bio = BIO_new_mem_buf(base, Int32(buf.count)) else { return nil }
                defer { BIO_free(bio) }
                return PEM_read_bio_X509_CRL(bio, nil, nil, nil)
            }
            var p: UnsafePointer<UInt8>? = base
            guard let parsed = d2i_X509_CRL(nil, &p, buf.count) else { return nil }
            // Trailing bytes after the DER structure: not one CRL.
            if p != base + buf.count { X509_CRL_free(parsed); return nil }
            return parsed
        }
        guard let crl else { throw .unreadable(isPEM ? "PEM without a readable X509 CRL" : "not a DER X509 CRL (\(TLSServerContext.lastError()))") }
        return crl
    }

    func verify(_ crl: OpaquePointer, now: Date) throws(Failure) {
        let issuer = X509_CRL_get_issuer(crl)
        let name = TLSStream.names(issuer).map { "\($0.0)=\($0.1)" }.joined(separator: ", ")
        guard let data = FileManager.default.contents(atPath: trustFile) else { throw .io("cannot read the trust file \(trustFile)") }
        let cas = Self.certificates(inPEM: [UInt8](data))
        defer { cas.forEach { X509_free($0) } }
        let named = cas.filter { X509_NAME_cmp(X509_get_subject_name($0), issuer) == 0 }
        guard !named.isEmpty else { throw .unknownIssuer(name) }
        // Several CAs may share a name (a renewed CA): any of their keys may have signed.
        guard named.contains(where: { cert in X509_get0_pubkey(cert).map { X509_CRL_verify(crl, $0) == 1 } ?? false }) else {
            throw .badSignature(name)
        }
        var t = time_t(now.timeIntervalSince1970)
        guard let last = X509_CRL_get0_lastUpdate(crl), X509_cmp_time(last, &t) < 0 else {
            throw .notCurrent("lastUpdate \(Self.text(X509_CRL_get0_lastUpdate(crl))) is in the future")
        }
        if let next = X509_CRL_get0_nextUpdate(crl), X509_cmp_time(next, &t) <= 0 {
            throw .notCurrent("nextUpdate \(Self.text(next)) has passed")
        }
    }

    static func certificates(inPEM pem: [UInt8]) -> [OpaquePointer] {
        pem.withUnsafeBufferPointer { buf -> [OpaquePointer] in
            guard let base = buf.baseAddress, let bio = BIO_new_mem_buf(base, Int32(buf.count)) else { return [] }
            defer { BIO_free(bio) }
            var out: [OpaquePointer] = []
            while let cert = PEM_read_bio_X509(bio, nil, nil, nil) { out.append(cert) }
            ERR_clear_error() // the loop ends on "no start line"
            return out
        }
    }

    static func text(_ t: UnsafePointer<ASN1_TIME>?) -> String {
        TLSStream.date(t).map { ISO8601DateFormatter().string(from: $0) } ?? "?"
    }

    /// The CRL re-encoded as PEM (canonical DER inside, whatever form was downloaded).
    static func pem(_ crl: OpaquePointer) throws(Failure) -> [UInt8] {
        var der: UnsafeMutablePointer<UInt8>?
        let n = i2d_X509_CRL(crl, &der)
        guard n > 0, let der else { throw .unreadable("cannot re-encode the CRL") }
        defer { shim_OPENSSL_free(der) }
        let b64 = Data(UnsafeBufferPointer(start: der, count: Int(n))).base64EncodedString(options: .lineLength64Characters)
            .replacingOccurrences(of: "\r\n", with: "\n")
        return Array("-----BEGIN X509 CRL-----\n\(b64)\n-----END X509 CRL-----\n".utf8)
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(Failure) {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch { throw .io("\(dir): \(error)") }
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("\(temporary): \(String(cString: strerror(errno)))") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { close(fd); unlink(temporary); throw .io("\(temporary): \(String(cString: strerror(errno)))") }
            written += n
        }
        guard fsync(fd) == 0, close(fd) == 0 else { unlink(temporary); throw .io("\(temporary): fsync failed") }
        guard rename(temporary, path) == 0 else { let m = String(cString: strerror(errno)); unlink(temporary); throw .io("\(path): \(m)") }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}
