import Testing
import Foundation
import FHIRModels
@testable import Validation

/// Rules added to agree with the Java reference validator on the HL7 test cases: Bundle references,
/// type profiles, element definition extensions, resolve() slicing, target profiles, narrative links,
/// StructureDefinitions given for validation. Profiles are written as differentials and loaded into a
/// copy of the project's conformance store (snapshots generated).
@Suite struct ValidatorProfileRulesTests {
    static var available: Bool { ValidatorSDOTests.conformance != nil }

    func validator(_ profiles: [String] = [], options: ValidatorOptions = ValidatorOptions()) throws -> Validator {
        var store = ValidatorSDOTests.conformance!
        for p in profiles { try store.load(resource: try JSONValue.parse(Array(p.utf8))) }
        return Validator(definitions: store, options: options)
    }

    func run(_ instance: String, profiles: [String] = [], validate: [String] = [], options: ValidatorOptions = ValidatorOptions()) throws -> [OutcomeIssue] {
        let bytes = Array(instance.utf8)
        let tree = bytes.first == UInt8(ascii: "<") ? try FHIRXMLReader.read(bytes) : try FHIRJSONReader.read(bytes)
        return try validator(profiles, options: options).validate(tree, profiles: validate)
    }

    func expectIssue(_ issues: [OutcomeIssue], _ severity: IssueSeverity, _ expression: String, _ text: String,
                     sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let hits = issues.filter { $0.severity == severity && $0.expression == expression && $0.message.contains(text) }
        #expect(hits.count == 1, "expected one \(severity) at \(expression) containing '\(text)'; got:\n\(issues.map(\.description).joined(separator: "\n"))",
                sourceLocation: sourceLocation)
    }

    func errors(_ issues: [OutcomeIssue]) -> [OutcomeIssue] { issues.filter(\.isError) }

    /// A differential-only profile of `type` at `http://example.org/StructureDefinition/<name>`.
    func profile(_ name: String, _ type: String, base: String? = nil, _ elements: String) -> String {
        #"""
        {"resourceType":"StructureDefinition","url":"http://example.org/StructureDefinition/\#(name)","name":"\#(name)",
         "status":"draft","kind":"\#(type.first!.isUppercase ? "resource" : "complex-type")","abstract":false,"type":"\#(type)",
         "baseDefinition":"\#(base ?? "http://hl7.org/fhir/StructureDefinition/" + type)","derivation":"constraint",
         "differential":{"element":[\#(elements)]}}
        """#
    }

    static let url = "http://example.org/StructureDefinition/"

    // MARK: references

    @Test(.enabled(if: available)) func bundleReferenceToAResourceOfAnotherType() throws {
        // `Type/id` from an entry identified by urn:uuid stands for urn:uuid:id.
        let issues = try run(#"""
        {"resourceType":"Bundle","type":"collection","entry":[
          {"fullUrl":"urn:uuid:54fc3e09-e279-4b74-a8ff-2649ec968642","resource":{"resourceType":"Patient",
            "generalPractitioner":[{"reference":"Practitioner/5d9588d8-3cd6-4b32-8fb7-ad13694e069d"}]}},
          {"fullUrl":"urn:uuid:5d9588d8-3cd6-4b32-8fb7-ad13694e069d","resource":{"resourceType":"Organization","name":"x"}}]}
        """#)
        expectIssue(issues, .error, "Bundle.entry[0].resource.generalPractitioner[0]", "has resourceType Organization")
        #expect(errors(issues).count == 1, "\(issues)")
    }

    @Test(.enabled(if: available)) func unresolvedReferenceTypesFollowThePolicy() throws {
        let p = profile("obs-subject", "Observation", #"""
        {"id":"Observation.subject","path":"Observation.subject","type":[{"code":"Reference",
          "targetProfile":["http://hl7.org/fhir/StructureDefinition/Patient","http://hl7.org/fhir/StructureDefinition/Location"]}]}
        """#)
        let obs = #"{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Group/1"}}"#
        let checked = try run(obs, profiles: [p], validate: [Self.url + "obs-subject"])
        expectIssue(checked, .error, "Observation.subject", "The type 'Group' implied by the reference Group/1 is not a valid target")
        var options = ValidatorOptions()
        options.checkUnresolvedReferenceTypes = false
        #expect(errors(try run(obs, profiles: [p], validate: [Self.url + "obs-subject"], options: options)).isEmpty)
    }

    @Test(.enabled(if: available)) func resolvedTargetsMustConformToATargetProfile() throws {
        let female = profile("female", "Patient", #"""
        {"id":"Patient.gender","path":"Patient.gender","fixedCode":"female"},
        {"id":"Patient.link.other","path":"Patient.link.other","type":[{"code":"Reference",
          "targetProfile":["http://example.org/StructureDefinition/female"]}]}
        """#)
        func bundle(_ gender: String) -> String {
            #"""
            {"resourceType":"Bundle","type":"collection","entry":[
              {"fullUrl":"http://x.org/Patient/a","resource":{"resourceType":"Patient","id":"a","gender":"female",
                "meta":{"profile":["http://example.org/StructureDefinition/female"]},
                "link":[{"other":{"reference":"Patient/b"},"type":"seealso"}]}},
              {"fullUrl":"http://x.org/Patient/b","resource":{"resourceType":"Patient","id":"b","gender":"\#(gender)",
                "link":[{"other":{"reference":"Patient/a"},"type":"seealso"}]}}]}
            """#
        }
        let bad = try run(bundle("male"), profiles: [female])
        expectIssue(bad, .error, "Bundle.entry[0].resource.link[0].other", "Unable to find a profile match for Patient/b among choices: http://example.org/StructureDefinition/female")
        #expect(bad.contains { $0.severity == .information && $0.message.contains("fixed to 'female'") })
        #expect(errors(bad).count == 1, "\(bad)")
        // b links back to a (a circle): conformance of a is assumed while it is being checked.
        #expect(errors(try run(bundle("female"), profiles: [female])).isEmpty)
    }

    // MARK: type profiles

    @Test(.enabled(if: available)) func typeProfilesCheckTheTypeAndReportEachProfile() throws {
        let ihe = profile("docs-bundle", "Bundle", #"""
        {"id":"Bundle.entry.resource","path":"Bundle.entry.resource","min":1,"type":[{"code":"Resource",
          "profile":["http://hl7.org/fhir/StructureDefinition/DocumentManifest"]}]}
        """#)
        let wrongType = try run(#"""
        {"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"http://a.org/Patient/p","resource":{"resourceType":"Patient","id":"p"}}]}
        """#, profiles: [ihe], validate: [Self.url + "docs-bundle"])
        expectIssue(wrongType, .error, "Bundle.entry[0].resource", "The type 'Patient' is not valid - must be DocumentManifest")
        #expect(errors(wrongType).count == 1, "\(wrongType)")

        let one = profile("one-line", "Address", #"{"id":"Address.line","path":"Address.line","max":"1"}"#)
        let city = profile("city", "Address", #"{"id":"Address.city","path":"Address.city","min":1}"#)
        let person = profile("person", "Person", #"""
        {"id":"Person.address","path":"Person.address","type":[{"code":"Address",
          "profile":["http://example.org/StructureDefinition/one-line","http://example.org/StructureDefinition/city"]}]}
        """#)
        let issues = try run(#"{"resourceType":"Person","address":[{"line":["a","b"]}]}"#, profiles: [one, city, person],
                             validate: [Self.url + "person"])
        expectIssue(issues, .error, "Person.address[0]", "Unable to find a match for the specified profile among choices")
        expectIssue(issues, .error, "Person.address[0]", "(validating against http://example.org/StructureDefinition/one-line)")
        expectIssue(issues, .error, "Person.address[0]", "(validating against http://example.org/StructureDefinition/city)")
        #expect(errors(issues).count == 3, "\(issues)")
        // One profile that cannot be found is an error, as in Java.
        let missing = profile("missing", "Person", #"""
        {"id":"Person.address","path":"Person.address","type":[{"code":"Address","profile":["http://example.org/StructureDefinition/nowhere"]}]}
        """#)
        expectIssue(try run(#"{"resourceType":"Person","address":[{"city":"x"}]}"#, profiles: [missing], validate: [Self.url + "missing"]),
                    .error, "Person.address[0]", "Unknown profile http://example.org/StructureDefinition/nowhere")
    }

    // MARK: element definition rules

    @Test(.enabled(if: available)) func elementDefinitionValueRules() throws {
        let p = profile("values", "Patient", #"""
        {"id":"Patient.id","path":"Patient.id","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/minLength","valueInteger":5}]},
        {"id":"Patient.active","path":"Patient.active","extension":[
          {"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.valueAlternatives",
           "valueCanonical":"http://hl7.org/fhir/StructureDefinition/data-absent-reason"}]},
        {"id":"Patient.birthDate","path":"Patient.birthDate","minValueDate":"1900-01-01","maxValueDate":"2030-12-31",
         "extension":[{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.mustHaveValue","valueBoolean":true}]},
        {"id":"Patient.multipleBirth[x]","path":"Patient.multipleBirth[x]","minValueInteger":1,"maxValueInteger":9}
        """#)
        let issues = try run(#"""
        {"resourceType":"Patient","id":"abc","_active":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/iso21090-nullFlavor","valueCode":"MSK"}]},
         "_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]},
         "multipleBirthInteger":12}
        """#, profiles: [p], validate: [Self.url + "values"])
        expectIssue(issues, .error, "Patient.id", "shorter than permitted minimum length of 5")
        expectIssue(issues, .error, "Patient.active", "one of the extensions http://hl7.org/fhir/StructureDefinition/data-absent-reason must be present")
        expectIssue(issues, .error, "Patient.birthDate", "requires that a value be present")
        expectIssue(issues, .error, "Patient.multipleBirth.ofType(integer)", "greater than the maximum value 9")
        #expect(errors(issues).count == 4, "\(issues)")
        let fine = try run(#"""
        {"resourceType":"Patient","id":"abcdef","_active":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]},
         "birthDate":"1950","multipleBirthInteger":2}
        """#, profiles: [p], validate: [Self.url + "values"])
        #expect(errors(fine).isEmpty, "\(fine)")
        let early = try run(#"{"resourceType":"Patient","id":"abcdef","birthDate":"1850-05-01"}"#, profiles: [p], validate: [Self.url + "values"])
        expectIssue(early, .error, "Patient.birthDate", "less than the minimum value 1900-01-01")
    }

    @Test(.enabled(if: available)) func narrativeLanguageControl() throws {
        func control(_ code: String) -> String {
            profile("lang\(code)", "Patient", #"""
            {"id":"Patient.text","path":"Patient.text","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/narrative-language-control","valueCode":"\#(code)"}]}
            """#)
        }
        let two = #"""
        {"resourceType":"Patient","language":"fr","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><div lang=\"fr\">Bonjour</div><div xml:lang=\"de\" lang=\"de\">Hallo</div></div>"}}
        """#
        let none = #"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Bonjour</div>"}}"#
        expectIssue(try run(two, profiles: [control("_no")], validate: [Self.url + "lang_no"]), .error, "Patient.text",
                    "some language sections (de, fr), but language sections are prohibited")
        expectIssue(try run(none, profiles: [control("_yes")], validate: [Self.url + "lang_yes"]), .error, "Patient.text",
                    "no language sections, but language sections are required")
        #expect(errors(try run(two, profiles: [control("_yes")], validate: [Self.url + "lang_yes"])).isEmpty)
        #expect(errors(try run(two, profiles: [control("_resource")], validate: [Self.url + "lang_resource"])).isEmpty)
        expectIssue(try run(two, profiles: [control("en")], validate: [Self.url + "langen"]), .error, "Patient.text", "no language section for 'en'")
        // Sections mixed with other content: a warning without any profile.
        let mixed = try run(#"""
        {"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Hors section<div lang=\"fr\">Bonjour</div></div>"}}
        """#)
        expectIssue(mixed, .warning, "Patient.text.div", "some language sections (fr), and also has content that is not in a language section")
    }

    // MARK: slicing

    @Test(.enabled(if: available)) func resolveDiscriminatorsAndProhibitedSlices() throws {
        let p = profile("list-by-type", "List", #"""
        {"id":"List.entry","path":"List.entry","slicing":{"discriminator":[{"type":"type","path":"item.resolve()"}],"rules":"closed"}},
        {"id":"List.entry:cond","path":"List.entry","sliceName":"cond","min":1,"max":"1"},
        {"id":"List.entry:cond.item","path":"List.entry.item","type":[{"code":"Reference","targetProfile":["http://hl7.org/fhir/StructureDefinition/Condition"]}]},
        {"id":"List.entry:obs","path":"List.entry","sliceName":"obs","min":1,"max":"3"},
        {"id":"List.entry:obs.item","path":"List.entry.item","type":[{"code":"Reference","targetProfile":["http://hl7.org/fhir/StructureDefinition/Observation"]}]}
        """#)
        let observation = #"{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"}}"#
        func list(_ second: String, _ other: String) -> String {
            #"""
            {"resourceType":"List","status":"current","mode":"working",
             "contained":[{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/x"}},\#(other)],
             "entry":[{"item":{"reference":"#c"}},{"item":{"reference":"\#(second)"}}]}
            """#
        }
        let good = try run(list("#o", observation), profiles: [p], validate: [Self.url + "list-by-type"])
        #expect(errors(good).isEmpty, "\(good)")
        let bad = try run(list("#d", #"{"resourceType":"Device","id":"d"}"#), profiles: [p], validate: [Self.url + "list-by-type"])
        expectIssue(bad, .error, "List.entry[1]", "does not match any known slice")
        expectIssue(bad, .error, "List", "Slice 'List.entry:obs': a matching slice is required, but not found")
        // A reference that cannot be resolved does not decide (no closed-slicing error for it).
        let unresolved = try run(list("Observation/elsewhere", ##"{"resourceType":"Device","id":"d","patient":{"reference":"#"}}"##),
                                 profiles: [p], validate: [Self.url + "list-by-type"])
        #expect(!unresolved.contains { $0.message.contains("does not match any known slice") }, "\(unresolved)")

        // A type slice with max 0 matches nothing: with closed slicing the element is reported where it is.
        let bp = try run(#"""
        {"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1},
         "meta":{"profile":["http://hl7.org/fhir/StructureDefinition/bp"]}}
        """#)
        expectIssue(bp, .error, "Observation.value.ofType(Quantity)", "does not match any known slice defined in the profile http://hl7.org/fhir/StructureDefinition/bp")
        #expect(!bp.contains { $0.message.contains("max allowed = 0") }, "\(bp)")
    }

    // MARK: extensions, attachments, narrative links, readers

    @Test(.enabled(if: available)) func extensionsAttachmentsAndLinks() throws {
        let issues = try run(#"""
        {"resourceType":"Patient","extension":[
          {"url":"http://hl7.org/fhir/StructureDefinition/patient-animal","extension":[
            {"url":"species","valueCodeableConcept":{"text":"dog"}},{"url":"species-x","valueCodeableConcept":{"text":"cat"}}]},
          {"url":"http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName|4.0.1","valueString":"X"}],
         "photo":[{"contentType":"image/png","data":"not.base64"}],
         "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a name=\"top\">x</a><a href=\"#top\">up</a><a href=\"#nowhere\">?</a></div>"}}
        """#)
        expectIssue(issues, .error, "Patient.extension[0].extension[1][url='species-x']", "Sub-extension url 'species-x' is not defined by the Extension http://hl7.org/fhir/StructureDefinition/patient-animal")
        expectIssue(issues, .error, "Patient.extension[1][url='http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName|4.0.1']", "must not contain a version")
        expectIssue(issues, .error, "Patient.photo[0]", "The base64 content in the data element is not valid base64")
        expectIssue(issues, .error, "Patient.text.div", "Hyperlink '#nowhere' in the narrative does not resolve")
        // (and the versioned url differs from the url the definition fixes)
        expectIssue(issues, .error, "Patient.extension[1].url", "but is fixed to 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName'")
        #expect(errors(issues).count == 5, "\(issues)")
    }

    @Test(.enabled(if: available)) func readerShapesAndEmptyAttributes() throws {
        let json = try run(#"{"resourceType":"Patient","name":{"family":"X"}}"#)
        expectIssue(json, .error, "Patient.name", "must be a JSON array")
        let xml = try run(#"""
        <Patient xmlns="http://hl7.org/fhir"><extension url=""><valueString value="x"/></extension></Patient>
        """#)
        expectIssue(xml, .error, "Patient.extension[0]", "Extension.url is required")
        expectIssue(xml, .error, "Patient.extension[0].url", "cannot be empty")
        expectIssue(xml, .error, "Patient.extension[0].url", "ele-1")
        #expect(errors(xml).count == 3, "\(xml)")
    }

    // MARK: StructureDefinitions given for validation

    @Test(.enabled(if: available)) func structureDefinitionsAreCheckedByGeneratingTheirSnapshot() throws {
        func check(_ sd: String) throws -> [OutcomeIssue] { try run(sd) }
        let badPath = try check(profile("bad-path", "Observation", #"{"id":"Observation.valueQuantity","path":"Observation.valueBla"}"#))
        expectIssue(badPath, .error, "StructureDefinition", "does not agree with the element id 'Observation.valueQuantity'")
        let badDiscriminator = try check(profile("bad-disc", "Patient", #"""
        {"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"expression","path":"system"}],"rules":"open"}}
        """#))
        expectIssue(badDiscriminator, .error, "StructureDefinition", "unknown discriminator type 'expression'")
        let base = profile("ext-base", "Extension", #"{"id":"Extension.url","path":"Extension.url","fixedUri":"http://example.org/StructureDefinition/ext-base"}"#)
        let derived = profile("ext-derived", "Extension", base: Self.url + "ext-base",
                              #"{"id":"Extension.url","path":"Extension.url","fixedUri":"http://example.org/StructureDefinition/ext-derived"}"#)
        let changed = try run(derived, profiles: [base])
        expectIssue(changed, .error, "Extension.url", "but is fixed to 'http://example.org/StructureDefinition/ext-base' in the base definition")
        let noBase = try check(profile("orphan", "Patient", base: Self.url + "nowhere", #"{"id":"Patient.active","path":"Patient.active","min":1}"#))
        expectIssue(noBase, .warning, "StructureDefinition", "The differential cannot be checked")
        #expect(errors(noBase).isEmpty, "\(noBase)")
        #expect(errors(try check(profile("fine", "Patient", #"{"id":"Patient.active","path":"Patient.active","min":1}"#))).isEmpty)
    }
}
