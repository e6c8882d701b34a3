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

    /// Flow 5 search result: entry resources must be ESMS tasks (type + nested profile on `entry.resource`).
    @Test(.enabled(if: conformance != nil && FileManager.default.fileExists(atPath: example.path)))
    func searchResultBundleAppliesTheTaskProfileToEntries() throws {
        let v = validator()
        let task = try JSONValue.parse([UInt8](Data(contentsOf: Self.example)))
        var broken = task
        broken["id"] = .string("broken")
        broken["status"] = .string("failed")
        func bundle(_ resources: [JSONValue]) -> JSONValue {
            .object([("resourceType", .string("Bundle")), ("type", .string("searchset")),
                     ("meta", .object([("profile", .array([.string("https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-bundle-resultat-recherche-notification-esms")]))])),
                     ("link", TestProfiles.json(#"[{"relation":"self","url":"https://sdo.example.fr/fhir/Task?_lastUpdated=gt2024-01-01"}]"#)),
                     ("entry", .array(resources.map { r in
                         .object([("fullUrl", .string("https://sdo.example.fr/fhir/\(r["resourceType"]!.string!)/\(r["id"]!.string!)")),
                                  ("resource", r), ("search", TestProfiles.json(#"{"mode":"match"}"#))])
                     }))])
        }
        let good = v.validate(try FHIRJSONReader.read(bundle([task]).serialized()))
        #expect(good.filter(\.isError).isEmpty, "\(good)")

        let patient = TestProfiles.json(#"{"resourceType":"Patient","id":"p1"}"#)
        let bad = v.validate(try FHIRJSONReader.read(bundle([task, broken, patient]).serialized()))
        print("[validator] SDO bundle:\n  " + bad.map(\.description).joined(separator: "\n  "))
        #expect(bad.contains { $0.isError && $0.expression == "Bundle.entry[1].resource.status" && $0.message.contains("pattern") }, "\(bad)")
        #expect(bad.contains { $0.isError && $0.expression == "Bundle.entry[2].resource" && $0.message.contains("The type 'Patient' is not allowed here") }, "\(bad)")
    }

    @Test(.enabled(if: conformance != nil)) func esmsConsent() throws {
        let v = validator()
        let issues = v.validate(try FHIRJSONReader.read(Array(#"""
        {"resourceType":"Consent","meta":{"profile":["https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-consent"]},
         "status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
         "category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
         "policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTIN"}]}}
        """#.utf8)))
        print("[validator] ESMS consent:\n  " + issues.map(\.description).joined(separator: "\n  "))
        #expect(issues.contains { $0.isError && $0.expression == "Consent" && $0.message.contains("Consent.dateTime: minimum required = 1") })
        #expect(issues.contains { $0.isError && $0.expression == "Consent" && $0.message.contains("Consent.provision: minimum required = 1") })
        #expect(issues.contains { $0.isError && $0.expression == "Consent.meta" && $0.message.contains("Consent.meta.source: minimum required = 1") })
    }

    /// Profile invariants through the FHIRPath engine, severities kept (regle-NomPieceJointe-type is an
    /// error, regle-Contenu a warning).
    @Test(.enabled(if: conformance != nil)) func esmsDocumentReferenceInvariants() throws {
        let v = validator()
        func docRef(title: String, data: Bool) throws -> [OutcomeIssue] {
            let attachment = data ? #"{"contentType":"text/plain","title":"\#(title)","data":"PENEQT4="}"# : #"{"contentType":"text/plain","title":"\#(title)"}"#
            return v.validate(try FHIRJSONReader.read(Array(#"""
            {"resourceType":"DocumentReference","meta":{"profile":["https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-document-reference"]},
             "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Document</div>"},
             "identifier":[{"use":"usual","value":"dec-1"},{"use":"official","value":"nat-1"}],"status":"current",
             "type":{"coding":[{"system":"http://loinc.org","code":"57830-2"}]},
             "content":[{"attachment":\#(attachment)}]}
            """#.utf8)))
        }
        let good = try docRef(title: "Document Individu et décision", data: true)
        #expect(good.filter { $0.severity == .error || $0.severity == .warning }.filter { $0.code == .invariant }.isEmpty, "\(good)")
        let bad = try docRef(title: "Autre", data: false)
        print("[validator] ESMS DocumentReference:\n  " + bad.map(\.description).joined(separator: "\n  "))
        #expect(bad.contains { $0.severity == .error && $0.code == .invariant && $0.expression == "DocumentReference" && $0.rule == "regle-NomPieceJointe-type" }, "\(bad)")
        #expect(bad.contains { $0.severity == .warning && $0.code == .invariant && $0.expression == "DocumentReference" && $0.rule == "regle-Contenu" }, "\(bad)")
    }
}
