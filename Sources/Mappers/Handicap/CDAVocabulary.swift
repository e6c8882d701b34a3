/// Identifiers of the ANS CI-SIS volet SI-ESMS CDA documents ("Individu et Décision", "Évaluation"),
/// as published with the SDO IG v4.0.7 (contenu_dossier, example documents). One place, so that the
/// reader and the writer cannot disagree. The table CDA path → field is in docs/cda-decisions.md.
public enum CDAVocabulary {
    /// HL7 v3 namespace of every CDA element.
    public static let hl7Namespace = "urn:hl7-org:v3"
    /// Namespace of the SI-SDO extensions (`cnsaSDO:decision`, `cnsaSDO:idMDPHResponsable`, …).
    public static let sdoNamespace = "urn:cnsaSDO"
    public static let sdoPrefix = "cnsaSDO"
    public static let xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"

    public static let typeIdRoot = "2.16.840.1.113883.1.3"
    public static let typeIdExtension = "POCD_HD000040"
    /// Template of every CDA R2 document (both documents carry it with their own template).
    public static let cdaTemplate = "2.16.840.1.113883.10.12.2"
    public static let decisionDocumentTemplate = "1.2.250.1.213.1.1.1.4.8"
    public static let evaluationDocumentTemplate = "1.2.250.1.213.1.1.1.4.9"
    public static let decisionSectionTemplate = "1.2.250.1.213.1.1.2.235"
    public static let evaluationSectionTemplate = "1.2.250.1.213.1.1.2.229"
    public static let cdaSectionTemplate = "2.16.840.1.113883.10.12.201"

    /// LOINC 18825-0 "Medical social services attachment".
    public static let documentCode = "18825-0"
    public static let documentCodeDisplay = "Medical social services attachment"
    /// The code system the volet writes for 18825-0 (the FHIR document-type value set's OID), and LOINC's
    /// own OID; the reader accepts both.
    public static let documentCodeSystems = ["2.16.840.1.113883.4.642.3.240", "2.16.840.1.113883.6.1"]
    public static let confidentialityCode = "N"
    public static let confidentialitySystem = "2.16.840.1.113883.5.25"

    /// ViaTrajectoire, author and custodian of the documents the platform hands out; also the root the
    /// platform gives `setId` when it stamps its idNat_Decision.
    public static let platformOID = "1.2.250.1.213.8.1"
    public static let platformName = "ViaTrajectoire"

    public static let insNIRRoot = "1.2.250.1.213.1.4.8"
    public static let insNIARoot = "1.2.250.1.213.1.4.9"
    /// Arc of the MDPH OIDs (`1.2.250.1.213.7.<n>`, annex "OID MDPH").
    public static let mdphArc = "1.2.250.1.213.7."
    /// idNat_Struct assigning authority (`1`+FINESS, `3`+SIRET).
    public static let idNatStructRoot = "1.2.250.1.71.4.2.2"

    public static let decisionTypeSystem = "1.2.250.1.213.3.3.202"
    public static let motivationSystem = "1.2.250.1.213.3.3.148"
    public static let rightTypeSystem = "1.2.250.1.213.3.3.204"
    public static let rightNatureSystem = "1.2.250.1.213.3.3.151"
    public static let qualificationSystem = "1.2.250.1.213.3.3.171"
    /// TRE_R240-TemporaliteAccueil.
    public static let temporalitySystem = "1.2.250.1.213.3.3.31"
    /// TRE_R213-ModePriseEnCharge (the system of JDV_J264's MDPH care modes).
    public static let careModeSystem = "1.2.250.1.213.3.3.13"
    /// TRE_R244-CategorieOrganisation.
    public static let organisationCategorySystem = "1.2.250.1.213.3.3.39"
    /// TRE_R66-CategorieEtablissement.
    public static let establishmentCategorySystem = "1.2.250.1.213.1.6.1.8"
    /// HL7 v3 AdministrativeGender (TRE_R303), the system of JDV_J143.
    public static let genderSystem = "2.16.840.1.113883.5.1"

