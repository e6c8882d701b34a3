import FHIRModels
import Validation

/// Which status takes which reason, who may send it, and the ESRP/ESPO exclusion of the trial
/// statuses: the gateway's rules for flow 4 until the NOS association table ASS_A32 is available
/// (it is not in the reference data). Derived from the labels of JDV_J252/J253 (statuses) and
/// JDV_J250/J251 (reasons) and the February 2026 guide; the table is docs/handicap-flows.md §4.
/// Each refusal names its rule code (`OutcomeIssue.rule`).
public enum StatusRules {
    public enum Level: String, Sendable { case esms, unit }
    /// Who may send a status: the ESMS (DUI, flow 4) or the MDPH (its events, flow 5 to the ESMS).
    public enum Issuer: String, Sendable { case esms, mdph }
    public enum ReasonUse: String, Sendable { case none, optional, required }

    public struct Rule: Sendable {
        public var level: Level
        public var issuer: Issuer
        public var reason: ReasonUse
        public var reasons: Set<String>
        /// A "période d'essai" status, which ESRP and ESPO do not use.
        public var trial: Bool
    }

    // Reason groups (TRE_R358 codes).
    /// Contact with the person (JDV_J251 148–153).
    static let contact: Set<String> = ["148", "150", "151", "152", "153"]
    /// Why an admission is impossible (JDV_J251).
    static let impossible: Set<String> = ["86", "112", "113", "114", "115", "116", "117", "118", "119", "120", "121", "122", "124", "127", "148"]
    /// Why the person left the ESMS (JDV_J251).
    static let leftESMS: Set<String> = ["109", "112", "115", "117", "119", "120", "121", "124", "127"]
    /// Why a reorientation is asked (JDV_J251).
    static let reorientationESMS: Set<String> = ["115", "116", "117", "122", "168", "170"]
    /// Qualifiers of the waiting-list / admission steps (JDV_J251 168, 170).
    static let admission: Set<String> = ["168", "170"]
    /// MDPH reasons (JDV_J251 173, 174).
    static let mdph: Set<String> = ["173", "174"]
    /// Why the person is withdrawn from a unit's list or its support cancelled (JDV_J250).
    static let withdrawnUnit: Set<String> = ["84", "85", "87", "88", "89", "91", "95", "98", "100", "109", "112", "124", "136", "157", "158", "172", "253"]
    /// Why a trial in a unit did not work out (JDV_J250).
    static let trialFailedUnit: Set<String> = ["84", "85", "100", "135"]
    /// Why the support in a unit ended (JDV_J250).
    static let endedUnit: Set<String> = ["85", "87", "88", "89", "91", "92", "93", "98", "100", "109", "112", "124", "125", "126", "127", "128",
                                         "135", "146", "147", "157", "158", "159", "172", "184", "204", "253"]

    /// Status code (TRE_R357) → rule.
    public static let table: [String: Rule] = {
        func r(_ level: Level, _ issuer: Issuer, _ reason: ReasonUse, _ reasons: Set<String> = [], trial: Bool = false) -> Rule {
            Rule(level: level, issuer: issuer, reason: reason, reasons: reasons, trial: trial)
        }
        return [
            "37": r(.esms, .mdph, .optional, mdph),
            "39": r(.esms, .esms, .none),
            "40": r(.esms, .esms, .none),
            "41": r(.esms, .esms, .required, contact),
            "42": r(.esms, .esms, .optional, admission),
            "43": r(.esms, .esms, .none, trial: true),
            "44": r(.esms, .esms, .optional, impossible, trial: true),
            "45": r(.esms, .esms, .required, impossible),
            "46": r(.esms, .mdph, .optional, impossible),
            "47": r(.esms, .esms, .optional, admission),
            "48": r(.esms, .esms, .optional, leftESMS),  // the official example gives the reason at unit level (188 + 89)
            "49": r(.esms, .mdph, .optional, ["112", "173"]),
            "51": r(.esms, .esms, .required, reorientationESMS),
            "54": r(.esms, .mdph, .none),
            "71": r(.esms, .esms, .optional, admission),
            "72": r(.esms, .esms, .optional, admission),
            "180": r(.unit, .esms, .required, withdrawnUnit),
            "181": r(.unit, .esms, .optional, trialFailedUnit, trial: true),
            "182": r(.unit, .esms, .none),
            "183": r(.unit, .esms, .none),
            "184": r(.unit, .esms, .none),
            "185": r(.unit, .esms, .none, trial: true),
            "186": r(.unit, .esms, .optional, ["136", "253"]),
            "187": r(.unit, .esms, .required, ["92", "93", "172"]),
            "188": r(.unit, .esms, .required, endedUnit),
        ]
    }()

