import Testing
import Foundation
@testable import FHIRModels

@Suite struct FHIRJSONReaderTests {
    @Test func mergesPrimitiveExtensionsAndTypesChoices() throws {
        let json = #"""
        {"resourceType":"Patient","id":"p1","name":[{"given":["Zoé",null],"_given":[null,{"extension":[{"url":"http://x","valueString":"y"}]}]}],
         "deceasedBoolean":false,"multipleBirthInteger":2}
        """#
        let tree = try FHIRJSONReader.read(Array(json.utf8))
        #expect(tree.issues.isEmpty, "\(tree.issues)")
        #expect(tree.typeName(0) == "Patient")
        let name = tree.child(0, "name")!
        let given = tree.children(name, "given")
        #expect(given.count == 2)
        #expect(tree.value(given[0]) == "Zoé")
        #expect(tree.value(given[1]) == nil)
        #expect(tree.child(given[1], "extension") != nil)
        #expect(tree.path(given[1]) == "Patient.name[0].given[1]")
        let deceased = tree.child(0, "deceasedBoolean")!
        #expect(tree.typeName(deceased) == "boolean")
        #expect(tree.path(deceased) == "Patient.deceased.ofType(boolean)")
    }

    @Test func reportsShapeProblemsButKeepsContent() throws {
        let json = #"{"resourceType":"Patient","active":"yes","name":{"family":"X"},"foo":1,"gender":["male"]}"#
        let tree = try FHIRJSONReader.read(Array(json.utf8))
        #expect(tree.issues.count == 4, "\(tree.issues.map(\.message))")
        #expect(tree.child(0, "foo") != nil)
        #expect(tree.value(tree.child(0, "gender")!) == "male")
    }

    @Test func refusesNonResources() {
        #expect(throws: FHIRParseError.self) { try FHIRJSONReader.read(Array(#"{"resourceType":"Nope"}"#.utf8)) }
        #expect(throws: FHIRParseError.self) { try FHIRJSONReader.read(Array("[]".utf8)) }
    }

    @Test func readsAllOfficialExamplesWithoutStructureIssues() throws {
        let dir = Fixtures.sharedReference.appendingPathComponent("fhir-r4/examples")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
        var problems: [String] = []
        for f in files.sorted() where f.hasSuffix(".json") {
            let data = try [UInt8](Data(contentsOf: dir.appendingPathComponent(f)))
            let tree = try FHIRJSONReader.read(data)
            for i in tree.issues { problems.append("\(f): \(tree.path(i.node)) \(i.message)") }
        }
        #expect(problems.isEmpty, "\(problems.prefix(20).joined(separator: "\n"))")
    }
}

@Suite struct TreeShapeTests {
    /// The fuzz targets rely on `structuralProblem()`: it must notice a broken tree.
    @Test func structuralProblemSpotsCorruption() throws {
        var tree = try FHIRJSONReader.read(Array(#"{"resourceType":"Patient","name":[{"family":"X"}]}"#.utf8))
        #expect(tree.structuralProblem() == nil)
        tree.nodes[1].end = 0
        #expect(tree.structuralProblem() != nil)
        tree = try FHIRJSONReader.read(Array(#"{"resourceType":"Patient","active":true}"#.utf8))
        tree.nodes[1].parent = 5
        #expect(tree.structuralProblem() != nil)
    }
}
