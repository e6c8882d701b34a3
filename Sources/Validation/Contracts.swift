import FHIRModels

/// Where the validator finds StructureDefinitions. Implemented by the conformance store (compiled
/// project-owned definitions plus resources loaded for one run).
public protocol StructureDefinitionProvider: Sendable {
    /// The StructureDefinition with this canonical URL (`url` or `url|version`), always with a snapshot
    /// (generated from the base when it was published as a differential only); nil when unknown.
    func structureDefinition(url: String) -> JSONValue?
}

/// Result of checking one coded value against a value set.
public struct CodeValidation: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// The code is a member of the value set.
        case valid
        /// The code exists in its system but the value set does not include it (or it is deprecated there).
        case notInValueSet
        /// The system is known but has no such code.
        case unknownCode
        /// The code system is not known to the store (cannot be checked offline).
        case unknownSystem
        /// The value set itself is not known to the store.
        case unknownValueSet
    }
    public var outcome: Outcome
    /// When the code is valid but the display does not match any known label of the code.
    public var displayMismatch: String?
    /// Human explanation, e.g. "code '99' is not in JDV_J252 (deprecated since 2024-01-01)".
    public var message: String
    public init(outcome: Outcome, displayMismatch: String? = nil, message: String) {
        self.outcome = outcome; self.displayMismatch = displayMismatch; self.message = message
    }
}

/// Where the validator checks codes. Implemented by the terminology store; never does I/O.
public protocol TerminologyProvider: Sendable {
    /// Checks `code` (from `system`, when given) against the value set `valueSetURL` (`url` or `url|version`).
    func validate(code: String, system: String?, display: String?, valueSet valueSetURL: String) -> CodeValidation
    /// Whether the code system is known (so that an unknown code can be reported as such).
    func knowsCodeSystem(_ url: String) -> Bool
}
