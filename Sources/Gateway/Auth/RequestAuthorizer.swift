import FHIRModels

/// Who is calling, once every check of security.md §3.7 passed: the token (client, EJ, scopes,
/// bound certificate) and the establishment (EG) named by `struct_idnat`, active right now.
public struct AuthorizedCaller: Sendable {
    public var token: TokenRecord
    public var client: ClientRecord
    public var legalEntity: LegalEntity
    public var establishment: GeographicEntity
    /// The store tenant of this call: the EG's Struct_IdNat.
    public var tenant: String { establishment.id }
}

/// The authorisation step of the chain (TLS → HTTP → **auth** → route → handler) for FHIR calls:
/// bearer token valid and bound to this connection's certificate (RFC 8705), scope covering the
/// interaction, `struct_idnat` naming an activated EG of the token's EJ, client and EJ still active
/// (live state, read in one snapshot), then the per-client rate limit. Refusals are `FHIRError`s
/// with the statuses of security.md §3.11; the caller audits them.
public struct RequestAuthorizer: Sendable {
    public static let structureHeader = "struct_idnat"
    let store: any GatewayStore
    let limiter: RateLimiter

    public init(store: any GatewayStore, limiter: RateLimiter) { self.store = store; self.limiter = limiter }

    /// What the route needs: the interaction on a resource type.
    public struct Requirement: Sendable, Equatable {
        public var resourceType: String
        public var interaction: FHIRInteraction
        public init(_ resourceType: String, _ interaction: FHIRInteraction) { self.resourceType = resourceType; self.interaction = interaction }
        var scope: String { "system/\(resourceType).\(interaction.permission)" }
    }

    /// Partial knowledge of the caller when a refusal happens, for the audit record.
    public struct Refusal: Error, Sendable {
        public var error: FHIRError
        public var clientId: String?
        public var legalEntityId: String?
        public var establishmentId: String?
    }

    static func bearerChallenge(_ error: String? = nil, _ description: String? = nil, scope: String? = nil) -> (name: String, value: String) {
        var v = "Bearer realm=\"\(TokenEndpoint.realm)\""
        if let error { v += ", error=\"\(error)\"" }
        if let description { v += ", error_description=\"\(description)\"" }
        if let scope { v += ", scope=\"\(scope)\"" }
        return ("WWW-Authenticate", v)
    }

