import FHIRModels

/// Writes the SI-ESMS CDA documents from domain objects: sandbox seed data and tests need documents
/// the platform itself would accept, and `DecisionDocumentReader` reads back exactly what is written
/// here (round trip). Fields the model does not hold (addresses, guardians, GEVA items) are not
/// written. Also stamps the platform's idNat_Decision on a submitted document (flow 1 output).
public enum DecisionDocumentWriter {
    /// CDA "Individu et Décision". `typeDeDecision` is 5 for a closure and 1 otherwise; `natureDroit` is
    /// each right's `nature`, or 1 / 2 / 3 for an attribution / renewal / revision when it is nil.
    /// Required facts the model leaves optional (effectiveTime, decision date, right dates) are written
    /// only when present, so a decision missing them yields a document the reader refuses.
    public static func write(_ decision: OrientationDecision, title: String = "Décision d'orientation") -> [UInt8] {
        var w = XMLTextWriter()
        w.element("ClinicalDocument", [("xmlns", CDAVocabulary.hl7Namespace), ("xmlns:\(CDAVocabulary.sdoPrefix)", CDAVocabulary.sdoNamespace)]) { w in
            header(&w, template: CDAVocabulary.decisionDocumentTemplate, title: title, id: decision.documentId,
                   setId: decision.setId ?? decision.documentId, version: decision.versionNumber, effectiveTime: decision.effectiveTime)
            recordTarget(&w, decision.person, responsibleMDPH: decision.responsibleMDPH, patient: true)
            participants(&w, time: decision.effectiveTime)
            relatedDocument(&w, decision.replacesDocumentId)
            body(&w) { w in
                w.element("section") { w in
                    w.empty("templateId", [("root", CDAVocabulary.decisionSectionTemplate)])
                    decisionElement(&w, decision)
                }
            }
        }
        return w.bytes
    }

    /// CDA "Évaluation": header, person (`patient` only when some identity field is known) and the
    /// evaluation section with its date; `setId` carries the idNat_Decision of the evaluated decision.
    public static func write(_ evaluation: EvaluationDocument, title: String = "Évaluation de la situation et des besoins") -> [UInt8] {
        var w = XMLTextWriter()
        w.element("ClinicalDocument", [("xmlns", CDAVocabulary.hl7Namespace), ("xmlns:\(CDAVocabulary.sdoPrefix)", CDAVocabulary.sdoNamespace)]) { w in
            header(&w, template: CDAVocabulary.evaluationDocumentTemplate, title: title, id: evaluation.documentId, setId: evaluation.setId,
                   version: evaluation.versionNumber, effectiveTime: evaluation.effectiveTime)
            let p = evaluation.person
            let known = p.birthName != nil || p.usedName != nil || !p.givenNames.isEmpty || p.gender != nil || p.birthDate != nil
            recordTarget(&w, p, responsibleMDPH: evaluation.responsibleMDPH, patient: known)
            participants(&w, time: evaluation.effectiveTime)
            relatedDocument(&w, evaluation.replacesDocumentId)
            body(&w) { w in
                w.element("section") { w in
                    w.empty("templateId", [("root", CDAVocabulary.evaluationSectionTemplate)])
                    w.empty("templateId", [("root", CDAVocabulary.cdaSectionTemplate)])
                    w.text("text", evaluation.evaluationDate ?? "")
                }
            }
        }
        return w.bytes
    }

    /// A copy of a submitted CDA whose `setId` is set to the platform's: `@extension` = `idNatDecision`,
    /// `@root` = `root` (default: the platform's OID, 1.2.250.1.213.8.1). Everything else (comments,
    /// prefixes, order, the MDPH's content) is kept; the copy is re-serialized in UTF-8 by libxml2.
    /// Throws when the bytes are not safe, well-formed XML or hold no `ClinicalDocument/setId`.
    public static func stampingIdNatDecision(_ cda: [UInt8], idNatDecision: String, root: String = CDAVocabulary.platformOID,
                                             limits: XMLDocumentLimits = DecisionDocumentReader.defaultLimits) throws(XMLReadError) -> [UInt8] {
        let ns = CDAVocabulary.hl7Namespace
        return try XMLDocumentEditor.settingAttributes(in: cda, at: [XMLName(ns, "ClinicalDocument"), XMLName(ns, "setId")],
                                                       [("root", root), ("extension", idNatDecision)], limits: limits)
    }

