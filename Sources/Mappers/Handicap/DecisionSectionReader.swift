import FHIRModels
import Validation

/// The bodies of the two documents: the decision section (`cnsaSDO:decision` under the section with
/// templateId 1.2.250.1.213.1.1.2.235) and the evaluation section (1.2.250.1.213.1.1.2.229).
extension CDARun {
    struct DecisionFacts {
        var mdphOID: String
        var idDecision: String
        var type: DecisionType
        var date: String?
        var closureDate: String?
        var related: [String]
        var requester: String?
        var motivations: [String]
        var rights: [RightOrBenefit]
    }

    /// The body sections whose `templateId` list holds `template`.
    func sections(_ doc: Located, template: String) -> (body: Located?, sections: [Located]) {
        guard let component = children(doc, "component").first, let body = children(component, "structuredBody").first else { return (nil, []) }
        let found = children(body, "component").flatMap { children($0, "section") }.filter { section in
            children(section, "templateId").contains { Self.attribute($0, "root") == template }
        }
        return (body, found)
    }

    /// The one section with `template`, reporting its absence or repetition with `rule`.
    mutating func section(_ doc: Located, template: String, rule: CDARule, what: String) -> Located? {
        let (body, found) = sections(doc, template: template)
        guard let body else {
            if let component = single(doc, "component", rule: rule, required: true, what: "Corps du document") {
                _ = single(component, "structuredBody", rule: rule, required: true, what: "Corps du document")
            }
            return nil
        }
        guard let first = found.first else {
            error(rule, .required, "\(what) : aucune section portant le templateId \(template) dans le corps du document.",
                  at: "\(body.path)/component/section", line: body.line)
            return nil
        }
        if found.count > 1 {
            error(rule, .structure, "\(what) : une seule section portant le templateId \(template) est admise ; le document en porte \(found.count).",
                  at: found[1].path, line: found[1].line)
        }
        return first
    }

