import FHIRModels

extension Walker {
    // MARK: StructureDefinitions given for validation

    /// A profile (differential) given for validation must give a snapshot, as the Java validator checks
    /// by generating it: problems of the differential and a failed generation are reported on the
    /// StructureDefinition, constraints contradicting the base on the profile's element (its id, as Java).
    mutating func checkStructureDefinition(_ res: Int32) {
        guard res == 0, tree.childValue(res, "derivation") == "constraint", tree.child(res, "differential") != nil,
              let sd = try? JSONValue.parse(FHIRJSONWriter.write(tree)) else { return }
        let definitions = v.definitions
        for p in SnapshotGenerator.check(sd, resolve: { definitions.structureDefinition(url: $0) }) {
            if p.kind == .missingBase {
                // As Java: without its base the differential cannot be checked (a warning).
                report(.warning, .notFound, res, "The differential cannot be checked: \(p.message)")
            } else if p.kind == .conflict, let element = p.element {
                issues.append(OutcomeIssue(severity: .error, code: .structure, message: "\(p.message) (\(p.profile))", expression: element,
                                           location: tree[res].location))
            } else {
                report(.error, .structure, res, "Error generating the snapshot: \(p.message)\(p.element.map { " (element '\($0)')" } ?? "")")
            }
        }
        // The Java validator's rule on the differential itself (sdf-20 says the same as an invariant).
        if let diff = tree.child(res, "differential"), let first = tree.children(diff, "element").first,
           tree.child(first, "slicing") != nil, let path = tree.childValue(first, "path"), !path.contains(".") {
            report(.error, .structure, first, "Slicing is not allowed at the root of a profile")
        }
    }
}
