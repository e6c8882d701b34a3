import Testing
import Foundation
@testable import FHIRModels

@Suite struct ElementTreeBuilderTests {
    @Test func buildsASearchsetBundleWithCopiedResources() throws {
        let patient = try FHIRJSONReader.read(Array(#"{"resourceType":"Patient","id":"p1","name":[{"family":"Durand","given":["Zoé",null],"_given":[null,{"id":"g"}]}],"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Zoé &amp; co</div>"}}"#.utf8))
        var b = ElementTreeBuilder(resourceType: "Bundle")
        b.primitive("type", "searchset")
        b.primitive("total", 2)
        b.begin("link"); b.primitive("relation", "self"); b.primitive("url", "https://example.org/Patient?name=x"); b.end()
        for i in 0..<2 {
            b.begin("entry")
            b.primitive("fullUrl", "https://example.org/Patient/p\(i)")
            b.copy("resource", from: patient)
            b.begin("search"); b.primitive("mode", "match"); b.primitive("score", "1.50"); b.end()
            b.end()
        }
        let tree = b.build()
        #expect(tree.format == .built)
        let json = FHIRJSONWriter.string(tree)
        #expect(json.hasPrefix(#"{"resourceType":"Bundle","type":"searchset","total":2,"link":[{"relation":"self","#), "\(json)")
        #expect(json.contains(#""search":{"mode":"match","score":1.50}"#), "\(json)")
        #expect(json.contains(#""given":["Zoé",null],"_given":[null,{"id":"g"}]"#), "\(json)")
        // What was built reads back without a single structure issue, in JSON and in XML.
        let fromJSON = try FHIRJSONReader.read(Array(json.utf8))
        #expect(fromJSON.issues.isEmpty, "\(fromJSON.issues)")
        let fromXML = try FHIRXMLReader.read(FHIRXMLWriter.write(tree))
        #expect(fromXML.issues.isEmpty, "\(fromXML.issues)")
        #expect(SemanticJSON.differences(try JSONValue.parse(Array(json.utf8)), try JSONValue.parse(FHIRJSONWriter.write(fromXML))).isEmpty)
        let entries = tree.children(0, "entry")
        #expect(entries.map { tree[$0].index } == [0, 1])
        let res = tree.child(entries[1], "resource")!
        #expect(tree.isResource(res) && tree.typeName(res) == "Patient" && tree.path(tree.descendant(res, "name.family")!) == "Bundle.entry[1].resource.name[0].family")
    }

    @Test func primitivesWithExtensionsAndNestedResources() throws {
        var b = ElementTreeBuilder(resourceType: "Patient")
        b.resource("contained", type: "Organization")
        b.primitive("id", "o1")
        b.primitive("name", "Org")
        b.end()
        b.begin("birthDate", value: "2001-02-03")
        b.begin("extension"); b.primitive("url", "http://hl7.org/fhir/StructureDefinition/patient-birthTime"); b.primitive("valueDateTime", "2001-02-03T04:05:06+01:00"); b.end()
        b.end()
        b.primitive("active", true)
        b.primitive("multipleBirthInteger", 2)
        #expect(b.accepts("deceasedBoolean") && !b.accepts("foo"))
        #expect(b.currentType == "Patient")
        let tree = b.build()
        #expect(FHIRJSONWriter.string(tree) == #"{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o1","name":"Org"}],"birthDate":"2001-02-03","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"2001-02-03T04:05:06+01:00"}]},"active":true,"multipleBirthInteger":2}"#)
        #expect(FHIRXMLWriter.string(tree).contains(#"<birthDate value="2001-02-03"><extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime"><valueDateTime value="2001-02-03T04:05:06+01:00"/></extension></birthDate>"#))
    }

    @Test func operationOutcomeIsOneTreeWrittenAsJSONOrXML() throws {
        let issues = [
            OutcomeIssue(severity: .error, code: .value, message: "Clé INS \"invalide\" <x>", expression: "Patient.identifier[0]",
                         location: SourceLocation(line: 3, column: 7), rule: "FR-INS-KEY"),
            OutcomeIssue(severity: .warning, code: .notSupported, message: "w"),
        ]
        let expected = try JSONValue.parse(Array(#"""
            {"resourceType":"OperationOutcome","issue":[
              {"severity":"error","code":"value","details":{"coding":[{"system":"https://fhir-gateway.example.fr/CodeSystem/gateway-rule","code":"FR-INS-KEY"}],
               "text":"Clé INS \"invalide\" <x>"},"expression":["Patient.identifier[0]"],"location":["Line[3] Col[7]"]},
              {"severity":"warning","code":"not-supported","details":{"text":"w"}}]}
            """#.utf8))
        let empty = try JSONValue.parse(Array(#"{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational","details":{"text":"No issues detected"}}]}"#.utf8))
        for (list, want) in [(issues, expected), ([], empty)] {
            #expect(SemanticJSON.differences(want, try JSONValue.parse(OperationOutcomeBuilder.json(list))).isEmpty)
            let back = try FHIRXMLReader.read(FHIRXMLWriter.write(OperationOutcomeBuilder.tree(list), pretty: true))
            #expect(back.issues.isEmpty)
            #expect(SemanticJSON.differences(want, try JSONValue.parse(FHIRJSONWriter.write(back))).isEmpty)
        }
        let xml = FHIRXMLWriter.string(OperationOutcomeBuilder.tree(issues))
        #expect(xml.contains(#"<text value="Clé INS &quot;invalide&quot; &lt;x&gt;"/>"#), "\(xml)")
        #expect(xml.contains(#"<location value="Line[3] Col[7]"/>"#))
    }

    /// A nested resource taken out as its own tree keeps its positions and its own structure issues.
    @Test func subtreeOfANestedResource() throws {
        let text = "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"resource\",\"bogus\":1,\n \"resource\":{\"resourceType\":\"Task\",\"status\":\"draft\",\n  \"nope\":true,\"input\":[{\"valueString\":\"a\"}]}}]}"
        let doc = try FHIRJSONReader.read(Array(text.utf8))
        #expect(doc.issues.count == 2)
        let node = try #require(doc.descendant(doc.root, "parameter.resource"))
        let task = doc.subtree(node)
        #expect(task.structuralProblem() == nil)
        #expect(task.typeName(task.root) == "Task" && task.name(task.root) == "Task")
        #expect(FHIRJSONWriter.string(task) == #"{"resourceType":"Task","status":"draft","nope":true,"input":[{"valueString":"a"}]}"#)
        let input = try #require(task.descendant(task.root, "input.valueString"))
        #expect(task.path(input) == "Task.input[0].value.ofType(string)")
        #expect(task[input].location.line == 3)
        #expect(task.issues.count == 1, "only the issue inside the resource")
        #expect(task.issues.first.map { task.path($0.node) } == "Task" && task.issues.first?.message.contains("nope") == true, "\(task.issues)")
        #expect(task.issues.first?.location.line == 3)
        #expect(doc.subtree(doc.root).nodes.count == doc.nodes.count)
    }
}
