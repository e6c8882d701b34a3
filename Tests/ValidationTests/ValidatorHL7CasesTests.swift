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
        var agree: [String] = [], disagree: [String] = []
        for t in index["tests"]?.array ?? [] {
            guard t["tier"]?.string == "A-offline", t["gateway_core"]?.bool == true,
                  let file = t["file"]?.string, file.hasSuffix(".json"), t["supporting"]?.array?.isEmpty ?? true,
                  let expected = t["expected"]?["error"]?.int,
                  let bytes = FileManager.default.contents(atPath: base.appendingPathComponent("validator/" + file).path) else { continue }
            var options = ValidatorOptions()
            if t["options"]?["security-checks"]?.bool == true { options.securityChecks = true }
            if t["options"]?["examples"]?.bool == false { options.allowExampleURLs = false }
            let validator = Validator(definitions: defs, terminology: ValidatorExamplesTests.store, options: options)
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
    static let minimumAgreement = 40

    /// Cases whose supporting files are JSON: loaded into a copy of the conformance store (snapshots
    /// generated there), validated without and with the case's profile.
    @Test(.enabled(if: ValidatorSDOTests.conformance != nil)) func casesWithSupportingProfiles() throws {
        let base = TestPaths.sharedReference.appendingPathComponent("fhir-test-cases")
        guard let data = FileManager.default.contents(atPath: base.appendingPathComponent("r4-validator-index.json").path),
              let index = try? JSONValue.parse([UInt8](data)) else { return }
        var agree = 0, total = 0
        var diffs: [String] = []
        for t in index["tests"]?.array ?? [] {
            guard t["tier"]?.string == "A-offline", t["gateway_core"]?.bool == true,
                  let file = t["file"]?.string, file.hasSuffix(".json"),
                  let supporting = t["supporting"]?.array?.compactMap(\.string), !supporting.isEmpty,
                  supporting.allSatisfy({ $0.hasSuffix(".json") }),
                  let bytes = FileManager.default.contents(atPath: base.appendingPathComponent("validator/" + file).path) else { continue }
            var store = ValidatorSDOTests.conformance!
            var resources: [JSONValue] = []
            for f in supporting {
                guard let d = FileManager.default.contents(atPath: base.appendingPathComponent("validator/" + f).path),
                      let r = try? JSONValue.parse([UInt8](d)) else { continue }
                resources.append(r)
            }
            _ = store.load(resources: resources.filter { $0["resourceType"]?.string == "StructureDefinition" }, lenient: true)
            var options = ValidatorOptions()
            for ig in resources where ig["resourceType"]?.string == "ImplementationGuide" {
                for g in ig["global"]?.array ?? [] {
                    if let type = g["type"]?.string, let p = g["profile"]?.string { options.globalProfiles[type, default: []].append(p) }
                }
            }
            let validator = Validator(definitions: store, terminology: ValidatorExamplesTests.store, options: options)
            guard let tree = try? FHIRJSONReader.read([UInt8](bytes)) else { continue }
            var runs: [(String, [String], Int)] = []
            if let e = t["expected"]?["error"]?.int { runs.append(("base", [], e)) }
            if let p = t["profile"]?.string, let e = t["expected_profile"]?["error"]?.int,
               let url = resources.first(where: { p.hasSuffix(".json") && $0["url"] != nil && supporting.firstIndex(of: p).map { resources.indices.contains($0) } == true })?["url"]?.string {
                let purl = supporting.firstIndex(of: p).flatMap { resources.indices.contains($0) ? resources[$0]["url"]?.string : nil } ?? url
                runs.append(("profile", [purl], e))
            }
            for (kind, profiles, expected) in runs {
                total += 1
                let errors = validator.validate(tree, profiles: profiles).filter(\.isError)
                if errors.count == expected { agree += 1 } else {
                    diffs.append("\(file) [\(kind)]: ours \(errors.count), Java \(expected)\n    " + errors.map { "\($0.expression ?? "-"): \($0.message)" }.joined(separator: "\n    "))
                }
            }
        }
        print("[validator] HL7 cases with JSON supporting profiles: \(agree)/\(total) error counts agree with Java")
        for d in diffs { print("[validator-diff] " + d) }
        #expect(total == 0 || agree >= Self.minimumAgreementWithProfiles)
    }

    static let minimumAgreementWithProfiles = 19
}
