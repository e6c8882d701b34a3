import Testing
import Foundation
@testable import FHIRModels

/// Typed views read the official examples; each example is also read from its XML form, so views
/// see the same values whatever the syntax.
@Suite struct ViewTests {
    /// The example as a tree read from JSON and as a tree read back from XML; empty when the reference is absent.
    func trees(_ file: String) throws -> [ElementTree] {
        guard let data = Fixtures.officialExample(file) else { return [] }
        let json = try FHIRJSONReader.read(data)
        return [json, try FHIRXMLReader.read(FHIRXMLWriter.write(json))]
    }

    @Test func patient() throws {
        for t in try trees("Patient-example.json") {
            let p = try #require(PatientView(t))
            #expect(p.id == "example" && p.gender == "male" && p.birthDate == "1974-12-25" && p.active == true)
            #expect(p.identifiers.map(\.value) == ["12345"] && p.identifiers[0].use == "usual")
            #expect(p.identifiers[0].type?.has(system: "http://terminology.hl7.org/CodeSystem/v2-0203", code: "MR") == true)
            #expect(p.identifier(system: "urn:oid:1.2.36.146.595.217.0.1") == "12345")
            #expect(p.names.map(\.family) == ["Chalmers", nil, "Windsor"] && p.names[0].given == ["Peter", "James"] && p.names[1].use == "usual")
            #expect(OrganizationView(t) == nil)
        }
    }

    @Test func bundleSearchsetAndTransactionResponse() throws {
        for t in try trees("Bundle-bundle-example.json") {
            let b = try #require(BundleView(t))
            #expect(b.type == "searchset" && b.total == 3 && b.links.count == 2)
            #expect(b.link("next")?.hasSuffix("page=2") == true)
            #expect(b.entries.map(\.searchMode) == ["match", "include"])
            #expect(b.entries.map(\.resourceType) == ["MedicationRequest", "Medication"])
            #expect(b.entries[0].fullUrl == "https://example.com/base/MedicationRequest/3123")
            #expect(t.childValue(b.entries[1].resource!, "id") == "example")
        }
        for t in try trees("Bundle-bundle-transaction.json") {
            let b = try #require(BundleView(t))
            #expect(b.type == "transaction")
            #expect(b.entries[1].requestMethod == "POST" && b.entries[1].requestURL == "Patient")
            #expect(b.entries[1].requestIfNoneExist == "identifier=http:/example.org/fhir/ids|234234")
            let patient = try #require(PatientView(t, b.entries[0].resource!))
            #expect(patient.names.first?.family == "Chalmers")
        }
        for t in try trees("Bundle-bundle-response.json") {
            #expect(BundleView(t)?.entries.first?.responseStatus == "201 Created")
        }
    }

    @Test func task() throws {
        for t in try trees("Task-example1.json") {
            let task = try #require(TaskView(t))
            #expect(task.status == "in-progress" && task.intent == "order")
            #expect(task.businessStatus?.text == "waiting for specimen")
            #expect(task.identifiers.first?.value == "20170201-001" && task.identifiers.first?.use == "official")
            #expect(task.focus?.reference == "ServiceRequest/lipid" && task.for?.reference == "Patient/example")
            #expect(task.lastModified == "2016-10-31T09:45:05+10:00")
            #expect(task.description?.hasPrefix("Create order for getting specimen") == true)
            #expect(task.statusReason == nil && task.metaSource == nil)
        }
        for t in try trees("Task-fm-example4.json") {
            let inputs = try #require(TaskView(t)).inputs
            #expect(inputs.map { $0.type?.codings.first?.code } == ["origresponse", "reference", "item", "item"])
            #expect(inputs.map(\.valueType) == ["Reference", "string", "positiveInt", "positiveInt"])
            #expect(inputs[0].valueReference?.identifier?.value == "CR201810040001234")
            #expect(inputs[1].primitiveValue == "BR12345" && inputs[2].primitiveValue == "2")
            #expect(inputs[1].valueReference == nil && inputs[1].path == "Task.input[1]")
        }
        // statusReason and meta.source, on a built Task.
        var b = ElementTreeBuilder(resourceType: "Task")
        b.begin("meta"); b.primitive("source", "urn:dui:editeur"); b.end()
        b.primitive("status", "rejected")
        b.begin("statusReason"); b.primitive("text", "Dossier incomplet"); b.end()
        b.primitive("intent", "order")
        let built = TaskView(b.build())
        #expect(built?.metaSource == "urn:dui:editeur" && built?.statusReason?.text == "Dossier incomplet")
    }

