import FHIRModels

/// The resource a create (POST) carries, and the JSON the store keeps for it.
enum RequestBody {
    /// The body as an element tree: a FHIR Content-Type (415 `HTTP-CONTENT-TYPE`), not empty (400
    /// `emptyRule`), readable (400 `unreadableRule` with the position of the first syntax error).
    static func document(_ ctx: Router.Context, emptyRule: String = "BODY-EMPTY", unreadableRule: String = "BODY-UNREADABLE")
        throws(FHIRError) -> ElementTree {
        guard let format = FHIRFormat.ofBody(contentType: ctx.request.header("Content-Type")) else {
            throw FHIRError(status: 415, code: .notSupported, rule: "HTTP-CONTENT-TYPE",
                            "Content-Type attendu : application/fhir+json ou application/fhir+xml")
        }
        guard !ctx.request.body.isEmpty else {
            throw FHIRError(status: 400, code: .required, rule: emptyRule, "corps de requête vide : une ressource est attendue")
        }
        let tree: ElementTree
        do {
            tree = format == .json ? try FHIRJSONReader.read(ctx.request.body) : try FHIRXMLReader.read(ctx.request.body)
        } catch {
            let issue = OutcomeIssue(severity: .fatal, code: .structure, message: "contenu illisible : \(error.message)",
                                     location: error.location, rule: unreadableRule)
            throw FHIRError(status: 400, code: .structure, rule: unreadableRule, issue.message, details: [issue])
        }
        guard !tree.isEmpty else { throw FHIRError(status: 400, code: .structure, rule: unreadableRule, "aucune ressource dans le corps") }
        return tree
    }

    /// The resource of a create: `document`, and a resource of the expected type (400).
    static func resource(_ ctx: Router.Context, type: String) throws(FHIRError) -> ElementTree {
        let tree = try document(ctx)
        guard tree.isResource(tree.root), tree.typeName(tree.root) == type else {
            let found = tree.typeName(tree.root) ?? tree.name(tree.root)
            let issue = OutcomeIssue(severity: .error, code: .invalid, message: "ressource \(type) attendue sur cette adresse, reçu \(found)",
                                     expression: "resourceType", rule: "BODY-RESOURCE-TYPE")
            throw FHIRError(status: 400, code: .invalid, rule: "BODY-RESOURCE-TYPE", issue.message, details: [issue])
        }
        return tree
    }

    /// Validation issues of a resource as the client sends it, without those about what the server assigns:
    /// `meta.lastUpdated` is 1..1 in esms-task, but a create carries none (the server sets it, and the
    /// stored resource has it).
    static func clientIssues(_ issues: [OutcomeIssue], type: String) -> [OutcomeIssue] {
        issues.filter { !($0.expression == "\(type).meta" && $0.message.hasPrefix("\(type).meta.lastUpdated: minimum required")) }
    }

    /// The JSON of `tree` with the server's id and meta (`versionId`, `lastUpdated`) written in; other meta
    /// members (profile, source, tag…) are kept, `id` and `meta` come first as FHIR JSON writes them.
    static func stamped(_ tree: ElementTree, _ meta: ResourceMeta, extraTags: [(system: String, code: String, display: String)] = [])
        -> JSONValue {
        // The writer's output is valid JSON by construction.
        let json = (try? JSONValue.parse(FHIRJSONWriter.write(tree))) ?? .object([("resourceType", .string(meta.type))])
        return stamped(json, meta, extraTags: extraTags)
    }

    static func stamped(_ json: JSONValue, _ meta: ResourceMeta, extraTags: [(system: String, code: String, display: String)] = [])
        -> JSONValue {
        var members = json.members ?? []
        var m = members.first { $0.0 == "meta" }?.1.members ?? []
        m.removeAll { $0.0 == "versionId" || $0.0 == "lastUpdated" }
        m.insert(("lastUpdated", .string(meta.lastUpdated.fhirInstant)), at: 0)
        m.insert(("versionId", .string(String(meta.versionId))), at: 0)
        if !extraTags.isEmpty {
            var tags = m.first { $0.0 == "tag" }?.1.array ?? []
            for t in extraTags where !tags.contains(where: { $0["system"]?.string == t.system && $0["code"]?.string == t.code }) {
                tags.append(.object([("system", .string(t.system)), ("code", .string(t.code)), ("display", .string(t.display))]))
            }
            m.removeAll { $0.0 == "tag" }
            m.append(("tag", .array(tags)))
        }
        members.removeAll { $0.0 == "resourceType" || $0.0 == "id" || $0.0 == "meta" }
        return .object([("resourceType", .string(meta.type)), ("id", .string(meta.id)), ("meta", .object(m))] + members)
    }
}
