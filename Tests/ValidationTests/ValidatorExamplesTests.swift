import Testing
import Foundation
import FHIRModels
@testable import Validation

/// The 715 official R4 examples validated against the core definitions.
@Suite struct ValidatorExamplesTests {
    /// Examples that are invalid in the published package itself (known errata), with the reason.
    /// Each was checked by hand; the Java validator reports the same kind of error for each.
    static let knownInvalid: [String: String] = [
        "Basic-referral.json": "modifierExtension with example.org urls that have no definition (unknown modifier extensions are errors)",
        "Bundle-10bb101f-a121-4264-a920-67be9cb82c74.json": "entry fullUrl .../Patient/pat12 but resource id pat2",
        "Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json": "entry fullUrl .../Patient/pat12 but resource id pat2",
        "Bundle-lri-example.json": "entry fullUrls .../Observation/lri-gramstain1 etc. but resource ids gramstain1 etc.",
        "Bundle-hla-1.json": "sub-extension 'uri' of hla-genotyping-results-glstring, whose definition names it 'url'",
        "DeviceMetric-example.json": "parent references a DeviceDefinition; R4 allows Reference(Device) only",
        "DeviceUseStatement-example.json": "reasonReference to a Procedure; R4 does not list Procedure as a target",
        "Library-zika-virus-intervention-logic.json": "codeFilter.valueSet 'urn:oid:X.Y.Z' is not an OID",
        "MedicationRequest-medrx0301.json": "dispenseRequest.performer references a Practitioner; R4 allows Reference(Organization) only",
        "Observation-clinical-gender.json": "performer references an Encounter, not an allowed target",
        "Questionnaire-qs1.json": "nested items without the mandatory linkId",
        "ig-r4.json": "ImplementationGuide without name and status; a reference id longer than 64 characters",
    ]

    /// Examples whose codes are wrong for a required binding (found with the project's terminology store).
    static let knownInvalidCodes: [String: String] = [:]

    static let store: TerminologyStore? = try? TerminologyStore.load(directory: TestPaths.repoRoot.appendingPathComponent("Terminologies").path)

    @Test func officialExamplesHaveNoErrors() throws {
        try validateExamples(terminology: nil, known: Self.knownInvalid)
    }

    @Test(.enabled(if: store != nil)) func officialExamplesWithTheTerminologyStore() throws {
        try validateExamples(terminology: Self.store, known: Self.knownInvalid.merging(Self.knownInvalidCodes) { a, _ in a })
    }

    @Test(.enabled(if: store != nil && ValidatorSDOTests.conformance != nil)) func officialExamplesWithTheProjectStores() throws {
        try validateExamples(terminology: Self.store, known: Self.knownInvalid.merging(Self.knownInvalidCodes) { a, _ in a },
                             definitions: ValidatorSDOTests.conformance)
    }

    func validateExamples(terminology: (any TerminologyProvider)?, known: [String: String],
                          definitions: (any StructureDefinitionProvider)? = BundleDefinitions.core) throws {
        guard let defs = definitions ?? BundleDefinitions.core else { return }
        let dir = TestPaths.r4.appendingPathComponent("examples")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
        let validator = Validator(definitions: defs, terminology: terminology)
        var clean = 0, withErrors: [String] = [], warnings = 0, bytes = 0, codeWarnings = 0, notChecked = 0
        var unexpected: [String] = []
        let start = Date()
        for f in files.sorted() where f.hasSuffix(".json") {
            let data = try [UInt8](Data(contentsOf: dir.appendingPathComponent(f)))
            bytes += data.count
            let tree = try FHIRJSONReader.read(data)
            let issues = validator.validate(tree)
            warnings += issues.filter { $0.severity == .warning }.count
            codeWarnings += issues.filter { $0.severity == .warning && $0.code == .codeInvalid }.count
            notChecked += issues.filter { $0.severity == .information && $0.code == .notSupported }.count
            let errors = issues.filter(\.isError)
            if errors.isEmpty { clean += 1; continue }
            withErrors.append(f)
            if known[f] == nil {
                unexpected.append("\(f):\n  " + errors.prefix(5).map(\.description).joined(separator: "\n  "))
            }
        }
        let seconds = Date().timeIntervalSince(start)
        print("[validator] examples (definitions: \(defs is ConformanceStore ? "conformance store" : "R4 bundles"), terminology: \(terminology == nil ? "none" : "store")): \(clean) with 0 errors, \(withErrors.count) with errors (\(withErrors.joined(separator: ", "))); \(warnings) warnings (\(codeWarnings) on codes), \(notChecked) codes not checkable; \(bytes / 1000) kB in \(String(format: "%.2f", seconds)) s (debug build)")
        #expect(clean + withErrors.count >= 700)
        #expect(unexpected.isEmpty, "\(unexpected.count) unexpected:\n\(unexpected.prefix(40).joined(separator: "\n"))")
    }
}

