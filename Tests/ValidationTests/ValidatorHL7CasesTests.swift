import Testing
import Foundation
import FHIRModels
@testable import Validation

/// Differential check against the Java validator's expected outcomes (HL7 fhir-test-cases), on the
/// tier-A R4 JSON cases of gateway modules that need no supporting files: error counts compared exactly.
@Suite struct ValidatorHL7CasesTests {
    @Test func errorCountsAgreeWithJava() throws {
        guard let defs = BundleDefinitions.core else { return }
        let base = TestPaths.sharedReference.appendingPathComponent("fhir-test-cases")
        guard let data = FileManager.default.contents(atPath: base.appendingPathComponent("r4-validator-index.json").path),
              let index = try? JSONValue.parse([UInt8](data)) else { return }
        let validator = Validator(definitions: defs, terminology: ValidatorExamplesTests.store)
        var agree: [String] = [], disagree: [String] = []
        for t in index["tests"]?.array ?? [] {
            guard t["tier"]?.string == "A-offline", t["gateway_core"]?.bool == true,
                  let file = t["file"]?.string, file.hasSuffix(".json"), t["supporting"]?.array?.isEmpty ?? true,
                  let expected = t["expected"]?["error"]?.int,
                  let bytes = FileManager.default.contents(atPath: base.appendingPathComponent("validator/" + file).path) else { continue }
            let issues: [OutcomeIssue]
            do { issues = validator.validate(try FHIRJSONReader.read([UInt8](bytes))) } catch {
                // Not readable at all: the Java validator reports a fatal/error too.
                if expected > 0 { agree.append(file) } else { disagree.append("\(file): unreadable (\(error))") }
                continue
            }
            let errors = issues.filter(\.isError)
            if errors.count == expected { agree.append(file); continue }
            var javaIssues: [String] = []
            if let out = t["outcome_file"]?.string, let o = FileManager.default.contents(atPath: base.appendingPathComponent("validator/" + out).path),
               let oc = try? JSONValue.parse([UInt8](o)) {
                for i in oc["issue"]?.array ?? [] where ["error", "fatal"].contains(i["severity"]?.string ?? "") {
                    javaIssues.append("\(i["expression"]?.array?.first?.string ?? "-"): \(i["details"]?["text"]?.string ?? "")")
                }
            }
            disagree.append("\(file): ours \(errors.count), Java \(expected)\n    ours: " + errors.map { "\($0.expression ?? "-"): \($0.message)" }.joined(separator: "\n          ")
                            + "\n    java: " + javaIssues.joined(separator: "\n          "))
        }
        print("[validator] HL7 cases (tier A, gateway modules, no supporting files): \(agree.count) agree on error count, \(disagree.count) differ")
        for d in disagree { print("[validator-diff] " + d) }
        #expect(agree.count + disagree.count == 0 || agree.count >= Self.minimumAgreement)
    }

    /// Raised as the validator improves, so that regressions fail.
    static let minimumAgreement = 35
}
