/// The MDPH evaluation, CDA "Évaluation" (templateId 1.2.250.1.213.1.1.1.4.9), reduced to what the
/// flows need: which decision it belongs to (`setId/@extension` = idNat_Decision, the link the
/// volet defines between the two documents since 4.0.3), its version, and the person. The evaluation
/// content itself (GEVA items) is not interpreted: flow 3 hands the document over as it is.
public struct EvaluationDocument: Sendable, Equatable {
    /// `ClinicalDocument/id`: this version of the document.
    public var documentId: InstanceIdentifier
    /// `ClinicalDocument/setId`; its extension is the idNat_Decision of the decision it evaluates.
    public var setId: InstanceIdentifier
    /// `versionNumber/@value`, 1 when absent.
    public var versionNumber: Int
    /// `relatedDocument[@typeCode='RPLC']/parentDocument/id`.
    public var replacesDocumentId: InstanceIdentifier?
    /// `effectiveTime/@value` as written.
    public var effectiveTime: String?
    /// `recordTarget/patientRole`; the `patient` block is optional in this document, so names may be absent.
    public var person: OrientedPerson
    /// `cnsaSDO:idMDPHResponsable`.
    public var responsibleMDPH: InstanceIdentifier?
    /// The evaluation section's `text`: date of the last update of the evaluation (aaaammjj).
    public var evaluationDate: String?

    public init(documentId: InstanceIdentifier, setId: InstanceIdentifier, versionNumber: Int, replacesDocumentId: InstanceIdentifier?,
                effectiveTime: String?, person: OrientedPerson, responsibleMDPH: InstanceIdentifier?, evaluationDate: String?) {
        self.documentId = documentId; self.setId = setId; self.versionNumber = versionNumber; self.replacesDocumentId = replacesDocumentId
        self.effectiveTime = effectiveTime; self.person = person; self.responsibleMDPH = responsibleMDPH; self.evaluationDate = evaluationDate
    }

    /// The decision this evaluation belongs to (`setId/@extension`).
    public var idNatDecision: String? { setId.extension }
}
