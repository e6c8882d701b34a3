/// An MDPH orientation decision as the platform knows it: what the CDA "Individu et Décision"
/// (templateId 1.2.250.1.213.1.1.1.4.8) says, reduced to the facts the flows and the rules use.
/// The CDA bytes themselves are kept alongside (the ESMS receives the document, not this struct).
public struct OrientationDecision: Sendable, Equatable {
    /// `ClinicalDocument/id`: this version of the document.
    public var documentId: InstanceIdentifier
    /// `ClinicalDocument/setId`: the same for every version; its extension is idNat_Decision once the
    /// platform has assigned one (an MDPH submits its own setId, the platform stamps its id on output).
    public var setId: InstanceIdentifier?
    /// `ClinicalDocument/versionNumber/@value`, 1 for the first version.
    public var versionNumber: Int
    /// `relatedDocument[@typeCode='RPLC']/parentDocument/id`: the version this one replaces.
    public var replacesDocumentId: InstanceIdentifier?
    /// `effectiveTime` of the document (CDA TS, kept as written).
    public var effectiveTime: String?

    public var person: OrientedPerson

    /// `IdentifiantDecision`: root = the MDPH OID (1.2.250.1.213.7.n), extension = idDecision.
    public var mdphOID: String
    public var idDecision: String
    public var decisionType: DecisionType
    /// `dateDeDecision` (CDA TS as written, e.g. `20260115`).
    public var decisionDate: String?
    /// `dateEffetDeLaDecisionDeCloture`, closures only.
    public var closureEffectiveDate: String?
    /// `identifiantDesDecisionsReviseesRenouveleesCloturee`: the MDPH decisions (idDecision, same
    /// MDPH) that this one revises, renews or closes.
    public var relatedDecisionIds: [String]
    /// `droitPrestation` entries; an orientation has at least one targeting ESMS.
    public var rights: [RightOrBenefit]
    /// `motivation` codes (No_Motivation 1.2.250.1.213.3.3.148), in document order. The platform does
    /// not act on them but the ESMS shows them, so they travel with the decision.
    public var motivations: [String]
    /// `recordTarget/patientRole/cnsaSDO:idMDPHResponsable`: the MDPH in charge of the person's file
    /// (root = its OID, extension = its label), which may differ from the deciding MDPH after a move.
    public var responsibleMDPH: InstanceIdentifier?
    /// `decision/idNat` (root 1.2.250.1.71.4.2.2): the structure (`1`+FINESS or `3`+SIRET) that asked for
    /// the revision, when a third party did.
    public var revisionRequester: String?

    public init(documentId: InstanceIdentifier, setId: InstanceIdentifier?, versionNumber: Int, replacesDocumentId: InstanceIdentifier?,
                effectiveTime: String?, person: OrientedPerson, mdphOID: String, idDecision: String, decisionType: DecisionType,
                decisionDate: String?, closureEffectiveDate: String?, relatedDecisionIds: [String], rights: [RightOrBenefit],
                motivations: [String] = [], responsibleMDPH: InstanceIdentifier? = nil, revisionRequester: String? = nil) {
        self.documentId = documentId; self.setId = setId; self.versionNumber = versionNumber
        self.replacesDocumentId = replacesDocumentId; self.effectiveTime = effectiveTime; self.person = person
        self.mdphOID = mdphOID; self.idDecision = idDecision; self.decisionType = decisionType; self.decisionDate = decisionDate
        self.closureEffectiveDate = closureEffectiveDate; self.relatedDecisionIds = relatedDecisionIds; self.rights = rights
        self.motivations = motivations; self.responsibleMDPH = responsibleMDPH; self.revisionRequester = revisionRequester
    }

    /// Every ESMS `idNat_Struct` targeted by any right, in document order, without repeats.
    public var targetedStructures: [String] {
        var seen = Set<String>(), out: [String] = []
        for r in rights { for t in r.targetedStructures where seen.insert(t).inserted { out.append(t) } }
        return out
    }
}

/// A CDA `II`: root OID plus optional extension.
public struct InstanceIdentifier: Sendable, Hashable, CustomStringConvertible {
    public var root: String
    public var `extension`: String?
    public init(root: String, extension: String? = nil) { self.root = root; self.extension = `extension` }
    public var description: String { `extension`.map { "\(root)^\($0)" } ?? root }
}