    mutating func decisionBody(_ doc: Located) -> DecisionFacts? {
        let errorsBefore = issues.filter(\.isError).count
        guard let section = section(doc, template: CDAVocabulary.decisionSectionTemplate, rule: .decisionSection, what: "Décision"),
              let decision = single(section, "decision", CDAVocabulary.sdoNamespace, rule: .decisionSection, required: true, what: "Décision")
        else { return nil }
        let sdo = CDAVocabulary.sdoNamespace

        var mdphOID: String?, idDecision: String?
        if let id = single(decision, "identifiantDecision", sdo, rule: .decisionId, required: true, what: "Identifiant de la décision") {
            let ii = instanceIdentifier(id, rule: .decisionId, what: "Identifiant de la décision (identifiantDecision)", extensionRequired: true)
            if let root = ii?.root {
                if CDAVocabulary.isMDPHOID(root) {
                    mdphOID = root
                } else {
                    error(.decisionId, .value, "identifiantDecision/@root '\(root)' doit être l'OID de la MDPH émettrice (\(CDAVocabulary.mdphArc)n, annexe OID MDPH).",
                          at: "\(id.path)/@root", line: id.line)
                }
            }
            idDecision = ii?.extension
        }

        var typeCode: String?
        var typeNode: Located?
        if let t = single(decision, "typeDeDecision", sdo, rule: .decisionType, required: true, what: "Type de décision") {
            typeNode = t
            typeCode = coded(t, system: CDAVocabulary.decisionTypeSystem, rule: .decisionType, label: "Type de décision (No_Type_Decision)")
            if let c = typeCode, c != "1", c != "5" {
                error(.decisionType, .notSupported,
                      "Type de décision '\(c)' non pris en charge : seules l'attribution (1, y compris renouvellement et révision selon natureDroit) et la clôture de droit (5) donnent lieu à une notification aux ESMS.",
                      at: "\(t.path)/@code", line: t.line)
            }
        }
        let isClosure = typeCode == "5"

        var date: String?
        if let d = single(decision, "dateDeDecision", sdo, rule: .decisionDate, required: true, what: "Date de la décision") {
            date = self.date(d, rule: .decisionDate, label: "Date de la décision (dateDeDecision)")
        }
        var closureDate: String?
        if let c = single(decision, "dateEffetDeLaDecisionDeCloture", sdo, rule: .decisionClosureDate, required: isClosure,
                          what: "Date d'effet de la clôture (obligatoire pour une décision de clôture, typeDeDecision 5)") {
            closureDate = self.date(c, rule: .decisionClosureDate, label: "Date d'effet de la clôture (dateEffetDeLaDecisionDeCloture)")
            if !isClosure && typeCode != nil {
                warning(.decisionClosureDate, .businessRule, "dateEffetDeLaDecisionDeCloture ne concerne que les décisions de clôture (typeDeDecision 5).", at: c.path, line: c.line)
            }
        }

        var requester: String?
        if let r = single(decision, "idNat", sdo, rule: .decisionRequester, required: false, what: "Tiers à l'origine de la demande de révision") {
            requester = structureId(r, rule: .decisionRequester, label: "Tiers à l'origine de la demande de révision (idNat)")
        }

        let motivationNodes = children(decision, "motivation", sdo)
        var motivations: [String] = []
        for m in motivationNodes {
            if let c = coded(m, system: CDAVocabulary.motivationSystem, rule: .decisionMotivation, label: "Motivation (No_Motivation)", severity: .warning) {
                motivations.append(c)
            }
        }
        if motivationNodes.isEmpty {
            warning(.decisionMotivation, .required, "La décision devrait porter au moins une motivation (No_Motivation, \(CDAVocabulary.motivationSystem)).",
                    at: "\(decision.path)/\(Self.qualifiedName("motivation", sdo))", line: decision.line)
        }

        var rights: [RightOrBenefit] = []
        var natures: [(String, Located)] = []
        for r in children(decision, "droitPrestation", sdo) {
            if let (right, natureNode) = self.right(r, decisionTypeCode: typeCode) {
                rights.append(right)
                if let n = right.nature, let node = natureNode { natures.append((n, node)) }
            }
        }

        // typeDeDecision 1 + natureDroit: 1 new right, 2 renewal, 3 revision (docs/cda-decisions.md).
        var type: DecisionType = typeCode.map { .other(code: $0) } ?? .other(code: "")
        if isClosure { type = .closure }
        if typeCode == "1" {
            type = .attribution
            if let (first, _) = natures.first {
                if let (_, other) = natures.first(where: { $0.0 != first }) {
                    error(.rightNature, .businessRule, "Toutes les prestations d'une même décision doivent avoir la même nature de droit (natureDroit) : '\(first)' puis '\(other.element.attribute("code") ?? "")'.",
                          at: "\(other.path)/@code", line: other.line)
                }
                type = first == "2" ? .renewal : first == "3" ? .revision : .attribution
            }
        }

        let relatedNodes = children(decision, "identifiantDesDecisionsReviseesRenouveleesCloturee", sdo)
        var related: [String] = []
        for r in relatedNodes {
            guard let ii = instanceIdentifier(r, rule: .decisionRelated, what: "Décision révisée, renouvelée ou clôturée", extensionRequired: true),
                  let ext = ii.extension else { continue }
            if !CDAVocabulary.isMDPHOID(ii.root) {
                error(.decisionRelated, .value, "Décision liée : @root '\(ii.root)' doit être l'OID d'une MDPH (\(CDAVocabulary.mdphArc)n).", at: "\(r.path)/@root", line: r.line)
                continue
            }
            if let own = mdphOID, ii.root != own {
                warning(.decisionRelated, .businessRule, "La décision liée '\(ext)' a été émise par une autre MDPH (\(ii.root)) que la décision (\(own)) ; seul son identifiant est conservé.",
                        at: "\(r.path)/@root", line: r.line)
            }
            related.append(ext)
        }
        let needsRelated: Bool
        switch type {
        case .closure, .renewal, .revision: needsRelated = true
        default: needsRelated = false
        }
        if needsRelated && relatedNodes.isEmpty {
            let kind = isClosure ? "une clôture de droit" : type == .renewal ? "un renouvellement" : "une révision"
            error(.decisionRelated, .required,
                  "Pour \(kind), l'identifiant de la ou des décisions concernées (identifiantDesDecisionsReviseesRenouveleesCloturee) est obligatoire ; « A définir » si le code de la décision liée n'est pas connu.",
                  at: "\(decision.path)/\(Self.qualifiedName("identifiantDesDecisionsReviseesRenouveleesCloturee", sdo))", line: decision.line)
        }
        if type == .attribution, let first = relatedNodes.first {
            warning(.decisionRelated, .businessRule, "Une attribution de nouveau droit (natureDroit 1) ne transmet pas de décision liée ; identifiantDesDecisionsReviseesRenouveleesCloturee est ignoré.",
                    at: first.path, line: first.line)
            related = []
        }

        // Every attribution (including renewals and revisions) is notified to the ESMS it targets.
        if typeCode == "1" && !rights.contains(where: { !$0.targetedStructures.isEmpty }) {
            error(.decisionTarget, .businessRule,
                  "Une décision d'attribution doit désigner au moins un ESMS : droitPrestation/detailTypeDroitPrestation/idNat (root \(CDAVocabulary.idNatStructRoot), '1'+FINESS ou '3'+SIRET).",
                  at: "\(decision.path)/\(Self.qualifiedName("droitPrestation", sdo))", line: typeNode?.line ?? decision.line)
        }

        guard issues.filter(\.isError).count == errorsBefore, let mdphOID, let idDecision else { return nil }
        return DecisionFacts(mdphOID: mdphOID, idDecision: idDecision, type: type, date: date, closureDate: closureDate, related: related,
                             requester: requester, motivations: motivations, rights: rights)
    }

