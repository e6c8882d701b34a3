import Foundation
import FHIRModels

/// Builds the project-owned conformance store (`Terminologies/conformance`) from the reference data:
/// R4 core StructureDefinitions, FR Core, SDO IG 4.0.7 (published JSON) and SDO 4.0.5 (compiled from
/// FSH), each with a snapshot, stripped to what validation needs.
public enum ConformanceImporter {
    /// The R4 core bundles holding StructureDefinitions, in load order.
    public static let coreFiles = ["profiles-types.json", "profiles-resources.json", "extension-definitions.json", "profiles-others.json"]

    /// Canonical base of the SDO IG (same for 4.0.5 and 4.0.7).
    public static let sdoCanonicalBase = "https://interop.esante.gouv.fr/ig/fhir/sdo"
    /// The 4.0.5 profiles that exist only as FSH.
    /// 4.0.7 profiles with no published JSON in the reference set: compiled from their FSH.
    public static let sdo407FSHOnlyProfiles = ["ESMSBundleResultatRechercheDecisionEvaluation"]
    public static let sdo405Profiles = ["SDOTask", "SDODocumentReference", "SDOBundleResultatRechercheNotificationESMS"]

    /// Aliases of the stored `aliases.fsh` whose value is malformed (a paste error in J30, an empty
    /// segment in J264), replaced by the value-set URL the published 4.0.7 profiles bind to.
    public static let sdoAliasCorrections: [String: String] = [
        "$JDV-J30-TemporaliteAccueil-ROR":
            "https://mos.esante.gouv.fr/NOS/JDV_J30-TemporaliteAccueil-ROR/FHIR/JDV-J30-TemporaliteAccueil-ROR",
        "$JDV_J264-ModeEtCentreDePriseEnCharge-MDPH":
            "https://mos.esante.gouv.fr/NOS/JDV_J264-ModeEtCentreDePriseEnCharge-MDPH/FHIR/JDV-J264-ModeEtCentreDePriseEnCharge-MDPH",
    ]

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// One output file of the store.
    public struct Group {
        public var file: String
        public var definitions: [JSONValue]
    }

