import Foundation
import Testing
import FHIRModels
import Validation
@testable import Mappers

/// Hostile or broken bytes: refused with one issue naming the reason, never a crash, never a file read.
@Suite struct CDAHostileXMLTests {
    static let sample = CDASamples.text(DecisionDocumentWriter.write(CDASamples.decision(.attribution)))
    static let body = String(sample.drop(while: { $0 != "\n" }).dropFirst()) // without the XML declaration

    func refusal(_ bytes: [UInt8], reader: DecisionDocumentReader? = nil) throws -> OutcomeIssue {
        let r = try reader ?? CDASamples.reader()
        let decision = r.readDecision(bytes), evaluation = r.readEvaluation(bytes)
        #expect(decision.value == nil && evaluation.value == nil)
        #expect(decision.issues.count == 1, "\(decision.issues)")
        #expect(decision.issues == evaluation.issues)
        return try #require(decision.issues.first)
    }

    @Test func doctypeAndExternalEntitiesAreRefused() throws {
        let xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
            + Self.body.replacingOnce("<title>Décision d'orientation</title>", with: "<title>&xxe;</title>")
        let issue = try refusal(Array(xxe.utf8))
        #expect(issue.rule == "CDA-XML-DOCTYPE" && issue.code == .security && issue.expression == "/")
        #expect(!issue.message.contains("root:"))
        let laughs = "<!DOCTYPE a [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]><a>&c;</a>"
        #expect(try refusal(Array(laughs.utf8)).rule == "CDA-XML-DOCTYPE")
        let external = "<?xml version=\"1.0\"?><!DOCTYPE ClinicalDocument SYSTEM \"http://127.0.0.1:9/cda.dtd\">" + Self.body
        #expect(try refusal(Array(external.utf8)).rule == "CDA-XML-DOCTYPE")
    }

    @Test func sizeDepthAndElementCountAreBounded() throws {
        let huge = Self.sample.replacingOnce("<title>", with: "<!--" + String(repeating: "x", count: 3 << 20) + "--><title>")
        let big = try refusal(Array(huge.utf8))
        #expect(big.rule == "CDA-XML-LIMIT" && big.code == .tooLong)
        let nested = String(repeating: "<x>", count: 100) + String(repeating: "</x>", count: 100)
        let deep = try refusal(Array(Self.sample.replacingOnce("<title>", with: nested + "<title>").utf8))
        #expect(deep.rule == "CDA-XML-LIMIT" && deep.code == .tooCostly && deep.message.contains("64"))
        // Deeper than libxml2's own bound: refused by the parser itself.
        let abyss = String(repeating: "<x>", count: 5000) + String(repeating: "</x>", count: 5000)
        #expect(["CDA-XML-LIMIT", "CDA-XML-SYNTAX"].contains(try refusal(Array(("<r>" + abyss + "</r>").utf8)).rule))
        let small = DecisionDocumentReader(terminology: try #require(CDASamples.terminology),
                                           limits: XMLDocumentLimits(maxBytes: 1 << 20, maxDepth: 64, maxElements: 40))
        let many = try refusal(Array(Self.sample.utf8), reader: small)
        #expect(many.rule == "CDA-XML-LIMIT" && many.message.contains("40"))
    }

    @Test func onlyUTF8IsAccepted() throws {
        var invalid = Array(Self.sample.utf8)
        let at = try #require(invalid.firstRange(of: Array("Lafayette".utf8)))
        invalid.replaceSubrange(at, with: [0x4C, 0xC3, 0x28, 0x66])
        let bad = try refusal(invalid)
        #expect(bad.rule == "CDA-XML-SYNTAX" && bad.location!.line > 1 && bad.message.contains("UTF-8"))
        // Latin-1 declared: well-formed XML, but the volet requires UTF-8.
        var latin1 = Array(("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n" + Self.body.replacingOnce("Décision d'orientation", with: "Decision")).utf8)
        let e = try #require(latin1.firstRange(of: Array("Lafayette".utf8)))
        latin1.replaceSubrange(e, with: [0x4C, 0xE9, 0x61])
        let declared = try refusal(latin1)
        #expect(declared.rule == "CDA-XML-ENCODING" && declared.message.contains("ISO-8859-1"))
        let utf16 = [UInt8](Self.sample.data(using: .utf16LittleEndian)!)
        #expect(try refusal([0xFF, 0xFE] + utf16).rule == "CDA-XML-ENCODING")
        // A UTF-8 byte order mark is harmless.
        #expect(try CDASamples.reader().readDecision([0xEF, 0xBB, 0xBF] + Array(Self.sample.utf8)).value != nil)
    }

