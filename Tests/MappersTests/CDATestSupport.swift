import Foundation
import Testing
import FHIRModels
import Validation
@testable import Mappers

/// Sample decisions and the project's terminology store, shared by the CDA tests.
enum CDASamples {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The committed store (`Terminologies/`); nil only if the checkout lacks it (the tests then fail on #require).
    static let terminology: TerminologyStore? = try? TerminologyStore.load(directory: repoRoot.appendingPathComponent("Terminologies").path)

    static func reader() throws -> DecisionDocumentReader {
        DecisionDocumentReader(terminology: try #require(terminology))
    }

    /// Valid keys: NIR 2760592050628 → 83; FINESS 750000002, 350000006 (Luhn); SIRET 73500000000019 (Luhn).
    static let nir = "276059205062883"
    static let finessA = "1750000002"
    static let finessB = "1350000006"
    static let siret = "373500000000019"
    static let mdph = "1.2.250.1.213.7.36"

    static func person() -> OrientedPerson {
        OrientedPerson(ins: (.nir, nir), mdphIndividualId: InstanceIdentifier(root: mdph, extension: "IND-0042"), birthName: "Lafayette",
                       usedName: "Martin", givenNames: ["Marie", "Louise"], gender: "F", birthDate: "19960531")
    }

    static func right(nature: String, targets: [String] = [finessA, finessB]) -> RightOrBenefit {
        RightOrBenefit(typeCode: "13.2", openingDate: "20260104", expiryDate: "20310103", targetedStructures: targets,
                       receptionTemporality: "02", sequentialReception: false, careMode: "46", organisationCategory: "09",
                       establishmentCategory: "255", nature: nature, qualification: "1", globalSupportPlan: false)
    }

    static func decision(_ type: DecisionType) -> OrientationDecision {
        let nature: String
        var related: [String] = []
        var closure: String?
        var version = 1
        var replaces: InstanceIdentifier?
        switch type {
        case .renewal: nature = "2"; related = ["DEC-2021-0007"]
        case .revision: nature = "3"; related = ["DEC-2024-0100", "DEC-2024-0101"]
        case .closure: nature = "1"; related = ["DEC-2025-0001"]; closure = "20260301"; version = 2
            replaces = InstanceIdentifier(root: "1.2.250.1.213.7.36.99", extension: "DOC-1")
        default: nature = "1"
        }
        return OrientationDecision(
            documentId: InstanceIdentifier(root: "1.2.250.1.213.7.36.99", extension: "DOC-\(version)"),
            setId: InstanceIdentifier(root: "1.2.250.1.213.7.36.98", extension: "SET-0001"), versionNumber: version,
            replacesDocumentId: replaces, effectiveTime: "20260110172308+0100", person: person(), mdphOID: mdph,
            idDecision: "DEC-2026-0001", decisionType: type, decisionDate: "20260105", closureEffectiveDate: closure,
            relatedDecisionIds: related, rights: [right(nature: nature, targets: type == .closure ? [] : [finessA, finessB])],
            motivations: ["364"], responsibleMDPH: InstanceIdentifier(root: mdph, extension: "36-INDRE"),
            revisionRequester: type == .revision ? siret : nil)
    }

    static func evaluation() -> EvaluationDocument {
        EvaluationDocument(documentId: InstanceIdentifier(root: "1.2.250.1.213.7.36.97", extension: "EVAL-1"),
                           setId: InstanceIdentifier(root: CDAVocabulary.platformOID, extension: "IDNAT-DEC-000123"), versionNumber: 1,
                           replacesDocumentId: nil, effectiveTime: "20260110",
                           person: OrientedPerson(ins: (.nir, nir), mdphIndividualId: nil, birthName: nil, usedName: nil, givenNames: [],
                                                  gender: nil, birthDate: nil),
                           responsibleMDPH: InstanceIdentifier(root: mdph, extension: "36-INDRE"), evaluationDate: "20260108")
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}

/// Reads `xml` as a decision document and returns its issues; records a failure when it was accepted.
func decisionIssues(_ xml: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> [OutcomeIssue] {
    let reading = try CDASamples.reader().readDecision(Array(xml.utf8))
    #expect(reading.value == nil, "document unexpectedly accepted", sourceLocation: sourceLocation)
    return reading.issues
}

/// Expects one error issue with `rule` at `expression` (and, when given, a message containing `mentions`).
func expectIssue(_ issues: [OutcomeIssue], rule: String, expression: String, severity: IssueSeverity = .error, mentions: String? = nil,
                 sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let hit = issues.first { $0.rule == rule && $0.expression == expression && $0.severity == severity }
    #expect(hit != nil, "no \(severity) \(rule) at \(expression); got:\n\(issues.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
    if let hit {
        #expect((hit.location?.line ?? 0) >= 1, sourceLocation: sourceLocation)
        if let mentions { #expect(hit.message.contains(mentions), "\(hit.message)", sourceLocation: sourceLocation) }
    }
}

extension String {
    /// `self` with exactly one occurrence of `old` replaced; records a failure when `old` is not found once.
    func replacingOnce(_ old: String, with new: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> String {
        let parts = components(separatedBy: old)
        #expect(parts.count == 2, "expected exactly one '\(old)'", sourceLocation: sourceLocation)
        return parts.joined(separator: new)
    }
}
