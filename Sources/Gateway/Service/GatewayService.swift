import Foundation
import FHIRModels
import Synchronization
import Validation

/// The request chain, one visible path for every request:
///
///     TLS (HTTPServer: verified client certificate) → HTTP (parser) → identity (TLS peer, or a
///     verified proxy header) → route (method + path) → auth (the route's Access) → handler
///
/// then metrics, a log line, and an audit record for every refusal and every FHIR interaction.
public final class GatewayService: Sendable {
    public let configuration: GatewayConfiguration
    public let store: any GatewayStore
    public let metrics: Metrics
    /// Definitions and terminologies, loaded once at startup (`loadValidationEngine`), shared by all requests.
    public let validation: ValidationEngine
    /// The ROR unit mirror (sync engine, and the pull client when a ROR server is configured).
    public let ror: RorService
    let router: Router
    let tokens: TokenEndpoint
    let authorizer: RequestAuthorizer
    /// The TLS context whose trust store verifies proxied certificates (reverse-proxy mode).
    private let proxyVerifier: Mutex<TLSServerContext?>

    public init(configuration: GatewayConfiguration, store: any GatewayStore, validation: ValidationEngine, metrics: Metrics = Metrics(),
                proxyVerifier: TLSServerContext? = nil) {
        self.configuration = configuration
        self.store = store
        self.validation = validation
        self.metrics = metrics
        self.proxyVerifier = Mutex(proxyVerifier)
        let limiter = RateLimiter(perSecond: configuration.rateLimitPerSecond, burst: configuration.rateLimitBurst)
        // Token endpoint: 30 requests per minute per client id (security.md §3.9), its own buckets.
        let tokenLimiter = RateLimiter(perSecond: 0.5, burst: 30)
        tokens = TokenEndpoint(store: store, lifetimeSeconds: configuration.tokenLifetimeSeconds, limiter: tokenLimiter, metrics: metrics,
                               environment: configuration.sandbox ? .sandbox : .production,
                               addressLockoutThreshold: configuration.ipLockoutThreshold)
        authorizer = RequestAuthorizer(store: store, limiter: limiter)
        var r = Router()
        let tokens = self.tokens
        r.add("POST", "/oauth/token", .tokenEndpoint) { ctx in
            tokens.handle(ctx.request, peer: ctx.peer, address: ctx.clientAddress, requestId: ctx.requestId)
        }
        OperationsRoutes.register(in: &r, metrics: metrics, store: store)
        ror = RorService(configuration: configuration, store: store)
        RorRoutes.register(in: &r, ror: ror)
        let handicap = HandicapFlows(store: store, validation: validation, sandbox: configuration.sandbox)
        FHIRRoutes.register(in: &r, store: store, handicap: handicap,
                            elements: ElementsFilter(conformance: validation.conformance, types: FHIRRoutes.resourceTypes))
        HandicapAdminRoutes.register(in: &r, store: store)
        ValidateRoutes.register(in: &r, engine: validation)
        AuditEventRoutes.register(in: &r, store: store)
        SandboxRoutes.register(in: &r, store: store, engine: validation, sandbox: configuration.sandbox, directory: configuration.sandboxDirectory)
        self.router = r
    }

    /// The validator's stores from the data directory, located as the CLI does (`FHIR_GATEWAY_DATA`,
    /// else the checkout or install the executable lives in, else the current directory).
    public static func loadValidationEngine() throws -> ValidationEngine {
        let started = Date()
        let directory = DataDirectory.locate()
        let engine = try ValidationEngine.load(dataDirectory: directory)
        Log.info("validation.loaded", [("dataDirectory", directory), ("ms", String(Int(Date().timeIntervalSince(started) * 1000)))])
        return engine
    }

    /// The HTTPServer handler.
    public func handle(_ request: HTTPRequest, _ connection: ConnectionContext) -> HTTPResponse {
        let started = Date()
        let requestId = Self.newRequestId()
        let (response, route) = respond(request, connection, requestId: requestId)
        var r = response
        r.headers.append(("X-Request-ID", requestId))
        let elapsed = Date().timeIntervalSince(started)
        metrics.recordRequest(route: route, status: r.status, seconds: elapsed)
        Log.info("request", [("requestId", requestId), ("method", request.method), ("route", route), ("status", String(r.status)),
                             ("ms", String(Int(elapsed * 1000)))])
        return r
    }