/// `No_Type_Decision` (1.2.250.1.213.3.3.202). The raw code is kept for codes this gateway does
/// not give a meaning to; those are refused at intake, never silently mapped.
/// In the CDA, `typeDeDecision` 5 is a closure; `typeDeDecision` 1 is an attribution whose rights'
/// `natureDroit` (No_Nature_droit) says new right (1), renewal (2) or revision (3): docs/cda-decisions.md.
public enum DecisionType: Sendable, Hashable {
    case attribution
    case renewal
    case revision
    case closure
    case other(code: String)
}

/// The person, from `recordTarget/patientRole`.
public struct OrientedPerson: Sendable, Equatable {
    public enum INSKind: String, Sendable { case nir, nia }
    /// INS (NIR 1.2.250.1.213.1.4.8 / NIA 1.2.250.1.213.1.4.9), 15 characters with the key.
    public var ins: (kind: INSKind, value: String)?
    /// MDPH individual file id: root = OID of the MDPH that created the file.
    public var mdphIndividualId: InstanceIdentifier?
    public var birthName: String?
    public var usedName: String?
    public var givenNames: [String]
    /// JDV_J143 code (M, F, U).
    public var gender: String?
    /// `birthTime/@value` as written (aaaammjj).
    public var birthDate: String?

    public init(ins: (kind: INSKind, value: String)?, mdphIndividualId: InstanceIdentifier?, birthName: String?, usedName: String?,
                givenNames: [String], gender: String?, birthDate: String?) {
        self.ins = ins; self.mdphIndividualId = mdphIndividualId; self.birthName = birthName; self.usedName = usedName
        self.givenNames = givenNames; self.gender = gender; self.birthDate = birthDate
    }

    /// The key that says "same person" across decisions: the INS when present, else the MDPH file id.
    public var personKey: String? {
        if let ins { return "ins:\(ins.value)" }
        if let id = mdphIndividualId, let ext = id.extension { return "mdph:\(id.root)|\(ext)" }
        return nil
    }

    public static func == (a: OrientedPerson, b: OrientedPerson) -> Bool {
        a.ins?.kind == b.ins?.kind && a.ins?.value == b.ins?.value && a.mdphIndividualId == b.mdphIndividualId
            && a.birthName == b.birthName && a.usedName == b.usedName && a.givenNames == b.givenNames
            && a.gender == b.gender && a.birthDate == b.birthDate
    }
}

/// One `droitPrestation` with its `detailTypeDroitPrestation`.
public struct RightOrBenefit: Sendable, Equatable {
    /// `typeDroitOuPrestation` (1.2.250.1.213.3.3.204).
    public var typeCode: String
    public var openingDate: String?
    public var expiryDate: String?
    /// `idNat` of the targeted ESMS (root 1.2.250.1.71.4.2.2): `1`+FINESS or `3`+SIRET.
    public var targetedStructures: [String]
    /// `temporaliteAccueil`, TRE_R240 (01 Temporaire, 02 Permanent).
    public var receptionTemporality: String?
    /// `accueilSequentiel`.
    public var sequentialReception: Bool?
    /// `priseEnCharge/modePriseEnCharge`, JDV_J264 (TRE_R213 46/47/48…).
    public var careMode: String?
    /// `categorieOrganisation`, TRE_R244.
    public var organisationCategory: String?
    /// `categorieEtablissement`, TRE_R66.
    public var establishmentCategory: String?
    /// `natureDroit` (No_Nature_droit 1.2.250.1.213.3.3.151): 1 new right, 2 renewal, 3 revision. It is
    /// what tells an attribution from a renewal or a revision in the CDA.
    public var nature: String?
    /// `qualification` (No_Qualification 1.2.250.1.213.3.3.171): 1 target orientation, 2 alternative.
    public var qualification: String?
    /// `existencePAG`: a global support plan (PAG) is attached to the decision.
    public var globalSupportPlan: Bool?

    public init(typeCode: String, openingDate: String?, expiryDate: String?, targetedStructures: [String],
                receptionTemporality: String?, sequentialReception: Bool?, careMode: String?,
                organisationCategory: String?, establishmentCategory: String?,
                nature: String? = nil, qualification: String? = nil, globalSupportPlan: Bool? = nil) {
        self.typeCode = typeCode; self.openingDate = openingDate; self.expiryDate = expiryDate
        self.targetedStructures = targetedStructures; self.receptionTemporality = receptionTemporality
        self.sequentialReception = sequentialReception; self.careMode = careMode
        self.organisationCategory = organisationCategory; self.establishmentCategory = establishmentCategory
        self.nature = nature; self.qualification = qualification; self.globalSupportPlan = globalSupportPlan
    }
}