    @Test func wrongRootOrNamespace() throws {
        let fhir = Self.sample.replacingOnce("xmlns=\"urn:hl7-org:v3\"", with: "xmlns=\"http://hl7.org/fhir\"")
        let issue = try refusal(Array(fhir.utf8))
        #expect(issue.rule == "CDA-ROOT" && issue.expression == "/{http://hl7.org/fhir}ClinicalDocument" && issue.message.contains("http://hl7.org/fhir"))
        let none = try refusal(Array(Self.sample.replacingOnce(" xmlns=\"urn:hl7-org:v3\"", with: "").utf8))
        #expect(none.rule == "CDA-ROOT" && none.message.contains("sans espace de noms"))
        let bundle = try refusal(Array("<Bundle xmlns=\"http://hl7.org/fhir\"><type value=\"searchset\"/></Bundle>".utf8))
        #expect(bundle.rule == "CDA-ROOT")
    }

    @Test func brokenBytes() throws {
        #expect(try refusal([]).rule == "CDA-XML-SYNTAX")
        #expect(try refusal(Array("not xml at all".utf8)).rule == "CDA-XML-SYNTAX")
        let truncated = try refusal(Array(Self.sample.utf8.prefix(Self.sample.utf8.count / 2)))
        #expect(truncated.rule == "CDA-XML-SYNTAX" && truncated.location!.line > 10)
        #expect(try refusal(Array("<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><a></b></ClinicalDocument>".utf8)).rule == "CDA-XML-SYNTAX")
        #expect(try refusal(Array(Self.sample.replacingOnce("<title>", with: "<title>&nbsp;").utf8)).rule == "CDA-XML-SYNTAX")
    }

    @Test func commentsCharacterReferencesAndPrefixesAreFine() throws {
        let x = Self.sample
            .replacingOnce("<recordTarget>", with: "<!-- identité -->\n  <?pi data?>\n  <recordTarget>")
            .replacingOnce("<family qualifier=\"BR\">Lafayette</family>", with: "<family qualifier=\"BR\"><![CDATA[Lafay]]>&#101;tte</family>")
            .replacingOnce("<ClinicalDocument xmlns=\"urn:hl7-org:v3\" xmlns:cnsaSDO=\"urn:cnsaSDO\">", with: "<v3:ClinicalDocument xmlns:v3=\"urn:hl7-org:v3\" xmlns=\"urn:hl7-org:v3\" xmlns:sdo=\"urn:cnsaSDO\">")
            .replacingOnce("</ClinicalDocument>", with: "</v3:ClinicalDocument>")
            .replacingOccurrences(of: "cnsaSDO:", with: "sdo:")
        let reading = try CDASamples.reader().readDecision(Array(x.utf8))
        #expect(reading.issues.isEmpty, "\(reading.issues)")
        #expect(reading.value == CDASamples.decision(.attribution))
    }
}

