/// The gateway's persistence, narrow enough for a PostgreSQL implementation later.
///
/// One request = one transaction: `write { tx in … }` commits everything the closure did (resources,
/// registry changes, tokens, audit entries) or nothing if it throws; `read { tx in … }` sees one
/// consistent snapshot. Transactions must not escape their closure. Errors: `StoreError`, and
/// whatever the closure itself throws (rethrown after ROLLBACK).
public protocol GatewayStore: Sendable {
    @discardableResult
    func write<T: Sendable>(_ body: (any StoreWriteTransaction) throws -> T) throws -> T
    @discardableResult
    func read<T: Sendable>(_ body: (any StoreReadTransaction) throws -> T) throws -> T
}

public protocol StoreReadTransaction: RorUnitMirrorReads, AuditSearchReads, RorSyncReads, HandicapReads {
    // Resources (every call is scoped to one tenant: the EG id or a sandbox tenant id).
    func read(tenant: String, type: String, id: String) throws -> StoredResource?
    func read(tenant: String, type: String, id: String, version: Int) throws -> StoredResource?
    /// All versions, newest first.
    func history(tenant: String, type: String, id: String) throws -> [StoredResource]
    func search(_ query: SearchQuery) throws -> SearchPage

    // Registry.
    func client(id: String) throws -> ClientRecord?
    func secretHashes(clientId: String) throws -> [SecretHash]
    func legalEntity(id: String) throws -> LegalEntity?
    func geographicEntity(id: String) throws -> GeographicEntity?
    func geographicEntities(legalEntityId: String) throws -> [GeographicEntity]
    func enrolment(clientId: String, legalEntityId: String) throws -> ClientEnrolment?
    func enrolments(clientId: String) throws -> [ClientEnrolment]

    // Tokens.
    func lookupToken(_ token: String, now: Timestamp) throws -> TokenLookup

    // Audit: records with sequence > `after`, oldest first.
    func auditRecords(after sequence: Int64, limit: Int) throws -> [AuditRecord]

    // Authentication lockout.
    func lockout(subject: String) throws -> LockoutState?
}

public protocol StoreWriteTransaction: StoreReadTransaction, RorUnitMirrorWrites, RorSyncWrites, HandicapWrites, SandboxWrites {
    /// New resource: server-assigned id, version 1. `body` receives the assigned meta and returns
    /// the bytes to store (with that meta written in). `keys` are the search keys of this version.
    @discardableResult
    func create(tenant: String, type: String, keys: [SearchKey], body: (ResourceMeta) throws -> [UInt8]) throws -> StoredResource
    /// New version of an existing resource; `ifMatch` (a versionId) must equal the current version when given.
    /// Throws `notFound` when the resource does not exist in this tenant.
    @discardableResult
    func update(tenant: String, type: String, id: String, ifMatch: Int?, keys: [SearchKey],
                body: (ResourceMeta) throws -> [UInt8]) throws -> StoredResource
    /// Ends the current write instant: versions written after this call take a new, later lastUpdated,
    /// as if a new transaction had begun (still committed all at once). Replays a sequence of requests
    /// atomically with the instants they would have had (the sandbox seed).
    func nextWriteInstant()

    func audit(_ entry: AuditEntry) throws

    func upsertClient(_ client: ClientRecord) throws
    /// Adds a secret hash (compute it with `SecretHasher.hash` before the transaction); keeps at most
    /// the two newest for rotation.
    func addSecret(clientId: String, _ hash: SecretHash) throws
    func removeSecrets(clientId: String, createdBefore: Timestamp) throws
    func setClientDisabled(clientId: String, at: Timestamp?) throws
    func upsertLegalEntity(_ entity: LegalEntity) throws
    func activateLegalEntity(id: String, by: String, at: Timestamp) throws
    func suspendLegalEntity(id: String, at: Timestamp) throws
    func upsertGeographicEntity(_ entity: GeographicEntity) throws
    func activateGeographicEntity(id: String, by: String, at: Timestamp) throws
    func deactivateGeographicEntity(id: String, at: Timestamp) throws
    func enrol(_ enrolment: ClientEnrolment) throws
    func unenrol(clientId: String, legalEntityId: String) throws

    /// Stores SHA-256(token) with its binding; the token itself is not stored.
    @discardableResult
    func storeToken(_ token: String, clientId: String, legalEntityId: String, thumbprint: String,
                    scopes: [String], issuedAt: Timestamp, expiresAt: Timestamp) throws -> TokenRecord
    func revokeToken(_ token: String, at: Timestamp) throws -> Bool
    /// Revokes every live token of a client (optionally only for one EJ); returns how many.
    func revokeTokens(clientId: String, legalEntityId: String?, at: Timestamp) throws -> Int
    /// Deletes tokens that expired before `now`; returns how many.
    func purgeExpiredTokens(now: Timestamp) throws -> Int

    /// Deletes every resource (all versions and search keys) of one tenant: the sandbox reset.
    /// Returns the number of resources removed. Audit records are kept.
    func purgeTenant(_ tenant: String) throws -> Int

    func setLockout(_ state: LockoutState) throws
    func clearLockout(subject: String) throws
}

extension GatewayStore {
    /// Client authentication for the token endpoint: the slow hash runs outside any transaction.
    /// Returns the client when it exists, is active and the secret matches one of its live secrets.
    /// An unknown client costs the same hashing time as a wrong secret.
    public func authenticateClient(id: String, secret: String, now: Timestamp = .now()) throws -> ClientRecord? {
        let (client, hashes) = try read { tx in (try tx.client(id: id), try tx.secretHashes(clientId: id)) }
        let ok = try SecretHasher.verify(secret, against: hashes, now: now)
        guard ok, let client, client.isActive else { return nil }
        return client
    }
}
