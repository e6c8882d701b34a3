import Foundation
import FHIRModels
import Mappers

/// The decision registry (item 1): an MDPH's decision becomes a registry row with a platform
/// idNat_Decision and one notification per targeted EG, each a DocumentReference (57830-2) in that
/// EG's tenant; replacements, renewals, revisions and closures update the notifications as
/// docs/handicap-flows.md §3 says. All of it runs inside the caller's write transaction.
extension HandicapFlows {
    /// A decision as the MDPH submitted it: what its CDA says, the CDA as sent, and how to stamp the
    /// platform's idNat_Decision into it (`setId`).
    struct DecisionSubmission {
        var decision: OrientationDecision
        var cda: [UInt8]
        var stamp: (String) throws -> [UInt8]
    }

    struct Registration: Sendable {
        var decision: DecisionRecord
        /// The platform DocumentReference answered to the MDPH (its own tenant).
        var mdphDocument: StoredResource
        var created: Bool
        /// The same version was submitted again with the same bytes: nothing was written.
        var unchanged: Bool
    }

    /// Where the CDA sits in the MDPH's DocumentReference, for issues about its content.
    static let cdaExpression = "DocumentReference.content[0].attachment.data"

    static func refuse(_ rule: String, _ message: String, code: IssueType = .businessRule) -> FHIRError {
        .unprocessable([issue(rule, code, cdaExpression, message)])
    }

    static func kind(_ t: DecisionType) -> DecisionKind? {
        switch t {
        case .attribution: .attribution
        case .renewal: .renewal
        case .revision: .revision
        case .closure: .closure
        case .other: nil
        }
    }

    /// `DocumentReference.status` of a decision's notifications.
    static func documentStatus(_ state: DecisionState) -> String {
        switch state {
        case .active: "current"
        case .cancelled: "entered-in-error"
        case .closed, .superseded: "superseded"
        }
    }

    /// `R244:`/`R66:` categories of the rights that target `establishment`.
    static func categories(_ d: OrientationDecision, establishment: String) -> [String] {
        var out: [String] = []
        for r in d.rights where r.targetedStructures.contains(establishment) {
            for c in [r.organisationCategory.map { "R244:\($0)" }, r.establishmentCategory.map { "R66:\($0)" }].compactMap({ $0 })
            where !out.contains(c) { out.append(c) }
        }
        return out
    }

    static func content(_ d: DecisionRecord, kind: DecisionDocumentReference.Kind = .decision, cda: [UInt8],
                        tags: [DecisionDocumentReference.Tag] = []) -> DecisionDocumentReference.Content {
        .init(kind: kind, idDecision: d.idDecision, mdphOID: d.mdphOID, idNat: d.idNat, status: documentStatus(d.state), cda: cda, tags: tags)
    }

    /// The CDA a stored DocumentReference carries (`content[0].attachment.data`, base64).
    static func documentCDA(_ tx: any StoreReadTransaction, tenant: String, id: String) throws -> [UInt8] {
        guard let stored = try tx.read(tenant: tenant, type: "DocumentReference", id: id),
              let data = try JSONValue.parse(stored.body)["content"]?.array?.first?["attachment"]?["data"]?.string,
              let bytes = Data(base64Encoded: data) else {
            throw StoreError.integrityCheckFailed("DocumentReference/\(id) of \(tenant) holds no document")
        }
        return [UInt8](bytes)
    }

