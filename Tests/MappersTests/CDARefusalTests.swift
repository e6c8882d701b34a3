import Foundation
import Testing
import FHIRModels
import Validation
@testable import Mappers

/// Every refusal rule of the reader, each on a written document with one defect, with its expression.
@Suite struct CDARefusalTests {
    static let doc = "/ClinicalDocument"
    static let role = "/ClinicalDocument/recordTarget/patientRole"
    static let patient = "/ClinicalDocument/recordTarget/patientRole/patient"
    static let section = "/ClinicalDocument/component/structuredBody/component/section"
    static let decision = "/ClinicalDocument/component/structuredBody/component/section/cnsaSDO:decision"
    static let right = decision + "/cnsaSDO:droitPrestation"
    static let detail = right + "/cnsaSDO:detailTypeDroitPrestation"

    static func xml(_ type: DecisionType = .attribution) -> String { CDASamples.text(DecisionDocumentWriter.write(CDASamples.decision(type))) }

    // MARK: header

    @Test func header() throws {
        let x = Self.xml()
        expectIssue(try decisionIssues(x.replacingOnce("extension=\"POCD_HD000040\"", with: "extension=\"POCD_HD000041\"")),
                    rule: "CDA-HEADER-TYPEID", expression: "/ClinicalDocument/typeId")
        expectIssue(try decisionIssues(x.replacingOnce("<templateId root=\"1.2.250.1.213.1.1.1.4.8\"/>", with: "")),
                    rule: "CDA-HEADER-TEMPLATE", expression: "/ClinicalDocument/templateId", mentions: "1.2.250.1.213.1.1.1.4.8")
        expectIssue(try decisionIssues(x.replacingOnce("<templateId root=\"2.16.840.1.113883.10.12.2\"/>", with: "")),
                    rule: "CDA-HEADER-TEMPLATE", expression: "/ClinicalDocument/templateId", mentions: "2.16.840.1.113883.10.12.2")
        expectIssue(try decisionIssues(x.replacingOnce("<id root=\"1.2.250.1.213.7.36.99\" extension=\"DOC-1\"/>", with: "<id nullFlavor=\"NI\"/>")),
                    rule: "CDA-HEADER-ID", expression: "/ClinicalDocument/id/@root", mentions: "nullFlavor")
        expectIssue(try decisionIssues(x.replacingOnce("code=\"18825-0\"", with: "code=\"11488-4\"")),
                    rule: "CDA-HEADER-CODE", expression: "/ClinicalDocument/code")
        expectIssue(try decisionIssues(x.replacingOnce("<effectiveTime value=\"20260110172308+0100\"/>", with: "<effectiveTime value=\"2026-01-10\"/>")),
                    rule: "CDA-HEADER-EFFECTIVE-TIME", expression: "/ClinicalDocument/effectiveTime/@value")
        expectIssue(try decisionIssues(x.replacingOnce("<effectiveTime value=\"20260110172308+0100\"/>", with: "")),
                    rule: "CDA-HEADER-EFFECTIVE-TIME", expression: "/ClinicalDocument/effectiveTime")
        expectIssue(try decisionIssues(x.replacingOnce("<confidentialityCode code=\"N\"", with: "<confidentialityCode code=\"R\"")),
                    rule: "CDA-HEADER-CONFIDENTIALITY", expression: "/ClinicalDocument/confidentialityCode")
    }

