import Foundation
import Testing
import FHIRModels
import Validation
@testable import Mappers

/// Writer → reader: every decision type and the evaluation come back equal, with no issue at all.
@Suite struct CDARoundTripTests {
    static let types: [DecisionType] = [.attribution, .renewal, .revision, .closure]

    @Test(arguments: types) func decisionRoundTrip(_ type: DecisionType) throws {
        let decision = CDASamples.decision(type)
        let bytes = DecisionDocumentWriter.write(decision)
        let reading = try CDASamples.reader().readDecision(bytes)
        #expect(reading.issues.isEmpty, "\(reading.issues.map(\.description).joined(separator: "\n"))")
        let read = try #require(reading.value)
        #expect(read == decision)
        #expect(read.decisionType == type)
        // The written CDA carries the codes the volet defines for the type.
        let xml = CDASamples.text(bytes)
        #expect(xml.contains("<cnsaSDO:typeDeDecision code=\"\(type == .closure ? "5" : "1")\" codeSystem=\"1.2.250.1.213.3.3.202\"/>"))
        let nature = switch type { case .renewal: "2"; case .revision: "3"; default: "1" }
        #expect(xml.contains("<cnsaSDO:natureDroit code=\"\(nature)\" codeSystem=\"1.2.250.1.213.3.3.151\"/>"))
    }

    @Test func targetedStructuresAcrossRightsAreDeduplicated() throws {
        var decision = CDASamples.decision(.attribution)
        decision.rights.append(CDASamples.right(nature: "1", targets: [CDASamples.finessB, CDASamples.siret]))
        let read = try #require(try CDASamples.reader().readDecision(DecisionDocumentWriter.write(decision)).value)
        #expect(read.rights.count == 2)
        #expect(read.targetedStructures == [CDASamples.finessA, CDASamples.finessB, CDASamples.siret])
    }

    @Test func personWithoutINSIsIdentifiedByItsMDPHFile() throws {
        var decision = CDASamples.decision(.attribution)
        decision.person.ins = nil
        let read = try #require(try CDASamples.reader().readDecision(DecisionDocumentWriter.write(decision)).value)
        #expect(read.person.personKey == "mdph:\(CDASamples.mdph)|IND-0042")
        #expect(read == decision)
    }

    @Test func evaluationRoundTrip() throws {
        let evaluation = CDASamples.evaluation()
        let bytes = DecisionDocumentWriter.write(evaluation)
        let reading = try CDASamples.reader().readEvaluation(bytes)
        #expect(reading.issues.isEmpty, "\(reading.issues.map(\.description).joined(separator: "\n"))")
        let read = try #require(reading.value)
        #expect(read == evaluation)
        #expect(read.idNatDecision == "IDNAT-DEC-000123")
        // With an identity and a replaced version.
        var v2 = evaluation
        v2.versionNumber = 2
        v2.replacesDocumentId = evaluation.documentId
        v2.documentId.extension = "EVAL-2"
        v2.person = CDASamples.person()
        #expect(try CDASamples.reader().readEvaluation(DecisionDocumentWriter.write(v2)).value == v2)
    }

    @Test func aDocumentOfTheOtherKindIsRefusedWithItsTemplate() throws {
        let reader = try CDASamples.reader()
        let asEvaluation = reader.readEvaluation(DecisionDocumentWriter.write(CDASamples.decision(.attribution)))
        #expect(asEvaluation.value == nil)
        expectIssue(asEvaluation.issues, rule: "CDA-HEADER-TEMPLATE", expression: "/ClinicalDocument/templateId", mentions: "1.2.250.1.213.1.1.1.4.8")
        expectIssue(asEvaluation.issues, rule: "CDA-EVALUATION-SECTION", expression: "/ClinicalDocument/component/structuredBody/component/section")
        let asDecision = reader.readDecision(DecisionDocumentWriter.write(CDASamples.evaluation()))
        #expect(asDecision.value == nil)
        expectIssue(asDecision.issues, rule: "CDA-HEADER-TEMPLATE", expression: "/ClinicalDocument/templateId")
        expectIssue(asDecision.issues, rule: "CDA-DECISION-SECTION", expression: "/ClinicalDocument/component/structuredBody/component/section")
        // Without patient, the decision document also misses the identity it requires.
        expectIssue(asDecision.issues, rule: "CDA-PERSON-IDENTITY", expression: "/ClinicalDocument/recordTarget/patientRole/patient")
    }

    /// Fixtures/cda holds documents made by the writer (sandbox seeds, examples for editors). They must be
    /// what the writer produces today and be accepted by the reader. `CDA_FIXTURES_WRITE=1` regenerates them.
    @Test func fixturesAreWriterOutputAndAccepted() throws {
        let dir = CDASamples.repoRoot.appendingPathComponent("Fixtures/cda")
        var expected: [(String, [UInt8])] = Self.types.map { t in
            ("decision-\(t == .attribution ? "attribution" : t == .renewal ? "renewal" : t == .revision ? "revision" : "closure").xml",
             DecisionDocumentWriter.write(CDASamples.decision(t)))
        }
        expected.append(("evaluation.xml", DecisionDocumentWriter.write(CDASamples.evaluation())))
        let stamped = try DecisionDocumentWriter.stampingIdNatDecision(DecisionDocumentWriter.write(CDASamples.decision(.attribution)),
                                                                        idNatDecision: "IDNAT-DEC-000123")
        expected.append(("decision-attribution-stamped.xml", stamped))
        if ProcessInfo.processInfo.environment["CDA_FIXTURES_WRITE"] == "1" {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for (name, bytes) in expected { try Data(bytes).write(to: dir.appendingPathComponent(name)) }
        }
        let reader = try CDASamples.reader()
        for (name, bytes) in expected {
            let onDisk = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
            #expect(onDisk == bytes, "Fixtures/cda/\(name) differs from the writer's output (CDA_FIXTURES_WRITE=1 regenerates it)")
            let issues = name.hasPrefix("evaluation") ? reader.readEvaluation(onDisk).issues : reader.readDecision(onDisk).issues
            #expect(issues.isEmpty, "\(name): \(issues)")
        }
    }
}