    // MARK: parts

    static func ii(_ w: inout XMLTextWriter, _ name: String, _ id: InstanceIdentifier) {
        w.empty(name, [("root", id.root), ("extension", id.extension)])
    }

    static func header(_ w: inout XMLTextWriter, template: String, title: String, id: InstanceIdentifier, setId: InstanceIdentifier,
                       version: Int, effectiveTime: String?) {
        w.empty("realmCode", [("code", "FR")])
        w.empty("typeId", [("root", CDAVocabulary.typeIdRoot), ("extension", CDAVocabulary.typeIdExtension)])
        w.empty("templateId", [("root", template)])
        w.empty("templateId", [("root", CDAVocabulary.cdaTemplate)])
        ii(&w, "id", id)
        w.empty("code", [("code", CDAVocabulary.documentCode), ("codeSystem", CDAVocabulary.documentCodeSystems[0]),
                         ("displayName", CDAVocabulary.documentCodeDisplay)])
        w.text("title", title)
        if let effectiveTime { w.empty("effectiveTime", [("value", effectiveTime)]) }
        w.empty("confidentialityCode", [("code", CDAVocabulary.confidentialityCode), ("codeSystem", CDAVocabulary.confidentialitySystem)])
        w.empty("languageCode", [("code", "fr-FR")])
        ii(&w, "setId", setId)
        w.empty("versionNumber", [("value", String(version))])
    }

    static func recordTarget(_ w: inout XMLTextWriter, _ p: OrientedPerson, responsibleMDPH: InstanceIdentifier?, patient: Bool) {
        let sdo = CDAVocabulary.sdoPrefix
        w.element("recordTarget") { w in
            w.element("patientRole") { w in
                if let ins = p.ins {
                    w.empty("id", [("root", ins.kind == .nir ? CDAVocabulary.insNIRRoot : CDAVocabulary.insNIARoot), ("extension", ins.value)])
                }
                if let id = p.mdphIndividualId { ii(&w, "id", id) }
                if let r = responsibleMDPH { ii(&w, "\(sdo):idMDPHResponsable", r) }
                guard patient else { return }
                w.element("patient") { w in
                    w.element("name") { w in
                        if let n = p.birthName { w.text("family", n, [("qualifier", "BR")]) }
                        if let n = p.usedName { w.text("family", n, [("qualifier", "CL")]) }
                        for g in p.givenNames { w.text("given", g) }
                        if let first = p.givenNames.first { w.text("given", first, [("qualifier", "BR")]) }
                    }
                    if let g = p.gender { w.empty("administrativeGenderCode", [("code", g), ("codeSystem", CDAVocabulary.genderSystem)]) }
                    if let b = p.birthDate { w.empty("birthTime", [("value", b)]) }
                }
            }
        }
    }

    /// The platform (ViaTrajectoire) as author and custodian, as the volet prescribes.
    static func participants(_ w: inout XMLTextWriter, time: String?) {
        w.element("author", [("typeCode", "AUT"), ("contextControlCode", "OP")]) { w in
            if let time { w.empty("time", [("value", time)]) }
            w.element("assignedAuthor", [("classCode", "ASSIGNED")]) { w in
                w.empty("id", [("root", CDAVocabulary.platformOID), ("extension", CDAVocabulary.platformName)])
            }
        }
        w.element("custodian") { w in
            w.element("assignedCustodian") { w in
                w.element("representedCustodianOrganization") { w in
                    w.empty("id", [("root", CDAVocabulary.platformOID), ("extension", CDAVocabulary.platformName)])
                }
            }
        }
    }

    /// After the custodian, where CDA R2 places `relatedDocument`.
    static func relatedDocument(_ w: inout XMLTextWriter, _ replaces: InstanceIdentifier?) {
        guard let replaces else { return }
        w.element("relatedDocument", [("typeCode", "RPLC")]) { w in
            w.element("parentDocument") { w in ii(&w, "id", replaces) }
        }
    }

    static func body(_ w: inout XMLTextWriter, _ section: (inout XMLTextWriter) -> Void) {
        w.element("component") { w in
            w.element("structuredBody") { w in
                w.element("component") { w in section(&w) }
            }
        }
    }

