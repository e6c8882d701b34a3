import FHIRModels
import Validation

/// What reading a CDA produced: the domain value when no error was found, and every issue found
/// (all of them, not the first: an MDPH fixes its document in one round trip). Warnings never stop
/// a document; `value` is nil exactly when `issues` holds an error.
public struct CDAReading<Value: Sendable>: Sendable {
    public var value: Value?
    public var issues: [OutcomeIssue]
    public var errors: [OutcomeIssue] { issues.filter(\.isError) }
}

/// Reads and checks the SI-ESMS CDA documents of the Handicap flows: "Individu et Décision"
/// (`readDecision`) and "Évaluation" (`readEvaluation`). Each issue carries a stable rule code
/// (`CDARule`, or a `FrenchRuleCode` for identifier keys), an XPath-like `expression`
/// (`/ClinicalDocument/component/structuredBody/component[2]/section/cnsaSDO:decision/...`; `[n]` only
/// where same-named siblings exist) and the source line. Codes are checked against the injected
/// terminology; the reader itself does no I/O and keeps no state, so one instance serves all threads.
/// Rules and the CDA path → field table: docs/cda-decisions.md.
public struct DecisionDocumentReader: Sendable {
    public let terminology: any TerminologyProvider
    public let limits: XMLDocumentLimits

    /// CDA documents of this volet are tens of kilobytes; 2 MB and 64 levels leave ample room.
    public static let defaultLimits = XMLDocumentLimits(maxBytes: 2 << 20, maxDepth: 64, maxElements: 20_000)

    public init(terminology: any TerminologyProvider, limits: XMLDocumentLimits = DecisionDocumentReader.defaultLimits) {
        self.terminology = terminology
        self.limits = limits
    }

    /// CDA "Individu et Décision" (templateId 1.2.250.1.213.1.1.1.4.8) → `OrientationDecision`.
    public func readDecision(_ bytes: [UInt8]) -> CDAReading<OrientationDecision> {
        var run = CDARun(terminology: terminology)
        guard let root = run.parse(bytes, limits: limits) else { return run.finish(nil) }
        let header = run.header(root, template: CDAVocabulary.decisionDocumentTemplate)
        let person = run.person(root, patientRequired: true)
        let decision = run.decisionBody(root)
        guard let header, let person, let decision else { return run.finish(nil) }
        let value = OrientationDecision(
            documentId: header.id, setId: header.setId, versionNumber: header.version, replacesDocumentId: header.replaces,
            effectiveTime: header.effectiveTime, person: person.person, mdphOID: decision.mdphOID, idDecision: decision.idDecision,
            decisionType: decision.type, decisionDate: decision.date, closureEffectiveDate: decision.closureDate,
            relatedDecisionIds: decision.related, rights: decision.rights, motivations: decision.motivations,
            responsibleMDPH: person.responsibleMDPH, revisionRequester: decision.requester)
        return run.finish(value)
    }

    /// CDA "Évaluation" (templateId 1.2.250.1.213.1.1.1.4.9) → `EvaluationDocument`: header checks
    /// (setId with its idNat_Decision extension required), the person, the evaluation section and its date.
    public func readEvaluation(_ bytes: [UInt8]) -> CDAReading<EvaluationDocument> {
        var run = CDARun(terminology: terminology)
        guard let root = run.parse(bytes, limits: limits) else { return run.finish(nil) }
        let header = run.header(root, template: CDAVocabulary.evaluationDocumentTemplate)
        let person = run.person(root, patientRequired: false)
        let date = run.evaluationBody(root)
        guard let header, let person else { return run.finish(nil) }
        let value = EvaluationDocument(documentId: header.id, setId: header.setId, versionNumber: header.version,
                                       replacesDocumentId: header.replaces, effectiveTime: header.effectiveTime, person: person.person,
                                       responsibleMDPH: person.responsibleMDPH, evaluationDate: date)
        return run.finish(value)
    }
}

/// An element with the XPath-like path that reaches it.
struct Located {
    let element: XMLElementNode
    let path: String
    var line: Int32 { element.line }
}

/// One read: the issues found so far and the checks, element by element.
struct CDARun {
    let terminology: any TerminologyProvider
    var issues: [OutcomeIssue] = []

    init(terminology: any TerminologyProvider) { self.terminology = terminology }