    @Test func setIdAndVersions() throws {
        let x = Self.xml()
        let setId = "<setId root=\"1.2.250.1.213.7.36.98\" extension=\"SET-0001\"/>"
        expectIssue(try decisionIssues(x.replacingOnce(setId, with: "<setId root=\"1.2.250.1.213.7.36.98\"/>")),
                    rule: "CDA-HEADER-SETID", expression: "/ClinicalDocument/setId/@extension")
        expectIssue(try decisionIssues(x.replacingOnce(setId, with: "")), rule: "CDA-HEADER-SETID", expression: "/ClinicalDocument/setId")
        expectIssue(try decisionIssues(x.replacingOnce(setId, with: setId + setId)), rule: "CDA-HEADER-SETID", expression: "/ClinicalDocument/setId[2]")
        expectIssue(try decisionIssues(x.replacingOnce("<versionNumber value=\"1\"/>", with: "<versionNumber value=\"0\"/>")),
                    rule: "CDA-HEADER-VERSION", expression: "/ClinicalDocument/versionNumber/@value")
        expectIssue(try decisionIssues(x.replacingOnce("<versionNumber value=\"1\"/>", with: "<versionNumber value=\"v2\"/>")),
                    rule: "CDA-HEADER-VERSION", expression: "/ClinicalDocument/versionNumber/@value")
        // From version 2 on, the replaced version is required.
        expectIssue(try decisionIssues(x.replacingOnce("<versionNumber value=\"1\"/>", with: "<versionNumber value=\"2\"/>")),
                    rule: "CDA-HEADER-RELATED-DOCUMENT", expression: "/ClinicalDocument/relatedDocument", mentions: "RPLC")
        let closure = Self.xml(.closure) // version 2, replaces DOC-1
        expectIssue(try decisionIssues(closure.replacingOnce("typeCode=\"RPLC\"", with: "typeCode=\"XFRM\"")),
                    rule: "CDA-HEADER-RELATED-DOCUMENT", expression: "/ClinicalDocument/relatedDocument/@typeCode")
        expectIssue(try decisionIssues(closure.replacingOnce("<id root=\"1.2.250.1.213.7.36.99\" extension=\"DOC-1\"/>", with: "<id extension=\"DOC-1\"/>")),
                    rule: "CDA-HEADER-RELATED-DOCUMENT", expression: "/ClinicalDocument/relatedDocument/parentDocument/id/@root")
        // Version 1 that replaces something: accepted, with a warning.
        let reading = try CDASamples.reader().readDecision(Array(closure.replacingOnce("<versionNumber value=\"2\"/>", with: "").utf8))
        #expect(reading.value?.versionNumber == 1)
        expectIssue(reading.issues, rule: "CDA-HEADER-RELATED-DOCUMENT", expression: "/ClinicalDocument/relatedDocument", severity: .warning)
    }

    @Test func authorAndCustodian() throws {
        let x = Self.xml()
        let authorStart = try #require(x.range(of: "  <author ")), authorEnd = try #require(x.range(of: "</author>\n"))
        expectIssue(try decisionIssues(x.replacingCharacters(in: authorStart.lowerBound..<authorEnd.upperBound, with: "")),
                    rule: "CDA-HEADER-AUTHOR", expression: "/ClinicalDocument/author")
        let custodianId = "<representedCustodianOrganization>\n        <id root=\"1.2.250.1.213.8.1\" extension=\"ViaTrajectoire\"/>"
        expectIssue(try decisionIssues(x.replacingOnce(custodianId, with: "<representedCustodianOrganization>")),
                    rule: "CDA-HEADER-CUSTODIAN", expression: "/ClinicalDocument/custodian/assignedCustodian/representedCustodianOrganization/id")
    }

    // MARK: person

    @Test func person() throws {
        let x = Self.xml()
        expectIssue(try decisionIssues(x.replacingOnce(CDASamples.nir, with: "276059205062865")),
                    rule: "FR-INS-KEY", expression: "\(Self.role)/id[1]/@extension", mentions: "INSi")
        expectIssue(try decisionIssues(x.replacingOnce(CDASamples.nir, with: "27605920506288")),
                    rule: "FR-INS-FORMAT", expression: "\(Self.role)/id[1]/@extension")
        let ids = "<id root=\"1.2.250.1.213.1.4.8\" extension=\"\(CDASamples.nir)\"/>\n      <id root=\"1.2.250.1.213.7.36\" extension=\"IND-0042\"/>"
        expectIssue(try decisionIssues(x.replacingOnce(ids, with: "<id root=\"1.2.3\" extension=\"X\"/>")),
                    rule: "CDA-PERSON-ID", expression: "\(Self.role)/id")
        let responsible = "<cnsaSDO:idMDPHResponsable root=\"1.2.250.1.213.7.36\" extension=\"36-INDRE\"/>"
        expectIssue(try decisionIssues(x.replacingOnce(responsible, with: "")),
                    rule: "CDA-PERSON-RESPONSIBLE-MDPH", expression: "\(Self.role)/cnsaSDO:idMDPHResponsable")
        expectIssue(try decisionIssues(x.replacingOnce(responsible, with: "<cnsaSDO:idMDPHResponsable root=\"1.2.250.1.213.8.1\" extension=\"36\"/>")),
                    rule: "CDA-PERSON-RESPONSIBLE-MDPH", expression: "\(Self.role)/cnsaSDO:idMDPHResponsable/@root")
        expectIssue(try decisionIssues(x.replacingOnce("<administrativeGenderCode code=\"F\"", with: "<administrativeGenderCode code=\"X\"")),
                    rule: "CDA-PERSON-GENDER", expression: "\(Self.patient)/administrativeGenderCode/@code", mentions: "JDV_J143")
        expectIssue(try decisionIssues(x.replacingOnce("<birthTime value=\"19960531\"/>", with: "<birthTime value=\"19960231\"/>")),
                    rule: "CDA-PERSON-BIRTHTIME", expression: "\(Self.patient)/birthTime/@value")
        expectIssue(try decisionIssues(x.replacingOnce("<family qualifier=\"BR\">Lafayette</family>", with: "")),
                    rule: "CDA-PERSON-IDENTITY", expression: "\(Self.patient)/name/family", mentions: "INS")
        let patientStart = try #require(x.range(of: "      <patient>")), patientEnd = try #require(x.range(of: "</patient>\n"))
        expectIssue(try decisionIssues(x.replacingCharacters(in: patientStart.lowerBound..<patientEnd.upperBound, with: "")),
                    rule: "CDA-PERSON-IDENTITY", expression: Self.patient)
    }

