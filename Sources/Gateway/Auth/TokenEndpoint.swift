import Foundation
import FHIRModels

/// An RFC 6749 §5.2 error of the token endpoint: the code, the HTTP status and a French description
/// without secrets. `invalid_client` always carries `WWW-Authenticate: Basic`.
public struct OAuthError: Error, Sendable, Equatable {
    public enum Code: String, Sendable {
        case invalidRequest = "invalid_request", invalidClient = "invalid_client", invalidGrant = "invalid_grant"
        case unauthorizedClient = "unauthorized_client", unsupportedGrantType = "unsupported_grant_type"
        case invalidScope = "invalid_scope", slowDown = "slow_down", serverError = "server_error"
    }
    public var code: Code
    public var description: String
    public var retryAfter: Int?
    /// Known once the client authenticated, for the audit record.
    public var clientId: String?
    public var legalEntityId: String?

    public var status: Int {
        switch code {
        case .invalidClient: 401
        case .slowDown: 429
        case .serverError: 500
        default: 400
        }
    }

    public var response: HTTPResponse {
        var headers = TokenEndpoint.noStoreHeaders
        if code == .invalidClient { headers.append(("WWW-Authenticate", "Basic realm=\"\(TokenEndpoint.realm)\"")) }
        if let retryAfter { headers.append(("Retry-After", String(retryAfter))) }
        let body = JSONValue.object([("error", .string(code.rawValue)), ("error_description", .string(description))])
        return HTTPResponse(status: status, headers: headers, body: body.serialized())
    }
}

/// `POST /oauth/token`: OAuth 2.0 client credentials (RFC 6749 §4.4) over mutual TLS, checks in the
/// order of security.md §3.3 (first failure wins):
/// form body → one client authentication method → secret → certificate OU → enrolment (and pinned
/// thumbprint) → grant type → EJ and EG activation → scopes. The token is opaque (256 random bits),
/// stored as its SHA-256 and bound to the certificate thumbprint (RFC 8705). Every issue and every
/// refusal is audited in the same transaction as the token, or in its own.
public struct TokenEndpoint: Sendable {
    public static let realm = "fhir-gateway"
    public static let noStoreHeaders: [(name: String, value: String)] = [
        ("Content-Type", "application/json;charset=UTF-8"), ("Cache-Control", "no-store"), ("Pragma", "no-cache"),
    ]
    static let maxBody = 4096

    let store: any GatewayStore
    let lifetimeSeconds: Int
    let limiter: RateLimiter
    let metrics: Metrics
    /// Sandbox clients only on a sandbox gateway, production clients only on a production one.
    let environment: ClientEnvironment
    /// Failed client authentications from one address, within the lockout window, that lock the
    /// address (0: no lockout per address).
    let addressLockoutThreshold: Int

    public init(store: any GatewayStore, lifetimeSeconds: Int, limiter: RateLimiter, metrics: Metrics, environment: ClientEnvironment,
                addressLockoutThreshold: Int = TokenEndpoint.defaultAddressLockoutThreshold) {
        self.store = store; self.lifetimeSeconds = lifetimeSeconds; self.limiter = limiter; self.metrics = metrics
        self.environment = environment; self.addressLockoutThreshold = addressLockoutThreshold
    }

    public struct Issued: Sendable {
        public var token: String
        public var record: TokenRecord
    }

    /// `address`: the TCP peer when it is the client itself (nil behind a reverse proxy, whose
    /// address is shared by every client: no lockout per address then).
    public func handle(_ request: HTTPRequest, peer: PeerCertificate?, address: String? = nil, requestId: String) -> HTTPResponse {
        let result = Result { () throws(OAuthError) -> Issued in try issue(request, peer: peer, address: address, requestId: requestId) }
        switch result {
        case .success(let issued):
            metrics.recordToken(issued: true)
            let body = JSONValue.object([("access_token", .string(issued.token)), ("token_type", .string("Bearer")),
                                         ("expires_in", .number(String(lifetimeSeconds))),
                                         ("scope", .string(issued.record.scopes.joined(separator: " ")))])
            Log.info("token.issued", [("requestId", requestId), ("clientId", issued.record.clientId), ("ej", issued.record.legalEntityId)])
            return HTTPResponse(status: 200, headers: Self.noStoreHeaders, body: body.serialized())
        case .failure(let error):
            metrics.recordToken(issued: false)
            AuditTrail.record(store, AuditEntry(requestId: requestId, clientId: error.clientId, legalEntityId: error.legalEntityId,
                                                interaction: "token", status: error.status, outcome: error.code.rawValue))
            Log.info("token.refused", [("requestId", requestId), ("error", error.code.rawValue), ("clientId", error.clientId ?? "-")])
            return error.response
        }
    }

