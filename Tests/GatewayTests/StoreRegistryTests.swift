import Testing
@testable import Gateway

@Suite struct StoreRegistryTests {
    let dir = StoreTempDir()

    static let iterations = SecretHasher.minimumIterations

    @Test func secretHashingAcceptsTheRightSecretOnly() throws {
        let secret = try SecretHasher.newClientSecret()
        #expect(secret.hasPrefix("vtcs_") && secret.utf8.count == 5 + 43)
        let h1 = try SecretHasher.hash(secret, iterations: Self.iterations)
        let h2 = try SecretHasher.hash(secret, iterations: Self.iterations)
        #expect(h1.salt != h2.salt && h1.hash != h2.hash)  // salted
        #expect(h1.hash.count == 32)
        #expect(try SecretHasher.verify(secret, against: [h1]))
        #expect(try !SecretHasher.verify(secret + "x", against: [h1]))
        #expect(try !SecretHasher.verify(String(secret.dropLast()), against: [h1]))
        #expect(try !SecretHasher.verify(secret, against: []))
        // Expired hashes no longer match.
        var expired = h1
        expired.expiresAt = Timestamp.now().adding(seconds: -1)
        #expect(try !SecretHasher.verify(secret, against: [expired]))
        #expect(throws: StoreError.self) { try SecretHasher.hash(secret, iterations: 1000) }
        // PBKDF2-HMAC-SHA256 known answer (RFC 7914 §11 test vector, 1 iteration, first 32 bytes).
        let kat = try SecretHasher.pbkdf2("passwd", salt: Array("salt".utf8), iterations: 1)
        #expect(kat.prefix(8) == [0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f])
    }

    /// Every live candidate is compared (no early exit on the first match), through the comparator.
    @Test func verificationComparesEveryCandidate() throws {
        let secret = "vtcs_secret-under-test"
        let hashes = [try SecretHasher.hash(secret, iterations: Self.iterations), try SecretHasher.hash("other", iterations: Self.iterations)]
        var calls = 0
        let ok = try SecretHasher.verify(secret, against: hashes, now: .now()) { a, b in
            calls += 1
            return SecretHasher.constantTimeEqual(a, b)
        }
        #expect(ok && calls == 2)
    }

    @Test func constantTimeCompare() {
        #expect(SecretHasher.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!SecretHasher.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!SecretHasher.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(SecretHasher.constantTimeEqual([], []))
        #expect(SecretHasher.base64url([0xfb, 0xff]) == "-_8")
        #expect(SecretHasher.sha256(Array("abc".utf8)).prefix(4) == [0xba, 0x78, 0x16, 0xbf])
    }

    func seed(_ store: SQLiteStore, secret: String) throws {
        let hash = try SecretHasher.hash(secret, iterations: Self.iterations)
        try store.write { tx in
            try tx.upsertClient(ClientRecord(clientId: "vt-ed-1", name: "DUI one", role: .dui, environment: .production,
                                             allowedScopes: ["system/DocumentReference.rs", "system/Task.cru"], createdAt: .now()))
            try tx.addSecret(clientId: "vt-ed-1", hash)
            try tx.upsertLegalEntity(LegalEntity(id: "1990000003", name: "Association"))
            try tx.upsertGeographicEntity(GeographicEntity(id: StoreFixtures.egA, legalEntityId: "1990000003", name: "IME A"))
            try tx.upsertGeographicEntity(GeographicEntity(id: StoreFixtures.egB, legalEntityId: "1990000003", name: "ESAT B"))
            try tx.enrol(ClientEnrolment(clientId: "vt-ed-1", legalEntityId: "1990000003", pinnedThumbprint: nil))
        }
    }

    @Test func registryClientsEntitiesActivationAndAuthentication() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        let secret = try SecretHasher.newClientSecret()
        try seed(store, secret: secret)

        #expect(try store.authenticateClient(id: "vt-ed-1", secret: secret)?.role == .dui)
        #expect(try store.authenticateClient(id: "vt-ed-1", secret: "vtcs_wrong") == nil)
        #expect(try store.authenticateClient(id: "unknown", secret: secret) == nil)