    // MARK: decision

    @Test func decisionSectionAndNamespaces() throws {
        let x = Self.xml()
        expectIssue(try decisionIssues(x.replacingOnce("<templateId root=\"1.2.250.1.213.1.1.2.235\"/>", with: "<templateId root=\"1.2.250.1.213.1.1.2.236\"/>")),
                    rule: "CDA-DECISION-SECTION", expression: Self.section)
        // The decision block in the CDA namespace instead of urn:cnsaSDO: refused, and the message says why.
        let moved = x.replacingOnce("<cnsaSDO:decision>", with: "<decision>").replacingOnce("</cnsaSDO:decision>", with: "</decision>")
        expectIssue(try decisionIssues(moved), rule: "CDA-DECISION-SECTION", expression: Self.decision, mentions: "urn:cnsaSDO")
        // The volet's table spells the identifier with a capital I: accepted.
        let capital = x.replacingOnce("cnsaSDO:identifiantDecision", with: "cnsaSDO:IdentifiantDecision")
        #expect(try CDASamples.reader().readDecision(Array(capital.utf8)).value?.idDecision == "DEC-2026-0001")
    }

    @Test func decisionIdentifierTypeAndDates() throws {
        let x = Self.xml()
        // The published example puts the template OID as root: not an MDPH OID.
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:identifiantDecision root=\"1.2.250.1.213.7.36\"", with: "<cnsaSDO:identifiantDecision root=\"1.2.250.1.213.1.1.1.4.8\"")),
                    rule: "CDA-DECISION-ID", expression: "\(Self.decision)/cnsaSDO:identifiantDecision/@root")
        expectIssue(try decisionIssues(x.replacingOnce(" extension=\"DEC-2026-0001\"", with: "")),
                    rule: "CDA-DECISION-ID", expression: "\(Self.decision)/cnsaSDO:identifiantDecision/@extension")
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:typeDeDecision code=\"1\"", with: "<cnsaSDO:typeDeDecision code=\"3\"")),
                    rule: "CDA-DECISION-TYPE", expression: "\(Self.decision)/cnsaSDO:typeDeDecision/@code")
        expectIssue(try decisionIssues(x.replacingOnce("codeSystem=\"1.2.250.1.213.3.3.202\"", with: "codeSystem=\"1.2.250.1.213.3.3.203\"")),
                    rule: "CDA-DECISION-TYPE", expression: "\(Self.decision)/cnsaSDO:typeDeDecision/@codeSystem")
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:dateDeDecision value=\"20260105\"/>", with: "<cnsaSDO:dateDeDecision value=\"20261305\"/>")),
                    rule: "CDA-DECISION-DATE", expression: "\(Self.decision)/cnsaSDO:dateDeDecision/@value")
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:dateDeDecision value=\"20260105\"/>", with: "")),
                    rule: "CDA-DECISION-DATE", expression: "\(Self.decision)/cnsaSDO:dateDeDecision")
    }

    @Test func closureRenewalRevisionNeedTheirLinks() throws {
        let closure = Self.xml(.closure)
        expectIssue(try decisionIssues(closure.replacingOnce("<cnsaSDO:dateEffetDeLaDecisionDeCloture value=\"20260301\"/>", with: "")),
                    rule: "CDA-DECISION-CLOSURE-DATE", expression: "\(Self.decision)/cnsaSDO:dateEffetDeLaDecisionDeCloture")
        let related = "<cnsaSDO:identifiantDesDecisionsReviseesRenouveleesCloturee root=\"1.2.250.1.213.7.36\" extension=\"DEC-2025-0001\"/>"
        expectIssue(try decisionIssues(closure.replacingOnce(related, with: "")),
                    rule: "CDA-DECISION-RELATED", expression: "\(Self.decision)/cnsaSDO:identifiantDesDecisionsReviseesRenouveleesCloturee", mentions: "clôture")
        expectIssue(try decisionIssues(closure.replacingOnce(related, with: related.replacingOnce("1.2.250.1.213.7.36", with: "1.2.3"))),
                    rule: "CDA-DECISION-RELATED", expression: "\(Self.decision)/cnsaSDO:identifiantDesDecisionsReviseesRenouveleesCloturee/@root")
        let renewal = Self.xml(.renewal)
        expectIssue(try decisionIssues(renewal.replacingOnce("<cnsaSDO:identifiantDesDecisionsReviseesRenouveleesCloturee root=\"1.2.250.1.213.7.36\" extension=\"DEC-2021-0007\"/>", with: "")),
                    rule: "CDA-DECISION-RELATED", expression: "\(Self.decision)/cnsaSDO:identifiantDesDecisionsReviseesRenouveleesCloturee", mentions: "renouvellement")
        // A related decision of another MDPH is kept, with a warning.
        let other = try CDASamples.reader().readDecision(Array(renewal.replacingOnce("root=\"1.2.250.1.213.7.36\" extension=\"DEC-2021-0007\"", with: "root=\"1.2.250.1.213.7.24\" extension=\"DEC-2021-0007\"").utf8))
        #expect(other.value?.relatedDecisionIds == ["DEC-2021-0007"])
        expectIssue(other.issues, rule: "CDA-DECISION-RELATED", expression: "\(Self.decision)/cnsaSDO:identifiantDesDecisionsReviseesRenouveleesCloturee/@root", severity: .warning)
        // A closure needs no targeted ESMS (the sample has none) but its right still needs its dates.
        #expect(try CDASamples.reader().readDecision(Array(closure.utf8)).value?.targetedStructures == [])
    }

    @Test func revisionRequester() throws {
        let x = Self.xml(.revision)
        expectIssue(try decisionIssues(x.replacingOnce("extension=\"\(CDASamples.siret)\"", with: "extension=\"373500000000018\"")),
                    rule: "FR-SIRET-KEY", expression: "\(Self.decision)/cnsaSDO:idNat/@extension")
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:idNat root=\"1.2.250.1.71.4.2.2\" extension=\"\(CDASamples.siret)\"", with: "<cnsaSDO:idNat root=\"1.2.250.1.71.4.2\" extension=\"\(CDASamples.siret)\"")),
                    rule: "CDA-DECISION-REQUESTER", expression: "\(Self.decision)/cnsaSDO:idNat/@root")
    }

    @Test func targetedStructures() throws {
        let x = Self.xml()
        let a = "<cnsaSDO:idNat root=\"1.2.250.1.71.4.2.2\" extension=\"\(CDASamples.finessA)\"/>"
        let b = "<cnsaSDO:idNat root=\"1.2.250.1.71.4.2.2\" extension=\"\(CDASamples.finessB)\"/>"
        expectIssue(try decisionIssues(x.replacingOnce(a, with: "").replacingOnce(b, with: "")),
                    rule: "CDA-DECISION-TARGET", expression: "\(Self.decision)/cnsaSDO:droitPrestation", mentions: "au moins un ESMS")
        expectIssue(try decisionIssues(x.replacingOnce(CDASamples.finessB, with: "1350000007")),
                    rule: "FR-FINESS-KEY", expression: "\(Self.detail)/cnsaSDO:idNat[2]/@extension")
        expectIssue(try decisionIssues(x.replacingOnce(CDASamples.finessB, with: "350000006")),
                    rule: "FR-IDNAT-STRUCT-FORMAT", expression: "\(Self.detail)/cnsaSDO:idNat[2]/@extension")
        expectIssue(try decisionIssues(x.replacingOnce(a, with: a.replacingOnce("1.2.250.1.71.4.2.2", with: "1.2.250.1.71.4.2.1"))),
                    rule: "CDA-DECISION-TARGET", expression: "\(Self.detail)/cnsaSDO:idNat[1]/@root")
    }

    @Test func rights() throws {
        let x = Self.xml()
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:typeDroitOuPrestation code=\"13.2\" codeSystem=\"1.2.250.1.213.3.3.204\"/>", with: "")),
                    rule: "CDA-RIGHT-TYPE", expression: "\(Self.right)/cnsaSDO:typeDroitOuPrestation")
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:natureDroit code=\"1\"", with: "<cnsaSDO:natureDroit code=\"7\"")),
                    rule: "CDA-RIGHT-NATURE", expression: "\(Self.right)/cnsaSDO:natureDroit/@code")
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:dateEcheanceDuDroit value=\"20310103\"/>", with: "<cnsaSDO:dateEcheanceDuDroit value=\"20260103\"/>")),
                    rule: "CDA-RIGHT-DATES", expression: "\(Self.right)/cnsaSDO:dateEcheanceDuDroit/@value", mentions: "précède")
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:dateOuvertureDuDroit value=\"20260104\"/>", with: "")),
                    rule: "CDA-RIGHT-DATES", expression: "\(Self.right)/cnsaSDO:dateOuvertureDuDroit")
        // Two rights of different natures in one decision.
        var mixed = CDASamples.decision(.attribution)
        mixed.rights.append(CDASamples.right(nature: "2"))
        let issues = try decisionIssues(CDASamples.text(DecisionDocumentWriter.write(mixed)))
        expectIssue(issues, rule: "CDA-RIGHT-NATURE", expression: "\(Self.decision)/cnsaSDO:droitPrestation[2]/cnsaSDO:natureDroit/@code")
    }

    @Test func detailCodesAgainstTheTerminologyStore() throws {
        let x = Self.xml()
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:temporaliteAccueil code=\"02\"", with: "<cnsaSDO:temporaliteAccueil code=\"03\"")),
                    rule: "CDA-RIGHT-TEMPORALITY", expression: "\(Self.detail)/cnsaSDO:temporaliteAccueil/@code", mentions: "TRE_R240")
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:temporaliteAccueil code=\"02\" codeSystem=\"1.2.250.1.213.3.3.31\"/>", with: "")),
                    rule: "CDA-RIGHT-TEMPORALITY", expression: "\(Self.detail)/cnsaSDO:temporaliteAccueil", mentions: "13.2")
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:accueilSequentiel value=\"false\"/>", with: "<cnsaSDO:accueilSequentiel value=\"non\"/>")),
                    rule: "CDA-RIGHT-SEQUENTIAL", expression: "\(Self.detail)/cnsaSDO:accueilSequentiel/@value")
        // 49 left JDV_J264 in July 2026; 238 is in it but from another code system than TRE_R213.
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:modePriseEnCharge code=\"46\"", with: "<cnsaSDO:modePriseEnCharge code=\"49\"")),
                    rule: "CDA-RIGHT-CARE-MODE", expression: "\(Self.detail)/cnsaSDO:priseEnCharge/cnsaSDO:modePriseEnCharge/@code", mentions: "JDV_J264")
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:modePriseEnCharge code=\"46\"", with: "<cnsaSDO:modePriseEnCharge code=\"238\"")),
                    rule: "CDA-RIGHT-CARE-MODE", expression: "\(Self.detail)/cnsaSDO:priseEnCharge/cnsaSDO:modePriseEnCharge/@code")
        expectIssue(try decisionIssues(x.replacingOnce("<cnsaSDO:categorieOrganisation code=\"09\"", with: "<cnsaSDO:categorieOrganisation code=\"999\"")),
                    rule: "CDA-RIGHT-ORGANISATION-CATEGORY", expression: "\(Self.detail)/cnsaSDO:categorieOrganisation/@code")
        expectIssue(try decisionIssues(x.replacingOnce("codeSystem=\"1.2.250.1.213.3.3.39\"", with: "codeSystem=\"1.2.250.1.213.3.3.40\"")),
                    rule: "CDA-RIGHT-ORGANISATION-CATEGORY", expression: "\(Self.detail)/cnsaSDO:categorieOrganisation/@codeSystem")
        // A right type that does not need a temporality (ESAT, 11.x) is accepted without one.
        let esat = x.replacingOnce("code=\"13.2\"", with: "code=\"11.2\"")
            .replacingOnce("<cnsaSDO:temporaliteAccueil code=\"02\" codeSystem=\"1.2.250.1.213.3.3.31\"/>", with: "")
        #expect(try CDASamples.reader().readDecision(Array(esat.utf8)).value?.rights.first?.receptionTemporality == nil)
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
