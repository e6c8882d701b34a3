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

    public init(status: Int, code: IssueType, rule: String, _ message: String, headers: [(name: String, value: String)] = []) {
        self.status = status; self.code = code; self.rule = rule; self.message = message; self.headers = headers
    }

    public static func == (a: FHIRError, b: FHIRError) -> Bool {
        a.status == b.status && a.code == b.code && a.rule == b.rule && a.message == b.message
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }

    public var issue: OutcomeIssue { OutcomeIssue(severity: .error, code: code, message: message, rule: rule) }

    public func response(format: FHIRFormat) -> HTTPResponse {
        var r = FHIRResponse.resource(OperationOutcomeBuilder.tree([issue]), status: status, format: format)
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
}
