/// The FHIR wire formats the gateway speaks, chosen from `_format`, `Accept` and `Content-Type`.
public enum FHIRFormat: String, Sendable, Equatable {
    case json, xml

    public var mimeType: String { self == .json ? "application/fhir+json" : "application/fhir+xml" }
    public var contentType: String { mimeType + "; charset=utf-8" }

    /// The format of a request body from its Content-Type; nil when it is not a FHIR format we read.
    public static func ofBody(contentType: String?) -> FHIRFormat? {
        guard let ct = contentType else { return nil }
        let media = ct.split(separator: ";").first.map { $0.trimmingWhitespace().lowercased() } ?? ""
        switch media {
        case "application/fhir+json", "application/json", "application/json+fhir": return .json
        case "application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir": return .xml
        default: return nil
        }
    }

    /// The response format: `_format` wins over `Accept`; JSON by default. nil means 406.
    public static func forResponse(format: String?, accept: String?) -> FHIRFormat? {
        if let f = format?.lowercased() {
            switch f {
            case "json", "application/json", "application/fhir+json", "application/json+fhir": return .json
            case "xml", "text/xml", "application/xml", "application/fhir+xml", "application/xml+fhir": return .xml
            default: return nil
            }
        }
        guard let accept, !accept[...].trimmingWhitespace().isEmpty else { return .json }
        // Highest q first; ties keep the client's order.
        var best: (format: FHIRFormat, q: Double)?
        for part in accept.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingWhitespace().lowercased() }
            guard let media = fields.first else { continue }
            var q = 1.0
            for f in fields.dropFirst() where f.hasPrefix("q=") { q = Double(f.dropFirst(2)) ?? 0 }
            guard q > 0 else { continue }
            let candidate: FHIRFormat?
            switch media {
            case "application/fhir+json", "application/json", "application/json+fhir", "*/*", "application/*": candidate = .json
            case "application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir": candidate = .xml
            default: candidate = nil
            }
            if let c = candidate, best == nil || q > best!.q { best = (c, q) }
        }
        return best?.format
    }
}

/// `Prefer: return=minimal|representation|OperationOutcome` (FHIR RESTful API §3.1.0.6).
public enum ReturnPreference: Sendable, Equatable {
    case minimal, representation, operationOutcome

    public static func parse(_ prefer: String?) -> ReturnPreference {
        guard let prefer else { return .representation }
        for token in prefer.split(separator: ",") + prefer.split(separator: ";") {
            let t = token.trimmingWhitespace()
            if t.lowercased() == "return=minimal" { return .minimal }
            if t.lowercased() == "return=operationoutcome" { return .operationOutcome }
            if t.lowercased() == "return=representation" { return .representation }
        }
        return .representation
    }
}
