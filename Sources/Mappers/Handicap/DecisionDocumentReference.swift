import Foundation
import FHIRModels

/// The ESMSDocumentReference that carries a CDA of the module Handicap: the decision "Individu et
/// Décision" (LOINC 57830-2, flow 1) or the "Évaluation" (51848-0, flow 3). Identifiers: `usual`
/// idDecision in the MDPH's namespace (`urn:oid:<MDPH OID>`), `official` idNat_Decision (no system:
/// flow 3 searches it as a bare value, sdo-flows.md Q4).
public enum DecisionDocumentReference {
    public enum Kind: Sendable {
        case decision, evaluation
        public var loinc: String { self == .decision ? "57830-2" : "51848-0" }
        public var display: String { self == .decision ? "Admission request Document" : "Evaluation note" }
        /// `content.attachment.title` required by `regle-NomPieceJointe-type`.
        public var title: String { self == .decision ? "Document Individu et décision" : "Document évaluation" }
        public init?(loinc: String) {
            switch loinc {
            case "57830-2": self = .decision
            case "51848-0": self = .evaluation
            default: return nil
            }
        }
    }

    public static let loincSystem = "http://loinc.org"
    /// A CDA R2 document (`attachment.contentType`; the IG's examples say text/plain, its data is XML).
    public static let cdaContentType = "text/xml"

    /// A `meta.tag` coding.
    public struct Tag: Sendable, Equatable {
        public var system: String
        public var code: String
        public var display: String
        public init(system: String, code: String, display: String) { self.system = system; self.code = code; self.display = display }
    }

    public struct Content: Sendable {
        public var kind: Kind
        public var idDecision: String
        public var mdphOID: String
        public var idNat: String
        /// `current`, `superseded` (closed, revised or renewed) or `entered-in-error` (cancelled by the MDPH).
        public var status: String
        public var cda: [UInt8]
        public var tags: [Tag]
        public init(kind: Kind, idDecision: String, mdphOID: String, idNat: String, status: String, cda: [UInt8], tags: [Tag] = []) {
            self.kind = kind; self.idDecision = idDecision; self.mdphOID = mdphOID; self.idNat = idNat; self.status = status
            self.cda = cda; self.tags = tags
        }
    }

    public static func build(_ c: Content, id: String, versionId: Int, lastUpdated: String) -> ElementTree {
        var b = ElementTreeBuilder(resourceType: "DocumentReference")
        b.sdoHeader(stored: (id, versionId, lastUpdated), profile: SDOCodeSystems.documentReferenceProfile,
                    tags: c.tags.map { ($0.system, $0.code, $0.display) })
        b.begin("identifier"); b.primitive("use", "usual"); b.primitive("system", "urn:oid:\(c.mdphOID)"); b.primitive("value", c.idDecision); b.end()
        b.begin("identifier"); b.primitive("use", "official"); b.primitive("value", c.idNat); b.end()
        b.primitive("status", c.status)
        b.begin("type")
        b.begin("coding"); b.primitive("system", loincSystem); b.primitive("code", c.kind.loinc); b.primitive("display", c.kind.display); b.end()
        b.end()
        b.primitive("date", lastUpdated)
        b.begin("content")
        b.begin("attachment")
        b.primitive("contentType", cdaContentType)
        b.primitive("language", "fr")
        b.primitive("data", Data(c.cda).base64EncodedString())
        b.primitive("title", c.kind.title)
        b.end()
        b.end()
        return b.build()
    }

    /// The search keys of such a DocumentReference: both identifiers (bare and `system|value`), the type
    /// (bare and `http://loinc.org|code`), and `decision` = idNat (the lifecycle masks).
    public static func searchKeys(_ c: Content) -> [(name: String, value: String)] {
        [("identifier", c.idNat), ("identifier", "|\(c.idNat)"), ("identifier", c.idDecision), ("identifier", "urn:oid:\(c.mdphOID)|\(c.idDecision)"),
         ("type", c.kind.loinc), ("type", "\(loincSystem)|\(c.kind.loinc)"), ("decision", c.idNat)]
    }
}