    /// The checks and, when they all pass, the stored token (with its audit record, one transaction).
    func issue(_ request: HTTPRequest, peer: PeerCertificate?, address: String? = nil, requestId: String) throws(OAuthError) -> Issued {
        func fail(_ code: OAuthError.Code, _ text: String) -> OAuthError { OAuthError(code: code, description: text) }
        guard let peer else { throw fail(.invalidClient, "certificat client requis") }
        // 1. The form.
        let media = request.header("Content-Type")?.split(separator: ";").first.map { $0.trimmingWhitespace().lowercased() }
        guard media == "application/x-www-form-urlencoded" else {
            throw fail(.invalidRequest, "Content-Type attendu : application/x-www-form-urlencoded")
        }
        guard request.body.count <= Self.maxBody else { throw fail(.invalidRequest, "corps de requête trop long") }
        guard let text = String(validating: request.body, as: UTF8.self),
              let form = try? QueryParameters(query: Substring(text), plusIsSpace: true) else {
            throw fail(.invalidRequest, "corps de formulaire mal encodé")
        }
        var seen = Set<String>()
        for item in form.items where !seen.insert(item.name).inserted {
            throw fail(.invalidRequest, "paramètre répété : \(item.name)")
        }
        // 2. Exactly one client authentication method.
        let basic = request.header("Authorization").flatMap(Self.basicCredentials)
        let hasAuthorization = request.header("Authorization") != nil
        let posted = form.first("client_secret").map { (form.first("client_id") ?? "", $0) }
        if hasAuthorization && basic == nil {
            throw fail(.invalidClient, "en-tête Authorization illisible (Basic attendu)")
        }
        if basic != nil && posted != nil { throw fail(.invalidRequest, "une seule méthode d'authentification du client est permise") }
        guard let (clientId, secret) = basic ?? posted else {
            throw fail(.invalidClient, "authentification du client requise (client_secret_basic ou client_secret_post)")
        }
        if let bodyId = form.first("client_id"), basic != nil, bodyId != clientId {
            throw fail(.invalidRequest, "client_id du corps différent de celui de l'authentification")
        }
        func clientFail(_ code: OAuthError.Code, _ text: String, ej: String? = nil, known: Bool = true) -> OAuthError {
            var e = fail(code, text)
            e.clientId = known ? clientId : nil; e.legalEntityId = ej
            return e
        }
        // An address locked out after repeated failures (whatever client id it tries now).
        let addressSubject = address.flatMap { addressLockoutThreshold > 0 ? "ip:" + $0 : nil }
        let addressLockout = addressSubject.flatMap { subject in try? store.read { tx in try tx.lockout(subject: subject) } }
        if let until = Self.lockedUntil(addressLockout) {
            var e = clientFail(.slowDown, "trop d'échecs d'authentification depuis cette adresse, réessayer plus tard", known: false)
            e.retryAfter = until; throw e
        }
        // Throttling per client id before the slow hash, so that guessing is bounded.
        let decision = limiter.take("token:" + clientId)
        if !decision.allowed {
            var e = clientFail(.slowDown, "trop de demandes de jeton, réessayer plus tard", known: false)
            e.retryAfter = decision.retryAfter; throw e
        }
        // 3. The secret, unless the client id is locked out after repeated failures (persisted: a
        //    restart does not reset it).
        let subject = "client:" + clientId
        let lockout = try? store.read { tx in try tx.lockout(subject: subject) }
        if let until = Self.lockedUntil(lockout) {
            var e = clientFail(.slowDown, "trop d'échecs d'authentification, client temporairement bloqué", known: false)
            e.retryAfter = until; throw e
        }
        let client: ClientRecord
        do {
            guard let c = try store.authenticateClient(id: clientId, secret: secret) else {
                recordFailure(subject: subject, previous: lockout, threshold: Self.lockoutThreshold)
                if let addressSubject { recordFailure(subject: addressSubject, previous: addressLockout, threshold: addressLockoutThreshold) }
                throw clientFail(.invalidClient, "client inconnu, désactivé ou secret invalide", known: false)
            }
            client = c
        } catch let e as OAuthError { throw e } catch { throw clientFail(.serverError, "erreur interne") }
        if lockout != nil { try? store.write { tx in try tx.clearLockout(subject: subject) } }
        guard client.environment == environment else {
            throw clientFail(.invalidClient, client.environment == .sandbox ? "client de bac à sable refusé par une passerelle de production"
                                                                             : "client de production refusé par le bac à sable")
        }
        // 4. Certificate → EJ, enrolment, pinned thumbprint.
        guard let ej = StructureId.ofCertificate(peer) else {
            throw clientFail(.invalidClient, "le certificat ne porte pas un identifiant de structure utilisable (OU)")
        }
        let now = Timestamp.now()
        let state: (ClientEnrolment?, LegalEntity?, [GeographicEntity])
        do {
            state = try store.read { tx in
                (try tx.enrolment(clientId: clientId, legalEntityId: ej.value), try tx.legalEntity(id: ej.value),
                 try tx.geographicEntities(legalEntityId: ej.value))
            }
        } catch { throw clientFail(.serverError, "erreur interne") }
        guard let enrolment = state.0 else {
            throw clientFail(.invalidClient, "le certificat (\(ej.value)) n'est pas rattaché à ce client", ej: ej.value)
        }
        if let pinned = enrolment.pinnedThumbprint,
           !SecretHasher.constantTimeEqual(Array(pinned.utf8), Array(peer.thumbprint.utf8)) {
            throw clientFail(.invalidClient, "ce certificat n'est pas celui enregistré pour ce client", ej: ej.value)
        }
        // 5. Grant type.
        guard let grant = form.first("grant_type") else { throw clientFail(.invalidRequest, "grant_type manquant", ej: ej.value) }
        guard grant == "client_credentials" else {
            throw clientFail(.unsupportedGrantType, "seul grant_type=client_credentials est accepté", ej: ej.value)
        }
        // 6. Activation.
        guard let entity = state.1, entity.isActive, state.2.contains(where: \.isActive) else {
            throw clientFail(.unauthorizedClient, "interopérabilité non activée pour cette entité juridique", ej: ej.value)
        }
        // 7. Scopes: a subset of the client's, or the client's default set.
        guard let allowed = ScopeSet(strings: client.allowedScopes) else {
            throw clientFail(.serverError, "portées du client mal enregistrées", ej: ej.value)
        }
        var granted = allowed
        if let requested = form.first("scope") {
            guard let r = ScopeSet(parsing: requested), !r.scopes.isEmpty, allowed.covers(r) else {
                throw clientFail(.invalidScope, "portée demandée non autorisée pour ce client", ej: ej.value)
            }
            granted = r
        }
        // Issue: the token, its stored hash and the audit record commit together.
        do {
            let token = try SecretHasher.newAccessToken()
            let lifetime = Int64(lifetimeSeconds)
            let record = try store.write { tx in
                let r = try tx.storeToken(token, clientId: clientId, legalEntityId: entity.id, thumbprint: peer.thumbprint,
                                          scopes: granted.strings, issuedAt: now, expiresAt: now.adding(seconds: lifetime))
                try tx.audit(AuditEntry(requestId: requestId, clientId: clientId, legalEntityId: entity.id, interaction: "token",
                                        status: 200, outcome: "issued"))
                return r
            }
            return Issued(token: token, record: record)
        } catch {
            throw clientFail(.serverError, "erreur interne", ej: ej.value)
        }
    }

