import Foundation
import FHIRModels
import Validation

/// `POST /fhir/$validate` and `POST /fhir/[type]/$validate` (FHIR R4 `Resource-validate`) for every
/// authenticated caller: a bound token and an activated `struct_idnat` EG, no resource scope (the
/// operation reads and stores nothing). The body is the resource, or a `Parameters` with `resource`
/// (and optional `profile`, `mode`), JSON or XML per `Content-Type`; `?profile=` and `?mode=` work too.
///
/// Answers: 200 with an OperationOutcome holding every issue (FHIRPath expression, line/column, rule
/// code), whatever the resource's validity; 400 for input that cannot be read (with the position),
/// a wrong wrapper or a type that does not match the path; 404 for an unknown type in the path; 415
/// for a body that is not FHIR JSON or XML. 422 is never used here: the outcome is the answer.
enum ValidateRoutes {
    /// The operation as the CapabilityStatement lists it (`rest.operation`).
    static let operationName = "validate"
    static let definition = "http://hl7.org/fhir/OperationDefinition/Resource-validate"
    static let modes: Set<String> = ["create", "update", "profile"]

    static func register(in r: inout Router, engine: ValidationEngine) {
        r.add("POST", "/fhir/$validate", .fhirOperation(operationName)) { ctx throws(FHIRError) in
            try validate(ctx, pathType: nil, engine: engine)
        }
        r.add("POST", "/fhir/{type}/$validate", .fhirOperation(operationName)) { ctx throws(FHIRError) in
            try validate(ctx, pathType: ctx.path["type"], engine: engine)
        }
    }

    /// `rest.operation` of the CapabilityStatement (after `rest.resource`, per the element order).
    static func describe(in b: inout ElementTreeBuilder) {
        b.begin("operation")
        b.primitive("name", operationName)
        b.primitive("definition", definition)
        b.primitive("documentation", "POST [base]/$validate ou [base]/[type]/$validate ; ressource ou Parameters (resource, profile, mode = create | update | profile), "
                    + "JSON ou XML ; réponse 200 OperationOutcome. Jeton et struct_idnat requis, aucune portée de ressource.")
        b.end()
    }

    static func validate(_ ctx: Router.Context, pathType: String?, engine: ValidationEngine) throws(FHIRError) -> HTTPResponse {
        if let pathType {
            guard let t = ModelInfo.r4.type(named: pathType), ModelInfo.r4[type: t].kind == .resource, !ModelInfo.r4[type: t].isAbstract else {
                throw FHIRError(status: 404, code: .notSupported, rule: "VALIDATE-TYPE", "type de ressource inconnu : \(pathType)")
            }
        }
        // Query: profile (repeatable), mode; _format is the response format.
        var profiles: [String] = []
        var mode: String?
        for (name, value) in ctx.query.items {
            switch name {
            case "profile": profiles.append(value)
            case "mode":
                guard mode == nil else { throw FHIRError(status: 400, code: .invalid, rule: "VALIDATE-MODE", "paramètre mode répété") }
                mode = value
            case "_format": continue
            default:
                throw FHIRError(status: 400, code: .notSupported, rule: "VALIDATE-PARAMETER", "paramètre non pris en charge par $validate : \(name)")
            }
        }
        let document = try RequestBody.document(ctx, emptyRule: "VALIDATE-BODY", unreadableRule: "VALIDATE-PARSE")
        // A Parameters naming resource/profile/mode is the operation's wrapper, unless the path asks
        // to validate a Parameters itself.
        var resource = document
        var wrapperIssues: [OutcomeIssue] = []
        if document.typeName(document.root) == "Parameters", pathType != "Parameters" {
            let parameters = document.children(document.root, "parameter")
            func named(_ n: String) -> [ElementTree.NodeID] { parameters.filter { document.childValue($0, "name") == n } }
            let (resources, profileParameters, modeParameters) = (named("resource"), named("profile"), named("mode"))
            if !(resources.isEmpty && profileParameters.isEmpty && modeParameters.isEmpty) {
                guard resources.count == 1, let node = document.child(resources[0], "resource"), document.isResource(node) else {
                    throw FHIRError(status: 400, code: .required, rule: "VALIDATE-PARAMETERS",
                                    "Parameters doit porter exactement un paramètre resource contenant une ressource")
                }
                for p in profileParameters {
                    guard let v = value(document, p) else {
                        throw FHIRError(status: 400, code: .value, rule: "VALIDATE-PARAMETERS", "le paramètre profile doit porter valueUri ou valueCanonical")
                    }
                    profiles.append(v)
                }
                if let m = modeParameters.first {
                    guard modeParameters.count == 1, let v = value(document, m), mode == nil || mode == v else {
                        throw FHIRError(status: 400, code: .invalid, rule: "VALIDATE-MODE", "un seul mode, cohérent avec ?mode=, est permis")
                    }
                    mode = v
                }
                resource = document.subtree(node)
                // Problems of the wrapper itself (outside the resource) are reported with their place.
                wrapperIssues = document.issues.filter { $0.node < node || $0.node >= document[node].end }.map { i in
                    OutcomeIssue(severity: i.severity, code: IssueType(rawValue: i.code.rawValue) ?? .structure, message: i.message,
                                 expression: document.path(i.node), location: i.location)
                }
            }
        }
        let bodyType = resource.typeName(resource.root) ?? resource.name(resource.root)
        if let pathType, bodyType != pathType {
            throw FHIRError(status: 400, code: .invalid, rule: "VALIDATE-TYPE",
                            "la ressource est de type \(bodyType), l'URL attend \(pathType)")
        }
        var extra: [OutcomeIssue] = []
        switch mode {
        case nil: break
        case let m? where modes.contains(m):
            if m == "update" && resource.childValue(resource.root, "id") == nil {
                extra.append(OutcomeIssue(severity: .error, code: .required, message: "mode=update : la ressource doit porter un id",
                                          expression: bodyType + ".id", rule: "VALIDATE-UPDATE-ID"))
            }
        case let m?:
            throw FHIRError(status: 400, code: .notSupported, rule: "VALIDATE-MODE",
                            "mode \(m) non pris en charge (create, update ou profile)")
        }
        let issues = wrapperIssues + engine.validate(resource, profiles: profiles) + extra
        return FHIRResponse.resource(OperationOutcomeBuilder.tree(issues), format: ctx.format)
    }

    /// The primitive `value[x]` of a Parameters.parameter (valueUri, valueCanonical, valueCode, valueString).
    static func value(_ tree: ElementTree, _ parameter: ElementTree.NodeID) -> String? {
        for c in tree.children(parameter) where tree.name(c).hasPrefix("value") { return tree.value(c) }
        return nil
    }
}
