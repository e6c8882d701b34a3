/// One ROR unit as the platform mirrors it for an ESMS (EG): the facts a DUI needs to fill the
/// unit block of a flow-4 Task (`idUnite`, `nomUnite`, `categorieOrganisation`, `temporaliteAccueil`,
/// `accueilSequentiel`, `modePriseCharge`), projected from the ROR HealthcareService/Organization.
public struct RorUnit: Sendable, Equatable {
    /// The ESMS this unit belongs to: `1`+FINESS EG.
    public var establishment: String
    /// idUnité = idROR: the offer's `identifier.value` (or the OI identifier when paired higher).
    public var rorId: String
    public var name: String
    /// TRE_R244 code (the DUI binds JDV_J34); nil when the ROR gives none.
    public var organisationCategory: String?
    /// TRE_R240 code (JDV_J30).
    public var receptionTemporality: String?
    /// True when the ROR `receptionModality` holds TRE_R338 `01`.
    public var sequentialReception: Bool
    /// The ROR care mode (TRE_R213 code, JDV_J19) as published.
    public var rorCareMode: String?
    /// The care mode projected to JDV_J264; nil when the ROR code has no J264 equivalent (alert).
    public var careMode: String?
    /// Open in the ROR (no past closure); closed units stay mirrored for history but take no new status.
    public var isOpen: Bool
    /// `meta.lastUpdated` of the ROR resource it came from (FHIR instant, as received).
    public var rorLastUpdated: String?

    public init(establishment: String, rorId: String, name: String, organisationCategory: String?, receptionTemporality: String?,
                sequentialReception: Bool, rorCareMode: String?, careMode: String?, isOpen: Bool, rorLastUpdated: String?) {
        self.establishment = establishment; self.rorId = rorId; self.name = name; self.organisationCategory = organisationCategory
        self.receptionTemporality = receptionTemporality; self.sequentialReception = sequentialReception
        self.rorCareMode = rorCareMode; self.careMode = careMode; self.isOpen = isOpen; self.rorLastUpdated = rorLastUpdated
    }
}