    /// `need` nil: an operation every authenticated caller may use (`$validate`): every check but the scope.
    public func authorize(_ request: HTTPRequest, query: QueryParameters, peer: PeerCertificate?,
                          need: Requirement?, now: Timestamp = .now()) throws(Refusal) -> AuthorizedCaller {
        var refusal = Refusal(error: FHIRError(status: 500, code: .exception, rule: "AUTH-INTERNAL", "erreur interne"))
        func refuse(_ e: FHIRError) -> Refusal { var r = refusal; r.error = e; return r }
        // Bearer token: one Authorization header, never in the query string.
        if query.first("access_token") != nil {
            throw refuse(FHIRError(status: 400, code: .security, rule: "AUTH-TOKEN-IN-QUERY",
                                   "le jeton d'accès ne doit pas figurer dans l'URL", headers: [Self.bearerChallenge("invalid_request")]))
        }
        let authorizations = request.headers.filter { $0.name.caseInsensitiveEquals("Authorization") }
        guard !authorizations.isEmpty else {
            throw refuse(FHIRError(status: 401, code: .login, rule: "AUTH-TOKEN-MISSING",
                                   "jeton d'accès requis (Authorization: Bearer)", headers: [Self.bearerChallenge()]))
        }
        let parts = authorizations[0].value.split(separator: " ", maxSplits: 1)
        guard authorizations.count == 1, parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw refuse(FHIRError(status: 400, code: .security, rule: "AUTH-TOKEN-MALFORMED",
                                   "un seul en-tête Authorization: Bearer est attendu", headers: [Self.bearerChallenge("invalid_request")]))
        }
        let token = String(parts[1].trimmingWhitespace())
        guard let peer else {
            throw refuse(FHIRError(status: 401, code: .security, rule: "AUTH-TOKEN-BINDING", "certificat client requis",
                                   headers: [Self.bearerChallenge("invalid_token", "token not bound to this certificate")]))
        }
        let header = request.headers.filter { $0.name.caseInsensitiveEquals(Self.structureHeader) }.map(\.value)
        // One snapshot of the live registry for every check.
        let snapshot: (TokenLookup, ClientRecord?, LegalEntity?, GeographicEntity?)
        do {
            snapshot = try store.read { tx in
                let lookup = try tx.lookupToken(token, now: now)
                guard case .valid(let record) = lookup else { return (lookup, nil, nil, nil) }
                let eg = header.count == 1 ? try tx.geographicEntity(id: header[0]) : nil
                return (lookup, try tx.client(id: record.clientId), try tx.legalEntity(id: record.legalEntityId), eg)
            }
        } catch { throw refusal }
        let record: TokenRecord
        switch snapshot.0 {
        case .valid(let r): record = r
        case .expired(let r), .revoked(let r):
            refusal.clientId = r.clientId; refusal.legalEntityId = r.legalEntityId
            let expired: Bool = if case .expired = snapshot.0 { true } else { false }
            throw refuse(FHIRError(status: 401, code: expired ? .expired : .security, rule: expired ? "AUTH-TOKEN-EXPIRED" : "AUTH-TOKEN-REVOKED",
                                   expired ? "jeton d'accès expiré" : "jeton d'accès révoqué",
                                   headers: [Self.bearerChallenge("invalid_token", expired ? "token expired" : "token revoked")]))
        case .unknown:
            throw refuse(FHIRError(status: 401, code: .security, rule: "AUTH-TOKEN-UNKNOWN", "jeton d'accès inconnu",
                                   headers: [Self.bearerChallenge("invalid_token", "unknown token")]))
        }
        refusal.clientId = record.clientId; refusal.legalEntityId = record.legalEntityId
        guard record.isBound(to: peer.thumbprint) else {
            throw refuse(FHIRError(status: 401, code: .security, rule: "AUTH-TOKEN-BINDING",
                                   "ce jeton a été délivré à un autre certificat client",
                                   headers: [Self.bearerChallenge("invalid_token", "token not bound to this certificate")]))
        }
        guard let client = snapshot.1, client.isActive, let ej = snapshot.2, ej.isActive else {
            throw refuse(FHIRError(status: 401, code: .security, rule: "AUTH-CLIENT-INACTIVE",
                                   "client ou entité juridique désactivé depuis la délivrance du jeton",
                                   headers: [Self.bearerChallenge("invalid_token", "client or legal entity no longer active")]))
        }
        if let need, ScopeSet(strings: record.scopes)?.allows(need.interaction, on: need.resourceType) != true {
            throw refuse(FHIRError(status: 403, code: .forbidden, rule: "AUTH-SCOPE",
                                   "la portée du jeton ne couvre pas \(need.scope)",
                                   headers: [Self.bearerChallenge("insufficient_scope", scope: need.scope)]))
        }
        // struct_idnat: exactly one well-formed value, an activated EG of this EJ.
        guard header.count == 1 else {
            throw refuse(FHIRError(status: 400, code: header.isEmpty ? .required : .value, rule: "AUTH-STRUCT-IDNAT",
                                   header.isEmpty ? "en-tête struct_idnat requis (1 + FINESS EG)" : "un seul en-tête struct_idnat est permis"))
        }
        guard StructureId(header[0])?.kind == .finess else {
            throw refuse(FHIRError(status: 400, code: .value, rule: "AUTH-STRUCT-IDNAT", "struct_idnat doit valoir 1 + FINESS EG (10 caractères)"))
        }
        refusal.establishmentId = header[0]
        guard let eg = snapshot.3, eg.legalEntityId == record.legalEntityId else {
            throw refuse(FHIRError(status: 403, code: .forbidden, rule: "AUTH-EG-FOREIGN",
                                   "l'établissement \(header[0]) n'appartient pas à l'entité juridique du jeton"))
        }
        guard eg.isActive else {
            throw refuse(FHIRError(status: 403, code: .forbidden, rule: "AUTH-EG-INACTIVE",
                                   "l'interopérabilité n'est pas activée pour l'établissement \(eg.id)"))
        }
        let decision = limiter.take("fhir:\(record.clientId)|\(record.legalEntityId)")
        guard decision.allowed else {
            throw refuse(FHIRError(status: 429, code: .throttled, rule: "AUTH-RATE-LIMIT", "trop de requêtes, réessayer plus tard",
                                   headers: [("Retry-After", String(decision.retryAfter))]))
        }
        return AuthorizedCaller(token: record, client: client, legalEntity: ej, establishment: eg)
    }
}