    /// Lockout policy (security.md §3.9): `lockoutThreshold` failures within `lockoutWindowSeconds`
    /// lock the client id for 60 s, doubling with each further failure, at most one hour. An address
    /// (`ip:<addr>`) follows the same rule with its own threshold (`ipLockoutThreshold`, default 30:
    /// several clients of one structure may share an egress address). A success clears the client's
    /// count, never the address's: one valid secret must not reset guessing of the others.
    static let lockoutThreshold = 10
    public static let defaultAddressLockoutThreshold = 30
    static let lockoutWindowSeconds: Int64 = 600

    /// Whole seconds until `state` unlocks (for `Retry-After`), nil when it is not locked now.
    static func lockedUntil(_ state: LockoutState?, now: Timestamp = .now()) -> Int? {
        guard let state, state.isLocked(at: now), let until = state.lockedUntil else { return nil }
        return Int(max(1, (until.milliseconds - now.milliseconds + 999) / 1000))
    }

    func recordFailure(subject: String, previous: LockoutState?, threshold: Int) {
        let now = Timestamp.now()
        var state = previous ?? LockoutState(subject: subject, failures: 0, firstFailureAt: now)
        if state.lockedUntil == nil && now.milliseconds - state.firstFailureAt.milliseconds > Self.lockoutWindowSeconds * 1000 {
            state = LockoutState(subject: subject, failures: 0, firstFailureAt: now)
        }
        state.failures += 1
        if state.failures >= threshold {
            let doublings = min(state.failures - threshold, 6)
            state.lockedUntil = now.adding(seconds: min(3600, Int64(60) << Int64(doublings)))
            Log.warning("token.lockout", [("subject", subject), ("failures", String(state.failures))])
        }
        do { try store.write { tx in try tx.setLockout(state) } } catch {
            Log.error("lockout.failed", [("error", "\(error)")])
        }
    }

    /// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
    static func basicCredentials(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1].trimmingWhitespace())),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        guard let id = try? QueryParameters.decode(text[..<colon], plusIsSpace: true),
              let secret = try? QueryParameters.decode(text[text.index(after: colon)...], plusIsSpace: true),
              !id.isEmpty else { return nil }
        return (id, secret)
    }
}

/// Audit writes outside a request's own transaction (refusals): a failure to audit is logged, never
/// hidden, and never turns a refusal into a success.
public enum AuditTrail {
    public static func record(_ store: any GatewayStore, _ entry: AuditEntry) {
        do { try store.write { tx in try tx.audit(entry) } } catch {
            Log.error("audit.failed", [("interaction", entry.interaction), ("error", "\(error)")])
        }
    }
}
