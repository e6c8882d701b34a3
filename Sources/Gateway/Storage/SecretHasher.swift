import COpenSSL

/// A stored client secret: salted PBKDF2-HMAC-SHA256. Iterations are stored with each hash so the
/// cost can be raised later without invalidating existing secrets.
public struct SecretHash: Sendable, Equatable {
    public static let algorithm = "pbkdf2-sha256"
    public var iterations: Int
    public var salt: [UInt8]
    public var hash: [UInt8]
    public var createdAt: Timestamp
    public var expiresAt: Timestamp?
    public init(iterations: Int, salt: [UInt8], hash: [UInt8], createdAt: Timestamp, expiresAt: Timestamp? = nil) {
        self.iterations = iterations; self.salt = salt; self.hash = hash; self.createdAt = createdAt; self.expiresAt = expiresAt
    }
}

/// Secret and token material through OpenSSL: random generation, slow salted hashing of client
/// secrets, SHA-256 of tokens and constant-time comparison (`CRYPTO_memcmp`).
public enum SecretHasher {
    /// OWASP 2023 figure for PBKDF2-HMAC-SHA256; never below `minimumIterations`.
    public static let defaultIterations = 600_000
    public static let minimumIterations = 100_000
    static let saltLength = 16
    static let hashLength = 32

    public static func randomBytes(_ count: Int) throws(StoreError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw StoreError.crypto("RAND_bytes failed") }
        return bytes
    }

    public static func base64url(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], alphabet[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)]]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A new client secret (`vtcs_` + 32 random bytes, base64url), shown once to the editor.
    public static func newClientSecret() throws(StoreError) -> String { "vtcs_" + base64url(try randomBytes(32)) }
    /// A new opaque access token (`vtat_` + 32 random bytes, base64url).
    public static func newAccessToken() throws(StoreError) -> String { "vtat_" + base64url(try randomBytes(32)) }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        bytes.withUnsafeBufferPointer { b in _ = SHA256(b.baseAddress, b.count, &digest) }
        return digest
    }

    public static func tokenHash(_ token: String) -> [UInt8] { sha256(Array(token.utf8)) }

    /// Equal length and equal bytes, in time independent of where they differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 } }
    }

    static func pbkdf2(_ secret: String, salt: [UInt8], iterations: Int) throws(StoreError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: hashLength)
        let secretBytes = Array(secret.utf8)
        let ok = secretBytes.withUnsafeBufferPointer { s in
            s.withMemoryRebound(to: CChar.self) { chars in
                PKCS5_PBKDF2_HMAC(chars.baseAddress, Int32(chars.count), salt, Int32(salt.count), Int32(iterations),
                                  EVP_sha256(), Int32(hashLength), &out)
            }
        }
        guard ok == 1 else { throw StoreError.crypto("PKCS5_PBKDF2_HMAC failed") }
        return out
    }

    /// Hashes a secret with a fresh random salt. Slow on purpose: call it outside any store transaction.
    public static func hash(_ secret: String, iterations: Int = defaultIterations, now: Timestamp = .now(),
                            expiresAt: Timestamp? = nil) throws(StoreError) -> SecretHash {
        guard iterations >= minimumIterations else {
            throw StoreError.invalidArgument("PBKDF2 iterations \(iterations) below \(minimumIterations)")
        }
        let salt = try randomBytes(saltLength)
        return SecretHash(iterations: iterations, salt: salt, hash: try pbkdf2(secret, salt: salt, iterations: iterations),
                          createdAt: now, expiresAt: expiresAt)
    }

    /// True when `secret` matches one of the (unexpired) stored hashes. Every candidate is computed
    /// and compared in constant time; with no candidate a dummy hash is still computed, so an
    /// unknown client costs the same time as a wrong secret.
    public static func verify(_ secret: String, against hashes: [SecretHash], now: Timestamp = .now()) throws(StoreError) -> Bool {
        try verify(secret, against: hashes, now: now, compare: constantTimeEqual)
    }

    /// `compare` is injectable only so tests can observe that every candidate goes through it.
    static func verify(_ secret: String, against hashes: [SecretHash], now: Timestamp,
                       compare: ([UInt8], [UInt8]) -> Bool) throws(StoreError) -> Bool {
        let live = hashes.filter { h in h.expiresAt.map { now < $0 } ?? true }
        guard !live.isEmpty else {
            _ = try pbkdf2(secret, salt: [UInt8](repeating: 0, count: saltLength), iterations: defaultIterations)
            return false
        }
        var match = false
        for h in live {
            let candidate = try pbkdf2(secret, salt: h.salt, iterations: h.iterations)
            if compare(candidate, h.hash) { match = true }
        }
        return match
    }
}