    /// `typeDeDecision` and the default `natureDroit` for a decision type.
    static func codes(_ type: DecisionType) -> (decision: String, nature: String) {
        switch type {
        case .attribution: ("1", "1")
        case .renewal: ("1", "2")
        case .revision: ("1", "3")
        case .closure: ("5", "1")
        case .other(let code): (code, "1")
        }
    }

    static func decisionElement(_ w: inout XMLTextWriter, _ d: OrientationDecision) {
        let p = CDAVocabulary.sdoPrefix
        let (typeCode, defaultNature) = codes(d.decisionType)
        w.element("\(p):decision") { w in
            w.empty("\(p):identifiantDecision", [("root", d.mdphOID), ("extension", d.idDecision)])
            w.empty("\(p):typeDeDecision", [("code", typeCode), ("codeSystem", CDAVocabulary.decisionTypeSystem)])
            if let date = d.decisionDate { w.empty("\(p):dateDeDecision", [("value", date)]) }
            if let date = d.closureEffectiveDate { w.empty("\(p):dateEffetDeLaDecisionDeCloture", [("value", date)]) }
            for id in d.relatedDecisionIds {
                w.empty("\(p):identifiantDesDecisionsReviseesRenouveleesCloturee", [("root", d.mdphOID), ("extension", id)])
            }
            if let r = d.revisionRequester { w.empty("\(p):idNat", [("root", CDAVocabulary.idNatStructRoot), ("extension", r)]) }
            for m in d.motivations { w.empty("\(p):motivation", [("code", m), ("codeSystem", CDAVocabulary.motivationSystem)]) }
            for r in d.rights { right(&w, r, defaultNature: defaultNature) }
        }
    }

    static func right(_ w: inout XMLTextWriter, _ r: RightOrBenefit, defaultNature: String) {
        let p = CDAVocabulary.sdoPrefix
        w.element("\(p):droitPrestation") { w in
            w.empty("\(p):typeDroitOuPrestation", [("code", r.typeCode), ("codeSystem", CDAVocabulary.rightTypeSystem)])
            w.empty("\(p):natureDroit", [("code", r.nature ?? defaultNature), ("codeSystem", CDAVocabulary.rightNatureSystem)])
            if let d = r.openingDate { w.empty("\(p):dateOuvertureDuDroit", [("value", d)]) }
            if let d = r.expiryDate { w.empty("\(p):dateEcheanceDuDroit", [("value", d)]) }
            if let q = r.qualification { w.empty("\(p):qualification", [("code", q), ("codeSystem", CDAVocabulary.qualificationSystem)]) }
            if let pag = r.globalSupportPlan { w.empty("\(p):existencePAG", [("value", pag ? "true" : "false")]) }
            let hasDetail = r.receptionTemporality != nil || r.sequentialReception != nil || !r.targetedStructures.isEmpty
                || r.establishmentCategory != nil || r.organisationCategory != nil || r.careMode != nil
            guard hasDetail else { return }
            w.element("\(p):detailTypeDroitPrestation") { w in
                if let t = r.receptionTemporality { w.empty("\(p):temporaliteAccueil", [("code", t), ("codeSystem", CDAVocabulary.temporalitySystem)]) }
                if let s = r.sequentialReception { w.empty("\(p):accueilSequentiel", [("value", s ? "true" : "false")]) }
                for id in r.targetedStructures { w.empty("\(p):idNat", [("root", CDAVocabulary.idNatStructRoot), ("extension", id)]) }
                if let c = r.establishmentCategory {
                    w.empty("\(p):categorieEtablissement", [("code", c), ("codeSystem", CDAVocabulary.establishmentCategorySystem)])
                }
                if let c = r.organisationCategory {
                    w.empty("\(p):categorieOrganisation", [("code", c), ("codeSystem", CDAVocabulary.organisationCategorySystem)])
                }
                if let m = r.careMode {
                    w.element("\(p):priseEnCharge") { w in
                        w.empty("\(p):modePriseEnCharge", [("code", m), ("codeSystem", CDAVocabulary.careModeSystem)])
                    }
                }
            }
        }
    }
}
