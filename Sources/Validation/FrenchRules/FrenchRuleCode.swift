/// Stable identifiers of the French rules, carried in `OutcomeIssue.rule` (and so in
/// `OperationOutcome.issue.details.coding.code`). Callers match on the raw value; never rename one.
/// Each rule is stated precisely in docs/french-rules.md.
public enum FrenchRuleCode: String, Sendable, CaseIterable {
    /// INS (NIR/NIA) value that is not 13 characters + a 2-digit key, or has letters outside the Corsica position.
    case insFormat = "FR-INS-FORMAT"
    /// INS control key ≠ 97 − (first 13 characters mod 97) (Corsica 2A → 19, 2B → 18).
    case insKey = "FR-INS-KEY"
    /// FINESS that is not 9 characters (digits, or 2A/2B then 7 digits).
    case finessFormat = "FR-FINESS-FORMAT"
    /// FINESS whose 9th digit is not the Luhn key of the 9 digits.
    case finessKey = "FR-FINESS-KEY"
    /// SIRET (14 digits) or SIREN (9 digits) of the wrong shape.
    case siretFormat = "FR-SIRET-FORMAT"
    /// SIRET that fails the Luhn check (La Poste: digit sum multiple of 5).
    case siretKey = "FR-SIRET-KEY"
    /// SIREN that fails the Luhn check.
    case sirenKey = "FR-SIREN-KEY"
    /// idNat_Struct with an unknown or forbidden type prefix, or of the wrong length for its prefix.
    case idNatStructFormat = "FR-IDNAT-STRUCT-FORMAT"
    /// esms-task: `statutUnite` present but one of the unit block inputs missing.
    case sdoUnitBlock = "FR-SDO-UNIT-BLOCK"
    /// esms-task: a unit block input (or `motifUnite`) present without `statutUnite`.
    case sdoUnitStatusMissing = "FR-SDO-UNIT-STATUS-MISSING"
    /// esms-task: `temporaliteAccueil` / `accueilSequentiel` present without `statutUnite` (warning).
    case sdoUnitAttributeOrphan = "FR-SDO-UNIT-ATTRIBUTE-ORPHAN"
    /// esms-task: `motifESMS` or `dateStatutESMS` present without `statutESMS`.
    case sdoESMSStatusMissing = "FR-SDO-ESMS-STATUS-MISSING"
    /// esms-task: a unit status (JDV_J253) sent as `statutESMS`, or an ESMS status (JDV_J252) sent as `statutUnite`.
    case sdoStatusLevel = "FR-SDO-STATUS-LEVEL"
    /// esms-task: an input named by `type.text` or by a coding of another (or no) system, without the SDO
    /// `type.coding` (warning).
    case sdoInputNotCoded = "FR-SDO-INPUT-NOT-CODED"
    /// esms-consent: `meta.source` is not an idNat_Struct that can be checked (warning).
    case sdoConsentSource = "FR-SDO-CONSENT-SOURCE"
}

/// Why an identifier value was refused by one of the pure checks (`INS`, `FINESS`, `SIRET`, `SIREN`,
/// `IdNatStruct`): the rule code and a message that says what to fix.
public struct IdentifierProblem: Sendable, Equatable, CustomStringConvertible {
    public var rule: FrenchRuleCode
    public var message: String
    public init(_ rule: FrenchRuleCode, _ message: String) { self.rule = rule; self.message = message }
    public var description: String { "\(rule.rawValue): \(message)" }
}