    @Test func documentReference() throws {
        for t in try trees("DocumentReference-example.json") {
            let d = try #require(DocumentReferenceView(t))
            #expect(d.status == "current" && d.docStatus == "preliminary")
            #expect(d.typeCodings.map(\.code) == ["34108-1"] && d.typeCodings[0].system == "http://loinc.org")
            #expect(d.masterIdentifier?.value == "urn:oid:1.3.6.1.4.1.21367.2005.3.7")
            #expect(d.identifiers.map(\.value) == ["urn:oid:1.3.6.1.4.1.21367.2005.3.7.1234"] && d.identifiers[0].use == nil)
            #expect(d.subject?.reference == "Patient/xcda")
            #expect(d.attachments.map(\.contentType) == ["application/hl7-v3+xml"])
            #expect(d.attachments[0].title == "Physical" && d.attachments[0].size == "3654" && d.attachments[0].data == nil)
        }
    }

    @Test func consent() throws {
        for t in try trees("Consent-consent-example-pkb.json") {
            let c = try #require(ConsentView(t))
            #expect(c.status == "active" && c.scope?.code(in: "http://terminology.hl7.org/CodeSystem/consentscope") == "patient-privacy")
            #expect(c.categories.first?.codings.first?.code == "59284-0")
            #expect(c.patient?.reference == "Patient/example")
            let p = try #require(c.provision)
            #expect(p.actors.first?.reference?.reference == "Organization/f001")
            #expect(p.actors.first?.role?.codings.first?.code == "PRCP")
            #expect(p.actions.first?.codings.first?.code == "access")
            #expect(p.securityLabels.first?.code == "N")
            #expect(p.provisions.count >= 2 && p.provisions[0].securityLabels.first?.code == "PSY")
        }
        for t in try trees("Consent-consent-example-basic.json") {
            let c = try #require(ConsentView(t))
            #expect(c.provision?.period?.start == "1964-01-01" && c.provision?.period?.end == "2016-01-01")
            #expect(c.sourceAttachment?.title == "The terms of the consent in lawyer speak." && c.sourceReference == nil)
        }
        for t in try trees("Consent-consent-example-notOrg.json") {
            #expect(try #require(ConsentView(t)).provision?.type == "deny")
        }
    }

    @Test func operationOutcome() throws {
        for t in try trees("OperationOutcome-101.json") {
            let o = try #require(OperationOutcomeView(t))
            #expect(o.hasErrors && o.issues.count == 1)
            let i = o.issues[0]
            #expect(i.severity == "error" && i.code == "code-invalid" && i.expressions == ["Patient.gender"] && i.locations == ["/f:Patient/f:gender"])
            #expect(i.details?.text == #"The code "W" is not known and not legal in this context"#)
            #expect(i.diagnostics == "Acme.Interop.FHIRProcessors.Patient.processGender line 2453")
        }
        let built = try #require(OperationOutcomeView(OperationOutcomeBuilder.tree([OutcomeIssue(severity: .warning, code: .value, message: "m", rule: "R1")])))
        #expect(!built.hasErrors && built.issues[0].details?.code(in: OperationOutcomeBuilder.ruleSystem) == "R1")
    }

    @Test func organizationAndHealthcareService() throws {
        for t in try trees("Organization-f001.json") {
            let o = try #require(OrganizationView(t))
            #expect(o.name == "Burgers University Medical Center")
            #expect(o.identifiers.map(\.use) == ["official", "usual"] && o.identifier(system: "urn:oid:2.16.528.1") == "91654")
            #expect(o.types.first?.codings.map(\.code) == ["V6", "prov"])
        }
        for t in try trees("HealthcareService-example.json") {
            let h = try #require(HealthcareServiceView(t))
            #expect(h.name == "Consulting psychologists and/or psychology services" && h.active == true)
            #expect(h.identifiers.first?.value == "HS-12")
            #expect(h.providedBy?.reference == "Organization/f001" && h.providedBy?.display == "Burgers University Medical Center")
            #expect(h.typeCodings.map(\.code) == ["394913002", "394587001"])
            #expect(h.categoryCodings.map(\.code) == ["8"] && h.categories.first?.text == "Counselling")
            #expect(!h.characteristicCodings.isEmpty)
        }
    }
}