    /// TLS handshake refusals (no HTTP exchange happened): counted and audited with their reason bucket.
    public func tlsRefused(_ reason: String) {
        metrics.recordTLSFailure(reason: reason)
        let bucket = Metrics.tlsFailureBucket(reason)
        AuditTrail.record(store, AuditEntry(interaction: "tls-handshake", status: 0, outcome: bucket))
        Log.info("tls.refused", [("reason", bucket)])
    }

    /// A reloaded trust store (new CRLs) for proxied certificates; no-op unless in reverse-proxy mode.
    public func replaceProxyVerifier(_ context: TLSServerContext) {
        proxyVerifier.withLock { if $0 != nil { $0 = context } }
    }

    /// Requests the HTTP layer refused before any handler (malformed, too large, too slow).
    public func httpRefused(status: Int, reason: String) {
        metrics.recordRequest(route: "unparsed", status: status, seconds: 0)
        AuditTrail.record(store, AuditEntry(interaction: "http-parse", status: status, outcome: "HTTP-\(status)"))
        Log.info("request.refused", [("status", String(status)), ("reason", reason)])
    }

    func respond(_ request: HTTPRequest, _ connection: ConnectionContext, requestId: String) -> (HTTPResponse, String) {
        let split = request.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(split[0])
        let isFHIR = path.hasPrefix("/fhir/")
        func refuse(_ e: FHIRError, route: String, format: FHIRFormat = .json, audit: AuditEntry? = nil) -> (HTTPResponse, String) {
            AuditTrail.record(store, audit ?? AuditEntry(requestId: requestId, interaction: "http", status: e.status, outcome: e.rule))
            return (e.response(format: format), route)
        }
        // Identity: the TLS peer, or (reverse-proxy mode only) a verified certificate from a trusted proxy.
        let peer: PeerCertificate?
        switch identify(request, connection) {
        case .success(let p): peer = p
        case .failure(let e): return refuse(e, route: "proxy")
        }
        guard let query = try? QueryParameters(query: split.count > 1 ? split[1] : nil) else {
            return refuse(FHIRError(status: 400, code: .invalid, rule: "HTTP-QUERY", "chaîne de requête mal encodée"), route: "unmatched")
        }
        // FHIR routes negotiate; the others (token, health, metrics, admin) answer JSON or text whatever Accept says.
        guard let format = FHIRFormat.forResponse(format: query.first("_format"), accept: request.header("Accept")) ?? (isFHIR ? nil : .json) else {
            return refuse(FHIRError(status: 406, code: .notSupported, rule: "HTTP-FORMAT",
                                    "formats proposés : application/fhir+json, application/fhir+xml"), route: "unmatched")
        }
        let route: Router.Route, captures: [String: String]
        switch router.match(method: request.method, path: path) {
        case .found(let r, let c): route = r; captures = c
        case .methodNotAllowed(let allowed):
            return refuse(FHIRError(status: 405, code: .notSupported, rule: "HTTP-METHOD", "méthode \(request.method) non prise en charge ici",
                                    headers: [("Allow", allowed.joined(separator: ", "))]), route: "unmatched", format: format)
        case .notFound:
            let message = isFHIR ? "interaction non prise en charge par cette passerelle (voir /fhir/metadata)" : "ressource HTTP inconnue"
            return refuse(FHIRError(status: 404, code: isFHIR ? .notSupported : .notFound, rule: "HTTP-ROUTE", message),
                          route: "unmatched", format: format)
        }
        var context = Router.Context(request: request, path: captures, query: query, format: format, peer: peer, caller: nil,
                                     requestId: requestId, baseURL: baseURL(request, connection),
                                     clientAddress: connection.peer != nil ? connection.remoteAddress : nil, audit: nil)
        var audit: AuditEntry?
        switch route.access {
        case .tokenEndpoint:
            break // the endpoint authenticates the client itself (and audits)
        case .certificate:
            guard peer != nil else {
                return refuse(FHIRError(status: 401, code: .login, rule: "AUTH-CERTIFICATE", "certificat client requis"), route: route.pattern, format: format)
            }
        case .operator:
            guard let peer, configuration.operatorThumbprints.contains(where: {
                SecretHasher.constantTimeEqual(Array($0.utf8), Array(peer.thumbprint.utf8))
            }) else {
                return refuse(FHIRError(status: 403, code: .forbidden, rule: "AUTH-OPERATOR", "réservé au certificat de l'opérateur"),
                              route: route.pattern, format: format)
            }
        case .fhir, .fhirOperation:
            var need: RequestAuthorizer.Requirement?
            var entry = AuditEntry(requestId: requestId, interaction: "", resourceType: captures["type"],
                                   resourceIds: captures["id"].map { [$0] } ?? [], status: 0)
            switch route.access {
            case .fhir(let n): need = n; entry.interaction = n.interaction.rawValue; entry.resourceType = n.resourceType
            case .fhirOperation(let name): entry.interaction = name
            default: break
            }
            do {
                let caller = try authorizer.authorize(request, query: query, peer: peer, need: need)
                context.caller = caller
                entry.tenant = caller.tenant; entry.clientId = caller.client.clientId
                entry.legalEntityId = caller.legalEntity.id; entry.geographicEntityId = caller.establishment.id
                audit = entry
                context.audit = entry
            } catch {
                entry.clientId = error.clientId; entry.legalEntityId = error.legalEntityId; entry.geographicEntityId = error.establishmentId
                entry.status = error.error.status; entry.outcome = error.error.rule
                return refuse(error.error, route: route.pattern, format: format, audit: entry)
            }
        }
        let response: HTTPResponse
        do {
            response = try route.handler(context)
        } catch {
            if var entry = audit { entry.status = error.status; entry.outcome = error.rule; audit = entry }
            return refuse(error, route: route.pattern, format: format, audit: audit)
        }
        if var entry = audit, !route.auditsInTransaction {
            entry.status = response.status
            AuditTrail.record(store, entry)
        }
        return (response, route.pattern)
    }

