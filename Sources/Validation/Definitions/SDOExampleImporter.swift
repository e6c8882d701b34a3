import Foundation
import FHIRModels

/// The official SDO examples (`sdo/fsh/instances/*.fsh`) compiled to FHIR JSON with
/// `FSHInstanceCompiler`, against the profiles of the project's conformance store.
/// `fhir-gateway import-examples [REFERENCE_DIR] [OUT_DIR]` writes one file per top-level example.
public enum SDOExampleImporter {
    /// Instance names the stored FSH uses with a typo: `exemple-bundle-resultat-recherche-decision-evaluation-elements`
    /// puts `exemple-esms-documentreference-elements-2-in-bundle` in its second entry, but the instance is
    /// declared as `…-elemens-2-in-bundle`. SUSHI would drop that rule (entry without resource).
    public static let instanceNameCorrections = [
        "exemple-esms-documentreference-elements-2-in-bundle": "exemple-esms-documentreference-elemens-2-in-bundle",
    ]

    /// The SDO tank (aliases, invariants, code systems, value sets, profiles) plus the instances.
    public static func tank(reference: String) throws -> FSHTank {
        var tank = try ConformanceImporter.sdoTank(reference: reference)
        for p in try ConformanceImporter.files(reference + "/sdo/fsh/instances", prefix: "", suffix: ".fsh") {
            try tank.parse(String(decoding: try ConformanceImporter.read(p), as: UTF8.self), file: String(p.dropFirst(reference.count + 1)))
        }
        return tank
    }

    public static func compiler(tank: FSHTank, store: ConformanceStore) -> FSHInstanceCompiler {
        var c = FSHInstanceCompiler(tank: tank, canonicalBase: ConformanceImporter.sdoCanonicalBase) { store.structureDefinition(url: $0) }
        c.nameCorrections = instanceNameCorrections
        return c
    }

    /// Every top-level example (not `Usage: #inline`), by instance name, in source order.
    public static func examples(reference: String, store: ConformanceStore) throws -> [(name: String, resource: JSONValue)] {
        let c = compiler(tank: try tank(reference: reference), store: store)
        var out: [(name: String, resource: JSONValue)] = []
        for name in c.topLevelInstances { out.append((name, try c.instance(name))) }
        return out
    }

    /// Writes `OUT_DIR/<instance>.json` (pretty, trailing newline) for every example; returns the paths.
    public static func run(reference: String, output: String, store: ConformanceStore) throws -> [String] {
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        var written: [String] = []
        for (name, resource) in try examples(reference: reference, store: store) {
            let path = output + "/" + name + ".json"
            var bytes = resource.serialized(pretty: true)
            bytes.append(0x0A)
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                throw ConformanceImporter.Failure(description: "cannot write \(path)")
            }
            written.append(path)
        }
        return written
    }
}
