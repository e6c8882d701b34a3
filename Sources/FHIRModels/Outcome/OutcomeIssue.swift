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

/// Builds the `OperationOutcome` resource for a list of issues.
public enum OperationOutcomeBuilder {
    /// The code system of the gateway's stable rule identifiers (`OutcomeIssue.rule`).
    public static let ruleSystem = "https://fhir-gateway.example.fr/CodeSystem/gateway-rule"

    public static func json(_ issues: [OutcomeIssue]) -> JSONValue {
        var list: [JSONValue] = issues.map { i in
            var m: [(String, JSONValue)] = [("severity", .string(i.severity.rawValue)), ("code", .string(i.code.rawValue))]
            var details: [(String, JSONValue)] = []
            if let r = i.rule {
                details.append(("coding", .array([.object([("system", .string(ruleSystem)), ("code", .string(r))])])))
            }
            details.append(("text", .string(i.message)))
            m.append(("details", .object(details)))
            if let e = i.expression { m.append(("expression", .array([.string(e)]))) }
            if let l = i.location {
                m.append(("location", .array([.string("Line[\(l.line)] Col[\(l.column)]")])))
            }
            return .object(m)
        }
        if list.isEmpty {
            list = [.object([("severity", .string("information")), ("code", .string("informational")),
                             ("details", .object([("text", .string("No issues detected"))]))])]
        }
        return .object([("resourceType", .string("OperationOutcome")), ("issue", .array(list))])
    }
}
