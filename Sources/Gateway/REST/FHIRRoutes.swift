import Foundation
import FHIRModels

/// The FHIR API as it exists now. Later flows add their routes here; `metadata` must list exactly
/// the routes registered (the test compares them).
enum FHIRRoutes {
    /// Resource interactions served: (type, interaction, path pattern).
    static let interactions: [(type: String, interaction: FHIRInteraction, pattern: String)] = [
        ("DocumentReference", .create, "/fhir/DocumentReference"),
        ("DocumentReference", .search, "/fhir/DocumentReference"),
        ("DocumentReference", .read, "/fhir/DocumentReference/{id}"),
        ("Consent", .create, "/fhir/Consent"),
        ("Task", .create, "/fhir/Task"),
        ("Task", .search, "/fhir/Task"),
        ("Task", .read, "/fhir/Task/{id}"),
        ("HealthcareService", .search, "/fhir/HealthcareService"),
        ("HealthcareService", .read, "/fhir/HealthcareService/{id}"),
    ]
    /// Type-level operations: (type, name, interaction whose scope they need, path pattern).
    static let operations: [(type: String, name: String, interaction: FHIRInteraction, pattern: String)] = [
        ("Task", "reprise", .create, "/fhir/Task/$reprise"),
    ]
    /// Search parameters accepted on every `search` (anything else is 400 not-supported, security.md §3.7.6).
    static let searchParameters: [(name: String, type: String)] = [("_lastUpdated", "date"), ("_count", "number"), ("_elements", "string"),
                                                                   ("include-finished", "token")]
    /// Types whose search is served elsewhere and takes its own parameters (the ROR unit mirror).
    static let typeSearchParameters: [String: [(name: String, type: String)]] = ["HealthcareService": HealthcareServiceRoutes.searchParameters]
    static let controlParameters: Set<String> = ["_format", "_cursor"]

    /// What a search of one type accepts and always applies.
    struct SearchSpec: Sendable {
        /// Token parameters, each matched against the search key of the same name (`code`, `system|code`, `|code`).
        var tokens: [String] = []
        /// Keys every result carries: flow 5 returns only the event copies of a tenant, never its own Tasks.
        var fixedKeys: [SearchKey] = []
    }
    /// The SDO profiles the flows validate against (v4.0.7 canonicals; 4.0.5 `sdo-task` is accepted too).
    static let supportedProfiles: [String: String] = [
        "DocumentReference": "https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-document-reference",
        "Consent": "https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-consent",
        "Task": "https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-task",
    ]
    static let searchSpecs: [String: SearchSpec] = [
        "DocumentReference": SearchSpec(tokens: ["identifier", "type"]),
        "Task": SearchSpec(fixedKeys: [SearchKey("origin", "event")]),
    ]

    /// Oldest `_lastUpdated` lower bound a poll may ask for (first connection: J-30).
    static let maxWindowDays = 30.0

