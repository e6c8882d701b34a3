import Testing
import Foundation
@testable import Gateway
import Validation

/// `$validate` end to end: the real binary over mTLS, JSON and XML bodies and answers, the
/// Parameters wrapper, `?profile=`, the refusals, the audit record and the CapabilityStatement.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ValidateOperationTests {
    typealias G = GatewayProcess
    var sb: G.Sandbox { G.sandbox }
    static let esmsTask = "https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-task"

    /// POST `body` to `path` as dui-a with a token (default: the client's whole scope set).
    func post(_ server: G.Server, _ path: String, _ body: String, contentType: String = "application/fhir+json",
              token: String, extra: [String] = []) throws -> G.Reply {
        let a = sb.client("dui-a")
        return try G.curl(server.base + path, cert: G.pair(a), ["-H", "Authorization: Bearer \(token)", "-H", "struct_idnat: \(a.egs[0])",
                                                                "-H", "Content-Type: \(contentType)", "--data-binary", body] + extra)
    }

    func issues(_ reply: G.Reply) -> [[String: Any]] { (reply.json?["issue"] as? [[String: Any]]) ?? [] }

    @Test func jsonResourceGetsEveryIssueWithPlaceAndRule() throws {
        let server = try G.Server()
        defer { server.stop() }
        // A token that covers no Patient interaction: $validate needs none.
        let token = try G.token(server, sb.client("dui-a"), scope: "system/DocumentReference.rs")
        let body = "{\"resourceType\":\"Patient\",\n \"gender\":\"x\",\n \"identifier\":[{\"system\":\"urn:oid:1.2.250.1.213.1.4.8\",\"value\":\"1\"}]}"
        let r = try post(server, "/fhir/$validate", body, token: token)
        #expect(r.status == 200, "\(r.body)")
        #expect(r.header("Content-Type")?.hasPrefix("application/fhir+json") == true)
        #expect(r.json?["resourceType"] as? String == "OperationOutcome")
        let list = issues(r)
        let gender = list.filter { ($0["expression"] as? [String]) == ["Patient.gender"] }
        #expect(gender.contains { $0["severity"] as? String == "error" && $0["code"] as? String == "code-invalid" }, "\(r.body)")
        #expect(gender.contains { ($0["location"] as? [String]) == ["Line[2] Col[2]"] }, "\(r.body)")
        // The French rules run too, with their stable rule code.
        let codes = list.compactMap { (($0["details"] as? [String: Any])?["coding"] as? [[String: Any]])?.first?["code"] as? String }
        #expect(codes.contains("FR-INS-FORMAT") && codes.contains("dom-6"), "\(codes)")
        let record = try #require(try G.audit(server).first { $0["requestId"] as? String == r.requestId })
        #expect(record["interaction"] as? String == "validate" && record["status"] as? Int == 200)
        #expect(record["clientId"] as? String == sb.client("dui-a").clientId)

        // The same resource through the typed route; a valid one gets the informational outcome only.
        let typed = try post(server, "/fhir/Patient/$validate", body, token: token)
        #expect(typed.status == 200 && issues(typed).count == list.count)
        let clean = try post(server, "/fhir/Patient/$validate",
                             #"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">P</div>"}}"#,
                             token: token)
        #expect(clean.status == 200 && issues(clean).count == 1 && issues(clean).first?["severity"] as? String == "information", "\(clean.body)")
    }

    @Test func xmlInXmlOutAndNegotiation() throws {
        let server = try G.Server()
        defer { server.stop() }
        let token = try G.token(server, sb.client("dui-a"))
        let xml = """
            <Patient xmlns="http://hl7.org/fhir">
              <gender value="x"/>
            </Patient>
            """
        let r = try post(server, "/fhir/Patient/$validate", xml, contentType: "application/fhir+xml", token: token,
                         extra: ["-H", "Accept: application/fhir+xml"])
        #expect(r.status == 200, "\(r.body)")
        #expect(r.header("Content-Type")?.hasPrefix("application/fhir+xml") == true)
        #expect(r.body.contains("<OperationOutcome xmlns=\"http://hl7.org/fhir\">"), "\(r.body)")
        #expect(r.body.contains("<expression value=\"Patient.gender\"/>"), "\(r.body)")
        #expect(r.body.contains("<location value=\"Line[2] Col["), "\(r.body)")
        // XML in, JSON out by _format (which wins over Accept).
        let json = try post(server, "/fhir/$validate?_format=json", xml, contentType: "application/fhir+xml", token: token,
                            extra: ["-H", "Accept: application/fhir+xml"])
        #expect(json.status == 200 && json.json?["resourceType"] as? String == "OperationOutcome")
        #expect(issues(json).contains { ($0["expression"] as? [String]) == ["Patient.gender"] })
        // JSON in, XML out by _format; a parse error in XML comes back as XML too, with its line.
        let out = try post(server, "/fhir/$validate?_format=xml", #"{"resourceType":"Patient","gender":"x"}"#, token: token)
        #expect(out.status == 200 && out.body.contains("<expression value=\"Patient.gender\"/>"), "\(out.body)")
        let broken = try post(server, "/fhir/$validate", "<Patient xmlns=\"http://hl7.org/fhir\">\n<gender value=\"male\">\n</Patient>",
                              contentType: "application/fhir+xml", token: token, extra: ["-H", "Accept: application/fhir+xml"])
        #expect(broken.status == 400 && broken.body.contains("VALIDATE-PARSE") && broken.body.contains("<location value=\"Line["), "\(broken.body)")
    }

    @Test func parametersWrapperAndProfiles() throws {
        let server = try G.Server()
        defer { server.stop() }
        let token = try G.token(server, sb.client("dui-a"))
        let task = #"{"resourceType":"Task","status":"requested","intent":"order"}"#
        func profileErrors(_ r: G.Reply) -> [[String: Any]] {
            issues(r).filter { $0["severity"] as? String == "error" && ((($0["details"] as? [String: Any])?["text"] as? String) ?? "").contains("esms-task") }
        }
        let plain = try post(server, "/fhir/Task/$validate", task, token: token)
        #expect(plain.status == 200 && profileErrors(plain).isEmpty)
        // ?profile= applies the SDO profile.
        let byQuery = try post(server, "/fhir/Task/$validate?profile=\(Self.esmsTask)", task, token: token)
        #expect(byQuery.status == 200 && !profileErrors(byQuery).isEmpty, "\(byQuery.body)")
        // The Parameters wrapper: resource + profile; positions are those of the sent document.
        let wrapped = """
            {"resourceType":"Parameters","parameter":[
             {"name":"resource","resource":{"resourceType":"Task","status":"requested","intent":"order","priority":"urgentissime"}},
             {"name":"profile","valueUri":"\(Self.esmsTask)"},
             {"name":"mode","valueCode":"create"}]}
            """
        let r = try post(server, "/fhir/Task/$validate", wrapped, token: token)
        #expect(r.status == 200, "\(r.body)")
        #expect(profileErrors(r).count == profileErrors(byQuery).count, "\(r.body)")
        #expect(issues(r).contains { ($0["expression"] as? [String]) == ["Task.priority"] && ($0["location"] as? [String])?.first?.hasPrefix("Line[2]") == true },
                "\(r.body)")
        // mode=update needs an id.
        let update = try post(server, "/fhir/$validate?mode=update", task, token: token)
        #expect(issues(update).contains { (($0["details"] as? [String: Any])?["coding"] as? [[String: Any]])?.first?["code"] as? String == "VALIDATE-UPDATE-ID" })
        // A Parameters that is not a wrapper is validated as itself.
        let own = try post(server, "/fhir/$validate", #"{"resourceType":"Parameters","parameter":[{"name":"x","valueString":"y"}]}"#, token: token)
        #expect(own.status == 200 && issues(own).allSatisfy { ($0["expression"] as? [String])?.first?.hasPrefix("Parameters") ?? true }, "\(own.body)")
    }

    @Test func refusals() throws {
        let server = try G.Server()
        defer { server.stop() }
        let a = sb.client("dui-a")
        let token = try G.token(server, a)
        let patient = #"{"resourceType":"Patient"}"#
        let cases: [(String, G.Reply, Int, String)] = [
            ("type differs from the path", try post(server, "/fhir/Task/$validate", patient, token: token), 400, "VALIDATE-TYPE"),
            ("unknown type", try post(server, "/fhir/Nothing/$validate", patient, token: token), 404, "VALIDATE-TYPE"),
            ("abstract type", try post(server, "/fhir/DomainResource/$validate", patient, token: token), 404, "VALIDATE-TYPE"),
            ("unparsable JSON", try post(server, "/fhir/$validate", "{\"resourceType\":\"Patient\",\n\"gender\":}", token: token), 400, "VALIDATE-PARSE"),
            ("duplicate key", try post(server, "/fhir/$validate", #"{"resourceType":"Patient","id":"a","id":"b"}"#, token: token), 400, "VALIDATE-PARSE"),
            ("XML declared, JSON sent", try post(server, "/fhir/$validate", patient, contentType: "application/fhir+xml", token: token), 400, "VALIDATE-PARSE"),
            ("not a FHIR media type", try post(server, "/fhir/$validate", patient, contentType: "text/plain", token: token), 415, "HTTP-CONTENT-TYPE"),
            ("empty body", try post(server, "/fhir/$validate", "", token: token), 400, "VALIDATE-BODY"),
            ("unsupported mode", try post(server, "/fhir/$validate?mode=delete", patient, token: token), 400, "VALIDATE-MODE"),
            ("unknown parameter", try post(server, "/fhir/$validate?foo=1", patient, token: token), 400, "VALIDATE-PARAMETER"),
            ("wrapper without resource", try post(server, "/fhir/$validate", #"{"resourceType":"Parameters","parameter":[{"name":"mode","valueCode":"create"}]}"#,
                                                  token: token), 400, "VALIDATE-PARAMETERS"),
            ("no token", try G.curl(server.base + "/fhir/$validate", cert: G.pair(a), ["-H", "Content-Type: application/fhir+json", "-d", patient]),
             401, "AUTH-TOKEN-MISSING"),
            ("no struct_idnat", try G.curl(server.base + "/fhir/$validate", cert: G.pair(a), ["-H", "Authorization: Bearer \(token)",
                                                                                           "-H", "Content-Type: application/fhir+json", "-d", patient]),
             400, "AUTH-STRUCT-IDNAT"),
        ]
        for (name, reply, status, rule) in cases {
            #expect(reply.status == status, "\(name): \(reply.status) \(reply.body)")
            #expect(reply.json?["resourceType"] as? String == "OperationOutcome", "\(name)")
            #expect(reply.rule == rule, "\(name): \(reply.body)")
        }
        let parse = cases[3].1
        #expect((issues(parse).first?["location"] as? [String])?.first?.hasPrefix("Line[2]") == true, "\(parse.body)")
        #expect(try G.curl(server.base + "/fhir/$validate", cert: G.pair(a), ["-H", "Authorization: Bearer \(token)"]).status == 405)
    }

    /// The server's body limit applies (413 from the HTTP layer, before any parsing).
    @Test func bodyOverTheServerLimitIs413() throws {
        let server = try G.Server(environment: ["FHIR_GATEWAY_MAX_BODY_BYTES": "2048"])
        defer { server.stop() }
        let token = try G.token(server, sb.client("dui-a"))
        let big = #"{"resourceType":"Patient","id":"\#(String(repeating: "a", count: 3000))"}"#
        let r = try post(server, "/fhir/$validate", big, token: token)
        #expect(r.status == 413, "\(r.body)")
        let small = try post(server, "/fhir/$validate", #"{"resourceType":"Patient"}"#, token: token)
        #expect(small.status == 200)
    }

    @Test func capabilityStatementListsTheOperation() throws {
        let json = String(decoding: FHIRResponse.resource(FHIRRoutes.capabilityStatement(baseURL: "https://gw.test"), format: .json).body, as: UTF8.self)
        let cs = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let rest = try #require((cs["rest"] as? [[String: Any]])?.first)
        let operations = try #require(rest["operation"] as? [[String: Any]])
        #expect(operations.count == 1)
        #expect(operations.first?["name"] as? String == "validate")
        #expect(operations.first?["definition"] as? String == "http://hl7.org/fhir/OperationDefinition/Resource-validate")
        // Exactly the routes registered with that operation.
        var router = Router()
        ValidateRoutes.register(in: &router, engine: try ValidateOperationTests.engine())
        let patterns = router.routes.filter { if case .fhirOperation("validate") = $0.access { return true }; return false }.map(\.pattern)
        #expect(patterns == ["/fhir/$validate", "/fhir/{type}/$validate"])
    }

    static func engine() throws -> ValidationEngine { try ValidationEngine.load(dataDirectory: TestSupport.repoRoot.path) }
}
