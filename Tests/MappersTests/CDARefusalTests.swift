import Foundation
import Testing
import FHIRModels
import Validation
@testable import Mappers

/// One defect put into a written document and the error it must draw.
struct Defect: Sendable, CustomTestStringConvertible {
    var type: DecisionType = .attribution
    /// Text replacements applied to the written document, each expected exactly once.
    var edits: [(String, String)]
    var rule: String
    var expression: String
    var mentions: String? = nil
    var testDescription: String { "\(rule) at \(expression)" }
}

/// Every refusal rule of the reader, each on a written document with one defect, with its expression.
@Suite struct CDARefusalTests {
    static let role = "/ClinicalDocument/recordTarget/patientRole"
    static let patient = "/ClinicalDocument/recordTarget/patientRole/patient"
    static let section = "/ClinicalDocument/component/structuredBody/component/section"
    static let decision = "/ClinicalDocument/component/structuredBody/component/section/cnsaSDO:decision"
    static let right = decision + "/cnsaSDO:droitPrestation"
    static let detail = right + "/cnsaSDO:detailTypeDroitPrestation"
    static let setId = "<setId root=\"1.2.250.1.213.7.36.98\" extension=\"SET-0001\"/>"
    static let responsible = "<cnsaSDO:idMDPHResponsable root=\"1.2.250.1.213.7.36\" extension=\"36-INDRE\"/>"
    static let closureRelated = "<cnsaSDO:identifiantDesDecisionsReviseesRenouveleesCloturee root=\"1.2.250.1.213.7.36\" extension=\"DEC-2025-0001\"/>"
    static let targetA = "<cnsaSDO:idNat root=\"1.2.250.1.71.4.2.2\" extension=\"\(CDASamples.finessA)\"/>"
    static let targetB = "<cnsaSDO:idNat root=\"1.2.250.1.71.4.2.2\" extension=\"\(CDASamples.finessB)\"/>"
    static let temporality = "<cnsaSDO:temporaliteAccueil code=\"02\" codeSystem=\"1.2.250.1.213.3.3.31\"/>"

    static func xml(_ type: DecisionType = .attribution) -> String { CDASamples.text(DecisionDocumentWriter.write(CDASamples.decision(type))) }