    static func register(in r: inout Router, store: any GatewayStore, handicap: HandicapFlows, elements: ElementsFilter) {
        r.add("GET", "/fhir/metadata", .certificate) { ctx in
            FHIRResponse.resource(capabilityStatement(baseURL: ctx.baseURL), format: ctx.format)
        }
        // SMART discovery and RFC 8414 metadata: the same facts as the CapabilityStatement's security.
        for path in ["/fhir/.well-known/smart-configuration", "/.well-known/oauth-authorization-server"] {
            r.add("GET", path, .certificate) { ctx in
                HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: discovery(baseURL: ctx.baseURL).serialized())
            }
        }
        // Module Handicap: the MDPH's intake, flows 1–5, recovery (docs/handicap-flows.md).
        r.add("POST", "/fhir/DocumentReference", .fhir(.init("DocumentReference", .create)), auditsInTransaction: true) { ctx throws(FHIRError) in
            try handicap.postDocument(ctx)
        }
        r.add("POST", "/fhir/Consent", .fhir(.init("Consent", .create)), auditsInTransaction: true) { ctx throws(FHIRError) in
            try handicap.postConsent(ctx)
        }
        r.add("POST", "/fhir/Task", .fhir(.init("Task", .create)), auditsInTransaction: true) { ctx throws(FHIRError) in
            try handicap.postTask(ctx)
        }
        r.add("POST", "/fhir/Task/$reprise", .fhir(.init("Task", .create)), auditsInTransaction: true) { ctx throws(FHIRError) in
            try handicap.recoveryRequest(ctx)
        }
        for type in ["DocumentReference", "Task"] {
            r.add("GET", "/fhir/\(type)", .fhir(.init(type, .search))) { ctx throws(FHIRError) in
                try search(ctx, type: type, store: store, elements: elements)
            }
            r.add("GET", "/fhir/\(type)/{id}", .fhir(.init(type, .read))) { ctx throws(FHIRError) in
                try read(ctx, type: type, store: store)
            }
        }
        r.add("GET", "/fhir/HealthcareService", .fhir(.init("HealthcareService", .search))) { ctx throws(FHIRError) in
            try HealthcareServiceRoutes.search(ctx, store: store)
        }
        r.add("GET", "/fhir/HealthcareService/{id}", .fhir(.init("HealthcareService", .read))) { ctx throws(FHIRError) in
            try HealthcareServiceRoutes.read(ctx, store: store)
        }
    }

    static func storeFailure(_ error: any Error) -> FHIRError {
        Log.error("store.failed", [("error", "\(error)")])
        return FHIRError(status: 500, code: .exception, rule: "STORE", "erreur interne de stockage")
    }

    static func parse(_ stored: StoredResource) throws(FHIRError) -> ElementTree {
        do { return try FHIRJSONReader.read(stored.body) } catch {
            Log.error("store.unreadable", [("type", stored.type), ("id", stored.id)])
            throw FHIRError(status: 500, code: .exception, rule: "STORE", "ressource stockée illisible")
        }
    }

    static func read(_ ctx: Router.Context, type: String, store: any GatewayStore) throws(FHIRError) -> HTTPResponse {
        guard let caller = ctx.caller, let id = ctx.path["id"] else { throw FHIRError(status: 500, code: .exception, rule: "ROUTE", "route mal déclarée") }
        let found: StoredResource?
        do { found = try store.read { tx in try tx.read(tenant: caller.tenant, type: type, id: id) } } catch { throw storeFailure(error) }
        // Outside the perimeter and absent look the same (security.md §3.7.5: 404, existence does not leak).
        guard let found else { throw FHIRError(status: 404, code: .notFound, rule: "NOT-FOUND", "\(type)/\(id) introuvable") }
        var response = FHIRResponse.resource(try parse(found), format: ctx.format)
        response.headers.append(contentsOf: FHIRResponse.versionHeaders(found))
        return response
    }

    static func search(_ ctx: Router.Context, type: String, store: any GatewayStore, elements: ElementsFilter) throws(FHIRError) -> HTTPResponse {
        guard let caller = ctx.caller else { throw FHIRError(status: 500, code: .exception, rule: "ROUTE", "route mal déclarée") }
        let spec = searchSpecs[type] ?? SearchSpec()
        var bounds: [LastUpdatedBound] = []
        var keys = spec.fixedKeys
        var subset: Set<String>?
        var includeFinished = false
        var count = PageSize.defaultSize
        let oldest = Date().addingTimeInterval(-maxWindowDays * 86400)
        for (name, value) in ctx.query.items {
            switch name {
            case "_lastUpdated":
                let bound: DateBound
                do { bound = try DateBound.parse(value) } catch {
                    throw FHIRError(status: 400, code: .value, rule: "SEARCH-VALUE", error.description)
                }
                func ts(_ d: Date) -> Timestamp { Timestamp(milliseconds: Int64((d.timeIntervalSince1970 * 1000).rounded(.down))) }
                switch bound.comparator {
                case .gt: bounds.append(.init(.ge, ts(bound.end)))
                case .ge: bounds.append(.init(.ge, ts(bound.start)))
                case .lt: bounds.append(.init(.lt, ts(bound.start)))
                case .le: bounds.append(.init(.lt, ts(bound.end)))
                default:
                    throw FHIRError(status: 400, code: .notSupported, rule: "SEARCH-PREFIX", "_lastUpdated accepte les préfixes gt, ge, lt, le")
                }
                if bound.comparator == .gt || bound.comparator == .ge, bound.start < oldest {
                    throw FHIRError(status: 400, code: .value, rule: "SEARCH-WINDOW", "_lastUpdated ne peut remonter à plus de 30 jours")
                }
            case "_count":
                do { count = try PageSize.parse(value) } catch { throw FHIRError(status: 400, code: .value, rule: "SEARCH-VALUE", error.description) }
            case "_elements":
                subset = (subset ?? []).union(try elements.parse(value, type: type))
            case "include-finished":
                guard value == "true" || value == "false" else {
                    throw FHIRError(status: 400, code: .value, rule: "SEARCH-VALUE", "include-finished vaut true ou false")
                }
                includeFinished = value == "true"
            case let n where spec.tokens.contains(n):
                // One value per parameter (a comma means OR in FHIR; the flows never need it).
                guard !value.isEmpty, !value.contains(",") else {
                    throw FHIRError(status: 400, code: .value, rule: "SEARCH-VALUE", "\(n) : une seule valeur [système|]code attendue")
                }
                keys.append(SearchKey(n, value))
            case let n where controlParameters.contains(n):
                continue
            default:
                throw FHIRError(status: 400, code: .notSupported, rule: "SEARCH-PARAMETER", "paramètre de recherche non pris en charge : \(name)")
            }
        }
        // Polling (a lower _lastUpdated bound: flows 1 and 5) hides finished notifications (LIFE-2) unless asked.
        let polling = bounds.contains { $0.comparator == .ge || $0.comparator == .gt }
        let page: SearchPage
        do {
            page = try store.read { tx in
                try tx.search(SearchQuery(tenant: caller.tenant, type: type, keys: keys, lastUpdated: bounds, count: max(count, 1),
                                          cursor: ctx.query.first("_cursor"), applyMasks: polling && !includeFinished))
            }
        } catch StoreError.invalidCursor {
            throw FHIRError(status: 400, code: .value, rule: "SEARCH-CURSOR", "_cursor invalide")
        } catch { throw storeFailure(error) }
        var entries: [(id: String, tree: ElementTree)] = []
        for stored in page.resources where count > 0 {
            let tree = try parse(stored)
            entries.append((stored.id, subset.map { elements.apply(tree, keeping: $0) } ?? tree))
        }
        return searchset(ctx, type: type, total: nil, next: page.next, entries: entries)
    }

    /// The searchset of a type's search, in the negotiated format (`FHIRResponse.searchset` builds it).
    static func searchset(_ ctx: Router.Context, type: String, total: Int?, next: String?,
                          entries: [(id: String, tree: ElementTree)]) -> HTTPResponse {
        let bundle = FHIRResponse.searchset(baseURL: ctx.baseURL, type: type, query: ctx.query, total: total, next: next,
                                            entries: entries.map { ("\(ctx.baseURL)/fhir/\(type)/\($0.id)", $0.tree) })
        return FHIRResponse.resource(bundle, format: ctx.format)
    }

    static func escape(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    /// The scopes that have a route: one `system/<Type>.<letters>` per type, letters in `cruds` order.
    static var resourceTypes: [String] {
        var types: [String] = []
        for i in interactions where !types.contains(i.type) { types.append(i.type) }
        return types
    }

    static var scopesServed: [String] {
        resourceTypes.map { type in
            let letters = Set(interactions.filter { $0.type == type }.map(\.interaction.permission))
            return "system/\(type)." + String("cruds".filter { letters.contains($0) })
        }
    }

    static func discovery(baseURL: String) -> JSONValue {
        .object([
            ("issuer", .string(baseURL)),
            ("token_endpoint", .string("\(baseURL)/oauth/token")),
            ("grant_types_supported", .array([.string("client_credentials")])),
            ("token_endpoint_auth_methods_supported", .array([.string("client_secret_basic"), .string("client_secret_post")])),
            ("tls_client_certificate_bound_access_tokens", .bool(true)),
            ("scopes_supported", .array(scopesServed.map { .string($0) })),
            ("capabilities", .array([.string("client-confidential-symmetric")])),
        ])
    }

    /// Exactly what is served now: mTLS + OAuth client credentials, JSON and XML, and the resource
    /// interactions of `interactions`. The token URL is in the security description and in the SMART
    /// discovery document: SMART's `oauth-uris` extension requires an `authorize` URL, which a
    /// client-credentials-only server does not have, so it is not used (the statement stays valid R4).
    static func capabilityStatement(baseURL: String) -> ElementTree {
        var b = ElementTreeBuilder(resourceType: "CapabilityStatement")
        b.primitive("status", "active")
        b.primitive("date", "2026-01-01")
        b.primitive("publisher", "fhir-gateway")
        b.primitive("kind", "instance")
        b.begin("software"); b.primitive("name", "fhir-gateway"); b.end()
        b.begin("implementation"); b.primitive("description", "Passerelle FHIR R4 de la plateforme d'orientation"); b.primitive("url", "\(baseURL)/fhir"); b.end()
        b.primitive("fhirVersion", "4.0.1")
        b.primitive("format", "json")
        b.primitive("format", "xml")
        b.begin("rest")
        b.primitive("mode", "server")
        b.begin("security")
        b.primitive("cors", false)
        b.begin("service")
        b.begin("coding"); b.primitive("system", "http://terminology.hl7.org/CodeSystem/restful-security-service"); b.primitive("code", "SMART-on-FHIR"); b.end()
        b.end()
        b.primitive("description", "TLS mutuel (certificat IGC-Santé ORG AUTH_CLI) puis OAuth 2.0 client credentials ; jeton Bearer lié au certificat (RFC 8705) ; en-tête struct_idnat = 1 + FINESS EG. Jeton : \(baseURL)/oauth/token ; découverte : \(baseURL)/fhir/.well-known/smart-configuration.")
        b.end()
        for type in resourceTypes {
            b.begin("resource")
            b.primitive("type", type)
            if let profile = supportedProfiles[type] { b.primitive("supportedProfile", profile) }
            for i in interactions where i.type == type {
                b.begin("interaction"); b.primitive("code", i.interaction == .search ? "search-type" : i.interaction.rawValue); b.end()
            }
            if interactions.contains(where: { $0.type == type && $0.interaction == .search }) {
                let params = typeSearchParameters[type] ?? (searchParameters + (searchSpecs[type]?.tokens ?? []).map { ($0, "token") })
                for p in params { b.begin("searchParam"); b.primitive("name", p.name); b.primitive("type", p.type); b.end() }
            }
            for o in operations where o.type == type {
                b.begin("operation"); b.primitive("name", o.name)
                b.primitive("definition", "https://fhir-gateway.example.fr/OperationDefinition/\(o.type)-\(o.name)"); b.end()
            }

            b.end()
        }
        AuditEventRoutes.describe(in: &b)
        ValidateRoutes.describe(in: &b)
        b.end()
        return b.build()
    }
}
