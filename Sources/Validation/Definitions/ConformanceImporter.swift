import Foundation
import FHIRModels

/// Builds the project-owned conformance store (`Terminologies/conformance`) from the reference data.
public enum ConformanceImporter {
    /// The R4 core bundles holding StructureDefinitions, in load order.
    public static let coreFiles = ["profiles-types.json", "profiles-resources.json", "extension-definitions.json", "profiles-others.json"]
}
