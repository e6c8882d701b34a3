import Testing
import Foundation
import FHIRModels
@testable import Validation

/// The validator over the project's own stores: the conformance store (R4 core, FR Core, SDO, with
/// generated snapshots) and the terminology store, on the published SDO example and broken copies of it.
@Suite struct ValidatorSDOTests {
    static let conformance: ConformanceStore? = try? ConformanceStore(directory: TestPaths.repoRoot.appendingPathComponent("Terminologies/conformance").path)
    static let esmsTask = "https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-task"
    static let example = TestPaths.sharedReference.appendingPathComponent("sdo/v4.0.7/Task-exemple-esms-task.json")

    func validator() -> Validator { Validator(definitions: Self.conformance!, terminology: ValidatorExamplesTests.store) }

    @Test(.enabled(if: conformance != nil && FileManager.default.fileExists(atPath: example.path)))
    func publishedExampleAndBrokenCopies() throws {
        let v = validator()
        #expect(v.plan(for: Self.esmsTask) != nil)
        let bytes = try [UInt8](Data(contentsOf: Self.example))
        let issues = v.validate(try FHIRJSONReader.read(bytes), profiles: [Self.esmsTask])
        print("[validator] SDO example: " + issues.map(\.description).joined(separator: "\n  "))
        #expect(issues.filter(\.isError).isEmpty, "\(issues)")
    }

    @Test(.enabled(if: conformance != nil && FileManager.default.fileExists(atPath: example.path)))
    func brokenCopiesAreCaught() throws {
        let v = validator()
        let original = try JSONValue.parse([UInt8](Data(contentsOf: Self.example)))
        guard var inputs = original["input"]?.array else { Issue.record("no inputs"); return }
        var task = original
        // No idNat_Struct; status not the pattern; a statutESMS code outside JDV_J252; nomESMS as an integer.
        inputs.remove(at: 0)
        inputs[0]["valueString"] = nil
        inputs[0]["valueInteger"] = .number("3")
        inputs[3]["valueCodeableConcept"]!["coding"] = TestProfiles.json(#"[{"system":"https://mos.esante.gouv.fr/NOS/TRE_R357-StatutPersonnePriseCharge/FHIR/TRE-R357-StatutPersonnePriseCharge","code":"999"}]"#)
        task["input"] = .array(inputs)
        task["status"] = .string("failed")
        task["meta"]!["lastUpdated"] = nil
        let issues = v.validate(try FHIRJSONReader.read(task.serialized()))
        print("[validator] broken SDO task:\n  " + issues.map(\.description).joined(separator: "\n  "))
        func has(_ sev: IssueSeverity, _ expr: String, _ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
            #expect(issues.contains { $0.severity == sev && $0.expression == expr && $0.message.contains(text) },
                    "missing \(sev) at \(expr): \(text)", sourceLocation: sourceLocation)
        }
        has(.error, "Task", "Slice 'Task.input:idNat_Struct': a matching slice is required, but not found")
        has(.error, "Task.status", "pattern")
        has(.error, "Task.input[0].value.ofType(integer)", "The type 'integer' is not allowed here")
        has(.error, "Task.input[3].value.ofType(CodeableConcept)", "None of the codings provided are in the value set")
        has(.error, "Task.meta", "Task.meta.lastUpdated: minimum required = 1")
    }
}