    func identify(_ request: HTTPRequest, _ connection: ConnectionContext) -> Result<PeerCertificate?, FHIRError> {
        let name = configuration.proxyCertificateHeader
        let forwarded = request.headers.filter { $0.name.caseInsensitiveEquals(name) }
        if connection.peer != nil || !configuration.reverseProxy {
            // On the TLS listener the certificate comes from our own handshake; a header claiming one is an attack.
            if !forwarded.isEmpty {
                return .failure(FHIRError(status: 400, code: .security, rule: "AUTH-PROXY-HEADER", "en-tête \(name) refusé sur cette écoute"))
            }
            return .success(connection.peer)
        }
        guard configuration.trustedProxies.contains(connection.remoteAddress) else {
            return .failure(FHIRError(status: 403, code: .security, rule: "AUTH-PROXY-UNTRUSTED", "pair non autorisé comme mandataire inverse"))
        }
        guard forwarded.count == 1, let verifier = proxyVerifier.withLock({ $0 }),
              let pem = try? QueryParameters.decode(Substring(forwarded[0].value)) else {
            return .failure(FHIRError(status: 401, code: .login, rule: "AUTH-PROXY-CERTIFICATE", "certificat client transmis par le mandataire requis"))
        }
        do {
            return .success(try CertificateVerifier.verify(pem: Array(pem.utf8), with: verifier))
        } catch {
            Log.warning("proxy.certificate.rejected", [("reason", error.description)])
            return .failure(FHIRError(status: 401, code: .security, rule: "AUTH-PROXY-CERTIFICATE", "certificat client transmis refusé"))
        }
    }

    func baseURL(_ request: HTTPRequest, _ connection: ConnectionContext) -> String {
        let host = request.header("Host").map { String(Substring($0).trimmingWhitespace()) }
        let validHost = host.flatMap { h in h.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\"") }) ? h : nil }
        return "https://\(validHost ?? "\(configuration.host):\(configuration.port)")"
    }

    static func newRequestId() -> String {
        (try? SecretHasher.randomBytes(12)).map(SecretHasher.base64url) ?? UUID().uuidString
    }
}
