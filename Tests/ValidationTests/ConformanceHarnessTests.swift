import Testing
import Foundation
import FHIRModels
@testable import Validation

/// The conformance harness (`fhir-gateway conformance-tests`) over the HL7 validator test cases, tier A,
/// gateway modules: agreement with the Java reference validator must not fall below the floor.
/// Skipped when `../shared/reference/fhir-test-cases` or the project's stores are absent.
@Suite struct ConformanceHarnessTests {
    static let casesDirectory = TestPaths.sharedReference.appendingPathComponent("fhir-test-cases").path
    static var available: Bool {
        FileManager.default.fileExists(atPath: casesDirectory + "/r4-validator-index.json")
            && ValidatorSDOTests.conformance != nil && ValidatorExamplesTests.store != nil
    }

    /// Raised as the validator improves, so that regressions fail (runs: a case with a profile counts twice).
    static let gatewayCoreFloor = 163

    @Test(.enabled(if: available)) func gatewayCoreAgreement() throws {
        let cases = try HL7TestCases.loadCases(directory: Self.casesDirectory)
        // Stores loaded once; each case works on a copy.
        let runner = HL7TestCases.Runner(directory: Self.casesDirectory, conformance: ValidatorSDOTests.conformance!,
                                         terminology: ValidatorExamplesTests.store!)
        let results = runner.run(cases, selection: .gatewayCore)
        let passed = results.filter(\.passed).count
        print("[conformance] HL7 validator cases, tier A gateway_core: \(passed) of \(results.count) runs agree with Java (floor \(Self.gatewayCoreFloor))")
        for r in results where !r.passed {
            print("[conformance-diff] \(r.label): expected \(r.expectedErrors) errors, ours \(r.ourErrors.count); missing \(r.missingExpressions)")
        }
        #expect(results.count >= 150, "the gateway_core selection shrank: \(results.count) runs")
        #expect(passed >= Self.gatewayCoreFloor)
    }

    @Test func comparisonRules() {
        // Java's resource comments are ignored when comparing expressions.
        #expect(HL7TestCases.normalize("Bundle.entry[0].resource/*Patient/p1*/.gender") == "Bundle.entry[0].resource.gender")
        #expect(HL7TestCases.normalize("Patient.name[0]") == "Patient.name[0]")
        let c = HL7TestCases.Case(name: "x", file: "x.json", module: "general", tier: "A-offline", gatewayCore: true,
                                  supporting: [], profile: nil, expectedErrors: 1, expectedProfileErrors: nil,
                                  expectedIssues: [.init(expression: "Patient.gender", message: "bad")],
                                  expectedProfileIssues: [], options: .object([]))
        let runner = HL7TestCases.Runner(directory: "/nonexistent", conformance: ConformanceStore(), terminology: TerminologyStore(referenceDate: "2026-01-01"))
        let same = runner.compare(c, kind: "base", expected: 1, issues: c.expectedIssues,
                                  ours: [OutcomeIssue(severity: .error, code: .value, message: "m", expression: "Patient.gender")], notes: [])
        #expect(same.passed)
        let elsewhere = runner.compare(c, kind: "base", expected: 1, issues: c.expectedIssues,
                                       ours: [OutcomeIssue(severity: .error, code: .value, message: "m", expression: "Patient")], notes: [])
        #expect(!elsewhere.passed && elsewhere.missingExpressions == ["Patient.gender"])
        let warningsOnly = runner.compare(c, kind: "base", expected: 1, issues: c.expectedIssues,
                                          ours: [OutcomeIssue(severity: .warning, code: .value, message: "m", expression: "Patient.gender")], notes: [])
        #expect(!warningsOnly.passed)
        // The report ends the figures with exactly one summary line.
        let text = HL7TestCases.report([same, elsewhere], selection: .gatewayCore)
        #expect(text.split(separator: "\n").filter { $0.hasSuffix("failed") && $0.contains(" passed, ") }.count == 1)
        #expect(text.contains("1 passed, 1 failed"))
    }
}