    /// Registers a decision, or a new version of a known one (RPLC), for the MDPH `mdph`.
    func register(_ tx: any StoreWriteTransaction, mdph: MDPHRecord, _ s: DecisionSubmission, clientId: String?) throws -> Registration {
        let decision = s.decision
        guard decision.mdphOID == mdph.oid else {
            throw Self.refuse("PH-MDPH-OID", "IdentifiantDecision/@root vaut \(decision.mdphOID) ; cette MDPH soumet sous son OID \(mdph.oid)",
                              code: .security)
        }
        guard let kind = Self.kind(decision.decisionType) else {
            throw Self.refuse("PH-DECISION-TYPE", "type de décision non pris en charge par la plateforme (attribution, renouvellement, révision, clôture)")
        }
        guard let personKey = decision.person.personKey else {
            throw Self.refuse("PH-PERSON-ID", "la personne n'a ni INS ni identifiant MDPH (recordTarget/patientRole/id)", code: .required)
        }
        if let existing = try tx.decision(mdphOID: decision.mdphOID, idDecision: decision.idDecision) {
            return try replace(tx, existing, mdph: mdph, s, kind: kind, personKey: personKey, clientId: clientId)
        }
        if decision.replacesDocumentId != nil {
            throw Self.refuse("PH-REPLACES-UNKNOWN", "relatedDocument RPLC remplace une version de la décision \(decision.idDecision) inconnue de la plateforme")
        }
        let targets = kind == .closure ? [] : decision.targetedStructures
        if kind != .closure && targets.isEmpty {
            throw Self.refuse("PH-NO-TARGET", "la décision ne désigne aucun ESMS (detailTypeDroitPrestation/idNat)", code: .required)
        }
        // Decisions this one renews, revises or closes: same MDPH; closures and revisions must name known ones.
        var related: [DecisionRecord] = []
        for id in decision.relatedDecisionIds {
            if let r = try tx.decision(mdphOID: mdph.oid, idDecision: id) { related.append(r) }
            else if kind == .closure || kind == .revision {
                throw Self.refuse("PH-RELATED-UNKNOWN", "la décision \(id) que celle-ci \(kind == .closure ? "clôture" : "révise") est inconnue de la plateforme")
            }
        }
        if (kind == .closure || kind == .revision) && related.isEmpty {
            throw Self.refuse("PH-RELATED-MISSING", "une décision de \(kind == .closure ? "clôture" : "révision") doit nommer les décisions concernées "
                              + "(identifiantDesDecisionsReviseesRenouveleesCloturee)", code: .required)
        }
        let idNat = Self.idNat(prefix: idNatPrefix, sequence: try tx.nextDecisionSequence())
        let stamped = try s.stamp(idNat)
        var record = DecisionRecord(idNat: idNat, mdphOID: mdph.oid, idDecision: decision.idDecision, mdphEstablishment: mdph.establishment,
                                    personKey: personKey, kind: kind, state: .active, version: decision.versionNumber,
                                    documentId: decision.documentId.description, cda: s.cda, createdAt: .now(), updatedAt: .now())
        let mdphDocument = try Self.putDocument(tx, tenant: mdph.establishment, id: nil, Self.content(record, cda: stamped))
        let at = mdphDocument.lastUpdated
        record.mdphDocumentId = mdphDocument.id
        record.createdAt = at; record.updatedAt = at
        try tx.insertDecision(record)

        for eg in targets {
            var n = NotificationRecord(idNat: idNat, establishment: eg, documentId: "", categories: Self.categories(decision, establishment: eg),
                                       createdAt: at)
            // Automatic renewal (LIFE-4): the renewed decision's follow-up in this EG carries over.
            var renewed: NotificationRecord?
            if kind == .renewal {
                for r in related {
                    if let old = try tx.notification(idNat: r.idNat, establishment: eg), !old.isFinished { renewed = old; break }
                }
            }
            if let old = renewed, let status = old.platformStatus {
                n.platformStatus = status; n.platformStatusAt = at
            }
            let tags = n.platformStatus != nil ? Self.platformStatusTags(n, recovery: false) : []
            n.documentId = try Self.putDocument(tx, tenant: eg, id: nil, Self.content(record, cda: stamped, tags: tags)).id
            try tx.insertNotification(n)
            if var old = renewed {
                try Self.restate(tx, tenant: eg, id: old.documentId, status: "superseded")
                try Self.finish(tx, &old, reason: "renouvellement", at: at)
            }
        }

        for var r in related where kind == .revision || kind == .closure {
            r.state = kind == .closure ? .closed : .superseded
            r.updatedAt = at
            try tx.updateDecision(r)
            let reason = kind == .closure ? "174" : "173"
            let date = kind == .closure ? decision.closureEffectiveDate.flatMap(Self.fhirDate) : nil
            let text = kind == .closure ? "Décision \(r.idDecision) clôturée par la décision \(decision.idDecision) de la MDPH"
                                        : "Décision \(r.idDecision) révisée par la décision \(decision.idDecision) de la MDPH"
            for var n in try tx.notifications(idNat: r.idNat) where !n.isFinished {
                try Self.restate(tx, tenant: n.establishment, id: n.documentId, status: "superseded")
                try Self.deliverEvent(tx, to: n, decision: r, statusESMS: "37", reason: reason, date: date, description: text,
                                      origin: .platform, clientId: clientId)
                n.platformStatus = "37"; n.platformStatusAt = at
                try Self.finish(tx, &n, reason: reason, at: at)
            }
        }
        return Registration(decision: record, mdphDocument: mdphDocument, created: true, unchanged: false)
    }