    func finish<V>(_ value: V?) -> CDAReading<V> {
        CDAReading(value: issues.contains(where: \.isError) ? nil : value, issues: issues)
    }

    // MARK: reporting

    mutating func report(_ rule: String, _ severity: IssueSeverity, _ code: IssueType, _ message: String, at path: String, line: Int32) {
        issues.append(OutcomeIssue(severity: severity, code: code, message: message, expression: path,
                                   location: SourceLocation(line: max(line, 1), column: 0), rule: rule))
    }

    mutating func error(_ rule: CDARule, _ code: IssueType, _ message: String, at path: String, line: Int32) {
        report(rule.rawValue, .error, code, message, at: path, line: line)
    }

    mutating func warning(_ rule: CDARule, _ code: IssueType, _ message: String, at path: String, line: Int32) {
        report(rule.rawValue, .warning, code, message, at: path, line: line)
    }

    // MARK: navigation

    static func qualifiedName(_ name: String, _ namespace: String?) -> String {
        switch namespace {
        case CDAVocabulary.hl7Namespace: return name
        case CDAVocabulary.sdoNamespace: return "\(CDAVocabulary.sdoPrefix):\(name)"
        case nil: return name
        case let ns?: return "{\(ns)}\(name)"
        }
    }

    /// Extension element names are matched without regard to the case of their first letter: the volet's
    /// table writes `IdentifiantDecision` where its example writes `identifiantDecision`.
    static func nameMatches(_ element: XMLElementNode, _ name: String, _ namespace: String) -> Bool {
        guard element.namespace == namespace else { return false }
        if namespace != CDAVocabulary.sdoNamespace { return element.name == name }
        return element.name.utf8.count == name.utf8.count
            && element.name.prefix(1).lowercased() == name.prefix(1).lowercased() && element.name.dropFirst() == name.dropFirst()
    }

    func children(_ parent: Located, _ name: String, _ namespace: String = CDAVocabulary.hl7Namespace) -> [Located] {
        let matching = parent.element.children.filter { Self.nameMatches($0, name, namespace) }
        let q = Self.qualifiedName(name, namespace)
        if matching.count == 1 { return [Located(element: matching[0], path: "\(parent.path)/\(q)")] }
        return matching.enumerated().map { Located(element: $1, path: "\(parent.path)/\(q)[\($0 + 1)]") }
    }

    /// The child `name`, reporting its absence (with `rule`) when `required`, and extra copies when the
    /// element may appear once only.
    mutating func single(_ parent: Located, _ name: String, _ namespace: String = CDAVocabulary.hl7Namespace, rule: CDARule,
                         required: Bool, what: String) -> Located? {
        let found = children(parent, name, namespace)
        if found.count > 1 {
            error(rule, .structure, "\(what) : l'élément <\(Self.qualifiedName(name, namespace))> ne peut figurer qu'une fois ; il figure \(found.count) fois.",
                  at: found[1].path, line: found[1].line)
        }
        if found.isEmpty && required { missing(parent, name, namespace, rule: rule, what: what) }
        return found.first
    }

    mutating func missing(_ parent: Located, _ name: String, _ namespace: String = CDAVocabulary.hl7Namespace, rule: CDARule, what: String) {
        let q = Self.qualifiedName(name, namespace)
        var hint = ""
        if let other = parent.element.children.first(where: { $0.name.lowercased() == name.lowercased() && $0.namespace != namespace }) {
            hint = " Un élément <\(other.name)> est présent mais dans l'espace de noms \(other.namespace.map { "'\($0)'" } ?? "vide") : il doit être dans '\(namespace)'."
        }
        error(rule, .required, "\(what) : l'élément obligatoire <\(q)> est absent.\(hint)", at: "\(parent.path)/\(q)", line: parent.line)
    }

    /// The attribute's value, nil when absent or blank.
    static func attribute(_ loc: Located, _ name: String) -> String? {
        guard let v = loc.element.attribute(name), !v.utf8.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else { return nil }
        return v
    }

    mutating func requiredAttribute(_ loc: Located, _ name: String, rule: CDARule, what: String) -> String? {
        if let v = Self.attribute(loc, name) { return v }
        error(rule, .required, "\(what) : l'attribut '\(name)' est obligatoire\(loc.element.attribute("nullFlavor") != nil ? " (nullFlavor interdit)" : "").",
              at: "\(loc.path)/@\(name)", line: loc.line)
        return nil
    }