    /// Rights whose `typeDroitOuPrestation` requires `temporaliteAccueil`: ESMS for children (7.x) and
    /// adults (13.x), school orientations DAR and UE (8.6, 8.7, 8.8, 8.10).
    static func requiresTemporality(_ rightType: String) -> Bool {
        rightType.hasPrefix("7.") || rightType.hasPrefix("13.") || ["8.6", "8.7", "8.8", "8.10"].contains(rightType)
    }

    /// One `droitPrestation`, and its `natureDroit` element (for messages about natures).
    mutating func right(_ r: Located, decisionTypeCode: String?) -> (RightOrBenefit, Located?)? {
        let sdo = CDAVocabulary.sdoNamespace
        var typeCode: String?
        if let t = single(r, "typeDroitOuPrestation", sdo, rule: .rightType, required: true, what: "Type de droit ou prestation") {
            typeCode = coded(t, system: CDAVocabulary.rightTypeSystem, rule: .rightType, label: "Type de droit ou prestation (No_Type_droit_prestation)")
        }
        var nature: String?
        let natureNode = single(r, "natureDroit", sdo, rule: .rightNature, required: true, what: "Nature du droit")
        if let n = natureNode {
            nature = coded(n, system: CDAVocabulary.rightNatureSystem, rule: .rightNature, label: "Nature du droit (No_Nature_droit)")
            if let c = nature, decisionTypeCode == "1", !["1", "2", "3"].contains(c) {
                error(.rightNature, .codeInvalid, "Nature du droit '\(c)' inconnue pour une attribution : 1 (nouveau droit), 2 (renouvellement) ou 3 (révision).",
                      at: "\(n.path)/@code", line: n.line)
                nature = nil
            }
        }
        var opening: String?, expiry: String?
        if let o = single(r, "dateOuvertureDuDroit", sdo, rule: .rightDates, required: true, what: "Date d'ouverture du droit") {
            opening = date(o, rule: .rightDates, label: "Date d'ouverture du droit (dateOuvertureDuDroit)")
        }
        let expiryNode = single(r, "dateEcheanceDuDroit", sdo, rule: .rightDates, required: true, what: "Date d'échéance du droit")
        if let e = expiryNode {
            expiry = date(e, rule: .rightDates, label: "Date d'échéance du droit (dateEcheanceDuDroit)")
        }
        if let o = opening, let e = expiry, let node = expiryNode, e < o {
            error(.rightDates, .businessRule, "La date d'échéance du droit (\(e)) précède sa date d'ouverture (\(o)).", at: "\(node.path)/@value", line: node.line)
        }
        var qualification: String?
        if let q = single(r, "qualification", sdo, rule: .rightQualification, required: false, what: "Qualification") {
            qualification = coded(q, system: CDAVocabulary.qualificationSystem, rule: .rightQualification, label: "Qualification (No_Qualification)", severity: .warning)
            if let c = qualification, c != "1", c != "2" {
                warning(.rightQualification, .codeInvalid, "Qualification '\(c)' inconnue : 1 (cible) ou 2 (alternative).", at: "\(q.path)/@code", line: q.line)
            }
        } else {
            warning(.rightQualification, .required, "La qualification du droit (1 cible, 2 alternative) est attendue.",
                    at: "\(r.path)/\(Self.qualifiedName("qualification", sdo))", line: r.line)
        }
        var pag: Bool?
        if let p = single(r, "existencePAG", sdo, rule: .rightPAG, required: false, what: "Existence d'un PAG") {
            pag = boolean(p, rule: .rightPAG, label: "Existence d'un plan d'accompagnement global (existencePAG)", severity: .warning)
        } else {
            warning(.rightPAG, .required, "L'indicateur existencePAG (plan d'accompagnement global) est attendu.",
                    at: "\(r.path)/\(Self.qualifiedName("existencePAG", sdo))", line: r.line)
        }

        var right = RightOrBenefit(typeCode: typeCode ?? "", openingDate: opening, expiryDate: expiry, targetedStructures: [],
                                   receptionTemporality: nil, sequentialReception: nil, careMode: nil, organisationCategory: nil,
                                   establishmentCategory: nil, nature: nature, qualification: qualification, globalSupportPlan: pag)
        let detail = single(r, "detailTypeDroitPrestation", sdo, rule: .rightType, required: false, what: "Détail du droit")
        if let d = detail { details(d, into: &right) }
        let temporalityWritten = detail.map { !children($0, "temporaliteAccueil", sdo).isEmpty } ?? false
        if let t = typeCode, Self.requiresTemporality(t), !temporalityWritten {
            error(.rightTemporality, .required, "La temporalité d'accueil (temporaliteAccueil, TRE_R240 : 01 temporaire, 02 permanent) est obligatoire pour le droit \(t) (ESMS enfants 7.x, adultes 13.x, DAR/UE 8.6, 8.7, 8.8, 8.10).",
                  at: "\(detail?.path ?? "\(r.path)/\(Self.qualifiedName("detailTypeDroitPrestation", sdo))")/\(Self.qualifiedName("temporaliteAccueil", sdo))",
                  line: detail?.line ?? r.line)
        }
        return (right, natureNode)
    }