    static let defects: [Defect] = [
        // header
        Defect(edits: [("extension=\"POCD_HD000040\"", "extension=\"POCD_HD000041\"")], rule: "CDA-HEADER-TYPEID", expression: "/ClinicalDocument/typeId"),
        Defect(edits: [("<templateId root=\"1.2.250.1.213.1.1.1.4.8\"/>", "")], rule: "CDA-HEADER-TEMPLATE", expression: "/ClinicalDocument/templateId",
               mentions: "1.2.250.1.213.1.1.1.4.8"),
        Defect(edits: [("<templateId root=\"2.16.840.1.113883.10.12.2\"/>", "")], rule: "CDA-HEADER-TEMPLATE", expression: "/ClinicalDocument/templateId",
               mentions: "2.16.840.1.113883.10.12.2"),
        Defect(edits: [("<id root=\"1.2.250.1.213.7.36.99\" extension=\"DOC-1\"/>", "<id nullFlavor=\"NI\"/>")], rule: "CDA-HEADER-ID",
               expression: "/ClinicalDocument/id/@root", mentions: "nullFlavor"),
        Defect(edits: [("code=\"18825-0\"", "code=\"11488-4\"")], rule: "CDA-HEADER-CODE", expression: "/ClinicalDocument/code"),
        Defect(edits: [("<effectiveTime value=\"20260110172308+0100\"/>", "<effectiveTime value=\"2026-01-10\"/>")], rule: "CDA-HEADER-EFFECTIVE-TIME",
               expression: "/ClinicalDocument/effectiveTime/@value"),
        Defect(edits: [("<effectiveTime value=\"20260110172308+0100\"/>", "")], rule: "CDA-HEADER-EFFECTIVE-TIME", expression: "/ClinicalDocument/effectiveTime"),
        Defect(edits: [("<confidentialityCode code=\"N\"", "<confidentialityCode code=\"R\"")], rule: "CDA-HEADER-CONFIDENTIALITY",
               expression: "/ClinicalDocument/confidentialityCode"),
        Defect(edits: [(setId, "<setId root=\"1.2.250.1.213.7.36.98\"/>")], rule: "CDA-HEADER-SETID", expression: "/ClinicalDocument/setId/@extension"),
        Defect(edits: [(setId, "")], rule: "CDA-HEADER-SETID", expression: "/ClinicalDocument/setId"),
        Defect(edits: [(setId, setId + setId)], rule: "CDA-HEADER-SETID", expression: "/ClinicalDocument/setId[2]"),
        Defect(edits: [("<versionNumber value=\"1\"/>", "<versionNumber value=\"0\"/>")], rule: "CDA-HEADER-VERSION", expression: "/ClinicalDocument/versionNumber/@value"),
        Defect(edits: [("<versionNumber value=\"1\"/>", "<versionNumber value=\"v2\"/>")], rule: "CDA-HEADER-VERSION", expression: "/ClinicalDocument/versionNumber/@value"),
        // From version 2 on, the replaced version is required.
        Defect(edits: [("<versionNumber value=\"1\"/>", "<versionNumber value=\"2\"/>")], rule: "CDA-HEADER-RELATED-DOCUMENT",
               expression: "/ClinicalDocument/relatedDocument", mentions: "RPLC"),
        Defect(type: .closure, edits: [("typeCode=\"RPLC\"", "typeCode=\"XFRM\"")], rule: "CDA-HEADER-RELATED-DOCUMENT",
               expression: "/ClinicalDocument/relatedDocument/@typeCode"),
        Defect(type: .closure, edits: [("<id root=\"1.2.250.1.213.7.36.99\" extension=\"DOC-1\"/>", "<id extension=\"DOC-1\"/>")],
               rule: "CDA-HEADER-RELATED-DOCUMENT", expression: "/ClinicalDocument/relatedDocument/parentDocument/id/@root"),
        Defect(edits: [("<representedCustodianOrganization>\n        <id root=\"1.2.250.1.213.8.1\" extension=\"ViaTrajectoire\"/>", "<representedCustodianOrganization>")],
               rule: "CDA-HEADER-CUSTODIAN", expression: "/ClinicalDocument/custodian/assignedCustodian/representedCustodianOrganization/id"),
        // person
        Defect(edits: [(CDASamples.nir, "276059205062865")], rule: "FR-INS-KEY", expression: role + "/id[1]/@extension", mentions: "INSi"),
        Defect(edits: [(CDASamples.nir, "27605920506288")], rule: "FR-INS-FORMAT", expression: role + "/id[1]/@extension"),
        Defect(edits: [("<id root=\"1.2.250.1.213.1.4.8\" extension=\"\(CDASamples.nir)\"/>\n      <id root=\"1.2.250.1.213.7.36\" extension=\"IND-0042\"/>",
                        "<id root=\"1.2.3\" extension=\"X\"/>")], rule: "CDA-PERSON-ID", expression: role + "/id"),
        Defect(edits: [(responsible, "")], rule: "CDA-PERSON-RESPONSIBLE-MDPH", expression: role + "/cnsaSDO:idMDPHResponsable"),
        Defect(edits: [(responsible, "<cnsaSDO:idMDPHResponsable root=\"1.2.250.1.213.8.1\" extension=\"36\"/>")], rule: "CDA-PERSON-RESPONSIBLE-MDPH",
               expression: role + "/cnsaSDO:idMDPHResponsable/@root"),
        Defect(edits: [("<administrativeGenderCode code=\"F\"", "<administrativeGenderCode code=\"X\"")], rule: "CDA-PERSON-GENDER",
               expression: patient + "/administrativeGenderCode/@code", mentions: "JDV_J143"),
        Defect(edits: [("<birthTime value=\"19960531\"/>", "<birthTime value=\"19960231\"/>")], rule: "CDA-PERSON-BIRTHTIME", expression: patient + "/birthTime/@value"),
        Defect(edits: [("<family qualifier=\"BR\">Lafayette</family>", "")], rule: "CDA-PERSON-IDENTITY", expression: patient + "/name/family", mentions: "INS"),
        // decision section
        Defect(edits: [("<templateId root=\"1.2.250.1.213.1.1.2.235\"/>", "<templateId root=\"1.2.250.1.213.1.1.2.236\"/>")], rule: "CDA-DECISION-SECTION",
               expression: section),
        // The decision block in the CDA namespace instead of urn:cnsaSDO: refused, and the message says why.
        Defect(edits: [("<cnsaSDO:decision>", "<decision>"), ("</cnsaSDO:decision>", "</decision>")], rule: "CDA-DECISION-SECTION", expression: decision,
               mentions: "urn:cnsaSDO"),
        // The published example puts the template OID as root: not an MDPH OID.
        Defect(edits: [("<cnsaSDO:identifiantDecision root=\"1.2.250.1.213.7.36\"", "<cnsaSDO:identifiantDecision root=\"1.2.250.1.213.1.1.1.4.8\"")],
               rule: "CDA-DECISION-ID", expression: decision + "/cnsaSDO:identifiantDecision/@root"),
        Defect(edits: [(" extension=\"DEC-2026-0001\"", "")], rule: "CDA-DECISION-ID", expression: decision + "/cnsaSDO:identifiantDecision/@extension"),
        Defect(edits: [("<cnsaSDO:typeDeDecision code=\"1\"", "<cnsaSDO:typeDeDecision code=\"3\"")], rule: "CDA-DECISION-TYPE",
               expression: decision + "/cnsaSDO:typeDeDecision/@code"),
        Defect(edits: [("codeSystem=\"1.2.250.1.213.3.3.202\"", "codeSystem=\"1.2.250.1.213.3.3.203\"")], rule: "CDA-DECISION-TYPE",
               expression: decision + "/cnsaSDO:typeDeDecision/@codeSystem"),
        Defect(edits: [("<cnsaSDO:dateDeDecision value=\"20260105\"/>", "<cnsaSDO:dateDeDecision value=\"20261305\"/>")], rule: "CDA-DECISION-DATE",
               expression: decision + "/cnsaSDO:dateDeDecision/@value"),
        Defect(edits: [("<cnsaSDO:dateDeDecision value=\"20260105\"/>", "")], rule: "CDA-DECISION-DATE", expression: decision + "/cnsaSDO:dateDeDecision"),
        Defect(type: .closure, edits: [("<cnsaSDO:dateEffetDeLaDecisionDeCloture value=\"20260301\"/>", "")], rule: "CDA-DECISION-CLOSURE-DATE",
               expression: decision + "/cnsaSDO:dateEffetDeLaDecisionDeCloture"),
        Defect(type: .closure, edits: [(closureRelated, "")], rule: "CDA-DECISION-RELATED",
               expression: decision + "/cnsaSDO:identifiantDesDecisionsReviseesRenouveleesCloturee", mentions: "clôture"),
        Defect(type: .closure, edits: [(closureRelated, closureRelated.replacingOccurrences(of: "1.2.250.1.213.7.36", with: "1.2.3"))], rule: "CDA-DECISION-RELATED",
               expression: decision + "/cnsaSDO:identifiantDesDecisionsReviseesRenouveleesCloturee/@root"),
        Defect(type: .renewal, edits: [("<cnsaSDO:identifiantDesDecisionsReviseesRenouveleesCloturee root=\"1.2.250.1.213.7.36\" extension=\"DEC-2021-0007\"/>", "")],
               rule: "CDA-DECISION-RELATED", expression: decision + "/cnsaSDO:identifiantDesDecisionsReviseesRenouveleesCloturee", mentions: "renouvellement"),
        Defect(type: .revision, edits: [("extension=\"\(CDASamples.siret)\"", "extension=\"373500000000018\"")], rule: "FR-SIRET-KEY",
               expression: decision + "/cnsaSDO:idNat/@extension"),
        Defect(type: .revision, edits: [("<cnsaSDO:idNat root=\"1.2.250.1.71.4.2.2\" extension=\"\(CDASamples.siret)\"",
                                         "<cnsaSDO:idNat root=\"1.2.250.1.71.4.2\" extension=\"\(CDASamples.siret)\"")],
               rule: "CDA-DECISION-REQUESTER", expression: decision + "/cnsaSDO:idNat/@root"),
        // targeted ESMS
        Defect(edits: [(targetA, ""), (targetB, "")], rule: "CDA-DECISION-TARGET", expression: decision + "/cnsaSDO:droitPrestation", mentions: "au moins un ESMS"),
        Defect(edits: [(CDASamples.finessB, "1350000007")], rule: "FR-FINESS-KEY", expression: detail + "/cnsaSDO:idNat[2]/@extension"),
        Defect(edits: [(CDASamples.finessB, "350000006")], rule: "FR-IDNAT-STRUCT-FORMAT", expression: detail + "/cnsaSDO:idNat[2]/@extension"),
        Defect(edits: [(targetA, targetA.replacingOccurrences(of: "1.2.250.1.71.4.2.2", with: "1.2.250.1.71.4.2.1"))], rule: "CDA-DECISION-TARGET",
               expression: detail + "/cnsaSDO:idNat[1]/@root"),
        // rights
        Defect(edits: [("<cnsaSDO:typeDroitOuPrestation code=\"13.2\" codeSystem=\"1.2.250.1.213.3.3.204\"/>", "")], rule: "CDA-RIGHT-TYPE",
               expression: right + "/cnsaSDO:typeDroitOuPrestation"),
        Defect(edits: [("<cnsaSDO:natureDroit code=\"1\"", "<cnsaSDO:natureDroit code=\"7\"")], rule: "CDA-RIGHT-NATURE", expression: right + "/cnsaSDO:natureDroit/@code"),
        Defect(edits: [("<cnsaSDO:dateEcheanceDuDroit value=\"20310103\"/>", "<cnsaSDO:dateEcheanceDuDroit value=\"20260103\"/>")], rule: "CDA-RIGHT-DATES",
               expression: right + "/cnsaSDO:dateEcheanceDuDroit/@value", mentions: "précède"),
        Defect(edits: [("<cnsaSDO:dateOuvertureDuDroit value=\"20260104\"/>", "")], rule: "CDA-RIGHT-DATES", expression: right + "/cnsaSDO:dateOuvertureDuDroit"),
        // detail codes, against the terminology store
        Defect(edits: [("<cnsaSDO:temporaliteAccueil code=\"02\"", "<cnsaSDO:temporaliteAccueil code=\"03\"")], rule: "CDA-RIGHT-TEMPORALITY",
               expression: detail + "/cnsaSDO:temporaliteAccueil/@code", mentions: "TRE_R240"),
        Defect(edits: [(temporality, "")], rule: "CDA-RIGHT-TEMPORALITY", expression: detail + "/cnsaSDO:temporaliteAccueil", mentions: "13.2"),
        Defect(edits: [("<cnsaSDO:accueilSequentiel value=\"false\"/>", "<cnsaSDO:accueilSequentiel value=\"non\"/>")], rule: "CDA-RIGHT-SEQUENTIAL",
               expression: detail + "/cnsaSDO:accueilSequentiel/@value"),
        // 49 left JDV_J264 in July 2026; 238 is in it but from another code system than TRE_R213.
        Defect(edits: [("<cnsaSDO:modePriseEnCharge code=\"46\"", "<cnsaSDO:modePriseEnCharge code=\"49\"")], rule: "CDA-RIGHT-CARE-MODE",
               expression: detail + "/cnsaSDO:priseEnCharge/cnsaSDO:modePriseEnCharge/@code", mentions: "JDV_J264"),
        Defect(edits: [("<cnsaSDO:modePriseEnCharge code=\"46\"", "<cnsaSDO:modePriseEnCharge code=\"238\"")], rule: "CDA-RIGHT-CARE-MODE",
               expression: detail + "/cnsaSDO:priseEnCharge/cnsaSDO:modePriseEnCharge/@code"),
        Defect(edits: [("<cnsaSDO:categorieOrganisation code=\"09\"", "<cnsaSDO:categorieOrganisation code=\"999\"")], rule: "CDA-RIGHT-ORGANISATION-CATEGORY",
               expression: detail + "/cnsaSDO:categorieOrganisation/@code"),
        Defect(edits: [("codeSystem=\"1.2.250.1.213.3.3.39\"", "codeSystem=\"1.2.250.1.213.3.3.40\"")], rule: "CDA-RIGHT-ORGANISATION-CATEGORY",
               expression: detail + "/cnsaSDO:categorieOrganisation/@codeSystem"),
    ]

