import Testing
import Foundation
import FHIRModels
@testable import Validation

/// The validator's caches must not change any result: a validator that remembers terminology answers
/// and reference target types (and has seen every example once already) gives exactly the issues of a
/// fresh validator whose terminology provider is not a `TerminologyStore` (so nothing is remembered).
@Suite struct ValidatorFastPathTests {
    /// The store behind a provider type the validator does not memoize.
    struct Unremembered: TerminologyProvider {
        let store: TerminologyStore
        func validate(code: String, system: String?, display: String?, valueSet: String) -> CodeValidation {
            store.validate(code: code, system: system, display: display, valueSet: valueSet)
        }
        func knowsCodeSystem(_ url: String) -> Bool { store.knowsCodeSystem(url) }
    }

    static func render(_ issues: [OutcomeIssue]) -> [String] {
        issues.map { "\($0.severity) \($0.code) \($0.expression ?? "-") [\($0.rule ?? "")] \($0.message)" }
    }

    @Test(.enabled(if: TestPaths.r4ExamplesAvailable && ValidatorExamplesTests.store != nil && ValidatorSDOTests.conformance != nil))
    func cachedAnswersEqualUncachedOnTheExamples() throws {
        let store = try #require(ValidatorExamplesTests.store)
        let defs = try #require(ValidatorSDOTests.conformance)
        let dir = TestPaths.r4.appendingPathComponent("examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        try #require(files.count > 700)
        let trees = try files.map { try FHIRJSONReader.read([UInt8](Data(contentsOf: dir.appendingPathComponent($0)))) }

        let cached = Validator(definitions: defs, terminology: store)
        let plain = Validator(definitions: defs, terminology: Unremembered(store: store))
        for t in trees { _ = cached.validate(t) }  // fill the caches
        var codeIssues = 0
        for (f, t) in zip(files, trees) {
            let a = Self.render(cached.validate(t)), b = Self.render(plain.validate(t))
            #expect(a == b, "\(f)")
            codeIssues += a.filter { $0.contains("code-invalid") || $0.contains("codeInvalid") }.count
        }
        // The comparison exercised the terminology path (the examples have code warnings).
        #expect(codeIssues > 0)
    }
}