        let at = Timestamp(milliseconds: 1_767_225_600_000)
        try store.write { tx in
            try tx.activateLegalEntity(id: "1990000003", by: "operator:alice", at: at)
            try tx.activateGeographicEntity(id: StoreFixtures.egA, by: "referent:bob", at: at)
        }
        try store.read { tx throws in
            let ej = try tx.legalEntity(id: "1990000003")
            #expect(ej?.isActive == true && ej?.activatedAt == at && ej?.activatedBy == "operator:alice")
            let egs = try tx.geographicEntities(legalEntityId: "1990000003")
            #expect(egs.map(\.id) == [StoreFixtures.egA, StoreFixtures.egB])
            #expect(egs.map(\.isActive) == [true, false])
            #expect(try tx.enrolment(clientId: "vt-ed-1", legalEntityId: "1990000003") != nil)
            #expect(try tx.enrolment(clientId: "vt-ed-1", legalEntityId: "1990000004") == nil)
            #expect(try tx.client(id: "vt-ed-1")?.allowedScopes == ["system/DocumentReference.rs", "system/Task.cru"])
        }
        try store.write { tx in
            try tx.suspendLegalEntity(id: "1990000003", at: at.adding(seconds: 60))
            try tx.deactivateGeographicEntity(id: StoreFixtures.egA, at: at.adding(seconds: 60))
        }
        try store.read { tx throws in
            #expect(try tx.legalEntity(id: "1990000003")?.isActive == false)
            #expect(try tx.geographicEntity(id: StoreFixtures.egA)?.isActive == false)
        }
        // Unknown entities, malformed ids and an EG of an unknown EJ are refused.
        #expect(throws: StoreError.notFound(type: "LegalEntity", id: "1990000099")) {
            try store.write { tx in try tx.activateLegalEntity(id: "1990000099", by: "x", at: at) }
        }
        #expect(throws: StoreError.self) { try store.write { tx in try tx.upsertLegalEntity(LegalEntity(id: "3123", name: "short SIRET")) } }
        #expect(throws: StoreError.self) { try store.write { tx in try tx.upsertLegalEntity(LegalEntity(id: "2123456789", name: "SIREN prefix")) } }
        #expect(throws: StoreError.self) {
            try store.write { tx in try tx.upsertGeographicEntity(GeographicEntity(id: "1990000100", legalEntityId: "1990000098", name: "orphan")) }
        }
        try store.write { tx in try tx.upsertLegalEntity(LegalEntity(id: "312345678901234", name: "by SIRET")) }

        // A disabled client no longer authenticates.
        try store.write { tx in try tx.setClientDisabled(clientId: "vt-ed-1", at: .now()) }
        #expect(try store.authenticateClient(id: "vt-ed-1", secret: secret) == nil)
    }

    @Test func secretRotationKeepsTheTwoNewest() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        let s1 = try SecretHasher.newClientSecret()
        try seed(store, secret: s1)
        let s2 = try SecretHasher.newClientSecret(), s3 = try SecretHasher.newClientSecret()
        let h2 = try SecretHasher.hash(s2, iterations: Self.iterations)
        try store.write { tx in try tx.addSecret(clientId: "vt-ed-1", h2) }
        #expect(try store.authenticateClient(id: "vt-ed-1", secret: s1) != nil)
        #expect(try store.authenticateClient(id: "vt-ed-1", secret: s2) != nil)
        let h3 = try SecretHasher.hash(s3, iterations: Self.iterations)
        try store.write { tx in try tx.addSecret(clientId: "vt-ed-1", h3) }
        #expect(try store.authenticateClient(id: "vt-ed-1", secret: s1) == nil)
        #expect(try store.authenticateClient(id: "vt-ed-1", secret: s3) != nil)
        #expect(try store.read { tx in try tx.secretHashes(clientId: "vt-ed-1").count } == 2)
        #expect(throws: StoreError.notFound(type: "Client", id: "nobody")) { try store.write { tx in try tx.addSecret(clientId: "nobody", h3) } }
    }

    @Test func lockoutStatePersistsAcrossReopen() throws {
        let path = dir.file("g.db")
        let now = Timestamp(milliseconds: 1_767_225_600_000)
        do {
            let store = try SQLiteStore(path: path)
            #expect(try store.read { tx in try tx.lockout(subject: "vt-ed-1") } == nil)
            try store.write { tx in try tx.setLockout(LockoutState(subject: "vt-ed-1", failures: 10, firstFailureAt: now, lockedUntil: now.adding(seconds: 600))) }
        }
        let store = try SQLiteStore(path: path)
        let state = try #require(try store.read { tx in try tx.lockout(subject: "vt-ed-1") })
        #expect(state.failures == 10 && state.isLocked(at: now.adding(seconds: 599)) && !state.isLocked(at: now.adding(seconds: 600)))
        try store.write { tx in try tx.clearLockout(subject: "vt-ed-1") }
        #expect(try store.read { tx in try tx.lockout(subject: "vt-ed-1") } == nil)
    }

    @Test func tokensAreStoredHashedBoundAndExpire() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        try seed(store, secret: try SecretHasher.newClientSecret())
        let token = try SecretHasher.newAccessToken()
        let other = try SecretHasher.newAccessToken()
        let thumb = "aGVsbG8gd29ybGQgdGh1bWJwcmludCB4NXQjUzI1Ng"
        let issued = Timestamp(milliseconds: 1_767_225_600_000)
        let expires = issued.adding(seconds: 3600)
        try store.write { tx in
            try tx.storeToken(token, clientId: "vt-ed-1", legalEntityId: "1990000003", thumbprint: thumb,
                              scopes: ["system/Task.rs"], issuedAt: issued, expiresAt: expires)
            try tx.storeToken(other, clientId: "vt-ed-1", legalEntityId: "1990000003", thumbprint: thumb,
                              scopes: ["system/Task.rs"], issuedAt: issued, expiresAt: issued.adding(seconds: 10))
        }
        // Only the SHA-256 is on disk: the token text appears nowhere in the table.
        let stored = try store.database.read { c in try c.query("SELECT token_hash, x5t_s256, scopes, client_id FROM token") { s in (s.blob(0) ?? [], (s.text(1) ?? "") + (s.text(2) ?? "") + (s.text(3) ?? "")) } }
        #expect(stored.count == 2)
        #expect(stored.contains { $0.0 == SecretHasher.sha256(Array(token.utf8)) })
        #expect(!stored.contains { $0.1.contains(token) || $0.1.contains(other) })

        let during = issued.adding(seconds: 60)
        guard case .valid(let record) = try store.read({ tx in try tx.lookupToken(token, now: during) }) else {
            Issue.record("token should be valid"); return
        }
        #expect(record.clientId == "vt-ed-1" && record.legalEntityId == "1990000003" && record.scopes == ["system/Task.rs"])
        #expect(record.issuedAt == issued && record.expiresAt == expires)
        #expect(record.isBound(to: thumb))
        #expect(!record.isBound(to: thumb.replacingOccurrences(of: "a", with: "b")))
        #expect(try store.read { tx in try tx.lookupToken(token + "x", now: during) } == .unknown)
        #expect(try store.read { tx in try tx.lookupToken(token, now: expires) } == .expired(record))

        // Purge removes expired tokens only.
        #expect(try store.write { tx in try tx.purgeExpiredTokens(now: during) } == 1)
        #expect(try store.read { tx in try tx.lookupToken(other, now: during) } == .unknown)

        // Revocation.
        let revokedAt = during.adding(seconds: 1)
        #expect(try store.write { tx in try tx.revokeToken(token, at: revokedAt) })
        #expect(try store.write { tx in try tx.revokeToken(token, at: revokedAt) } == false)
        var revoked = record
        revoked.revokedAt = revokedAt
        #expect(try store.read { tx in try tx.lookupToken(token, now: during) } == .revoked(revoked))
        let third = try SecretHasher.newAccessToken()
        try store.write { tx in _ = try tx.storeToken(third, clientId: "vt-ed-1", legalEntityId: "1990000003", thumbprint: thumb, scopes: [], issuedAt: issued, expiresAt: expires) }
        #expect(try store.write { tx in try tx.revokeTokens(clientId: "vt-ed-1", legalEntityId: "1990000003", at: revokedAt) } == 1)
        // A token without a thumbprint (unbound) cannot be stored.
        #expect(throws: StoreError.self) {
            try store.write { tx in _ = try tx.storeToken(try SecretHasher.newAccessToken(), clientId: "vt-ed-1", legalEntityId: "1990000003", thumbprint: "", scopes: [], issuedAt: issued, expiresAt: expires) }
        }
    }
}