    mutating func details(_ d: Located, into right: inout RightOrBenefit) {
        let sdo = CDAVocabulary.sdoNamespace
        if let t = single(d, "temporaliteAccueil", sdo, rule: .rightTemporality, required: false, what: "Temporalité d'accueil") {
            right.receptionTemporality = coded(t, system: CDAVocabulary.temporalitySystem, rule: .rightTemporality, label: "Temporalité d'accueil (TRE_R240)",
                                               valueSet: (CDAVocabulary.Canonical.tre240, CDAVocabulary.Canonical.jdv30, "TRE_R240-TemporaliteAccueil (JDV_J30)"))
        }
        if let s = single(d, "accueilSequentiel", sdo, rule: .rightSequential, required: false, what: "Accueil séquentiel") {
            right.sequentialReception = boolean(s, rule: .rightSequential, label: "Accueil séquentiel (accueilSequentiel)", severity: .error)
        }
        for n in children(d, "idNat", sdo) {
            if let id = structureId(n, rule: .decisionTarget, label: "ESMS désigné (idNat)"), !right.targetedStructures.contains(id) {
                right.targetedStructures.append(id)
            }
        }
        if let e = single(d, "categorieEtablissement", sdo, rule: .rightEstablishmentCategory, required: false, what: "Catégorie d'établissement") {
            right.establishmentCategory = coded(e, system: CDAVocabulary.establishmentCategorySystem, rule: .rightEstablishmentCategory,
                                                label: "Catégorie d'établissement (TRE_R66)", severity: .warning)
        }
        if let o = single(d, "categorieOrganisation", sdo, rule: .rightOrganisationCategory, required: false, what: "Catégorie d'organisation") {
            right.organisationCategory = coded(o, system: CDAVocabulary.organisationCategorySystem, rule: .rightOrganisationCategory,
                                               label: "Catégorie d'organisation (TRE_R244)",
                                               valueSet: (CDAVocabulary.Canonical.tre244, CDAVocabulary.Canonical.jdv34, "TRE_R244-CategorieOrganisation (JDV_J34)"))
        }
        // priseEnCharge is 0..N; the model keeps the first care mode, every one is checked.
        for p in children(d, "priseEnCharge", sdo) {
            guard let m = single(p, "modePriseEnCharge", sdo, rule: .rightCareMode, required: false, what: "Mode de prise en charge") else { continue }
            let mode = coded(m, system: CDAVocabulary.careModeSystem, rule: .rightCareMode, label: "Mode de prise en charge (JDV_J264)",
                             valueSet: (CDAVocabulary.Canonical.tre213, CDAVocabulary.Canonical.jdv264, "JDV_J264-ModeEtCentreDePriseEnCharge-MDPH"))
            if right.careMode == nil { right.careMode = mode }
        }
    }

