import Testing
import Foundation
@testable import FHIRModels

@Suite struct FHIRXMLTests {
    static func normalizeDiv(_ s: String) -> String { XHTML.normalize(s) ?? "unparseable: \(s)" }

    func viaXML(_ json: String) throws -> (xml: String, back: ElementTree, diffs: [String]) {
        let tree = try FHIRJSONReader.read(Array(json.utf8))
        let xml = FHIRXMLWriter.write(tree, pretty: true)
        let back = try FHIRXMLReader.read(xml)
        let diffs = SemanticJSON.differences(try JSONValue.parse(Array(json.utf8)), try JSONValue.parse(FHIRJSONWriter.write(back)),
                                             normalizeDiv: Self.normalizeDiv)
        return (String(decoding: xml, as: UTF8.self), back, diffs)
    }

    @Test func readsValueIdAndUrlAttributesLikeJSON() throws {
        let xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <Patient xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="x">
          <id value="p1"/>
          <!-- a comment -->
          <name id="n1">
            <given value="Zoé"/>
            <given id="g2">
              <extension url="http://x"><valueString value="y &amp; z"/></extension>
            </given>
          </name>
          <deceasedBoolean value="false"/>
        </Patient>
        """
        let tree = try FHIRXMLReader.read(Array(xml.utf8))
        #expect(tree.issues.isEmpty, "\(tree.issues)")
        #expect(tree.format == .xml)
        let json = try JSONValue.parse(FHIRJSONWriter.write(tree))
        let expected = try JSONValue.parse(Array(#"""
        {"resourceType":"Patient","id":"p1","name":[{"id":"n1","given":["Zoé",null],"_given":[null,{"id":"g2","extension":[{"url":"http://x","valueString":"y & z"}]}]}],"deceasedBoolean":false}
        """#.utf8))
        #expect(SemanticJSON.differences(expected, json).isEmpty, "\(json.serializedString())")
        let name = tree.child(0, "name")!
        #expect(tree.path(tree.children(name, "given")[1]) == "Patient.name[0].given[1]")
        #expect(tree[tree.child(0, "deceasedBoolean")!].line == 11)
        // Columns: just after the start tag (characters, not bytes), as the Java validator reports them.
        #expect(tree[tree.child(0, "deceasedBoolean")!].location == SourceLocation(line: 11, column: 35))
        #expect(tree[tree.children(name, "given")[0]].location == SourceLocation(line: 6, column: 25))
        #expect(tree[name].location == SourceLocation(line: 5, column: 17))
        #expect(tree[tree.child(0, "id")!].location == SourceLocation(line: 3, column: 19))
    }

    @Test func givenWithNullsDecimalsAndUnicodeSurviveXML() throws {
        let json = #"{"resourceType":"Observation","status":"final","code":{"text":"caf\u00e9 \ud83d\ude00 <&> \"q\"\n\ttab"},"valueQuantity":{"value":1.50},"component":[{"code":{"text":"c"},"valueInteger":-3}],"subject":{"display":"x"},"note":[{"text":"a\r\nb"}],"extension":[{"url":"http://e","_valueString":{"extension":[{"url":"http://i","valueBoolean":true}]}}]}"#
        let (xml, _, diffs) = try viaXML(json)
        #expect(diffs.isEmpty, "\(diffs)\n\(xml)")
        #expect(xml.contains(#"<value value="1.50"/>"#), "\(xml)")
        let patient = #"{"resourceType":"Patient","name":[{"given":["A",null,"C"],"_given":[null,{"extension":[{"url":"http://x","valueCode":"NI"}]},{"id":"c"}]}]}"#
        let (xml2, _, diffs2) = try viaXML(patient)
        #expect(diffs2.isEmpty, "\(diffs2)\n\(xml2)")
    }

    @Test func containedResourcesAndNarrativeWithEntitiesAndAttributes() throws {
        let json = ##"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"a\" style=\"b\">A &amp; B &lt;tag&gt; &quot;q&quot; é</p><br/><table border=\"1\"><tr><td>x</td></tr></table></div>"},"contained":[{"resourceType":"Organization","id":"o1","name":"Org"},{"resourceType":"Practitioner","id":"pr"}],"managingOrganization":{"reference":"#o1"}}"##
        let (xml, back, diffs) = try viaXML(json)
        #expect(diffs.isEmpty, "\(diffs)\n\(xml)")
        #expect(xml.contains("<contained>\n    <Organization>"), "\(xml)")
        let contained = back.children(0, "contained")
        #expect(contained.count == 2 && back.typeName(contained[1]) == "Practitioner" && back[contained[1]].index == 1)
        let div = back.descendant(0, "text.div")!
        #expect(back.value(div) == #"<div xmlns="http://www.w3.org/1999/xhtml"><p class="a" style="b">A &amp; B &lt;tag&gt; "q" é</p><br/><table border="1"><tr><td>x</td></tr></table></div>"#)
    }

    @Test func writesChildrenInDefinitionOrder() throws {
        let json = #"{"resourceType":"Patient","gender":"male","name":[{"given":["A"],"family":"F"}],"id":"x","active":true}"#
        let xml = FHIRXMLWriter.string(try FHIRJSONReader.read(Array(json.utf8)))
        #expect(xml == #"<?xml version="1.0" encoding="UTF-8"?><Patient xmlns="http://hl7.org/fhir"><id value="x"/><active value="true"/><name><family value="F"/><given value="A"/></name><gender value="male"/></Patient>"#)
    }

    @Test func keepsUnknownElementsWithAnIssue() throws {
        let xml = #"<Patient xmlns="http://hl7.org/fhir"><foo value="1"><bar value="2"/></foo><active value="true"/><x:y xmlns:x="urn:x"/></Patient>"#
        let tree = try FHIRXMLReader.read(Array(xml.utf8))
        #expect(tree.issues.count == 2, "\(tree.issues)")
        let foo = tree.child(0, "foo")!
        #expect(tree[foo].flags.contains(.unknown) && tree.value(foo) == "1" && tree.childValue(foo, "bar") == "2")
        #expect(FHIRXMLWriter.string(try FHIRXMLReader.read(FHIRXMLWriter.write(tree))).contains(#"<foo value="1"><bar value="2"/></foo>"#))
    }

    static let refused: [(String, String)] = [
        ("doctype", #"<?xml version="1.0"?><!DOCTYPE Patient><Patient xmlns="http://hl7.org/fhir"/>"#),
        ("xxe", #"<?xml version="1.0"?><!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/hostname">]><Patient xmlns="http://hl7.org/fhir"><id value="&xxe;"/></Patient>"#),
        ("billion laughs", #"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><Patient xmlns="http://hl7.org/fhir"><id value="&d;"/></Patient>"#),
        ("undeclared entity", #"<Patient xmlns="http://hl7.org/fhir"><id value="&nbsp;"/></Patient>"#),
        ("no namespace", #"<Patient><id value="a"/></Patient>"#),
        ("other namespace", #"<Patient xmlns="http://hl7.org/fhir/other"><id value="a"/></Patient>"#),
        ("wrong root", #"<Banana xmlns="http://hl7.org/fhir"/>"#),
        ("abstract root", #"<DomainResource xmlns="http://hl7.org/fhir"/>"#),
        ("truncated", #"<Patient xmlns="http://hl7.org/fhir"><name><given value="a"/></na"#),
        ("empty", ""),
        ("not xml", #"{"resourceType":"Patient"}"#),
    ]

    @Test(arguments: refused)
    func refusesUnsafeOrNonFHIRDocuments(_ c: (String, String)) {
        do {
            _ = try FHIRXMLReader.read(Array(c.1.utf8))
            Issue.record("\(c.0) was accepted")
        } catch {
            #expect(!error.message.isEmpty)
            if c.0 == "xxe" || c.0 == "doctype" || c.0 == "billion laughs" { #expect(error.message.contains("DOCTYPE"), "\(error.message)") }
            if c.0.contains("namespace") { #expect(error.message.contains("http://hl7.org/fhir"), "\(error.message)") }
            if c.0 == "truncated" { #expect(error.message.contains("line 1"), "\(error.message)") }
        }
    }

    @Test func enforcesSizeAndDepthLimits() throws {
        let xml = Array(#"<Patient xmlns="http://hl7.org/fhir"><name><given value="a"/></name></Patient>"#.utf8)
        #expect(throws: FHIRParseError.self) { try FHIRXMLReader.read(xml, limits: JSONLimits(maxBytes: 20)) }
        #expect(throws: FHIRParseError.self) { try FHIRXMLReader.read(xml, limits: JSONLimits(maxDepth: 2)) }
        #expect((try? FHIRXMLReader.read(xml, limits: JSONLimits(maxDepth: 3))) != nil)
    }

    @Test func reportsMisshapenXMLButKeepsContent() throws {
        let xml = """
        <Bundle xmlns="http://hl7.org/fhir">
          <type value="collection" bogus="1"/>
          <entry><resource><Patient><id value="a"/></Patient><Patient/></resource></entry>
          <entry><resource><Nope><x value="1"/></Nope></resource></entry>
          <entry id="e3"><fullUrl value=""/>stray text</entry>
          <timestamp/>
        </Bundle>
        """
        let tree = try FHIRXMLReader.read(Array(xml.utf8))
        let messages = tree.issues.map(\.message)
        #expect(messages.count == 6, "\(messages)")
        #expect(messages.contains { $0.contains("'bogus'") })
        #expect(messages.contains { $0.contains("exactly one resource") })
        #expect(messages.contains { $0.contains("<Nope> is not a FHIR R4 resource") })
        #expect(messages.contains { $0.contains("@value cannot be empty") })
        #expect(messages.contains { $0.contains("Text is not allowed") })
        #expect(messages.contains { $0.contains("<timestamp> has no value") })
        let entries = tree.children(0, "entry")
        #expect(entries.map { tree[$0].index } == [0, 1, 2])
        #expect(tree.typeName(tree.child(entries[0], "resource")!) == "Patient")
        let unknown = tree.child(entries[1], "resource")!
        #expect(tree[unknown].flags.contains(.unknown) && tree.child(unknown, "Nope") != nil)
        #expect(tree.childValue(entries[2], "id") == "e3")
        #expect(tree.issues.allSatisfy { $0.location.line > 1 })
    }

    @Test func parsesConcurrently() async throws {
        let xml = FHIRXMLWriter.write(try FHIRJSONReader.read(Array(#"{"resourceType":"Patient","id":"x","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">a<b>b</b></div>"},"name":[{"family":"F"}]}"#.utf8)))
        let bad = Array(#"<!DOCTYPE x [<!ENTITY a "b">]><Patient xmlns="http://hl7.org/fhir"/>"#.utf8)
        let results = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<64 {
                group.addTask {
                    if i % 2 == 0 { return (try? FHIRXMLReader.read(xml))?.descendant(0, "name.family").map { _ in true } ?? false }
                    return (try? FHIRXMLReader.read(bad)) == nil
                }
            }
            var all: [Bool] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results.count == 64 && results.allSatisfy { $0 })
    }

    @Test func officialExamplesRoundTripThroughXML() throws {
        let files = Fixtures.officialExamples()
        guard !files.isEmpty else { return }
        var problems: [String] = []
        for url in files {
            let data = try [UInt8](Data(contentsOf: url))
            let tree = try FHIRJSONReader.read(data)
            let xml = FHIRXMLWriter.write(tree, pretty: url.lastPathComponent.hasPrefix("P"))
            let back: ElementTree
            do { back = try FHIRXMLReader.read(xml) } catch {
                problems.append("\(url.lastPathComponent): \(error.message)"); continue
            }
            if !back.issues.isEmpty { problems.append("\(url.lastPathComponent): \(back.issues[0].message)") }
            let diffs = SemanticJSON.differences(try JSONValue.parse(data), try JSONValue.parse(FHIRJSONWriter.write(back)),
                                                 normalizeDiv: Self.normalizeDiv)
            if !diffs.isEmpty { problems.append("\(url.lastPathComponent): \(diffs.joined(separator: "; "))") }
        }
        #expect(problems.isEmpty, "\(problems.count) failures:\n\(problems.prefix(10).joined(separator: "\n"))")
    }
}