extension ValidatorExamplesTests {
    /// The same instance read from XML gives the same findings (same severities, codes, expressions).
    @Test func xmlTreesGiveTheSameFindings() throws {
        guard let defs = BundleDefinitions.core else { return }
        let dir = TestPaths.r4.appendingPathComponent("examples")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
        let validator = Validator(definitions: defs, terminology: Self.store)
        var compared = 0
        var differences: [String] = []
        for f in files.sorted() where f.hasSuffix(".json") {
            let json = try FHIRJSONReader.read([UInt8](Data(contentsOf: dir.appendingPathComponent(f))))
            guard let xml = try? FHIRXMLReader.read(FHIRXMLWriter.write(json)) else { continue }
            compared += 1
            let a = validator.validate(json).map { "\($0.severity) \($0.code) \($0.expression ?? "")" }
            let b = validator.validate(xml).map { "\($0.severity) \($0.code) \($0.expression ?? "")" }
            if a != b { differences.append("\(f):\n  json: \(a.filter { !b.contains($0) })\n  xml:  \(b.filter { !a.contains($0) })") }
        }
        print("[validator] XML vs JSON: \(compared) examples compared, \(differences.count) differ")
        #expect(compared > 700)
        #expect(differences.isEmpty, "\(differences.prefix(10).joined(separator: "\n"))")
    }

    /// Debug-build timing of the same pass with FHIRPath invariants off, to see what invariants cost.
    @Test func timingWithoutInvariants() throws {
        guard let defs = BundleDefinitions.core else { return }
        let dir = TestPaths.r4.appendingPathComponent("examples")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
        let trees = try files.sorted().filter { $0.hasSuffix(".json") }.map { try FHIRJSONReader.read([UInt8](Data(contentsOf: dir.appendingPathComponent($0)))) }
        var off = ValidatorOptions()
        off.checkInvariants = false
        for (name, v) in [("off", Validator(definitions: defs, terminology: nil, options: off)), ("on", Validator(definitions: defs, terminology: nil))] {
            for t in trees { _ = v.validate(t) }
            let start = Date()
            var errors = 0
            for t in trees { errors += v.validate(t).filter(\.isError).count }
            print("[validator] invariants \(name): \(String(format: "%.2f", Date().timeIntervalSince(start))) s for \(trees.count) examples (debug), \(errors) errors")
        }
    }

    @Test func printWarningSample() throws {
        guard let defs = BundleDefinitions.core else { return }
        let dir = TestPaths.r4.appendingPathComponent("examples")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
        let validator = Validator(definitions: defs, terminology: nil)
        var counts: [String: Int] = [:]
        var sample: [String: String] = [:]
        for f in files.sorted() where f.hasSuffix(".json") {
            let tree = try FHIRJSONReader.read([UInt8](Data(contentsOf: dir.appendingPathComponent(f))))
            for i in validator.validate(tree) where !i.isError {
                let key = String(i.message.prefix(40))
                counts[key, default: 0] += 1
                sample[key] = "\(f): \(i)"
            }
        }
        for (k, c) in counts.sorted(by: { $0.value > $1.value }) { print("[warn] \(c) \(sample[k]!.prefix(250))") }
    }
}
