/// One problem found in an input, in the shape of an `OperationOutcome.issue`. Every producer
/// (JSON/XML readers, validator, French rules, gateway) reports with this type.
public struct OutcomeIssue: Sendable, Equatable, CustomStringConvertible {
    public var severity: IssueSeverity
    public var code: IssueType
    /// A message a person can act on (`details.text`).
    public var message: String
    /// FHIRPath of the faulty element, e.g. `Task.input[3].value.ofType(CodeableConcept).coding[0]`.
    public var expression: String?
    public var location: SourceLocation?
    /// A stable identifier callers can match on (`details.coding.code`), e.g. `FR-INS-KEY`.
    public var rule: String?

    public init(severity: IssueSeverity, code: IssueType, message: String, expression: String? = nil,
                location: SourceLocation? = nil, rule: String? = nil) {
        self.severity = severity; self.code = code; self.message = message
        self.expression = expression; self.location = location; self.rule = rule
    }

    public var description: String {
        "\(severity.rawValue) [\(code.rawValue)] \(expression ?? "-")\(location.map { " (\($0))" } ?? ""): \(message)\(rule.map { " {\($0)}" } ?? "")"
    }

    public var isError: Bool { severity == .error || severity == .fatal }
}

/// FHIR R4 `issue-type` codes.
public enum IssueType: String, Sendable, CaseIterable {
    case invalid, structure, required, value, invariant, security, login, unknown, expired, forbidden, suppressed,
         processing, notSupported = "not-supported", duplicate, multipleMatches = "multiple-matches", notFound = "not-found",
         deleted, tooLong = "too-long", codeInvalid = "code-invalid", `extension`, tooCostly = "too-costly",
         businessRule = "business-rule", conflict, transient, lockError = "lock-error", noStore = "no-store",
         exception, timeout, incomplete, throttled, informational
}

/// Builds the `OperationOutcome` resource for a list of issues: one tree (`tree`), written as JSON
/// (`json`) or XML (`FHIRXMLWriter.write(tree(issues))`) by the FHIR writers.
public enum OperationOutcomeBuilder {
    /// The code system of the gateway's stable rule identifiers (`OutcomeIssue.rule`).
    public static let ruleSystem = "https://fhir-gateway.example.fr/CodeSystem/gateway-rule"

    /// The OperationOutcome for `issues` as an element tree; an empty list gives one informational issue.
    /// Each issue: severity, code, `details` (rule code in `coding`, message in `text`), `expression`,
    /// and `location` as `Line[l] Col[c]`.
    public static func tree(_ issues: [OutcomeIssue]) -> ElementTree {
        var b = ElementTreeBuilder(resourceType: "OperationOutcome")
        if issues.isEmpty {
            b.begin("issue")
            b.primitive("severity", "information")
            b.primitive("code", "informational")
            b.begin("details"); b.primitive("text", "No issues detected"); b.end()
            b.end()
        }
        for i in issues {
            b.begin("issue")
            b.primitive("severity", i.severity.rawValue)
            b.primitive("code", i.code.rawValue)
            b.begin("details")
            if let r = i.rule {
                b.begin("coding"); b.primitive("system", ruleSystem); b.primitive("code", r); b.end()
            }
            b.primitive("text", i.message)
            b.end()
            if let e = i.expression { b.primitive("expression", e) }
            if let l = i.location { b.primitive("location", "Line[\(l.line)] Col[\(l.column)]") }
            b.end()
        }
        return b.build()
    }

    /// The same outcome as FHIR JSON.
    public static func json(_ issues: [OutcomeIssue], pretty: Bool = false) -> [UInt8] {
        FHIRJSONWriter.write(tree(issues), pretty: pretty)
    }
}
