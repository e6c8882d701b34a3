import Testing
import Foundation
import FHIRModels
@testable import Validation

/// Targeted negative tests: each check of the validator, with the exact FHIRPath expression reported.
@Suite struct ValidatorChecksTests {
    static let core = BundleDefinitions.core

    func run(_ json: String, profiles: [String] = [], extra: [JSONValue] = [], terminology: (any TerminologyProvider)? = nil,
             invariants: (any InvariantEvaluator)? = nil, options: ValidatorOptions = ValidatorOptions()) throws -> [OutcomeIssue] {
        let defs = extra.isEmpty ? Self.core! : BundleDefinitions(core: Self.core!, extra: extra)
        let v = Validator(definitions: defs, terminology: terminology, invariants: invariants, options: options)
        return v.validate(try FHIRJSONReader.read(Array(json.utf8)), profiles: profiles)
    }

    func coreSD(_ type: String) -> JSONValue { Self.core!.structureDefinition(url: Validator.coreBase + type)! }

    /// Expects exactly one issue at `expression` with this severity whose message contains `text`.
    func expectIssue(_ issues: [OutcomeIssue], _ severity: IssueSeverity, _ expression: String, _ text: String,
                     sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let hits = issues.filter { $0.severity == severity && $0.expression == expression && $0.message.contains(text) }
        #expect(hits.count == 1, "expected one \(severity) at \(expression) containing '\(text)'; got:\n\(issues.map(\.description).joined(separator: "\n"))",
                sourceLocation: sourceLocation)
    }

    func errors(_ issues: [OutcomeIssue]) -> [OutcomeIssue] { issues.filter(\.isError) }

    // MARK: structure, cardinality, formats

    @Test(.enabled(if: core != nil)) func structureCardinalityAndFormats() throws {
        let issues = try run(#"""
        {"resourceType":"Patient","id":"bad id!","foo":1,"name":[{"given":["A"," B"]}],"communication":[{"preferred":true}],
         "birthDate":"2020-13-01","multipleBirthInteger":3000000000,"gender":"fe  male"}
        """#)
        expectIssue(issues, .error, "Patient", "Unrecognised property 'foo'")
        expectIssue(issues, .error, "Patient.id", "is not valid")
        expectIssue(issues, .warning, "Patient.name[0].given[1]", "should not start or finish with whitespace")
        expectIssue(issues, .error, "Patient.communication[0]", "Patient.communication.language: minimum required = 1, but only found 0 (from http://hl7.org/fhir/StructureDefinition/Patient|4.0.1)")
        expectIssue(issues, .error, "Patient.birthDate", "not a valid date")
        expectIssue(issues, .error, "Patient.multipleBirth.ofType(integer)", "32-bit")
        expectIssue(issues, .error, "Patient.gender", "consecutive spaces")
        #expect(errors(issues).count == 6, "\(issues)")
    }

    @Test func primitiveFormats() {
        func bad(_ k: PrimitiveKind, _ s: String) -> Bool {
            var x = s
            return x.withUTF8 { PrimitiveFormats.check(k, $0) } != nil
        }
        let good: [(PrimitiveKind, String)] = [
            (.date, "2020"), (.date, "2020-02"), (.date, "2024-02-29"), (.dateTime, "2020-01-01T10:00:00Z"),
            (.dateTime, "2020-01-01T10:00:00.123+02:00"), (.instant, "2020-01-01T10:00:00.5-05:00"), (.time, "23:59:59"),
            (.decimal, "-0.5"), (.decimal, "1e3"), (.integer, "-2147483648"), (.positiveInt, "1"), (.unsignedInt, "0"),
            (.id, "a-B.9"), (.oid, "urn:oid:1.2.250.1.213"), (.uuid, "urn:uuid:c757873d-ec9a-4326-a141-556f43239520"),
            (.uri, "http://x/y"), (.uri, "urn:uuid:C757873D-EC9A-4326-A141-556F43239520"), (.code, "a b"),
            (.base64Binary, "aGVsbG8="), (.boolean, "true"), (.string, "x"),
        ]
        for (k, s) in good { #expect(!bad(k, s), "\(k) '\(s)' should be valid") }
        let wrong: [(PrimitiveKind, String)] = [
            (.date, "2023-02-29"), (.date, "2020-1-01"), (.dateTime, "2020-01-01T10:00:00"), (.dateTime, "2020-01-01T10:00Z"),
            (.instant, "2020-01-01"), (.instant, "2020-01-01T10:00:00"), (.time, "24:00:00"), (.decimal, "01.5"), (.decimal, "1."),
            (.integer, "2147483648"), (.integer, "1.0"), (.positiveInt, "0"), (.unsignedInt, "-1"), (.id, String(repeating: "a", count: 65)),
            (.id, "a_b"), (.oid, "urn:oid:1.02"), (.oid, "1.2.3"), (.uuid, "urn:uuid:C757873D-EC9A-4326-A141-556F43239520"),
            (.uri, "http://x y"), (.uri, "urn:oid:X.Y"), (.code, " a"), (.code, "a\tb"), (.base64Binary, "aGVsbG8"), (.base64Binary, "a$=="),
            (.boolean, "True"), (.string, " x"),
        ]
        for (k, s) in wrong { #expect(bad(k, s), "\(k) '\(s)' should be invalid") }
        var big = String(repeating: "x", count: PrimitiveFormats.maxStringBytes + 1)
        #expect(big.withUTF8 { PrimitiveFormats.check(.string, $0) }?.severity == .error)
    }

    @Test(.enabled(if: core != nil)) func dateTimeAndInstantInContext() throws {
        let issues = try run(#"""
        {"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"2020-01-01T10:00:00","issued":"2020-01-01"}
        """#)
        expectIssue(issues, .error, "Observation.effective.ofType(dateTime)", "timezone")
        expectIssue(issues, .error, "Observation.issued", "not a valid instant")
        #expect(errors(issues).count == 2)
    }

    @Test(.enabled(if: core != nil)) func xhtmlNarrative() throws {
        func narrative(_ div: String) throws -> [OutcomeIssue] {
            let escaped = div.replacingOccurrences(of: "\"", with: "\\\"")
            return try run(#"{"resourceType":"Patient","text":{"status":"generated","div":"\#(escaped)"}}"#)
        }
        #expect(errors(try narrative(#"<div xmlns="http://www.w3.org/1999/xhtml"><p class="x">Hi <b>there</b><br/></p><a href="http://x">x</a></div>"#)).isEmpty)
        let script = try narrative(#"<div xmlns="http://www.w3.org/1999/xhtml">Hi <script>alert(1)</script></div>"#)
        expectIssue(script, .error, "Patient.text.div", "Illegal element name in the XHTML ('script')")
        expectIssue(script, .error, "Patient.text.div", "Constraint failed: txt-1")
        #expect(errors(script).count == 2, "\(script)")
        // Empty narrative: txt-2 is not enforced (as Java; some official examples have empty divs).
        #expect(errors(try narrative(#"<div xmlns="http://www.w3.org/1999/xhtml"> <p> </p> </div>"#)).isEmpty)
        #expect(errors(try narrative(#"<div xmlns="http://www.w3.org/1999/xhtml"><img src="x.png" alt=""/></div>"#)).isEmpty)
        expectIssue(try narrative(#"<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">a</p></div>"#), .error, "Patient.text.div", "Event handler attribute 'onclick'")
        expectIssue(try narrative(#"<div xmlns="http://www.w3.org/1999/xhtml"><a href=" JavaScript:alert(1)">a</a></div>"#), .error, "Patient.text.div", "script URL")
        expectIssue(try narrative(#"<p xmlns="http://www.w3.org/1999/xhtml">a</p>"#), .error, "Patient.text.div", "root element must be a div")
        expectIssue(try narrative(#"<div>a</div>"#), .error, "Patient.text.div", "XHTML namespace")
        expectIssue(try narrative(#"<div xmlns="http://www.w3.org/1999/xhtml">&reg; &amp; &#169; &#xA9;</div>"#), .error, "Patient.text.div", "Invalid entity in the XHTML ('&reg;')")
        expectIssue(try narrative(#"<div xmlns="http://www.w3.org/1999/xhtml"><p>a</div>"#), .error, "Patient.text.div", "Malformed XHTML")
    }

    @Test(.enabled(if: core != nil)) func securityAndExampleURLOptions() throws {
        let json = #"{"resourceType":"Patient","name":[{"text":"Standard <script>x</script>"},{"text":"a < b and c>d"}],"photo":[{"url":"http://www.example.org/p.png"}]}"#
        let lenient = try run(json)
        expectIssue(lenient, .information, "Patient.name[0].text", "looks like embedded HTML tags")
        #expect(errors(lenient).isEmpty, "\(lenient)")
        var strict = ValidatorOptions()
        strict.securityChecks = true
        strict.allowExampleURLs = false
        let issues = try run(json, options: strict)
        expectIssue(issues, .error, "Patient.name[0].text", "looks like embedded HTML tags")
        expectIssue(issues, .error, "Patient.photo[0].url", "Example URLs are not allowed")
        #expect(errors(issues).count == 2, "\(issues)")
    }

    // MARK: profiles: cardinality, types, fixed, pattern, nested type profiles

    @Test(.enabled(if: core != nil)) func profileCardinalityFixedAndProfileLookup() throws {
        let profile = TestProfiles.derive(from: coreSD("Patient"), url: "http://example.org/p", edits: [
            "Patient.name": [("max", .string("1"))],
            "Patient.identifier": [("min", .number("1"))],
            "Patient.gender": [("fixedCode", .string("female"))],
        ])
        let json = #"{"resourceType":"Patient","meta":{"profile":["http://example.org/p","http://example.org/missing"]},"name":[{"family":"A"},{"family":"B"}],"gender":"male"}"#
        let issues = try run(json, extra: [profile])
        expectIssue(issues, .error, "Patient", "Patient.name: max allowed = 1, but found 2 (from http://example.org/p)")
        expectIssue(issues, .error, "Patient", "Patient.identifier: minimum required = 1, but only found 0 (from http://example.org/p)")
        expectIssue(issues, .error, "Patient.gender", "Value is 'male' but is fixed to 'female' in the profile http://example.org/p#Patient.gender")
        expectIssue(issues, .warning, "Patient.meta.profile[1]", "Profile reference 'http://example.org/missing' has not been checked")
        #expect(errors(issues).count == 3, "\(issues)")
        // A complex fixed value: each element that differs or is extra is reported where it is.
        let fixedCC = TestProfiles.derive(from: coreSD("Patient"), url: "http://example.org/pf", edits: [
            "Patient.maritalStatus": [("fixedCodeableConcept", TestProfiles.json(#"{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M"}]}"#))],
        ])
        let cc = try run(#"""
        {"resourceType":"Patient","maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"S"}],"text":"single"}}
        """#, profiles: ["http://example.org/pf"], extra: [fixedCC])
        expectIssue(cc, .error, "Patient.maritalStatus.coding[0].code", "Value is 'S' but is fixed to 'M'")
        expectIssue(cc, .error, "Patient.maritalStatus.text", "The element text is present in the instance but not allowed in the applicable fixed value")
        #expect(errors(cc).count == 2, "\(cc)")
        // A global profile applies to every Patient, also inside a Bundle.
        var global = ValidatorOptions()
        global.globalProfiles = ["Patient": ["http://example.org/p"]]
        let inBundle = try run(#"{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:c757873d-ec9a-4326-a141-556f43239520","resource":{"resourceType":"Patient","gender":"male","identifier":[{"value":"1"}]}}]}"#,
                               extra: [profile], options: global)
        expectIssue(inBundle, .error, "Bundle.entry[0].resource.gender", "fixed to 'female'")
        #expect(errors(inBundle).count == 1, "\(inBundle)")
        // Asked for explicitly instead of through meta.profile: same findings.
        let explicit = try run(#"{"resourceType":"Patient","gender":"male"}"#, profiles: ["http://example.org/p"], extra: [profile])
        expectIssue(explicit, .error, "Patient.gender", "fixed to 'female'")
    }

    @Test(.enabled(if: core != nil)) func choiceTypesPatternAndNestedTypeProfile() throws {
        let profile = TestProfiles.derive(from: coreSD("Observation"), url: "http://example.org/o", edits: [
            "Observation.value[x]": [("type", TestProfiles.json(#"[{"code":"Quantity","profile":["http://hl7.org/fhir/StructureDefinition/SimpleQuantity"]}]"#))],
            "Observation.code": [("patternCodeableConcept", TestProfiles.json(#"{"coding":[{"system":"http://loinc.org","code":"8867-4"}]}"#))],
        ])
        let bad = try run(#"""
        {"resourceType":"Observation","meta":{"profile":["http://example.org/o"]},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1234-5"}]},"valueString":"high"}
        """#, extra: [profile])
        expectIssue(bad, .error, "Observation.value.ofType(string)", "The type 'string' is not allowed here by http://example.org/o (allowed: Quantity)")
        expectIssue(bad, .error, "Observation.code", "does not contain the pattern")
        #expect(errors(bad).count == 2, "\(bad)")

        let good = try run(#"""
        {"resourceType":"Observation","meta":{"profile":["http://example.org/o"]},"status":"final",
         "code":{"coding":[{"system":"http://snomed.info/sct","code":"1"},{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"HR"},
         "valueQuantity":{"value":80,"comparator":"<"}}
        """#, extra: [profile])
        // SimpleQuantity forbids comparator: the nested type profile applies to the value.
        expectIssue(good, .error, "Observation.value.ofType(Quantity)", "Quantity.comparator: max allowed = 0, but found 1 (from http://hl7.org/fhir/StructureDefinition/SimpleQuantity")
        // SimpleQuantity's own invariant says the same, evaluated through the nested profile.
        expectIssue(good, .error, "Observation.value.ofType(Quantity)", "Constraint failed: sqty-1")
        #expect(errors(good).count == 2, "\(good)")
    }

    // MARK: references

    @Test(.enabled(if: core != nil)) func references() throws {
        let issues = try run(#"""
        {"resourceType":"Observation","status":"final","code":{"text":"x"},
         "contained":[{"resourceType":"Practitioner","id":"pr1"},{"resourceType":"Device","id":"d1"}],
         "subject":{"reference":"Medication/m1"},"performer":[{"reference":"#pr1"},{"reference":"#nope"},{"reference":"Patient/a b"}],
         "specimen":{"reference":"urn:uuid:not-a-uuid"},"focus":[{"reference":"Patient?identifier=x"},{"reference":"http://server/fhir/Patient/1"}]}
        """#)
        expectIssue(issues, .error, "Observation.subject", "The type 'Medication' implied by the reference Medication/m1 is not a valid target for this element (must be one of [Patient, Group, Device, Location])")
        expectIssue(issues, .error, "Observation.performer[1]", "Unable to resolve resource with reference '#nope'")
        expectIssue(issues, .error, "Observation.performer[2].reference", "The reference 'Patient/a b' is not valid")
        expectIssue(issues, .error, "Observation.specimen.reference", "not a valid UUID")
        expectIssue(issues, .error, "Observation", "dom-3")
        #expect(issues.first { $0.message.contains("dom-3") }?.message.contains("#d1") == true)
        // The FHIRPath invariant ref-1 fails on the unresolvable local reference too (as in Java).
        expectIssue(issues, .error, "Observation.performer[1]", "Constraint failed: ref-1")
        #expect(errors(issues).count == 6, "\(issues)")

        // dom-3: a contained resource referred to only from a narrative is referenced.
        let narrative = ##"{"resourceType":"Composition","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><img src=\"#img\" alt=\"x\"/></div>"},"contained":[{"resourceType":"Binary","id":"ID","contentType":"image/png"}],"status":"final","type":{"text":"x"},"date":"2020-01-01","author":[{"display":"a"}],"title":"t"}"##
        let viaText = try run(narrative.replacingOccurrences(of: "\"ID\"", with: "\"img\""))
        #expect(!viaText.contains { $0.message.contains("dom-3") }, "\(viaText)")
        let notViaText = try run(narrative.replacingOccurrences(of: "\"ID\"", with: "\"other\""))
        expectIssue(notViaText, .error, "Composition", "dom-3")
    }

    @Test(.enabled(if: core != nil)) func referencesBetweenParametersResources() throws {
        func parameters(_ ref: String) throws -> [OutcomeIssue] {
            try run(#"""
            {"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Patient","id":"1"}},
             {"name":"c","resource":{"resourceType":"Coverage","id":"c1","status":"active","beneficiary":{"reference":"\#(ref)"},"payor":[{"display":"X"}]}}]}
            """#)
        }
        #expect(errors(try parameters("Patient/1")).isEmpty)
        expectIssue(try parameters("Patient/2"), .error, "Parameters.parameter[1].resource.beneficiary", "Unable to resolve resource with reference 'Patient/2'")
    }

    // MARK: Bundle

    @Test(.enabled(if: core != nil)) func bundleRules() throws {
        let tx = try run(#"""
        {"resourceType":"Bundle","type":"transaction","entry":[
          {"fullUrl":"urn:uuid:c757873d-ec9a-4326-a141-556f43239520","resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:1d0d2a4c-97e4-4d5e-8d87-5b1f8c3f1a01"}},"request":{"method":"POST","url":"Observation"}},
          {"fullUrl":"urn:uuid:1d0d2a4c-97e4-4d5e-8d87-5b1f8c3f1a01","resource":{"resourceType":"Medication","id":"m1"}},
          {"fullUrl":"http://x/fhir/Patient/p1","resource":{"resourceType":"Patient","id":"p2"},"request":{"method":"PUT","url":"Patient/p1"}},
          {"fullUrl":"http://x/fhir/Patient/p1","resource":{"resourceType":"Patient","id":"p2"},"request":{"method":"PUT","url":"Patient/p1"}}
        ]}
        """#)
        expectIssue(tx, .error, "Bundle", "bdl-3: 'entry.request mandatory for batch/transaction/history, otherwise prohibited' (missing in entry[1] of this transaction)")
        // The reference resolves inside the bundle by fullUrl, to a Medication.
        expectIssue(tx, .error, "Bundle.entry[0].resource.subject", "The type 'Medication' implied by the reference urn:uuid:1d0d2a4c-97e4-4d5e-8d87-5b1f8c3f1a01 is not a valid target")
        expectIssue(tx, .error, "Bundle.entry[2]", "Resource ID does not match the ID in the entry full URL ('p2' vs 'http://x/fhir/Patient/p1')")
        expectIssue(tx, .error, "Bundle", "bdl-7")
        #expect(errors(tx).count == 5, "\(tx)")  // entry[2] and entry[3] both mismatch

        var java = ValidatorOptions()
        java.javaResourceComments = true
        let javaStyle = try run(#"""
        {"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"http://x/Patient/p1","resource":{"resourceType":"Patient","id":"p1","gender":"x  y"},"request":{"method":"GET","url":"Patient/p1"}}]}
        """#, options: java)
        expectIssue(javaStyle, .error, "Bundle.entry[0].resource/*Patient/p1*/.gender", "consecutive spaces")
        expectIssue(javaStyle, .error, "Bundle", "bdl-3: 'entry.request mandatory for batch/transaction/history, otherwise prohibited' (entry[0] of this collection have a request)")

        let search = try run(#"""
        {"resourceType":"Bundle","type":"searchset","total":1,"entry":[{"fullUrl":"http://x/Patient/p1","resource":{"resourceType":"Patient","id":"p1"}},{"resource":{"resourceType":"Patient"},"response":{"status":"200"}}]}
        """#)
        expectIssue(search, .warning, "Bundle", "SearchSet bundles should have search modes on the entries")
        expectIssue(search, .error, "Bundle", "bdl-4")
        expectIssue(search, .error, "Bundle.entry[1]", "each entry in a Bundle must have a fullUrl")
        #expect(errors(search).count == 2, "\(search)")
        // A batch may carry resources without fullUrl; a collection may not.
        let batch = try run(#"{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}]}"#)
        #expect(errors(batch).isEmpty, "\(batch)")
        let outcome = try run(#"{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"not-found"}]},"search":{"mode":"outcome"}}]}"#)
        #expect(errors(outcome).isEmpty, "\(outcome)")
        let collection = try run(#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}}]}"#)
        expectIssue(collection, .error, "Bundle.entry[0]", "each entry in a Bundle must have a fullUrl")
        #expect(errors(collection).count == 1, "\(collection)")

        let links = try run(#"""
        {"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":"http://x/a"},{"relation":"self","url":"http://x/b"},{"relation":"next","url":"http://x/c"}]}
        """#)
        expectIssue(links, .error, "Bundle.link[1]", "The link relationship type 'self' can only occur once")
        #expect(errors(links).count == 1, "\(links)")

        let document = try run(#"{"resourceType":"Bundle","type":"document","entry":[{"resource":{"resourceType":"Patient"}}]}"#)
        for key in ["bdl-9", "bdl-10", "bdl-11"] { expectIssue(document, .error, "Bundle", key) }
    }

    // MARK: bindings

    static let terminology = TinyTerminology(valueSets: [
        "http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1": [
            .init(system: "http://hl7.org/fhir/administrative-gender", code: "male", display: "Male"),
            .init(system: "http://hl7.org/fhir/administrative-gender", code: "female", display: "Female"),
        ],
        "http://hl7.org/fhir/ValueSet/marital-status": [
            .init(system: "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", code: "M", display: "Married"),
        ],
        "http://example.org/vs": [.init(system: "http://loinc.org", code: "8867-4", display: "Heart rate")],
    ])

    @Test(.enabled(if: core != nil)) func bindings() throws {
        let issues = try run(#"""
        {"resourceType":"Patient","gender":"other","maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"S"}]},
         "contact":[{"gender":"male","relationship":[{"text":"x"}],"name":{"family":"X"}}]}
        """#, terminology: Self.terminology)
        expectIssue(issues, .error, "Patient.gender", "The value provided ('other') is not in the value set 'http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1'")
        expectIssue(issues, .error, "Patient.gender", "The System URI could not be determined for the code 'other'")
        expectIssue(issues, .warning, "Patient.maritalStatus", "None of the codings provided are in the value set 'http://hl7.org/fhir/ValueSet/marital-status'")
        #expect(errors(issues).count == 2, "\(issues)")

        let display = try run(#"""
        {"resourceType":"Patient","maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M","display":"Single"}]}}
        """#, terminology: Self.terminology)
        expectIssue(display, .warning, "Patient.maritalStatus.coding[0]", "Wrong display: 'Single' should be 'Married'")

        // A required binding on a CodeableConcept in a profile: at least one coding must be in the value set.
        let profile = TestProfiles.derive(from: coreSD("Observation"), url: "http://example.org/o2", edits: [
            "Observation.code": [("binding", TestProfiles.json(#"{"strength":"required","valueSet":"http://example.org/vs"}"#))],
        ])
        let cc = try run(#"""
        {"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1-1"}]}}
        """#, profiles: ["http://example.org/o2"], extra: [profile], terminology: Self.terminology)
        expectIssue(cc, .error, "Observation.code", "None of the codings provided are in the value set 'http://example.org/vs'")
        let ccOK = try run(#"""
        {"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://x","code":"1"},{"system":"http://loinc.org","code":"8867-4"}]}}
        """#, profiles: ["http://example.org/o2"], extra: [profile], terminology: Self.terminology)
        #expect(errors(ccOK).isEmpty, "\(ccOK)")
        let noSystem = try run(#"{"resourceType":"Observation","status":"final","code":{"coding":[{"code":"8867-4"}]}}"#,
                               profiles: ["http://example.org/o2"], extra: [profile], terminology: Self.terminology)
        expectIssue(noSystem, .warning, "Observation.code.coding[0]", "A code with no system has no defined meaning")
        let textOnly = try run(#"{"resourceType":"Observation","status":"final","code":{"text":"HR"}}"#,
                               profiles: ["http://example.org/o2"], extra: [profile], terminology: Self.terminology)
        expectIssue(textOnly, .error, "Observation.code", "No code provided, and a code is required")
    }

    // MARK: extensions

    @Test(.enabled(if: core != nil)) func extensions() throws {
        let issues = try run(#"""
        {"resourceType":"Patient",
         "extension":[{"url":"http://example.org/unknown","valueString":"x"},
                      {"url":"http://hl7.org/fhir/StructureDefinition/nope","valueString":"x"},
                      {"valueString":"no url"},
                      {"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueString":"Paris"},
                      {"url":"http://example.org/both","valueString":"x","extension":[{"url":"a","valueString":"y"}]}],
         "modifierExtension":[{"url":"http://example.org/mod","valueBoolean":true}],
         "birthDate":"2000-01-01","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"2000-01-01T10:00:00Z"}]}}
        """#)
        expectIssue(issues, .warning, "Patient.extension[0]", "The extension http://example.org/unknown is unknown")
        expectIssue(issues, .error, "Patient.extension[1]", "The extension http://hl7.org/fhir/StructureDefinition/nope could not be found so is not allowed here")
        expectIssue(issues, .error, "Patient.extension[2]", "Extension.url is required")
        // As the Java validator does, the cardinality of Extension.url is reported too.
        expectIssue(issues, .error, "Patient.extension[2]", "Extension.url: minimum required = 1")
        expectIssue(issues, .error, "Patient.extension[3].value.ofType(string)", "The type 'string' is not allowed here by http://hl7.org/fhir/StructureDefinition/patient-birthPlace|4.0.1 (allowed: Address)")
        expectIssue(issues, .error, "Patient.extension[4]", "ext-1")
        expectIssue(issues, .error, "Patient.modifierExtension[0]", "could not be found so is not allowed here")
        #expect(errors(issues).count == 6, "\(issues)")

        let context = try run(#"""
        {"resourceType":"Observation","status":"final","code":{"text":"x"},"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueAddress":{"city":"Paris"}}]}
        """#)
        // Reported on the element holding the extension (Java's place).
        expectIssue(context, .error, "Observation", "is not allowed to be used at this point (allowed = e:Patient")
        #expect(errors(context).count == 1, "\(context)")

        // A relative url outside a complex extension.
        let relative = try run(#"{"resourceType":"Patient","extension":[{"url":"something","valueString":"x"}]}"#)
        expectIssue(relative, .error, "Patient.extension[0]", "Extension.url must be an absolute URL")
        #expect(errors(relative).count == 1, "\(relative)")
    }

    @Test(.enabled(if: Self.core != nil)) func extensionFHIRPathContextsAndContextInvariants() throws {
        var ext = TestProfiles.derive(from: Self.core!.structureDefinition(url: "http://hl7.org/fhir/StructureDefinition/patient-birthPlace")!,
                                      url: "http://example.org/ext-ctx",
                                      edits: ["Extension.url": [("fixedUri", .string("http://example.org/ext-ctx"))]])
        ext["context"] = TestProfiles.json(#"[{"type":"element","expression":"Patient"},{"type":"fhirpath","expression":"Patient.address.where(use = 'home')"}]"#)
        ext["contextInvariant"] = TestProfiles.json(#"["%resource.active.exists() or $this is Address"]"#)
        let value = #""extension":[{"url":"http://example.org/ext-ctx","valueAddress":{"city":"Paris"}}]"#
        // On an address selected by the fhirpath context: fine.
        let home = try run(#"{"resourceType":"Patient","address":[{"use":"home",\#(value)}]}"#, extra: [ext])
        #expect(errors(home).isEmpty, "\(home)")
        // On an address the expression does not select: reported at the address.
        let work = try run(#"{"resourceType":"Patient","address":[{"use":"work",\#(value)}]}"#, extra: [ext])
        expectIssue(work, .error, "Patient.address[0]", "is not allowed to be used at this point")
        #expect(errors(work).count == 1, "\(work)")
        // On the Patient, allowed by the element context, but the context invariant fails.
        let root = try run(#"{"resourceType":"Patient",\#(value)}"#, extra: [ext])
        expectIssue(root, .error, "Patient", "based on context invariant '%resource.active.exists() or $this is Address'")
        let active = try run(#"{"resourceType":"Patient","active":true,\#(value)}"#, extra: [ext])
        #expect(errors(active).isEmpty, "\(active)")
    }

    // MARK: slicing

    @Test(.enabled(if: core != nil)) func slicingWithTheBloodPressureProfile() throws {
        let url = TestPaths.r4.appendingPathComponent("examples/Observation-blood-pressure.json")
        let bp = "http://hl7.org/fhir/StructureDefinition/bp"
        var obs = try JSONValue.parse([UInt8](Data(contentsOf: url)))
        let original = obs.serializedString()
        let asPublished = try run(original, profiles: [bp])
        #expect(errors(asPublished).isEmpty, "\(asPublished)")

        guard case .array(let components) = obs["component"]! else { Issue.record("no components"); return }
        obs["component"] = .array([components[0]])
        let missing = try run(obs.serializedString(), profiles: [bp])
        expectIssue(missing, .error, "Observation", "Slice 'Observation.component:DiastolicBP': a matching slice is required, but not found (from \(bp)|4.0.1)")
        expectIssue(missing, .error, "Observation", "Observation.component: minimum required = 2, but only found 1")
        #expect(errors(missing).count == 2, "\(missing)")

        obs["component"] = .array([components[0], components[0], components[1]])
        let twice = try run(obs.serializedString(), profiles: [bp])
        expectIssue(twice, .error, "Observation", "Slice 'Observation.component:SystolicBP': max allowed = 1, but found 2")
        #expect(errors(twice).count == 1, "\(twice)")

        // The same profile with closed, ordered slicing.
        var profile = Self.core!.structureDefinition(url: bp)!
        profile["url"] = .string("http://example.org/bp-closed")
        profile["version"] = nil
        var elements = profile["snapshot"]!["element"]!.array!
        for i in elements.indices where elements[i]["id"]?.string == "Observation.component" {
            elements[i]["slicing"]!["rules"] = .string("closed")
            elements[i]["slicing"]!["ordered"] = .bool(true)
        }
        profile["snapshot"] = .object([("element", .array(elements))])
        var other = components[1]
        other["code"] = TestProfiles.json(#"{"coding":[{"system":"http://loinc.org","code":"8478-0"}]}"#)
        obs["component"] = .array([components[1], components[0], other])
        let closed = try run(obs.serializedString(), profiles: ["http://example.org/bp-closed"], extra: [profile])
        expectIssue(closed, .error, "Observation.component[2]", "does not match any known slice defined in the profile http://example.org/bp-closed and slicing is CLOSED")
        expectIssue(closed, .error, "Observation.component[1]", "is out of order in ordered slicing")
        #expect(errors(closed).count == 2, "\(closed)")
    }

    /// Task.input sliced by pattern on `type`, like the SDO ESMSTask profile.
    @Test(.enabled(if: core != nil)) func patternSlicingLikeTheSDOTask() throws {
        let cs = "https://interop.esante.gouv.fr/ig/fhir/sdo/CodeSystem/input-task-sdo-codesystem"
        func slice(_ name: String, min: Int, type: String) -> [JSONValue] {
            [TestProfiles.element("Task.input:\(name)", path: "Task.input", sliceName: name, min: min, max: "1"),
             TestProfiles.element("Task.input:\(name).type", path: "Task.input.type", min: 1, max: "1",
                                  [("patternCodeableConcept", TestProfiles.json(#"{"coding":[{"system":"\#(cs)","code":"\#(name)"}]}"#))]),
             TestProfiles.element("Task.input:\(name).value[x]", path: "Task.input.value[x]", min: 1, max: "1",
                                  [("type", TestProfiles.json(#"[{"code":"\#(type)"}]"#))])]
        }
        let profile = TestProfiles.derive(from: coreSD("Task"), url: "http://example.org/esms-task", edits: [
            "Task.input": [("min", .number("2")),
                           ("slicing", TestProfiles.json(#"{"discriminator":[{"type":"pattern","path":"type"}],"rules":"open"}"#))],
            "Task.status": [("patternCode", .string("completed"))],
        ], insertAfter: ["Task.input.value[x]": slice("idNat_Struct", min: 1, type: "Identifier") + slice("nomESMS", min: 1, type: "string")])
        func task(_ inputs: String, status: String = "completed") -> String {
            #"{"resourceType":"Task","meta":{"profile":["http://example.org/esms-task"]},"status":"\#(status)","intent":"plan","input":[\#(inputs)]}"#
        }
        func input(_ code: String, _ value: String) -> String { #"{"type":{"coding":[{"system":"\#(cs)","code":"\#(code)"}]},\#(value)}"# }
        let ok = try run(task(input("idNat_Struct", #""valueIdentifier":{"value":"1234"}"#) + "," + input("nomESMS", #""valueString":"ESMS"}"#.dropLast() + "") + "," + input("typeDroitPrestation", #""valueString":"x""#)), extra: [profile])
        #expect(errors(ok).isEmpty, "\(ok)")

        let bad = try run(task(input("nomESMS", #""valueInteger":3"#) + "," + input("nomESMS", #""valueString":"again""#), status: "failed"), extra: [profile])
        expectIssue(bad, .error, "Task", "Slice 'Task.input:idNat_Struct': a matching slice is required, but not found (from http://example.org/esms-task)")
        expectIssue(bad, .error, "Task", "Slice 'Task.input:nomESMS': max allowed = 1, but found 2")
        expectIssue(bad, .error, "Task.input[0].value.ofType(integer)", "The type 'integer' is not allowed here by http://example.org/esms-task (allowed: string)")
        expectIssue(bad, .error, "Task.status", "does not contain the pattern 'completed'")
        #expect(errors(bad).count == 4, "\(bad)")
    }

    @Test(.enabled(if: core != nil)) func maxLengthAndOpenAtEnd() throws {
        let profile = TestProfiles.derive(from: coreSD("Patient"), url: "http://example.org/pl", edits: [
            "Patient.identifier": [("slicing", TestProfiles.json(#"{"discriminator":[{"type":"value","path":"system"}],"rules":"openAtEnd"}"#))],
        ], insertAfter: ["Patient.name": [
            TestProfiles.element("Patient.name.family", path: "Patient.name.family", min: 0, max: "1", [("maxLength", .number("5"))]),
        ], "Patient.identifier": [
            TestProfiles.element("Patient.identifier:nir", path: "Patient.identifier", sliceName: "nir", min: 0, max: "1"),
            TestProfiles.element("Patient.identifier:nir.system", path: "Patient.identifier.system", min: 1, max: "1",
                                 [("fixedUri", .string("urn:oid:1.2.250.1.213.1.4.8"))]),
        ]])
        let issues = try run(#"""
        {"resourceType":"Patient","meta":{"profile":["http://example.org/pl"]},"name":[{"family":"Élodiè"}],
         "identifier":[{"system":"http://other","value":"1"},{"system":"urn:oid:1.2.250.1.213.1.4.8","value":"2"}]}
        """#, extra: [profile])
        expectIssue(issues, .error, "Patient.name[0].family", "6 characters long, more than the maximum length 5")
        expectIssue(issues, .error, "Patient.identifier[1]", "openAtEnd")
        #expect(errors(issues).count == 2, "\(issues)")
    }

    // MARK: invariants through the evaluator protocol

    struct ScriptedInvariants: InvariantEvaluator {
        /// Expressions that evaluate to false; "error" does not compile; everything else is true.
        let failing: Set<String>
        func compile(_ expression: String, key: String, contextType: String?) -> CompiledInvariant? { expression == "error(" ? nil : CompiledInvariant(expression) }
        func check(_ invariant: CompiledInvariant, tree: ElementTree, node: ElementTree.NodeID, resource: ElementTree.NodeID?) -> Bool? {
            let e = invariant.payload as! String
            precondition(!e.contains("hasValue() or (children().count() > id.count())"), "ele-1 is native")
            if e == "unknown()" { return nil }
            return !failing.contains(e)
        }
    }

    @Test(.enabled(if: core != nil)) func invariantsKeepSeverityAndSkipNativeOnes() throws {
        let profile = TestProfiles.derive(from: coreSD("Patient"), url: "http://example.org/pi", edits: [
            "Patient": [("constraint", TestProfiles.json(#"""
            [{"key":"t-1","severity":"warning","human":"Should have a name","expression":"name.exists()"},
             {"key":"t-2","severity":"error","human":"Must be active","expression":"active = true"},
             {"key":"t-3","severity":"error","human":"Not evaluable","expression":"unknown()"},
             {"key":"t-4","severity":"error","human":"Does not compile","expression":"error("}]
            """#))],
        ])
        let issues = try run(#"{"resourceType":"Patient","meta":{"profile":["http://example.org/pi"]},"period":1}"#.replacingOccurrences(of: ",\"period\":1", with: ""),
                             extra: [profile], invariants: ScriptedInvariants(failing: ["name.exists()", "active = true"]))
        expectIssue(issues, .warning, "Patient", "Constraint failed: t-1: 'Should have a name'")
        expectIssue(issues, .error, "Patient", "Constraint failed: t-2: 'Must be active'")
        #expect(issues.filter { $0.code == .invariant }.count == 2, "\(issues)")
        #expect(issues.first { $0.rule == "t-2" } != nil)
    }

    // MARK: plans and concurrency

    @Test(.enabled(if: core != nil)) func plansAreCachedAndTheValidatorIsSharedAcrossTasks() async throws {
        let v = Validator(definitions: Self.core!, terminology: nil)
        let p1 = v.plan(for: Validator.coreBase + "Patient")
        #expect(p1 != nil && p1 === v.plan(for: Validator.coreBase + "Patient"))
        #expect(v.plan(for: "http://example.org/none") == nil)
        let patient = try #require(p1)
        let name = patient.rules.firstIndex { $0.path == "Patient.name" }!
        #expect(patient.rules[name].max == -1 && patient.rules[name].elementID >= 0)
        #expect(patient.rules[0].children.contains(Int32(name)))

        let tree = try FHIRJSONReader.read(Array(#"{"resourceType":"Patient","gender":"fe  male","communication":[{"preferred":true}]}"#.utf8))
        let expected = v.validate(tree)
        #expect(expected.filter(\.isError).count == 2, "\(expected)")
        let results = await withTaskGroup(of: [OutcomeIssue].self) { group in
            for _ in 0..<8 { group.addTask { v.validate(tree) } }
            var all: [[OutcomeIssue]] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results.allSatisfy { $0 == expected })
    }
}
