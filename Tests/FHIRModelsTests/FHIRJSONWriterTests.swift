import Testing
import Foundation
@testable import FHIRModels

@Suite struct FHIRJSONWriterTests {
    func roundTrip(_ json: String, pretty: Bool = false) throws -> (JSONValue, JSONValue, String) {
        let tree = try FHIRJSONReader.read(Array(json.utf8))
        let out = FHIRJSONWriter.write(tree, pretty: pretty)
        return (try JSONValue.parse(Array(json.utf8)), try JSONValue.parse(out), String(decoding: out, as: UTF8.self))
    }

    @Test func writesShadowArraysWithNullPlaceholders() throws {
        let json = #"{"resourceType":"Patient","name":[{"given":["Zoé",null,"Ann"],"_given":[null,{"id":"g2","extension":[{"url":"http://x","valueString":"y"}]},null]}]}"#
        let (a, b, text) = try roundTrip(json)
        #expect(SemanticJSON.differences(a, b).isEmpty, "\(text)")
        #expect(text.contains(#""given":["Zoé",null,"Ann"]"#), "\(text)")
        #expect(text.contains(#""_given":[null,{"id":"g2","extension":[{"url":"http://x","valueString":"y"}]},null]"#), "\(text)")
    }

    @Test func shadowOnlyPrimitivesAndSingleShadow() throws {
        let json = #"{"resourceType":"Patient","_birthDate":{"extension":[{"url":"http://u","valueDateTime":"2001-01-01T10:00:00Z"}]},"gender":"male","_gender":{"id":"x"}}"#
        let (a, b, text) = try roundTrip(json)
        #expect(SemanticJSON.differences(a, b).isEmpty, "\(text)")
        #expect(!text.contains(#""birthDate":"#), "\(text)")
    }

    @Test func keepsDecimalTextBooleansAndEscapes() throws {
        let json = #"{"resourceType":"Observation","status":"final","code":{"text":"a \"q\" \\ \n \u0001 é 😀"},"valueQuantity":{"value":1.50,"unit":"mg"},"extension":[{"url":"u","valueDecimal":-0.0e10},{"url":"v","valueBoolean":false}]}"#
        let (a, b, text) = try roundTrip(json)
        #expect(SemanticJSON.differences(a, b).isEmpty, "\(text)")
        #expect(text.contains(#""value":1.50"#))
        #expect(text.contains(#""valueDecimal":-0.0e10"#))
        #expect(text.contains(#""text":"a \"q\" \\ \n \u0001 é 😀""#), "\(text)")
    }

    @Test func writesUnknownContentBackAsItCame() throws {
        let json = #"{"resourceType":"Patient","foo":[1,null,{"a":[true,"x"]},[2,3]],"bar":{},"baz":null,"contained":[{"resourceType":"Nope","x":1}],"active":"yes"}"#
        let tree = try FHIRJSONReader.read(Array(json.utf8))
        #expect(!tree.issues.isEmpty)
        let out = FHIRJSONWriter.write(tree)
        let diffs = SemanticJSON.differences(try JSONValue.parse(Array(json.utf8)), try JSONValue.parse(out))
        // Arrays nested directly in arrays are not FHIR and are flattened by the reader; everything else comes back.
        #expect(diffs == ["$.foo: array of 4 vs 5"], "\(String(decoding: out, as: UTF8.self))")
        #expect(String(decoding: out, as: UTF8.self).contains(#""contained":[{"resourceType":"Nope","x":1}]"#))
        #expect(String(decoding: out, as: UTF8.self).contains(#""active":"yes""#))
    }

    @Test func containedResourcesAndPrettyOutput() throws {
        let json = ##"{"resourceType":"Patient","id":"a","contained":[{"resourceType":"Organization","id":"o","name":"Org"},{"resourceType":"Practitioner","id":"p"}],"managingOrganization":{"reference":"#o"}}"##
        let (a, b, text) = try roundTrip(json, pretty: true)
        #expect(SemanticJSON.differences(a, b).isEmpty, "\(text)")
        #expect(text.hasPrefix("{\n  \"resourceType\": \"Patient\",\n  \"id\": \"a\",\n  \"contained\": [\n    {\n      \"resourceType\": \"Organization\""), "\(text)")
    }

    @Test func semanticComparisonCanFail() throws {
        let a = try JSONValue.parse(Array(#"{"a":1.50,"b":[1,2]}"#.utf8))
        #expect(SemanticJSON.differences(a, try JSONValue.parse(Array(#"{"b":[1,2],"a":1.50}"#.utf8))).isEmpty)
        #expect(!SemanticJSON.differences(a, try JSONValue.parse(Array(#"{"a":1.5,"b":[1,2]}"#.utf8))).isEmpty)
        #expect(!SemanticJSON.differences(a, try JSONValue.parse(Array(#"{"a":1.50,"b":[2,1]}"#.utf8))).isEmpty)
    }

    @Test func officialExamplesRoundTripThroughJSON() throws {
        let files = Fixtures.officialExamples()
        guard !files.isEmpty else { return }
        var problems: [String] = []
        for url in files {
            let data = try [UInt8](Data(contentsOf: url))
            let tree = try FHIRJSONReader.read(data)
            for pretty in [false, true] {
                let out = FHIRJSONWriter.write(tree, pretty: pretty)
                let diffs = SemanticJSON.differences(try JSONValue.parse(data), try JSONValue.parse(out))
                if !diffs.isEmpty { problems.append("\(url.lastPathComponent) pretty=\(pretty): \(diffs.joined(separator: "; "))") }
            }
        }
        #expect(files.count == 715)
        #expect(problems.isEmpty, "\(problems.count) failures:\n\(problems.prefix(10).joined(separator: "\n"))")
    }
}