    /// A CDA `II`: `root` required, `extension` optional.
    mutating func instanceIdentifier(_ loc: Located, rule: CDARule, what: String, extensionRequired: Bool = false) -> InstanceIdentifier? {
        let root = requiredAttribute(loc, "root", rule: rule, what: what)
        let ext = extensionRequired ? requiredAttribute(loc, "extension", rule: rule, what: what) : Self.attribute(loc, "extension")
        guard let root, !extensionRequired || ext != nil else { return nil }
        return InstanceIdentifier(root: root, extension: ext)
    }

    // MARK: parsing

    mutating func parse(_ bytes: [UInt8], limits: XMLDocumentLimits) -> Located? {
        if bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE]) {
            error(.xmlEncoding, .structure, "Le document CDA doit être encodé en UTF-8 ; il commence par une marque d'ordre d'octets UTF-16.", at: "/", line: 1)
            return nil
        }
        let doc: XMLDocumentNode
        do {
            doc = try XMLDocumentReader.read(bytes, limits: limits)
        } catch {
            let line = error.location.line
            switch error.kind {
            case .doctype:
                self.error(.xmlDoctype, .security, "Document refusé : une déclaration DOCTYPE est interdite dans un document CDA (ni DTD ni entités).", at: "/", line: line)
            case .tooLarge:
                self.error(.xmlLimit, .tooLong, "Document refusé : il dépasse la taille maximale de \(limits.maxBytes) octets.", at: "/", line: line)
            case .tooDeep:
                self.error(.xmlLimit, .tooCostly, "Document refusé : imbrication de plus de \(limits.maxDepth) niveaux d'éléments.", at: "/", line: line)
            case .tooManyElements:
                self.error(.xmlLimit, .tooCostly, "Document refusé : plus de \(limits.maxElements) éléments.", at: "/", line: line)
            case .empty:
                self.error(.xmlSyntax, .structure, "Document vide : un document CDA (ClinicalDocument) est attendu.", at: "/", line: line)
            default:
                self.error(.xmlSyntax, .structure, "XML mal formé (ligne \(line)) : \(error.detail). Vérifiez aussi que le document est encodé en UTF-8.", at: "/", line: line)
            }
            return nil
        }
        if let enc = doc.declaredEncoding, !["UTF-8", "UTF8"].contains(enc.uppercased()) {
            error(.xmlEncoding, .structure, "Le document CDA doit être encodé en UTF-8 ; sa déclaration XML annonce '\(enc)'.", at: "/", line: 1)
            return nil
        }
        let root = Located(element: doc.root, path: "/\(Self.qualifiedName(doc.root.name, doc.root.namespace))")
        guard doc.root.name == "ClinicalDocument", doc.root.namespace == CDAVocabulary.hl7Namespace else {
            let ns = doc.root.namespace.map { "dans l'espace de noms '\($0)'" } ?? "sans espace de noms"
            error(.root, .structure, "L'élément racine est <\(doc.root.name)> \(ns) ; un document CDA commence par <ClinicalDocument xmlns=\"\(CDAVocabulary.hl7Namespace)\">.",
                  at: root.path, line: root.line)
            return nil
        }
        return root
    }

    // MARK: header

    struct Header {
        var id: InstanceIdentifier
        var setId: InstanceIdentifier
        var version: Int
        var replaces: InstanceIdentifier?
        var effectiveTime: String?
    }

    mutating func header(_ doc: Located, template: String) -> Header? {
        let errorsBefore = issues.filter(\.isError).count
        if let typeId = single(doc, "typeId", rule: .headerTypeId, required: true, what: "En-tête") {
            if Self.attribute(typeId, "root") != CDAVocabulary.typeIdRoot || Self.attribute(typeId, "extension") != CDAVocabulary.typeIdExtension {
                error(.headerTypeId, .value, "typeId doit valoir root=\"\(CDAVocabulary.typeIdRoot)\" extension=\"\(CDAVocabulary.typeIdExtension)\" (CDA R2).",
                      at: typeId.path, line: typeId.line)
            }
        }
        templates(doc, template: template)
        var id: InstanceIdentifier?
        if let idNode = single(doc, "id", rule: .headerId, required: true, what: "Identifiant du document") {
            id = instanceIdentifier(idNode, rule: .headerId, what: "Identifiant du document (id)")
        }
        if let code = single(doc, "code", rule: .headerCode, required: true, what: "Type de document") {
            let system = Self.attribute(code, "codeSystem")
            if Self.attribute(code, "code") != CDAVocabulary.documentCode || !(system.map(CDAVocabulary.documentCodeSystems.contains) ?? false) {
                error(.headerCode, .value, "Le type de document doit être le code LOINC \(CDAVocabulary.documentCode) « \(CDAVocabulary.documentCodeDisplay) » (codeSystem \(CDAVocabulary.documentCodeSystems[0])).",
                      at: code.path, line: code.line)
            }
        }
        var effectiveTime: String?
        if let et = single(doc, "effectiveTime", rule: .headerEffectiveTime, required: true, what: "Date de création du document") {
            effectiveTime = requiredAttribute(et, "value", rule: .headerEffectiveTime, what: "Date de création du document (effectiveTime)")
            if let v = effectiveTime, !CDATime.isTimestamp(v) {
                error(.headerEffectiveTime, .value, "effectiveTime '\(v)' n'est pas une date CDA valide (aaaammjj[hhmm[ss]][±hhmm]).", at: "\(et.path)/@value", line: et.line)
            }
        }
        if let conf = single(doc, "confidentialityCode", rule: .headerConfidentiality, required: true, what: "Confidentialité") {
            let system = Self.attribute(conf, "codeSystem")
            if Self.attribute(conf, "code") != CDAVocabulary.confidentialityCode || (system != nil && system != CDAVocabulary.confidentialitySystem) {
                error(.headerConfidentiality, .value, "confidentialityCode doit valoir code=\"N\" codeSystem=\"\(CDAVocabulary.confidentialitySystem)\" (normal).",
                      at: conf.path, line: conf.line)
            }
        }
        var setId: InstanceIdentifier?
        if let s = single(doc, "setId", rule: .headerSetId, required: true, what: "Identifiant du lot de versions") {
            setId = instanceIdentifier(s, rule: .headerSetId, what: "setId (l'extension porte l'idNat_Decision)", extensionRequired: true)
        }
        var version = 1
        let versionNode = single(doc, "versionNumber", rule: .headerVersion, required: false, what: "Numéro de version")
        if let v = versionNode {
            let text = requiredAttribute(v, "value", rule: .headerVersion, what: "Numéro de version (versionNumber)")
            if let text {
                if text.utf8.count <= 9, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(text), n >= 1 {
                    version = n
                } else {
                    error(.headerVersion, .value, "versionNumber '\(text)' doit être un entier supérieur ou égal à 1.", at: "\(v.path)/@value", line: v.line)
                }
            }
        }
        let replaces = relatedDocument(doc, version: version, versionNode: versionNode)
        participant(doc, "author", "assignedAuthor", nil, rule: .headerAuthor, what: "Auteur du document")
        participant(doc, "custodian", "assignedCustodian", "representedCustodianOrganization", rule: .headerCustodian, what: "Structure responsable du document")
        guard issues.filter(\.isError).count == errorsBefore, let id, let setId else { return nil }
        return Header(id: id, setId: setId, version: version, replaces: replaces, effectiveTime: effectiveTime)
    }

    mutating func templates(_ doc: Located, template: String) {
        let roots = children(doc, "templateId").compactMap { Self.attribute($0, "root") }
        let other = template == CDAVocabulary.decisionDocumentTemplate ? CDAVocabulary.evaluationDocumentTemplate : CDAVocabulary.decisionDocumentTemplate
        let kind = template == CDAVocabulary.decisionDocumentTemplate ? "« Individu et Décision »" : "« Évaluation »"
        if !roots.contains(template) {
            let hint = roots.contains(other) ? " Ce document porte le templateId \(other) : ce n'est pas le bon type de document." : ""
            error(.headerTemplate, .value, "Le document \(kind) doit porter le templateId \(template).\(hint)", at: "\(doc.path)/templateId", line: doc.line)
        }
        if !roots.contains(CDAVocabulary.cdaTemplate) {
            error(.headerTemplate, .value, "Le document doit aussi porter le templateId \(CDAVocabulary.cdaTemplate) (modèle CDA dont il dérive).",
                  at: "\(doc.path)/templateId", line: doc.line)
        }
    }

    /// `relatedDocument`: a replacement (`RPLC`) naming its parent version; required from version 2 on.
    mutating func relatedDocument(_ doc: Located, version: Int, versionNode: Located?) -> InstanceIdentifier? {
        let related = children(doc, "relatedDocument")
        guard let first = related.first else {
            if version > 1 {
                error(.headerRelatedDocument, .required,
                      "Version \(version) du document : relatedDocument typeCode=\"RPLC\" avec l'identifiant de la version remplacée (parentDocument/id) est obligatoire à partir de la version 2.",
                      at: "\(doc.path)/relatedDocument", line: versionNode?.line ?? doc.line)
            }
            return nil
        }
        if related.count > 1 {
            error(.headerRelatedDocument, .structure, "Un seul relatedDocument est admis ; le document en porte \(related.count).", at: related[1].path, line: related[1].line)
        }
        if Self.attribute(first, "typeCode") != "RPLC" {
            error(.headerRelatedDocument, .value, "relatedDocument/@typeCode doit valoir « RPLC » (remplacement) ; valeur trouvée : '\(first.element.attribute("typeCode") ?? "")'.",
                  at: "\(first.path)/@typeCode", line: first.line)
        }
        if version == 1 {
            warning(.headerRelatedDocument, .businessRule, "Le document remplace une version précédente (relatedDocument) mais son versionNumber vaut 1 : la version d'un remplacement est au moins 2.",
                    at: first.path, line: first.line)
        }
        guard let parent = single(first, "parentDocument", rule: .headerRelatedDocument, required: true, what: "Document remplacé"),
              let pid = single(parent, "id", rule: .headerRelatedDocument, required: true, what: "Identifiant du document remplacé") else { return nil }
        return instanceIdentifier(pid, rule: .headerRelatedDocument, what: "Identifiant du document remplacé (parentDocument/id)")
    }

    /// author/assignedAuthor/id or custodian/assignedCustodian/representedCustodianOrganization/id, with a root.
    mutating func participant(_ doc: Located, _ top: String, _ role: String, _ organisation: String?, rule: CDARule, what: String) {
        guard let t = single(doc, top, rule: rule, required: true, what: what),
              let r = single(t, role, rule: rule, required: true, what: what) else { return }
        var holder = r
        if let organisation {
            guard let o = single(r, organisation, rule: rule, required: true, what: what) else { return }
            holder = o
        }
        guard let id = single(holder, "id", rule: rule, required: true, what: what) else { return }
        _ = instanceIdentifier(id, rule: rule, what: "\(what) (id)")
    }

    // MARK: person

    struct Person {
        var person: OrientedPerson
        var responsibleMDPH: InstanceIdentifier?
    }

    mutating func person(_ doc: Located, patientRequired: Bool) -> Person? {
        let errorsBefore = issues.filter(\.isError).count
        guard let rt = single(doc, "recordTarget", rule: .personId, required: true, what: "Personne orientée"),
              let role = single(rt, "patientRole", rule: .personId, required: true, what: "Personne orientée") else { return nil }
        var ins: (kind: OrientedPerson.INSKind, value: String)?
        var individual: InstanceIdentifier?
        for id in children(role, "id") {
            guard let root = Self.attribute(id, "root") else { continue }
            let ext = Self.attribute(id, "extension")
            if root == CDAVocabulary.insNIRRoot || root == CDAVocabulary.insNIARoot {
                let kind: OrientedPerson.INSKind = root == CDAVocabulary.insNIRRoot ? .nir : .nia
                guard let value = ext else {
                    error(.personId, .required, "L'INS (\(kind == .nir ? "NIR" : "NIA")) doit porter son matricule dans @extension (nullFlavor interdit).",
                          at: "\(id.path)/@extension", line: id.line)
                    continue
                }
                if let p = INS.validate(value, label: kind == .nir ? "INS-NIR" : "INS-NIA") {
                    report(p.rule.rawValue, .error, .value, FrenchIdentifierMessage.text(p, value: value, label: kind == .nir ? "INS (NIR)" : "INS (NIA)"),
                           at: "\(id.path)/@extension", line: id.line)
                } else if ins == nil {
                    ins = (kind, value)
                }
            } else if CDAVocabulary.isMDPHOID(root), individual == nil {
                if ext == nil {
                    error(.personId, .required, "L'identifiant de l'individu au sein de la MDPH (root \(root)) doit porter sa valeur dans @extension.",
                          at: "\(id.path)/@extension", line: id.line)
                } else {
                    individual = InstanceIdentifier(root: root, extension: ext)
                }
            }
        }
        if ins == nil && individual == nil && issues.filter(\.isError).count == errorsBefore {
            error(.personId, .required,
                  "La personne doit être identifiée par son INS (id root \(CDAVocabulary.insNIRRoot) pour le NIR, \(CDAVocabulary.insNIARoot) pour le NIA) ou par son identifiant MDPH (id root = OID de la MDPH, \(CDAVocabulary.mdphArc)n).",
                  at: "\(role.path)/id", line: role.line)
        }
        var responsible: InstanceIdentifier?
        if let r = single(role, "idMDPHResponsable", CDAVocabulary.sdoNamespace, rule: .personResponsibleMDPH, required: true, what: "MDPH responsable du dossier") {
            responsible = instanceIdentifier(r, rule: .personResponsibleMDPH, what: "MDPH responsable du dossier (idMDPHResponsable)")
            if let root = responsible?.root, !CDAVocabulary.isMDPHOID(root) {
                error(.personResponsibleMDPH, .value, "idMDPHResponsable/@root '\(root)' n'est pas un OID de MDPH (\(CDAVocabulary.mdphArc)n, annexe OID MDPH).",
                      at: "\(r.path)/@root", line: r.line)
            }
        }
        var person = OrientedPerson(ins: ins, mdphIndividualId: individual, birthName: nil, usedName: nil, givenNames: [], gender: nil, birthDate: nil)
        if let patient = single(role, "patient", rule: .personIdentity, required: patientRequired, what: "Identité de la personne") {
            identity(patient, into: &person, insIdentity: ins != nil)
        }
        guard issues.filter(\.isError).count == errorsBefore else { return nil }
        return Person(person: person, responsibleMDPH: responsible)
    }

    mutating func identity(_ patient: Located, into person: inout OrientedPerson, insIdentity: Bool) {
        if let name = single(patient, "name", rule: .personIdentity, required: true, what: "Nom de la personne") {
            for family in children(name, "family") {
                let text = family.element.trimmedText
                guard !text.isEmpty else { continue }
                switch Self.attribute(family, "qualifier") {
                case "BR"?: if person.birthName == nil { person.birthName = text }
                case "CL"?: if person.usedName == nil { person.usedName = text }
                case nil: if person.birthName == nil { person.birthName = text }
                default: break
                }
            }
            let givens = children(name, "given").map { (Self.attribute($0, "qualifier"), $0.element.trimmedText) }
                .filter { !$0.1.isEmpty }
            let plain = givens.filter { $0.0 == nil }.map(\.1)
            person.givenNames = plain.isEmpty ? givens.filter { $0.0 == "BR" }.map(\.1) : plain
            if person.birthName == nil && person.usedName == nil {
                error(.personIdentity, .required, "Le nom de la personne doit comporter au moins un nom de famille (family qualifier=\"BR\" pour le nom de naissance).",
                      at: "\(name.path)/family", line: name.line)
            } else if insIdentity && person.birthName == nil {
                error(.personIdentity, .required, "Identité INS : le nom de naissance (family qualifier=\"BR\") est obligatoire.", at: "\(name.path)/family", line: name.line)
            }
            if insIdentity && person.givenNames.isEmpty {
                error(.personIdentity, .required, "Identité INS : les prénoms de naissance (given) sont obligatoires.", at: "\(name.path)/given", line: name.line)
            }
        }
        if let gender = single(patient, "administrativeGenderCode", rule: .personGender, required: true, what: "Sexe de la personne") {
            person.gender = coded(gender, system: CDAVocabulary.genderSystem, rule: .personGender, label: "Sexe (administrativeGenderCode)",
                                  valueSet: (CDAVocabulary.Canonical.tre303, CDAVocabulary.Canonical.jdv143, "JDV_J143-AdministrativeGender-CISIS"))
        }
        if let birth = single(patient, "birthTime", rule: .personBirthTime, required: true, what: "Date de naissance") {
            if let v = requiredAttribute(birth, "value", rule: .personBirthTime, what: "Date de naissance (birthTime)") {
                if CDATime.isDate(v) {
                    person.birthDate = v
                } else {
                    error(.personBirthTime, .value, "birthTime '\(v)' doit être une date au format aaaammjj (jour inconnu : aaaamm01 ; mois inconnu : aaaa01jj).",
                          at: "\(birth.path)/@value", line: birth.line)
                }
            }
        }
    }

    // MARK: coded values

    /// A coded element (`code`, `codeSystem`): the code system must be `system`; with `valueSet`, the code
    /// must belong to it in the terminology store (undecidable offline: warning `CDA-CODE-UNVERIFIED`).
    mutating func coded(_ loc: Located, system: String, rule: CDARule, label: String,
                        valueSet: (system: String, url: String, name: String)? = nil, severity: IssueSeverity = .error) -> String? {
        guard let code = Self.attribute(loc, "code") else {
            report(rule.rawValue, severity, .required, "\(label) : l'attribut code est obligatoire.", at: "\(loc.path)/@code", line: loc.line)
            return nil
        }
        guard let cs = Self.attribute(loc, "codeSystem"), cs == system else {
            let found = Self.attribute(loc, "codeSystem").map { "'\($0)'" } ?? "absent"
            report(rule.rawValue, severity, .codeInvalid, "\(label) : codeSystem \(found) ; attendu \(system).", at: "\(loc.path)/@codeSystem", line: loc.line)
            return nil
        }
        guard let vs = valueSet else { return code }
        let result = terminology.validate(code: code, system: vs.system, display: nil, valueSet: vs.url)
        switch result.outcome {
        case .valid:
            return code
        case .notInValueSet, .unknownCode:
            report(rule.rawValue, severity, .codeInvalid, "\(label) : le code '\(code)' n'appartient pas au jeu de valeurs \(vs.name) (ou n'y est plus actif).",
                   at: "\(loc.path)/@code", line: loc.line)
            return nil
        case .unknownSystem, .unknownValueSet:
            warning(.codeUnverified, .codeInvalid, "\(label) : le code '\(code)' n'a pas pu être vérifié hors ligne contre \(vs.name) (terminologie indisponible dans le serveur).",
                    at: "\(loc.path)/@code", line: loc.line)
            return code
        }
    }

    /// A `value="true|false"` element; anything else is reported with `rule`.
    mutating func boolean(_ loc: Located, rule: CDARule, label: String, severity: IssueSeverity) -> Bool? {
        switch Self.attribute(loc, "value") {
        case "true"?: return true
        case "false"?: return false
        case let v:
            report(rule.rawValue, severity, .value, "\(label) : @value doit valoir « true » ou « false »\(v.map { " (valeur trouvée : '\($0)')" } ?? "").",
                   at: "\(loc.path)/@value", line: loc.line)
            return nil
        }
    }

    /// A date element (`value` = aaaammjj).
    mutating func date(_ loc: Located, rule: CDARule, label: String) -> String? {
        guard let v = requiredAttribute(loc, "value", rule: rule, what: label) else { return nil }
        guard CDATime.isDate(v) else {
            error(rule, .value, "\(label) : '\(v)' doit être une date au format aaaammjj.", at: "\(loc.path)/@value", line: loc.line)
            return nil
        }
        return v
    }

    /// An `idNat` (root 1.2.250.1.71.4.2.2, `1`+FINESS or `3`+SIRET with a valid key).
    mutating func structureId(_ loc: Located, rule: CDARule, label: String) -> String? {
        let root = Self.attribute(loc, "root")
        guard root == CDAVocabulary.idNatStructRoot else {
            error(rule, .value, "\(label) : @root doit valoir \(CDAVocabulary.idNatStructRoot) (identifiant national de structure)\(root.map { " ; valeur trouvée : '\($0)'" } ?? "").",
                  at: "\(loc.path)/@root", line: loc.line)
            return nil
        }
        guard let value = requiredAttribute(loc, "extension", rule: rule, what: label) else { return nil }
        if let p = IdNatStruct.validate(value) {
            report(p.rule.rawValue, .error, .value, FrenchIdentifierMessage.text(p, value: value, label: label), at: "\(loc.path)/@extension", line: loc.line)
            return nil
        }
        return value
    }
}