    /// A new version (RPLC) of a known decision: every notification's DocumentReference gets the new
    /// document (flow 1 sees it again); EGs no longer targeted get a cancellation (49).
    private func replace(_ tx: any StoreWriteTransaction, _ existing: DecisionRecord, mdph: MDPHRecord, _ s: DecisionSubmission,
                         kind: DecisionKind, personKey: String, clientId: String?) throws -> Registration {
        let decision = s.decision
        if decision.versionNumber == existing.version && decision.documentId.description == existing.documentId && s.cda == existing.cda,
           let id = existing.mdphDocumentId, let stored = try tx.read(tenant: mdph.establishment, type: "DocumentReference", id: id) {
            return Registration(decision: existing, mdphDocument: stored, created: false, unchanged: true)
        }
        guard decision.versionNumber > existing.version else {
            throw Self.refuse("PH-VERSION-NOT-NEWER", "la décision \(existing.idDecision) est déjà enregistrée en version \(existing.version) ; "
                              + "une nouvelle version porte un versionNumber supérieur et un relatedDocument RPLC")
        }
        guard let parent = decision.replacesDocumentId else {
            throw Self.refuse("PH-REPLACEMENT-PARENT", "une nouvelle version de la décision \(existing.idDecision) doit porter relatedDocument "
                              + "typeCode=RPLC vers la version \(existing.version) (\(existing.documentId))", code: .required)
        }
        guard parent.description == existing.documentId else {
            throw Self.refuse("PH-REPLACEMENT-PARENT", "relatedDocument RPLC vise \(parent.description) ; la version courante est \(existing.documentId)")
        }
        guard kind == existing.kind else {
            throw Self.refuse("PH-DECISION-TYPE-CHANGED", "une nouvelle version ne change pas le type de la décision (\(existing.kind.rawValue))")
        }
        let stamped = try s.stamp(existing.idNat)
        var record = existing
        record.version = decision.versionNumber
        record.documentId = decision.documentId.description
        record.cda = s.cda
        record.personKey = personKey
        let mdphDocument = try Self.putDocument(tx, tenant: mdph.establishment, id: existing.mdphDocumentId, Self.content(record, cda: stamped))
        let at = mdphDocument.lastUpdated
        record.mdphDocumentId = mdphDocument.id
        record.updatedAt = at
        try tx.updateDecision(record)

        let targets = kind == .closure ? [] : decision.targetedStructures
        var known = Set<String>()
        for var n in try tx.notifications(idNat: existing.idNat) {
            known.insert(n.establishment)
            if targets.contains(n.establishment) {
                let tags = n.recoveryAt != nil ? Self.platformStatusTags(n, recovery: true) : []
                try Self.putDocument(tx, tenant: n.establishment, id: n.documentId, Self.content(record, cda: stamped, tags: tags))
                n.categories = Self.categories(decision, establishment: n.establishment)
                try tx.updateNotification(n)
            } else if !n.isFinished {
                try Self.restate(tx, tenant: n.establishment, id: n.documentId, status: "entered-in-error")
                try Self.deliverEvent(tx, to: n, decision: record, statusESMS: "49", reason: "112",
                                      description: "La version \(record.version) de la décision ne désigne plus cet établissement",
                                      origin: .platform, clientId: clientId)
                n.platformStatus = "49"; n.platformStatusAt = at
                try Self.finish(tx, &n, reason: "49", at: at)
            }
        }
        for eg in targets where !known.contains(eg) {
            let doc = try Self.putDocument(tx, tenant: eg, id: nil, Self.content(record, cda: stamped))
            try tx.insertNotification(NotificationRecord(idNat: record.idNat, establishment: eg, documentId: doc.id,
                                                         categories: Self.categories(decision, establishment: eg), createdAt: at))
        }
        return Registration(decision: record, mdphDocument: mdphDocument, created: false, unchanged: false)
    }

    /// The MDPH's evaluation for a known decision: kept in the registry, answered to the MDPH, and made
    /// visible (a 51848-0 DocumentReference) to every EG that already recorded a consent.
    func attachEvaluation(_ tx: any StoreWriteTransaction, mdph: MDPHRecord, decision d: DecisionRecord, cda: [UInt8], stamped: [UInt8])
        throws -> (decision: DecisionRecord, document: StoredResource, created: Bool) {
        var record = d
        let created = d.mdphEvaluationId == nil
        let document = try Self.putDocument(tx, tenant: mdph.establishment, id: d.mdphEvaluationId, Self.content(d, kind: .evaluation, cda: stamped))
        record.evaluationCDA = cda
        record.mdphEvaluationId = document.id
        record.updatedAt = document.lastUpdated
        try tx.updateDecision(record)
        for var n in try tx.notifications(idNat: d.idNat) where n.consentId != nil {
            let doc = try Self.putDocument(tx, tenant: n.establishment, id: n.evaluationDocumentId, Self.content(record, kind: .evaluation, cda: stamped))
            n.evaluationDocumentId = doc.id
            try tx.updateNotification(n)
        }
        return (record, document, created)
    }

    /// A CDA date (`aaaammjj…`) as a FHIR date.
    static func fhirDate(_ ts: String) -> String? {
        let d = Array(ts.utf8)
        guard d.count >= 8, d.prefix(8).allSatisfy({ (48...57).contains($0) }) else { return nil }
        return "\(String(decoding: d[0..<4], as: UTF8.self))-\(String(decoding: d[4..<6], as: UTF8.self))-\(String(decoding: d[6..<8], as: UTF8.self))"
    }
}
