import Testing
import Foundation
import FHIRModels
@testable import Validation

/// Replays `Fixtures/fuzz/fhirpath/` (seeds and crashers of `scripts/fuzz fhirpath`): every text either
/// compiles or fails with a positioned `FHIRPathError`; compiled ones evaluate or fail cleanly.
@Suite struct FHIRPathFuzzRegressionTests {
    @Test func replayCorpus() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz/fhirpath")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }.sorted()
        #expect(files.count >= 8)
        let patient = try FHIRJSONReader.read(Array(#"{"resourceType":"Patient","id":"p","name":[{"given":["A"],"family":"C"}],"birthDate":"1970-01-01","multipleBirthInteger":2,"extension":[{"url":"http://x","valueDecimal":1.50}]}"#.utf8))
        var compiled = 0, refused = 0
        for f in files {
            let text = try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)
            do {
                let e = try FHIRPathExpression(text)
                compiled += 1
                _ = try? e.evaluate(patient, node: patient.root)
            } catch {
                refused += 1
                #expect(!error.message.isEmpty, "\(f)")
            }
        }
        #expect(compiled > 0 && refused > 0, "\(compiled) compiled, \(refused) refused")
    }
}