    @Test(arguments: defects) func refused(_ defect: Defect) throws {
        var x = Self.xml(defect.type)
        for (old, new) in defect.edits { x = x.replacingOnce(old, with: new) }
        expectIssue(try decisionIssues(x), rule: defect.rule, expression: defect.expression, mentions: defect.mentions)
    }

    /// Every rule of `CDARule` that a document of its kind can break appears in a test of this target.
    @Test func everyRuleIsExercised() throws {
        let dir = CDASamples.repoRoot.appendingPathComponent("Tests/MappersTests")
        let sources = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".swift") }
            .map { try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8) }.joined()
        for rule in CDARule.allCases { #expect(sources.contains("\"\(rule.rawValue)\""), "\(rule.rawValue) is not tested") }
    }

    @Test func removedBlocks() throws {
        let x = Self.xml()
        let authorStart = try #require(x.range(of: "  <author ")), authorEnd = try #require(x.range(of: "</author>\n"))
        expectIssue(try decisionIssues(x.replacingCharacters(in: authorStart.lowerBound..<authorEnd.upperBound, with: "")),
                    rule: "CDA-HEADER-AUTHOR", expression: "/ClinicalDocument/author")
        let patientStart = try #require(x.range(of: "      <patient>")), patientEnd = try #require(x.range(of: "</patient>\n"))
        expectIssue(try decisionIssues(x.replacingCharacters(in: patientStart.lowerBound..<patientEnd.upperBound, with: "")),
                    rule: "CDA-PERSON-IDENTITY", expression: Self.patient)
    }

    @Test func tolerated() throws {
        let reader = try CDASamples.reader()
        // Version 1 that replaces something: accepted, with a warning.
        let v1 = reader.readDecision(Array(Self.xml(.closure).replacingOnce("<versionNumber value=\"2\"/>", with: "").utf8))
        #expect(v1.value?.versionNumber == 1)
        expectIssue(v1.issues, rule: "CDA-HEADER-RELATED-DOCUMENT", expression: "/ClinicalDocument/relatedDocument", severity: .warning)
        // The volet's table spells the identifier with a capital I.
        let capital = Self.xml().replacingOnce("cnsaSDO:identifiantDecision", with: "cnsaSDO:IdentifiantDecision")
        #expect(reader.readDecision(Array(capital.utf8)).value?.idDecision == "DEC-2026-0001")
        // A related decision of another MDPH is kept, with a warning.
        let renewal = Self.xml(.renewal).replacingOnce("root=\"1.2.250.1.213.7.36\" extension=\"DEC-2021-0007\"", with: "root=\"1.2.250.1.213.7.24\" extension=\"DEC-2021-0007\"")
        let other = reader.readDecision(Array(renewal.utf8))
        #expect(other.value?.relatedDecisionIds == ["DEC-2021-0007"])
        expectIssue(other.issues, rule: "CDA-DECISION-RELATED", expression: Self.decision + "/cnsaSDO:identifiantDesDecisionsReviseesRenouveleesCloturee/@root",
                    severity: .warning)
        // A closure needs no targeted ESMS (the sample has none).
        #expect(reader.readDecision(Array(Self.xml(.closure).utf8)).value?.targetedStructures == [])
        // A right type that does not need a temporality (ESAT, 11.x) is accepted without one.
        let esat = Self.xml().replacingOnce("code=\"13.2\"", with: "code=\"11.2\"").replacingOnce(Self.temporality, with: "")
        #expect(reader.readDecision(Array(esat.utf8)).value?.rights.first?.receptionTemporality == nil)
    }

    @Test func mixedNatures() throws {
        var mixed = CDASamples.decision(.attribution)
        mixed.rights.append(CDASamples.right(nature: "2"))
        expectIssue(try decisionIssues(CDASamples.text(DecisionDocumentWriter.write(mixed))), rule: "CDA-RIGHT-NATURE",
                    expression: Self.decision + "/cnsaSDO:droitPrestation[2]/cnsaSDO:natureDroit/@code")
    }

    @Test func warningsDoNotStopADocument() throws {
        let x = Self.xml()
            .replacingOnce("<cnsaSDO:motivation code=\"364\" codeSystem=\"1.2.250.1.213.3.3.148\"/>", with: "")
            .replacingOnce("<cnsaSDO:qualification code=\"1\" codeSystem=\"1.2.250.1.213.3.3.171\"/>", with: "")
            .replacingOnce("<cnsaSDO:existencePAG value=\"false\"/>", with: "")
            .replacingOnce("codeSystem=\"1.2.250.1.213.1.6.1.8\"", with: "codeSystem=\"1.2.250.1.213.1.6.1.9\"")
        let reading = try CDASamples.reader().readDecision(Array(x.utf8))
        let value = try #require(reading.value, "\(reading.issues)")
        #expect(value.motivations.isEmpty && value.rights[0].qualification == nil && value.rights[0].globalSupportPlan == nil)
        #expect(reading.issues.allSatisfy { $0.severity == .warning })
        expectIssue(reading.issues, rule: "CDA-DECISION-MOTIVATION", expression: "\(Self.decision)/cnsaSDO:motivation", severity: .warning)
        expectIssue(reading.issues, rule: "CDA-RIGHT-QUALIFICATION", expression: "\(Self.right)/cnsaSDO:qualification", severity: .warning)
        expectIssue(reading.issues, rule: "CDA-RIGHT-PAG", expression: "\(Self.right)/cnsaSDO:existencePAG", severity: .warning)
        expectIssue(reading.issues, rule: "CDA-RIGHT-ESTABLISHMENT-CATEGORY", expression: "\(Self.detail)/cnsaSDO:categorieEtablissement/@codeSystem", severity: .warning)
    }

    /// Codes the store cannot decide offline are warnings, never refusals.
    @Test func unverifiableCodesAreWarnings() throws {
        struct Blind: TerminologyProvider {
            func validate(code: String, system: String?, display: String?, valueSet: String) -> CodeValidation {
                CodeValidation(outcome: .unknownValueSet, message: "unknown")
            }
            func knowsCodeSystem(_ url: String) -> Bool { false }
        }
        let reading = DecisionDocumentReader(terminology: Blind()).readDecision(DecisionDocumentWriter.write(CDASamples.decision(.attribution)))
        #expect(reading.value == CDASamples.decision(.attribution))
        let unverified = reading.issues.filter { $0.rule == "CDA-CODE-UNVERIFIED" }
        #expect(unverified.count == 4 && unverified.allSatisfy { $0.severity == .warning }) // gender, temporality, category, care mode
    }

    @Test func everyProblemIsReportedNotTheFirst() throws {
        let x = Self.xml()
            .replacingOnce("extension=\"POCD_HD000040\"", with: "extension=\"X\"")
            .replacingOnce(CDASamples.nir, with: "276059205062865")
            .replacingOnce("<cnsaSDO:typeDeDecision code=\"1\"", with: "<cnsaSDO:typeDeDecision code=\"9\"")
            .replacingOnce(CDASamples.finessA, with: "1750000003")
        let rules = Set(try decisionIssues(x).filter(\.isError).compactMap(\.rule))
        #expect(rules.isSuperset(of: ["CDA-HEADER-TYPEID", "FR-INS-KEY", "CDA-DECISION-TYPE", "FR-FINESS-KEY"]), "\(rules)")
    }

    @Test func evaluation() throws {
        let x = CDASamples.text(DecisionDocumentWriter.write(CDASamples.evaluation()))
        let reader = try CDASamples.reader()
        func issues(_ s: String) -> [OutcomeIssue] {
            let r = reader.readEvaluation(Array(s.utf8))
            #expect(r.value == nil)
            return r.issues
        }
        expectIssue(issues(x.replacingOnce(" extension=\"IDNAT-DEC-000123\"", with: "")), rule: "CDA-HEADER-SETID", expression: "/ClinicalDocument/setId/@extension")
        expectIssue(issues(x.replacingOnce("<text>20260108</text>", with: "<text>8 janvier</text>")),
                    rule: "CDA-EVALUATION-DATE", expression: "\(Self.section)/text")
        expectIssue(issues(x.replacingOnce("<templateId root=\"1.2.250.1.213.1.1.2.229\"/>", with: "")),
                    rule: "CDA-EVALUATION-SECTION", expression: Self.section)
    }
}