/// `stampingIdNatDecision`: what the ESMS receives in flow 1.
@Suite struct CDAStampingTests {
    @Test func stampsSetIdAndKeepsEverythingElse() throws {
        let decision = CDASamples.decision(.renewal)
        let original = CDASamples.text(DecisionDocumentWriter.write(decision))
            .replacingOnce("<recordTarget>", with: "<!-- commentaire de la MDPH -->\n  <recordTarget>")
        let stamped = CDASamples.text(try DecisionDocumentWriter.stampingIdNatDecision(Array(original.utf8), idNatDecision: "IDNAT-2026-000042"))
        #expect(stamped.contains("<!-- commentaire de la MDPH -->"))
        let before = original.split(separator: "\n"), after = stamped.split(separator: "\n")
        #expect(before.count == after.count)
        let changed = zip(before, after).filter { $0 != $1 }
        #expect(changed.count == 1 && changed.first?.1 == "  <setId root=\"1.2.250.1.213.8.1\" extension=\"IDNAT-2026-000042\"/>", "\(changed)")
        var expected = decision
        expected.setId = InstanceIdentifier(root: CDAVocabulary.platformOID, extension: "IDNAT-2026-000042")
        let reading = try CDASamples.reader().readDecision(Array(stamped.utf8))
        #expect(reading.issues.isEmpty && reading.value == expected)
    }

    @Test func valuesAreEscapedAndTheRootCanBeChosen() throws {
        let bytes = DecisionDocumentWriter.write(CDASamples.decision(.attribution))
        let stamped = try DecisionDocumentWriter.stampingIdNatDecision(bytes, idNatDecision: "A&B<\"C'", root: "1.2.250.1.213.8.1.7")
        #expect(CDASamples.text(stamped).contains("extension=\"A&amp;B&lt;&quot;C'\""))
        let value = try #require(try CDASamples.reader().readDecision(stamped).value)
        #expect(value.setId == InstanceIdentifier(root: "1.2.250.1.213.8.1.7", extension: "A&B<\"C'"))
        // The evaluation is stamped the same way.
        let evaluation = try DecisionDocumentWriter.stampingIdNatDecision(DecisionDocumentWriter.write(CDASamples.evaluation()), idNatDecision: "IDNAT-9")
        #expect(try CDASamples.reader().readEvaluation(evaluation).value?.idNatDecision == "IDNAT-9")
    }

    @Test func refusesWhatItCannotStamp() throws {
        let x = CDASamples.text(DecisionDocumentWriter.write(CDASamples.decision(.attribution)))
        #expect(throws: XMLReadError.self) {
            try DecisionDocumentWriter.stampingIdNatDecision(Array(x.replacingOnce("<setId root=\"1.2.250.1.213.7.36.98\" extension=\"SET-0001\"/>", with: "").utf8), idNatDecision: "X")
        }
        do {
            _ = try DecisionDocumentWriter.stampingIdNatDecision(Array(("<!DOCTYPE a []>" + x.drop(while: { $0 != "\n" })).utf8), idNatDecision: "X")
            Issue.record("a DOCTYPE was stamped")
        } catch {
            #expect(error.kind == .doctype)
        }
        do {
            _ = try DecisionDocumentWriter.stampingIdNatDecision(Array("<Patient xmlns=\"http://hl7.org/fhir\"/>".utf8), idNatDecision: "X")
            Issue.record("a non-CDA document was stamped")
        } catch {
            #expect(error.kind == .notFound)
        }
    }
}

/// Replays `Fixtures/fuzz/cda/` (seeds and crashers of `scripts/fuzz cda`) through the harness's invariants.
@Suite struct CDAFuzzRegressionTests {
    @Test func replayCorpus() throws {
        let reader = try CDASamples.reader()
        let dir = CDASamples.repoRoot.appendingPathComponent("Fixtures/fuzz/cda")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }.sorted()
        var accepted = 0, refused = 0
        for f in files {
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(f)))
            let start = ContinuousClock.now
            let (problem, ok) = reader.selfCheck(bytes)
            #expect(problem == nil, "\(f): \(problem ?? "")")
            if ok { accepted += 1 } else { refused += 1 }
            #expect(ContinuousClock.now - start < .seconds(5), "\(f) took too long")
        }
        #expect(accepted > 0 && refused > 0, "\(accepted) accepted, \(refused) refused")
    }
}