    /// What an import produced.
    public struct Summary {
        public var files: [(name: String, count: Int, bytes: Int, sha256: String)] = []
        public var skipped: [String] = []
        public var totalBytes: Int { files.reduce(0) { $0 + $1.bytes } }
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: path) else { throw Failure(description: "cannot read \(path)") }
        return [UInt8](d)
    }

    static func readJSON(_ path: String) throws -> JSONValue {
        do { return try JSONValue.parse(try read(path)) } catch let e as JSONParseError { throw Failure(description: "\(path): \(e)") }
    }

    static func files(_ dir: String, prefix: String, suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }.sorted()
            .map { dir + "/" + $0 }
    }

    /// The SDO FSH tank (aliases, invariants, code systems, value sets, profiles) with the alias corrections.
    public static func sdoTank(reference: String) throws -> FSHTank {
        var tank = FSHTank()
        let dir = reference + "/sdo/fsh"
        var paths = [dir + "/aliases.fsh"]
        for sub in ["invariants", "codesystems", "valueSets", "profiles"] {
            paths += try files(dir + "/" + sub, prefix: "", suffix: ".fsh")
        }
        for p in paths {
            try tank.parse(String(decoding: try read(p), as: UTF8.self), file: String(p.dropFirst(reference.count + 1)))
        }
        for (k, v) in sdoAliasCorrections where tank.aliases[k] != nil { tank.aliases[k] = v }
        return tank
    }

    /// Constraints declared by the published 4.0.7 profiles (key → constraint), for invariants that
    /// FSH profiles use but whose FSH source is not in the reference tree.
    public static func publishedInvariants(_ sds: [JSONValue]) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for sd in sds {
            for e in sd["differential"]?["element"]?.array ?? [] {
                for c in e["constraint"]?.array ?? [] { if let k = c["key"]?.string { out[k] = c } }
            }
        }
        return out
    }

    /// Compiles FSH profiles of the SDO tank to StructureDefinitions with snapshots.
    public static func compileSDO(tank: FSHTank, profiles: [String], version: String, invariants: [String: JSONValue],
                                  store: ConformanceStore) throws -> [JSONValue] {
        var compiler = FSHCompiler(tank: tank, canonicalBase: sdoCanonicalBase, version: version) { store.structureDefinition(url: $0) }
        compiler.externalInvariants = invariants
        return try profiles.map { try compiler.structureDefinition(profile: $0) }
    }

    /// Reads all sources and returns the store groups (full definitions, not yet stripped).
    public static func build(reference: String) throws -> (groups: [Group], skipped: [String], sources: [String], generated: Set<String>) {
        var store = ConformanceStore()
        var skipped: [String] = []
        var sources: [String] = []
        var generated = Set<String>()
        func record(_ report: ConformanceStore.LoadReport) {
            skipped += report.failures.map(\.description)
            generated.formUnion(report.generated)
        }
        // R4 core
        var core: [JSONValue] = []
        for f in coreFiles {
            let path = reference + "/fhir-r4/" + f
            sources.append(path)
            let sds = try ConformanceStore.definitions(in: readJSON(path))
            let r = store.load(resources: sds)
            record(r)
            core += r.loaded.compactMap { store.structureDefinition(url: $0) }
        }
        // FR Core (differential-only)
        var frPaths = try files(reference + "/frcore", prefix: "StructureDefinition-", suffix: ".json")
        sources += frPaths
        let frReport = store.load(resources: try frPaths.map { try readJSON($0) })
        record(frReport)
        let fr = frReport.loaded.compactMap { store.structureDefinition(url: $0) }
        frPaths.removeAll()
        // SDO 4.0.7 (published JSON, differential-only)
        let sdoPaths = try files(reference + "/sdo/v4.0.7", prefix: "StructureDefinition-", suffix: ".json")
        sources += sdoPaths
        let published = try sdoPaths.map { try readJSON($0) }
        let sdoReport = store.load(resources: published)
        record(sdoReport)
        var sdo = sdoReport.loaded.compactMap { store.structureDefinition(url: $0) }
        // SDO 4.0.5 (FSH only)
        let tank = try sdoTank(reference: reference)
        sources += try [reference + "/sdo/fsh/aliases.fsh"] + ["invariants", "codesystems", "valueSets", "profiles"].flatMap {
            try files(reference + "/sdo/fsh/" + $0, prefix: "", suffix: ".fsh")
        }
        let old = try compileSDO(tank: tank, profiles: sdo405Profiles, version: "4.0.5",
                                 invariants: publishedInvariants(published), store: store)
        for sd in old { store.add(sd); generated.insert(sd["url"]?.string ?? "") }
        sdo += old
        // SDO 4.0.7 profiles published only as FSH (the ESMS consumer's flow 1/3 search result bundle)
        let fshOnly = try compileSDO(tank: tank, profiles: sdo407FSHOnlyProfiles, version: "4.0.7",
                                     invariants: publishedInvariants(published), store: store)
        for sd in fshOnly { store.add(sd); generated.insert(sd["url"]?.string ?? "") }
        sdo += fshOnly
        return ([Group(file: "r4-core.json", definitions: core), Group(file: "fr-core.json", definitions: fr),
                 Group(file: "sdo.json", definitions: sdo)], skipped, sources, generated)
    }

    /// Builds the store and writes it to `output` (one minified Bundle per group, plus `manifest.json`).
    @discardableResult
    public static func run(reference: String, output: String) throws -> Summary {
        let (groups, skipped, sources, generated) = try build(reference: reference)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        var summary = Summary()
        summary.skipped = skipped
        var fileEntries: [JSONValue] = []
        for g in groups {
            let bundle = JSONValue.object([
                ("resourceType", .string("Bundle")),
                ("type", .string("collection")),
                ("entry", .array(g.definitions.map { .object([("resource", ConformanceStripper.strip($0))]) })),
            ])
            let bytes = bundle.serialized()
            try Data(bytes).write(to: URL(fileURLWithPath: output + "/" + g.file))
            let sha = SHA256.hex(bytes)
            summary.files.append((g.file, g.definitions.count, bytes.count, sha))
            fileEntries.append(.object([("name", .string(g.file)), ("count", .number(String(g.definitions.count))),
                                        ("bytes", .number(String(bytes.count))), ("sha256", .string(sha))]))
        }
        var byKind: [String: Int] = [:]
        var constraints = 0
        for sd in groups.flatMap(\.definitions) {
            byKind[sd["kind"]?.string ?? "?", default: 0] += 1
            if sd["derivation"]?.string == "constraint" { constraints += 1 }
        }
        let all = groups.flatMap(\.definitions)
        let counts = JSONValue.object([
            ("structureDefinitions", .number(String(all.count))),
            ("byKind", .object(byKind.sorted { $0.key < $1.key }.map { ($0.key, .number(String($0.value))) })),
            ("constraints", .number(String(constraints))),
            ("extensions", .number(String(all.filter { $0["type"]?.string == "Extension" && $0["derivation"]?.string == "constraint" }.count))),
            ("snapshotsGenerated", .array(generated.sorted().map { .string($0) })),
        ])
        var sourceEntries: [JSONValue] = []
        for s in sources {
            let rel = s.hasPrefix(reference + "/") ? String(s.dropFirst(reference.count + 1)) : s
            sourceEntries.append(.object([("path", .string(rel)), ("sha256", .string(SHA256.hex(try read(s))))]))
        }
        let manifest = JSONValue.object([
            ("generator", .string("fhir-gateway import-definitions")),
            ("fhirVersion", .string("4.0.1")),
            ("description", .string("StructureDefinitions with snapshots, stripped to what validation needs. Generated; do not edit.")),
            ("files", .array(fileEntries)),
            ("counts", counts),
            ("sdo405FromFSH", .array(sdo405Profiles.map { .string($0) })),
            ("aliasCorrections", .object(sdoAliasCorrections.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("skipped", .array(skipped.map { .string($0) })),
            ("sources", .array(sourceEntries)),
        ])
        try Data(manifest.serialized(pretty: true) + [0x0A]).write(to: URL(fileURLWithPath: output + "/manifest.json"))
        return summary
    }
}

/// Reduces StructureDefinitions to what validation uses.
public enum ConformanceStripper {
    static let sdKeys = ["resourceType", "id", "url", "version", "name", "kind", "abstract", "context", "contextInvariant",
                         "type", "baseDefinition", "derivation"]
    static let elementKeys: Set<String> = ["id", "path", "sliceName", "sliceIsConstraining", "min", "max", "base", "contentReference",
                                           "maxLength", "mustSupport", "isModifier", "isSummary", "short", "representation"]

    public static func strip(_ sd: JSONValue) -> JSONValue {
        var out: [(String, JSONValue)] = []
        for k in sdKeys { if let v = sd[k] { out.append((k, v)) } }
        let elements = (sd["snapshot"]?["element"]?.array ?? []).map(element)
        out.append(("snapshot", .object([("element", .array(elements))])))
        return .object(out)
    }

    static func element(_ e: JSONValue) -> JSONValue {
        var out: [(String, JSONValue)] = []
        for (k, v) in e.members ?? [] {
            if elementKeys.contains(k) || k.hasPrefix("fixed") || k.hasPrefix("pattern") || k.hasPrefix("minValue") || k.hasPrefix("maxValue") {
                out.append((k, v))
            } else if k == "slicing" {
                out.append((k, keep(v, ["discriminator", "ordered", "rules"])))
            } else if k == "binding" {
                out.append((k, keep(v, ["strength", "valueSet"])))
            } else if k == "constraint" {
                out.append((k, .array((v.array ?? []).map { keep($0, ["key", "severity", "human", "expression", "source"]) })))
            } else if k == "type" {
                out.append((k, .array((v.array ?? []).map(type))))
            }
        }
        return .object(out)
    }

    static func type(_ t: JSONValue) -> JSONValue {
        var out = keep(t, ["code", "profile", "targetProfile", "aggregation"])
        // the FHIR type of System.* primitives (`id`, `url`, `value`…)
        let fhirType = (t["extension"]?.array ?? []).filter {
            $0["url"]?.string == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
        }
        if !fhirType.isEmpty { out["extension"] = .array(fhirType) }
        return out
    }

    static func keep(_ v: JSONValue, _ keys: [String]) -> JSONValue {
        .object((v.members ?? []).filter { keys.contains($0.0) })
    }
}
