/// Method + path pattern → route. Patterns are literal segments and `{name}` captures, e.g.
/// `/fhir/Task/{id}`; the pattern text is the route's name in metrics and logs (never the raw path).
/// Each route declares what it needs from the auth step, so the chain stays visible and separate
/// from handlers: a handler never runs before its access requirement is met.
public struct Router: Sendable {
    public enum Access: Sendable {
        /// Any caller the TLS layer accepted (verified certificate), no token: /health, metadata.
        case certificate
        /// The token endpoint authenticates the client itself.
        case tokenEndpoint
        /// A certificate listed as operator in the configuration.
        case `operator`
        /// Bearer token + scope + struct_idnat (RequestAuthorizer).
        case fhir(RequestAuthorizer.Requirement)
        /// Bearer token + struct_idnat, no resource scope: an operation every authenticated caller
        /// may use (`$validate`); the name is the audited interaction.
        case fhirOperation(String)
    }

    public struct Context: Sendable {
        public var request: HTTPRequest
        public var path: [String: String]
        public var query: QueryParameters
        public var format: FHIRFormat
        public var peer: PeerCertificate?
        public var caller: AuthorizedCaller?
        public var requestId: String
        public var baseURL: String
        /// The TCP peer when it is the client itself; nil behind a reverse proxy.
        public var clientAddress: String? = nil
        /// For `.fhir` routes: the audit record of this request as the auth step filled it (caller, EG,
        /// interaction, type). A route declared `auditsInTransaction` writes it, completed, in its own
        /// write transaction (same commit as the data); the service then records nothing more on success.
        public var audit: AuditEntry?

        /// The pending audit record completed with the outcome, for a handler that audits in its transaction.
        public func auditEntry(status: Int, resourceIds: [String], outcome: String? = nil) -> AuditEntry {
            var e = audit ?? AuditEntry(requestId: requestId, interaction: "unknown", status: status)
            e.status = status; e.resourceIds = resourceIds; e.outcome = outcome
            return e
        }
    }

    public typealias Handler = @Sendable (Context) throws(FHIRError) -> HTTPResponse

    public struct Route: Sendable {
        public var method: String
        public var pattern: String
        public var access: Access
        /// The handler writes the success audit record itself, in its write transaction (`Context.audit`).
        public var auditsInTransaction: Bool
        public var handler: Handler
        let segments: [Substring]
    }

    public enum Match {
        case found(Route, [String: String])
        case methodNotAllowed([String])
        case notFound
    }

    private(set) var routes: [Route] = []

    public init() {}

    public mutating func add(_ method: String, _ pattern: String, _ access: Access, auditsInTransaction: Bool = false,
                             _ handler: @escaping Handler) {
        routes.append(Route(method: method, pattern: pattern, access: access, auditsInTransaction: auditsInTransaction, handler: handler,
                            segments: pattern.split(separator: "/")))
    }

    public func match(method: String, path: String) -> Match {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var allowed: [String] = []
        for route in routes where route.segments.count == parts.count {
            var captures: [String: String] = [:]
            let matches = zip(route.segments, parts).allSatisfy { seg, part in
                if seg.first == "{" && seg.last == "}" {
                    guard !part.isEmpty else { return false }
                    captures[String(seg.dropFirst().dropLast())] = String(part)
                    return true
                }
                return seg == part
            }
            guard matches else { continue }
            if route.method == method || (method == "HEAD" && route.method == "GET") { return .found(route, captures) }
            allowed.append(route.method)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed)
    }
}