    /// Labels of the reasons the platform itself writes (JDV_J251).
    public static let reasonLabels: [String: String] = [
        "173": "Une autre décision annule et remplace cette décision",
        "174": "Décision clôturée par la MDPH",
    ]

    /// ESMS statuses after which the notification's processing is finished (LIFE-1).
    public static let finalStatuses: Set<String> = ["37", "46", "48", "49"]

    /// Organisation categories (TRE_R244, JDV_J34) and establishment categories (TRE_R66, FINESS) of ESRP
    /// and ESPO: R244 44 "Centre de rééducation professionnel (CRP)" = ESRP, 46 "Centre de pré orientation
    /// pour handicapés (CPO)" = ESPO; FINESS 249 (ESRP, ex-CRP) and 198 (ESPO, ex-CPO).
    public static let trialExcludedCategories: Set<String> = ["R244:44", "R244:46", "R66:249", "R66:198"]

    public struct Rules: Error, Sendable { public var issues: [OutcomeIssue] }

    /// Every rule a status Task breaks, for an `issuer`; `categories` are the `R244:`/`R66:` codes that
    /// describe the establishment (decision rights, ROR unit, the Task's own categorieOrganisation).
    public static func check(_ s: PersonStatus, issuer: Issuer, categories: Set<String>) -> [OutcomeIssue] {
        var issues: [OutcomeIssue] = []
        func issue(_ rule: String, _ code: IssueType, _ expression: String, _ message: String) {
            issues.append(OutcomeIssue(severity: .error, code: code, message: message, expression: expression, rule: rule))
        }
        let levels: [(Level, String, String, String?, String, String)] = [
            (.esms, "statutESMS", "motifESMS", s.statusESMS, s.reasonESMS ?? "", "JDV_J251"),
            (.unit, "statutUnite", "motifUnite", s.statusUnit, s.reasonUnit ?? "", "JDV_J250"),
        ]
        for (level, statusInput, reasonInput, status, reason, reasonSet) in levels {
            guard let status, let rule = table[status], rule.level == level else { continue }  // unknown codes: the binding check
            let label = (level == .esms ? SDORules.esmsStatuses[status] : SDORules.unitStatuses[status]) ?? status
            if rule.issuer != issuer {
                issue(issuer == .esms ? "PH-STATUS-MDPH-ONLY" : "PH-STATUS-ESMS-ONLY", .businessRule, s.path(statusInput),
                      issuer == .esms
                        ? "le statut \(status) « \(label) » est un évènement de la MDPH : un ESMS ne peut pas l'envoyer"
                        : "le statut \(status) « \(label) » est envoyé par l'ESMS ; la MDPH n'envoie que 37, 46, 49 et 54")
            }
            if rule.trial, !categories.isDisjoint(with: trialExcludedCategories) {
                issue("PH-TRIAL-ESRP-ESPO", .businessRule, s.path(statusInput),
                      "le statut \(status) « \(label) » (période d'essai) n'est pas utilisé par les ESRP et ESPO (guide de février 2026)")
            }
            switch (rule.reason, reason.isEmpty) {
            case (.required, true):
                issue("PH-REASON-REQUIRED", .required, s.path(statusInput),
                      "le statut \(status) « \(label) » exige un motif (\(reasonInput), \(reasonSet)) parmi : \(rule.reasons.sorted(by: numeric).joined(separator: ", "))")
            case (.none, false):
                issue("PH-REASON-FORBIDDEN", .businessRule, s.path(reasonInput),
                      "le statut \(status) « \(label) » ne prend pas de motif : retirer \(reasonInput) \(reason)")
            case (.optional, false), (.required, false):
                if !rule.reasons.contains(reason) {
                    issue("PH-REASON-MISMATCH", .businessRule, s.path(reasonInput),
                          "le motif \(reason) ne s'applique pas au statut \(status) « \(label) » ; motifs possibles : \(rule.reasons.sorted(by: numeric).joined(separator: ", "))")
                }
            default:
                break
            }
        }
        return issues
    }

    static func numeric(_ a: String, _ b: String) -> Bool { (Int(a) ?? 0, a) < (Int(b) ?? 0, b) }
}
