import Foundation
import FHIRModels

/// A refused or failed FHIR interaction: the HTTP status, the OperationOutcome issue that explains
/// it, and the headers the refusal needs (`WWW-Authenticate`, `Retry-After`).
public struct FHIRError: Error, Sendable, Equatable {
    public var status: Int
    public var code: IssueType
    public var message: String
    /// Stable identifier for clients and the audit record, e.g. `AUTH-TOKEN-BINDING`.
    public var rule: String
    public var headers: [(name: String, value: String)] = []
    /// Every issue found when there are several (a resource that fails validation); the summary
    /// fields above then describe the refusal as a whole.
    public var details: [OutcomeIssue] = []

    public init(status: Int, code: IssueType, rule: String, _ message: String, headers: [(name: String, value: String)] = [],
                details: [OutcomeIssue] = []) {
        self.status = status; self.code = code; self.rule = rule; self.message = message; self.headers = headers; self.details = details
    }

    /// 422 for a resource that parsed but breaks the profile, the terminology or a business rule:
    /// all issues are returned (warnings too), the first error names the rule in the audit.
    public static func unprocessable(_ issues: [OutcomeIssue]) -> FHIRError {
        let first = issues.first(where: \.isError) ?? issues.first
        return FHIRError(status: 422, code: first?.code ?? .processing, rule: first?.rule ?? "VALIDATION",
                         first?.message ?? "ressource non conforme", details: issues)
    }

    public static func == (a: FHIRError, b: FHIRError) -> Bool {
        a.status == b.status && a.code == b.code && a.rule == b.rule && a.message == b.message
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value) && a.details == b.details
    }

    public var issue: OutcomeIssue { OutcomeIssue(severity: .error, code: code, message: message, rule: rule) }
    public var issues: [OutcomeIssue] { details.isEmpty ? [issue] : details }

    public func response(format: FHIRFormat) -> HTTPResponse {
        var r = FHIRResponse.resource(OperationOutcomeBuilder.tree(issues), status: status, format: format)
        r.headers.append(contentsOf: headers)
        return r
    }
}

/// Responses carrying a FHIR resource in the negotiated format.
public enum FHIRResponse {
    public static func resource(_ tree: ElementTree, status: Int = 200, format: FHIRFormat) -> HTTPResponse {
        let body = format == .json ? FHIRJSONWriter.write(tree) : FHIRXMLWriter.write(tree)
        return HTTPResponse(status: status, headers: [("Content-Type", format.contentType)], body: body)
    }

    /// A `searchset` Bundle: a `self` link (the query as received), a `next` link (the same query with
    /// `_cursor=next`) when there is a next page, one `match` entry per resource.
    public static func searchset(baseURL: String, type: String, query: QueryParameters, next: String?,
                                 entries: [(fullUrl: String, resource: ElementTree)]) -> ElementTree {
        var b = ElementTreeBuilder(resourceType: "Bundle")
        b.primitive("type", "searchset")
        func link(_ relation: String, _ items: [(name: String, value: String)]) {
            b.begin("link"); b.primitive("relation", relation)
            b.primitive("url", "\(baseURL)/fhir/\(type)" + (items.isEmpty ? "" : "?" + items.map { "\(FHIRRoutes.escape($0.name))=\(FHIRRoutes.escape($0.value))" }.joined(separator: "&")))
            b.end()
        }
        link("self", query.items)
        if let next { link("next", query.items.filter { $0.name != "_cursor" } + [("_cursor", next)]) }
        for entry in entries {
            b.begin("entry")
            b.primitive("fullUrl", entry.fullUrl)
            b.copy("resource", from: entry.resource)
            b.begin("search"); b.primitive("mode", "match"); b.end()
            b.end()
        }
        return b.build()
    }

    /// A stored version's validators: `ETag: W/"<versionId>"` and `Last-Modified`.
    public static func versionHeaders(_ stored: StoredResource) -> [(name: String, value: String)] {
        [("ETag", "W/\"\(stored.versionId)\""),
         ("Last-Modified", HTTPResponse.httpDate(Date(timeIntervalSince1970: Double(stored.lastUpdated.milliseconds) / 1000)))]
    }

    /// 201 for a create (FHIR RESTful API §3.1.0.8): `Location` of the new version, `ETag`,
    /// `Last-Modified`, and the body `Prefer: return=` asks for (the resource by default).
    public static func created(_ stored: StoredResource, tree: ElementTree, baseURL: String, prefer: ReturnPreference,
                               format: FHIRFormat, informational: [OutcomeIssue] = []) -> HTTPResponse {
        var r: HTTPResponse
        switch prefer {
        case .representation: r = resource(tree, status: 201, format: format)
        case .minimal: r = HTTPResponse(status: 201, headers: [], body: [])
        case .operationOutcome:
            let done = OutcomeIssue(severity: .information, code: .informational,
                                    message: "\(stored.type)/\(stored.id) créé (version \(stored.versionId))", rule: "CREATED")
            r = resource(OperationOutcomeBuilder.tree(informational + [done]), status: 201, format: format)
        }
        r.headers.append(("Location", "\(baseURL)/fhir/\(stored.type)/\(stored.id)/_history/\(stored.versionId)"))
        r.headers.append(contentsOf: versionHeaders(stored))
        return r
    }
}
