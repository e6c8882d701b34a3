/// Technical corrections to FHIR R4 core invariants whose published expression is not valid strict
/// FHIRPath. The validator looks each constraint up here before compiling it. Each entry replaces the
/// exact published text only, so a corrected upstream expression is used as published.
/// `dom-3` (all resources) is rewritten by pattern: `descendants().as(x)` becomes `descendants().ofType(x)`.
public enum FHIRPathCorrections {
    public struct Correction: Sendable {
        public let key: String
        public let published: String
        public let corrected: String
        public let reason: String
    }

    public static let r4: [Correction] = [
        Correction(
            key: "tim-9",
            published: "offset.empty() or (when.exists() and ((when in ('C' | 'CM' | 'CD' | 'CV')).not()))",
            corrected: "offset.empty() or (when.exists() and when.all(($this in ('C' | 'CM' | 'CD' | 'CV')).not()))",
            reason: "Timing.repeat.when repeats: `in` needs a single item on its left (R4 erratum, fixed in R5)"),
        Correction(
            key: "cid-0",
            published: "name.matches('[A-Z]([A-Za-z0-9_]){0,254}')",
            corrected: "true",
            reason: "copied from the canonical resource pattern, but R4 ChargeItemDefinition has no `name` element (never applicable)"),
        Correction(
            key: "que-7",
            published: "operator = 'exists' implies (answer is Boolean)",
            corrected: "operator = 'exists' implies (answer is FHIR.boolean)",
            reason: "`answer` is a FHIR boolean, which is not a System.Boolean in strict FHIRPath"),
    ]

    /// The expression to compile for constraint `key` (the correction when the published text matches).
    public static func expression(key: String, published: String) -> String {
        for c in r4 where c.key == key && c.published == published { return c.corrected }
        if key == "dom-3" && published.contains("descendants().as(") {
            // `as()` on a collection is an error in strict FHIRPath: R4 dom-3 means a filter (`ofType`).
            return published.replacingOccurrences(of: "descendants().as(", with: "descendants().ofType(")
        }
        return published
    }
}