    /// The FHIR canonicals the terminology store knows these systems and value sets by.
    enum Canonical {
        static let tre240 = "https://mos.esante.gouv.fr/NOS/TRE_R240-TemporaliteAccueil/FHIR/TRE-R240-TemporaliteAccueil"
        static let jdv30 = "https://mos.esante.gouv.fr/NOS/JDV_J30-TemporaliteAccueil-ROR/FHIR/JDV-J30-TemporaliteAccueil-ROR"
        static let tre213 = "https://mos.esante.gouv.fr/NOS/TRE_R213-ModePriseEnCharge/FHIR/TRE-R213-ModePriseEnCharge"
        static let jdv264 = "https://mos.esante.gouv.fr/NOS/JDV_J264-ModeEtCentreDePriseEnCharge-MDPH/FHIR/JDV-J264-ModeEtCentreDePriseEnCharge-MDPH"
        static let tre244 = "https://mos.esante.gouv.fr/NOS/TRE_R244-CategorieOrganisation/FHIR/TRE-R244-CategorieOrganisation"
        static let jdv34 = "https://mos.esante.gouv.fr/NOS/JDV_J34-CategorieOrganisation-ROR/FHIR/JDV-J34-CategorieOrganisation-ROR"
        static let tre303 = "https://mos.esante.gouv.fr/NOS/TRE_R303-HL7v3AdministrativeGender/FHIR/TRE-R303-HL7v3AdministrativeGender"
        static let jdv143 = "https://mos.esante.gouv.fr/NOS/JDV_J143-AdministrativeGender-CISIS/FHIR/JDV-J143-AdministrativeGender-CISIS"
    }

    /// True for `1.2.250.1.213.7.<n>`, n a positive integer without leading zero.
    public static func isMDPHOID(_ oid: String) -> Bool {
        guard oid.hasPrefix(mdphArc) else { return false }
        let n = oid.utf8.dropFirst(mdphArc.utf8.count)
        return !n.isEmpty && n.count <= 4 && n.first != UInt8(ascii: "0") && n.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}

/// Stable identifiers of the CDA rules, carried in `OutcomeIssue.rule`. Callers match on the raw
/// value; never rename one. Identifier values that fail a French key check carry the `FrenchRuleCode`
/// instead (`FR-INS-KEY`, `FR-FINESS-KEY`, `FR-IDNAT-STRUCT-FORMAT`, …). Listed in docs/cda-decisions.md.
public enum CDARule: String, Sendable, CaseIterable {
    case xmlSyntax = "CDA-XML-SYNTAX"
    case xmlDoctype = "CDA-XML-DOCTYPE"
    case xmlLimit = "CDA-XML-LIMIT"
    case xmlEncoding = "CDA-XML-ENCODING"
    case root = "CDA-ROOT"
    case headerTypeId = "CDA-HEADER-TYPEID"
    case headerTemplate = "CDA-HEADER-TEMPLATE"
    case headerId = "CDA-HEADER-ID"
    case headerCode = "CDA-HEADER-CODE"
    case headerEffectiveTime = "CDA-HEADER-EFFECTIVE-TIME"
    case headerConfidentiality = "CDA-HEADER-CONFIDENTIALITY"
    case headerSetId = "CDA-HEADER-SETID"
    case headerVersion = "CDA-HEADER-VERSION"
    case headerRelatedDocument = "CDA-HEADER-RELATED-DOCUMENT"
    case headerAuthor = "CDA-HEADER-AUTHOR"
    case headerCustodian = "CDA-HEADER-CUSTODIAN"
    case personId = "CDA-PERSON-ID"
    case personResponsibleMDPH = "CDA-PERSON-RESPONSIBLE-MDPH"
    case personIdentity = "CDA-PERSON-IDENTITY"
    case personGender = "CDA-PERSON-GENDER"
    case personBirthTime = "CDA-PERSON-BIRTHTIME"
    case decisionSection = "CDA-DECISION-SECTION"
    case decisionId = "CDA-DECISION-ID"
    case decisionType = "CDA-DECISION-TYPE"
    case decisionDate = "CDA-DECISION-DATE"
    case decisionClosureDate = "CDA-DECISION-CLOSURE-DATE"
    case decisionRelated = "CDA-DECISION-RELATED"
    case decisionMotivation = "CDA-DECISION-MOTIVATION"
    case decisionRequester = "CDA-DECISION-REQUESTER"
    case decisionTarget = "CDA-DECISION-TARGET"
    case rightType = "CDA-RIGHT-TYPE"
    case rightNature = "CDA-RIGHT-NATURE"
    case rightDates = "CDA-RIGHT-DATES"
    case rightQualification = "CDA-RIGHT-QUALIFICATION"
    case rightPAG = "CDA-RIGHT-PAG"
    case rightTemporality = "CDA-RIGHT-TEMPORALITY"
    case rightSequential = "CDA-RIGHT-SEQUENTIAL"
    case rightCareMode = "CDA-RIGHT-CARE-MODE"
    case rightOrganisationCategory = "CDA-RIGHT-ORGANISATION-CATEGORY"
    case rightEstablishmentCategory = "CDA-RIGHT-ESTABLISHMENT-CATEGORY"
    case codeUnverified = "CDA-CODE-UNVERIFIED"
    case evaluationSection = "CDA-EVALUATION-SECTION"
    case evaluationDate = "CDA-EVALUATION-DATE"
}