    /// The evaluation section (required) and its date of last update (`text`, aaaammjj, required).
    mutating func evaluationBody(_ doc: Located) -> String? {
        guard let section = section(doc, template: CDAVocabulary.evaluationSectionTemplate, rule: .evaluationSection, what: "Évaluation") else { return nil }
        guard let text = single(section, "text", rule: .evaluationDate, required: true, what: "Date de mise à jour de l'évaluation") else { return nil }
        let value = text.element.trimmedText
        guard CDATime.isDate(value) else {
            error(.evaluationDate, .value, "Le texte de la section d'évaluation doit être la date de dernière mise à jour au format aaaammjj ; valeur trouvée : '\(value.prefix(40))'.",
                  at: text.path, line: text.line)
            return nil
        }
        return value
    }
}

/// French wording of the identifier problems found by `Validation`'s French rules (whose own messages
/// are in English): the rule code is kept, the sentence is for the MDPH's or the ESMS's staff.
enum FrenchIdentifierMessage {
    static func text(_ p: IdentifierProblem, value: String, label: String) -> String {
        switch p.rule {
        case .insFormat:
            return "\(label) '\(value)' : 15 caractères attendus, les 13 du numéro puis la clé à 2 chiffres, sans espace ni séparateur (seuls '2A' ou '2B' sont admis en positions 6 et 7)."
        case .insKey:
            return "\(label) : la clé de contrôle ne correspond pas aux 13 premiers caractères ; le numéro a probablement été mal saisi, reprenez-le depuis la réponse du téléservice INSi."
        case .finessFormat:
            return "\(label) '\(value)' : le FINESS doit comporter 9 caractères (chiffres, ou 2A/2B puis 7 chiffres)."
        case .finessKey:
            return "\(label) '\(value)' : le dernier chiffre du FINESS n'est pas sa clé de contrôle (Luhn) ; vérifiez le numéro dans le répertoire FINESS."
        case .siretFormat:
            return "\(label) '\(value)' : le SIRET doit comporter 14 chiffres, sans espace."
        case .siretKey, .sirenKey:
            return "\(label) '\(value)' : le SIRET ne respecte pas sa clé de contrôle (Luhn) ; vérifiez-le dans le répertoire SIRENE."
        case .idNatStructFormat:
            return "\(label) '\(value)' : l'identifiant national de structure doit être '1' suivi du FINESS (10 caractères) ou '3' suivi du SIRET (15 caractères)."
        default:
            return "\(label) '\(value)' : \(p.message)"
        }
    }
}
